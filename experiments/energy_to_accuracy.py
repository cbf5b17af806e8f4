r"""Energy to a target accuracy: federated spiking vs non-spiking training, computation and radio, per device.

For each model (``snn``: the time-to-first-spike network with exact spike-time gradients; ``ann``: a
ReLU MLP of the same shape, `fsnn_theory.ann`), data set, partition (10 clients, IID and
Dirichlet(0.5)), uplink compressor (none, QSGD s = 2, top-k 1 % with error feedback, and the
spike-causal sparse update for the spiking network only) and seed, one FedAvg run through
`fsnn_theory.federated.run_federated`. Every local step's operations are counted from the step
itself (`fsnn_theory.opcounts.CountingModel`: the spiking forward and backward pass of that batch;
the dense counts of the MLP); bits are the run's exact message lengths.

*Rounds to target*: the first evaluated round whose test accuracy reaches the target (evaluated every
``eval_every`` rounds, so the count is that coarse); a run that never reaches it has ``rounds = inf``
and infinite energies (kept, never dropped). *Energy to target*, per device profile
(`fsnn_theory.theory.energy.DEVICE_PROFILES`), summed over the clients up to that round:
computation = the counted operations priced at Horowitz's 45 nm table times the profile's technology
factor; radio = uplink and downlink bits at the profile's throughputs under Huang et al.'s power
model, plus one tail per transfer (one broadcast and one update per client and round). Device
profiles are accounting on the same recorded run: one run per (model, data set, partition,
compressor, seed) serves every device.

*Crossover*: the radio energy per bit above which communication dominates,
:math:`\varepsilon^* = E_{comp}/b`; measured on each run (to its target), and in closed form from the
per-sample counts for the uncompressed wire, :math:`\varepsilon^*_{pred} = E\,(B\,e_{sample} + e_{SGD})/(64 d)`
(one float32 broadcast and one float32 update of d parameters per client and round; e_sample the
forward + backward energy of one sample, from the MLP's dense formula, exact; for the spiking
network the mean of its counts on the training set at the initial and at the final parameters, an
estimate: activity during training differs from both ends, so the ratio to the measured crossover
is reported, not assumed).

*Memory*: peak training memory per client (`fsnn_theory.opcounts.training_memory_words`) over batch
sizes and float32/int8, held against each profile's budget (rows with ``table = "memory"``).

Step sizes: constant, tuned once per model on the quick set-up (IID, seed 0, no compression) by the
fewest rounds to the quick target over a grid (spiking: 1, 2, 4, 8, 16; MLP: 0.1, 0.3, 1, 3), by a
probe run outside the experiment; the values are in the config. Full mode uses the same values for
Yin-Yang (checked once on IID seed 0: both reach 93 %); the digits values of full mode were not
tuned. Quick mode runs Yin-Yang only (the digits spiking network costs about a second per round
here) with the compressors none and spike-causal (MLP: none), evaluating every 2 rounds; full mode
evaluates Yin-Yang every 5 rounds (evaluation on the whole training set dominates the cost
otherwise) and the digits every round (the MLP reaches 90 % within the first 5 rounds).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NAME = "energy_to_accuracy"
TITLE = "Energy to a target accuracy: federated SNN vs ANN, computation and radio, per device"

DEVICES = ("mcu-ble", "phone-lte", "headset-wifi")
MODELS = ("snn", "ann")
SNN_ONLY = ("causal",)


def config(mode: str) -> dict:
    if mode == "full":
        datasets = {
            "yin-yang": {"train_size": 5000, "test_size": 1000, "hidden": 120, "rounds": 300, "local_steps": 5,
                         "batch_size": 32, "eval_every": 5, "lr": {"snn": 16.0, "ann": 1.0}, "target": 0.93},
            "digits": {"train_size": 5000, "test_size": 1000, "hidden": 100, "rounds": 100, "local_steps": 5,
                       "batch_size": 32, "eval_every": 1, "lr": {"snn": 2.0, "ann": 0.3}, "target": 0.90},
        }
        compressors = ["none", "qsgd:2", "topk:0.01", "causal"]
        seeds = [0, 1, 2]
    else:
        datasets = {
            "yin-yang": {"train_size": 600, "test_size": 300, "hidden": 40, "rounds": 32, "local_steps": 5,
                         "batch_size": 16, "eval_every": 2, "lr": {"snn": 16.0, "ann": 1.0}, "target": 0.80},
        }
        compressors = ["none", "causal"]
        seeds = [0, 1, 2]
    return {
        "datasets": datasets,
        "clients": 10,
        "partitions": ["iid", "dirichlet"],
        "alpha": 0.5,
        "compressors": compressors,
        "seeds": seeds,
        "devices": list(DEVICES),
        "memory_batch_sizes": [1, 8, 16, 32, 64],
        "memory_dtypes": ["float32", "int8"],
    }


def _models(dataset: str, cfg: dict):
    from fsnn_theory.ann import mlp_like
    from fsnn_theory.studies.presets import build_model_and_data

    snn, ds = build_model_and_data({"dataset": dataset, "train_size": cfg["train_size"],
                                    "test_size": cfg["test_size"], "hidden": cfg["hidden"], "model": "snn"})
    return {"snn": snn, "ann": mlp_like(snn.network.layer_sizes)}, ds


def _one_run(model_name: str, dataset: str, partition: str, compressor: str, seed: int, config: dict) -> pd.DataFrame:
    """One federated run: per evaluated round, accuracy and cumulative bits, transfers and counts."""
    from fsnn_theory.federated import FederatedConfig, StepSchedule, make_partition, run_federated
    from fsnn_theory.opcounts import CountingModel

    cfg = config["datasets"][dataset]
    models, ds = _models(dataset, cfg)
    model = CountingModel(models[model_name])
    spiking = model_name == "snn"
    bumping = None
    if spiking:
        from fsnn_theory.training import WeightBumping

        bumping = WeightBumping()
    part = make_partition(partition, ds.train.y, config["clients"], seed, alpha=config["alpha"])
    fc = FederatedConfig(rounds=cfg["rounds"], local_steps=cfg["local_steps"], batch_size=cfg["batch_size"],
                         schedule=StepSchedule("constant", cfg["lr"][model_name]), compressor=compressor,
                         eval_every=cfg["eval_every"], seed=seed, max_dw_norm=0.2 if spiking else None,
                         bumping=bumping)
    run = run_federated(model, ds.train, ds.test, part, fc)
    per_round = model.per_round(cfg["rounds"], config["clients"] * cfg["local_steps"])
    cum = np.cumsum([[c.fmul, c.fadd, c.compare, c.sram_words] for c in per_round], axis=0)
    cum = np.vstack([np.zeros((1, 4)), cum])
    h = run.history
    rounds = h["round"].to_numpy(dtype=int)
    out = pd.DataFrame({
        "round": rounds,
        "test_accuracy": h["test_accuracy"].to_numpy(),
        "cum_uplink_bits": h["cum_uplink_bits"].to_numpy(),
        "cum_downlink_bits": h["cum_downlink_bits"].to_numpy(),
        "cum_transfers": np.cumsum(h["participants"].to_numpy()),
        "cum_fmul": cum[rounds, 0], "cum_fadd": cum[rounds, 1],
        "cum_compare": cum[rounds, 2], "cum_sram_words": cum[rounds, 3],
    })
    if spiking:
        # per-sample forward+backward counts on the training set, mean of the initial and the final
        # model (a two-point estimate of the activity over training, for the closed-form crossover)
        from fsnn_theory.opcounts import snn_training_counts

        snn = models["snn"]
        ends = [snn_training_counts(snn.network, snn.forward(w, ds.train.X))
                for w in (snn.init_params(seed), run.params)]
        c = (ends[0] + ends[1]).scaled(0.5 / ds.train.n_samples)
    else:
        c = models["ann"].training_counts(1)
    for k in ("fmul", "fadd", "compare", "sram_words"):
        out[f"sample_{k}"] = getattr(c, k)
    out["n_params"] = models[model_name].n_params
    return out


def _key(model, dataset, partition, compressor, seed) -> str:
    return f"{model}_{dataset.replace('-', '')}_{partition}_{compressor.replace(':', '').replace('.', '')}_s{seed}"


def _peak_bytes(model_name: str, dataset: str, cfg: dict, compressor: str, batch: int, dtype: str) -> int:
    from fsnn_theory.ann import mlp_like
    from fsnn_theory.federated import parse_compressor
    from fsnn_theory.network import digits_classifier, yin_yang_classifier
    from fsnn_theory.opcounts import memory_bytes, snn_memory_per_sample, training_memory_words

    snn = (yin_yang_classifier if dataset == "yin-yang" else digits_classifier)(cfg["hidden"])
    if model_name == "snn":
        stored, scratch = snn_memory_per_sample(snn.network)
        d = snn.n_params
    else:
        ann = mlp_like(snn.network.layer_sizes)
        stored, scratch = ann.memory_per_sample()
        d = ann.n_params
    ef = parse_compressor(compressor).error_feedback
    return memory_bytes(training_memory_words(d, stored, scratch, batch, ef), dtype)


def _energy_rows(run: pd.DataFrame, model_name, dataset, partition, compressor, seed, config) -> list[dict]:
    from fsnn_theory.opcounts import sgd_update_counts
    from fsnn_theory.theory.energy import (compute_joules, crossover_joules_per_bit, device_profile,
                                           round_radio_joules)

    cfg = config["datasets"][dataset]
    target = cfg["target"]
    hit = run.index[run["test_accuracy"] >= target]
    peak = _peak_bytes(model_name, dataset, cfg, compressor, cfg["batch_size"], "float32")
    d = int(run["n_params"].iloc[0])
    # closed-form crossover (uncompressed wire): E (B e_sample + e_sgd) / (64 d) at the 45 nm point
    s = run.iloc[0]
    e_sample = compute_joules(s["sample_fmul"], s["sample_fadd"], s["sample_compare"], s["sample_sram_words"])
    sgd = sgd_update_counts(d)
    e_sgd = compute_joules(sgd.fmul, sgd.fadd, sgd.compare, sgd.sram_words)
    predicted = cfg["local_steps"] * (cfg["batch_size"] * e_sample + e_sgd) / (64.0 * d) if compressor == "none" else math.nan
    rows = []
    for name in config["devices"]:
        prof = device_profile(name)
        row = {"table": "energy", "model": model_name, "dataset": dataset, "partition": partition, "device": name,
               "compressor": compressor, "seed": seed, "target_accuracy": target,
               "final_accuracy": float(run["test_accuracy"].iloc[-1]), "batch_size": cfg["batch_size"],
               "dtype": "float32", "peak_memory_bytes": peak, "memory_budget_bytes": prof.memory_bytes,
               "fits_memory": bool(peak <= prof.memory_bytes), "crossover_predicted_j_per_bit": predicted}
        if len(hit) == 0:
            row.update(rounds=math.inf, compute_joules=math.inf, uplink_joules=math.inf, downlink_joules=math.inf,
                       radio_joules=math.inf, total_joules=math.inf, uplink_bits=math.inf, downlink_bits=math.inf,
                       crossover_measured_j_per_bit=math.nan)
        else:
            r = run.loc[hit[0]]
            comp_45 = compute_joules(r["cum_fmul"], r["cum_fadd"], r["cum_compare"], r["cum_sram_words"])
            comp = comp_45 * prof.technology_factor
            up, down = round_radio_joules(r["cum_uplink_bits"], r["cum_downlink_bits"], r["cum_transfers"],
                                          r["cum_transfers"], prof)
            bits = r["cum_uplink_bits"] + r["cum_downlink_bits"]
            row.update(rounds=float(r["round"]), compute_joules=comp, uplink_joules=up, downlink_joules=down,
                       radio_joules=up + down, total_joules=comp + up + down, uplink_bits=float(r["cum_uplink_bits"]),
                       downlink_bits=float(r["cum_downlink_bits"]),
                       crossover_measured_j_per_bit=crossover_joules_per_bit(comp_45, bits) if bits > 0 else math.nan)
        rows.append(row)
    return rows


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.theory.energy import device_profile

    jobs = []
    for dataset in config["datasets"]:
        for model_name in MODELS:
            for partition in config["partitions"]:
                for compressor in config["compressors"]:
                    if model_name != "snn" and compressor in SNN_ONLY:
                        continue
                    for seed in config["seeds"]:
                        jobs.append((model_name, dataset, partition, compressor, seed))
    # one declared chunk per training run (devices reuse it: energy is accounting on the recorded run)
    by_key = {_key(*job): job for job in jobs}
    frames = ctx.map(lambda key: _one_run(*by_key[key], config), by_key, desc="runs")
    rows = []
    for (key, job), data in zip(by_key.items(), frames):
        new = _energy_rows(data, *job, config)
        rows += new
        ctx.log(f"{key}: rounds to target {new[0]['rounds']}, final accuracy {new[0]['final_accuracy']:.3f}")
    for dataset, cfg in config["datasets"].items():
        for model_name in MODELS:
            for compressor in ("none", "topk:0.01"):
                for batch in config["memory_batch_sizes"]:
                    for dtype in config["memory_dtypes"]:
                        peak = _peak_bytes(model_name, dataset, cfg, compressor, batch, dtype)
                        for name in config["devices"]:
                            budget = device_profile(name).memory_bytes
                            rows.append({"table": "memory", "model": model_name, "dataset": dataset,
                                         "device": name, "compressor": compressor, "batch_size": batch,
                                         "dtype": dtype, "peak_memory_bytes": peak, "memory_budget_bytes": budget,
                                         "fits_memory": bool(peak <= budget)})
    data = pd.DataFrame(rows)
    data["seed"] = data["seed"].astype("Int64")  # integer seeds; empty on the memory rows
    return data


def summary(data: pd.DataFrame) -> pd.DataFrame:
    """Median and range over seeds per (model, dataset, partition, device, compressor) of the energy rows."""
    e = data[data["table"] == "energy"]
    keys = ["dataset", "partition", "compressor", "device", "model"]
    g = e.groupby(keys, sort=False)
    out = g[["rounds", "compute_joules", "radio_joules", "total_joules"]].median()
    out["total_min"] = g["total_joules"].min()
    out["total_max"] = g["total_joules"].max()
    out["reached"] = g["rounds"].apply(lambda s: int(np.isfinite(s).sum()))
    out["seeds"] = g["rounds"].size()
    return out.reset_index()


def _ratio(data: pd.DataFrame, dataset: str, device: str, partition: str = "iid", compressor: str = "none") -> float:
    s = summary(data)
    sel = s[(s["dataset"] == dataset) & (s["device"] == device) & (s["partition"] == partition)
            & (s["compressor"] == compressor)].set_index("model")
    return float(sel.loc["snn", "total_joules"] / sel.loc["ann", "total_joules"])


def _crossover(data: pd.DataFrame, model: str, column: str, dataset: str) -> float:
    e = data[(data["table"] == "energy") & (data["model"] == model) & (data["compressor"] == "none")
             & (data["dataset"] == dataset)]
    return float(np.nanmedian(e[column].to_numpy(dtype=float)))


_DEVICE_MACRO = {"mcu-ble": "McuBle", "phone-lte": "PhoneLte", "headset-wifi": "HeadsetWifi"}
_DATASET_MACRO = {"yin-yang": "YinYang", "digits": "Digits"}


def _macro_table() -> dict:
    """Every macro `numbers` returns: name -> (format, meaning). Fixed, whatever the mode (a data set
    that a mode does not run gives NaN, printed as n/a)."""
    table = {}
    for dataset, dm in _DATASET_MACRO.items():
        for device, vm in _DEVICE_MACRO.items():
            table[f"EtaRatio{dm}{vm}"] = (".3g", f"{dataset}, {device}: total energy to target, SNN / ANN "
                                                 "(IID, no compression, median over seeds)")
            for model in MODELS:
                table[f"EtaRadioShare{dm}{vm}{model.upper()}"] = (".2f", f"{dataset}, {device}, {model}: radio share "
                                                                          "of the total energy to target (%)")
        for model in MODELS:
            table[f"EtaRounds{dm}{model.upper()}"] = (".0f", f"{dataset}, {model}: rounds to target (IID, no "
                                                              "compression, median over seeds)")
            table[f"EtaCrossover{dm}{model.upper()}"] = (".3g", f"{dataset}, {model}: measured crossover energy per "
                                                                 "bit (J/bit, 45 nm, median over runs)")
            table[f"EtaCrossoverPred{dm}{model.upper()}"] = (".3g", f"{dataset}, {model}: closed-form crossover "
                                                                     "energy per bit (J/bit, 45 nm)")
        table[f"EtaTarget{dm}"] = (".0f", f"{dataset}: target test accuracy (%)")
    table["EtaOrdersVerdict"] = ("s", "whether SNN / ANN total energy is <= 1/100 on every device and data set run")
    table["EtaBestRatio"] = (".3g", "smallest SNN / ANN total-energy ratio over devices and data sets")
    table["EtaWorstRatio"] = (".3g", "largest SNN / ANN total-energy ratio over devices and data sets")
    return table


NUMBER_MACROS: dict = _macro_table()


# format of NUMBER_MACROS -> formatter name of fsnn_theory.numbers.FORMATS
_FORMATS = {".3g": "magnitude", ".2f": "fixed2", ".0f": "int", "s": "text"}


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Paper macros (:data:`NUMBER_MACROS`): the total-energy ratio SNN / ANN per data set and device
    (IID, uncompressed, median over seeds), the radio share, rounds to target, the crossover per model
    (measured and closed form), and whether "orders of magnitude" holds (every ratio <= 1/100)."""
    from fsnn_theory.numbers import NumberSheet

    sheet = NumberSheet(NAME, data)
    values = {} if sheet.declaring else _number_values(data, config)
    for macro, (fmt, meaning) in NUMBER_MACROS.items():
        sheet.add(macro, lambda macro=macro: values[macro], _FORMATS[fmt], meaning)
    return sheet.result()


def _number_values(data: pd.DataFrame, config: dict) -> dict:
    values: dict = {}
    ratios = []
    s = summary(data)
    for dataset, dm in _DATASET_MACRO.items():
        run_here = dataset in config["datasets"]
        for device, vm in _DEVICE_MACRO.items():
            r = _ratio(data, dataset, device) if run_here and device in config["devices"] else math.nan
            if not math.isnan(r):
                ratios.append(r)
            values[f"EtaRatio{dm}{vm}"] = r
            for model in MODELS:
                share = math.nan
                if not math.isnan(r):
                    row = s[(s["dataset"] == dataset) & (s["device"] == device) & (s["partition"] == "iid")
                            & (s["compressor"] == "none") & (s["model"] == model)].iloc[0]
                    if math.isfinite(row["total_joules"]):
                        share = 100.0 * row["radio_joules"] / row["total_joules"]
                values[f"EtaRadioShare{dm}{vm}{model.upper()}"] = share
        for model in MODELS:
            rounds = math.nan
            if run_here:
                sel = s[(s["dataset"] == dataset) & (s["partition"] == "iid") & (s["compressor"] == "none")
                        & (s["model"] == model)]
                rounds = float(sel["rounds"].iloc[0])
            values[f"EtaRounds{dm}{model.upper()}"] = rounds
            values[f"EtaCrossover{dm}{model.upper()}"] = (
                _crossover(data, model, "crossover_measured_j_per_bit", dataset) if run_here else math.nan)
            values[f"EtaCrossoverPred{dm}{model.upper()}"] = (
                _crossover(data, model, "crossover_predicted_j_per_bit", dataset) if run_here else math.nan)
        values[f"EtaTarget{dm}"] = 100.0 * config["datasets"][dataset]["target"] if run_here else math.nan
    finite = [r for r in ratios if math.isfinite(r)]
    values["EtaOrdersVerdict"] = "holds" if finite and max(finite) <= 0.01 else "does not hold"
    values["EtaBestRatio"] = min(finite) if finite else math.nan
    values["EtaWorstRatio"] = max(finite) if finite else math.nan
    return values


def plot(data: pd.DataFrame, config: dict):
    """Stacked bars, computation under radio, spiking next to non-spiking, one panel per device (linear
    scales differ by orders of magnitude between radios); the computation share is written on the bars."""
    from matplotlib.figure import Figure

    s = summary(data)
    s = s[(s["partition"] == "iid") & (s["compressor"] == "none")]
    datasets, devices = list(config["datasets"]), list(config["devices"])
    fig = Figure(figsize=(7.0, 2.6 * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(devices), squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, device in enumerate(devices):
            ax = axes[i, j]
            d = s[(s["dataset"] == dataset) & (s["device"] == device)]
            tops = []
            for k, model in enumerate(MODELS):
                row = d[d["model"] == model]
                total = float(row["total_joules"].iloc[0]) if not row.empty else math.inf
                if not math.isfinite(total):
                    ax.annotate("target not\nreached\n(rounds = inf)", (k, 0), ha="center", va="bottom", fontsize=6)
                    continue
                comp, radio = float(row["compute_joules"].iloc[0]), float(row["radio_joules"].iloc[0])
                ax.bar(k, comp, width=0.6, color="C0")
                ax.bar(k, radio, width=0.6, bottom=comp, color="C1")
                tops.append(total)
                ax.annotate(f"{total:.3g} J\ncomp. {100 * comp / total:.2g} %\n{row['rounds'].iloc[0]:.0f} rounds",
                            (k, total), ha="center", va="bottom", fontsize=6)
            ax.set_xticks(range(len(MODELS)), [m.upper() for m in MODELS], fontsize=7)
            ax.set_xlim(-0.6, len(MODELS) - 0.4)
            if tops:
                ax.set_ylim(0, 1.45 * max(tops))
            ax.tick_params(axis="y", labelsize=6)
            ax.set_title(f"{dataset}, {device}", fontsize=7)
            if j == 0:
                ax.set_ylabel(f"J to {100 * config['datasets'][dataset]['target']:.0f} % test acc.\n"
                              "(10 clients, median of seeds)", fontsize=7)
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color="C0", label="computation"), Patch(color="C1", label="radio")],
               loc="outside lower center", ncols=2, fontsize=7)
    fig.suptitle("energy to target: computation (Horowitz 45 nm) + radio (Huang 2012 / BLE), IID, no compression",
                 fontsize=8)
    return fig
