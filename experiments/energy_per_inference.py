"""Synaptic events and energy per inference: trained spiking networks against ANNs of the same shape.

For Yin-Yang (4-120-3) and the 8x8 digits (64-100-10), the spiking network trained with exact
spike-time gradients (seed 0, the recipe of `yin_yang_training` / `digits_training`) is run on the
test set and its synaptic events are counted: every spike (input, bias, hidden) is delivered to
each neuron of the next layer, SynOps = sum over spikes of fan-out; also the events caused before
the decision (the first output spike), where an event-driven chip could stop. An ANN of the same
shape (ReLU MLP, scikit-learn, Adam, seeded) needs sum_l n_l n_(l+1) multiply-accumulates per
inference (bias additions not counted).

Energy (Horowitz, ISSCC 2014, 45 nm, 32-bit float): 0.9 pJ per accumulate (synaptic event) and
4.6 pJ per multiply-accumulate; SNN energy = SynOps x 0.9 pJ, ANN energy = MACs x 4.6 pJ.
Only synaptic arithmetic is counted (no memory access, no neuron updates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.yin_yang_training import trained_params

NAME = "energy_per_inference"
TITLE = "Synaptic events and energy per inference: spiking networks vs ANNs of the same shape"

DATASETS = ("yin-yang", "digits")
# The trained networks (seed 0) come from the training experiments' artefacts.
TRAINED_BY = {"yin-yang": "yin_yang_training", "digits": "digits_training"}
REQUIRES = ("yin_yang_training", "digits_training")


def config(mode: str) -> dict:
    from fsnn_theory.network import ENERGY_PER_MAC_PJ, ENERGY_PER_SYNOP_PJ
    from fsnn_theory.studies.setups import recipe

    return {
        "recipes": {name: recipe(name, mode) for name in DATASETS},
        "seed": 0,
        "ann_max_iter": 300 if mode == "full" else 60,
        "energy_per_synop_pj": ENERGY_PER_SYNOP_PJ,
        "energy_per_mac_pj": ENERGY_PER_MAC_PJ,
    }


def _ann(name: str, hidden: list[int], max_iter: int, seed: int) -> pd.DataFrame:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from fsnn_theory.studies.setups import load_dataset

    ds = load_dataset(name)
    ann = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation="relu", solver="adam",
                        max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ann.fit(ds.train.X, ds.train.y)
    return pd.DataFrame({"test_accuracy": [float(ann.score(ds.test.X, ds.test.y))]})


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.network import dense_macs, synaptic_events, synaptic_events_until_decision
    from fsnn_theory.studies.setups import load_dataset, make_classifier
    from fsnn_theory.training import evaluate

    anns = {f"ann_{name.replace('-', '')}": name for name in DATASETS}
    ann_frames = ctx.map(
        lambda key: _ann(anns[key], config["recipes"][anns[key]]["hidden"], config["ann_max_iter"], config["seed"]),
        anns, desc="ANNs",
    )
    rows = []
    for name, ann in zip(DATASETS, ann_frames):
        rec = config["recipes"][name]
        params = trained_params(ctx, TRAINED_BY[name], rec, config["seed"])
        model = make_classifier(name, tuple(rec["hidden"]), rec["model"], tau_m=rec["tau_m"], tau_s=rec["tau_s"])
        test = load_dataset(name).test
        fwd = model.forward(params, test.X)
        syn = synaptic_events(model.network, fwd)
        syn_decision = synaptic_events_until_decision(model.network, fwd, model.loss_fn.t_max)
        acc = evaluate(model, params, test).accuracy
        macs = dense_macs(model.network)
        shape = "-".join(str(s) for s in model.network.layer_sizes)
        e_syn, e_mac = config["energy_per_synop_pj"], config["energy_per_mac_pj"]
        rows.append({"dataset": name, "network": "snn", "counting": "all spikes", "shape": shape,
                     "test_accuracy": acc, "ops_per_inference": float(syn.mean()),
                     "ops_median": float(np.median(syn)), "energy_pj": float(syn.mean()) * e_syn})
        rows.append({"dataset": name, "network": "snn", "counting": "until decision", "shape": shape,
                     "test_accuracy": acc, "ops_per_inference": float(syn_decision.mean()),
                     "ops_median": float(np.median(syn_decision)), "energy_pj": float(syn_decision.mean()) * e_syn})
        rows.append({"dataset": name, "network": "ann", "counting": "dense MACs", "shape": shape,
                     "test_accuracy": float(ann["test_accuracy"].iloc[0]), "ops_per_inference": float(macs),
                     "ops_median": float(macs), "energy_pj": macs * e_mac})
        ctx.log(f"{name}: SNN {syn.mean():.0f} SynOps ({syn.mean() * e_syn:.0f} pJ), "
                f"ANN {macs} MACs ({macs * e_mac:.0f} pJ)")
    return pd.DataFrame(rows)


def plot(data: pd.DataFrame, config: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.6), layout="constrained")
    axes = fig.subplots(1, len(DATASETS), squeeze=False)[0]
    colors = {"all spikes": "C0", "until decision": "C9", "dense MACs": "C3"}
    for ax, name in zip(axes, DATASETS):
        d = data.loc[data["dataset"] == name].reset_index(drop=True)
        labels = [f"{'SNN' if r.network == 'snn' else 'ANN'}\n{r.counting}" for r in d.itertuples()]
        bars = ax.bar(range(len(d)), d["energy_pj"], color=[colors[c] for c in d["counting"]])
        ann_energy = float(d.loc[d["network"] == "ann", "energy_pj"].iloc[0])
        for bar, r in zip(bars, d.itertuples()):
            unit = "SynOps" if r.network == "snn" else "MACs"
            ratio = "" if r.network == "ann" else f"\n{ann_energy / r.energy_pj:.1f}x less"
            ax.annotate(f"{r.ops_per_inference:.0f} {unit}\n{r.energy_pj / 1000:.2f} nJ\nacc {100 * r.test_accuracy:.1f} %{ratio}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=6)
        ax.set_xticks(range(len(d)), labels, fontsize=7)
        ax.set_ylabel("energy per inference [pJ]")
        ax.set_ylim(0, 1.45 * float(d["energy_pj"].max()))
        ax.set_title(f"{name} ({d['shape'].iloc[0]})", fontsize=9)
    fig.suptitle("synaptic arithmetic per inference: 0.9 pJ per synaptic event vs 4.6 pJ per MAC "
                 "(Horowitz 2014)", fontsize=8)
    return fig


DATASET_MACROS = {"yin-yang": "YinYang", "digits": "Digits"}  # macro-name stems of DATASETS


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""Energy constants, and per data set the cells of the energy table and the ANN/SNN ratios."""
    from fsnn_theory.numbers import NumberSheet, config_value, rows

    sheet = NumberSheet(NAME, data)

    def cell(dataset: str, network: str, counting: str, column: str):
        return lambda: rows(data, NAME, dataset=dataset, network=network, counting=counting).iloc[0][column]

    def ratio(dataset: str, counting: str):
        def compute() -> float:  # ANN energy (dense MACs) over SNN energy (events counted as ``counting``)
            return float(cell(dataset, "ann", "dense MACs", "energy_pj")()) / float(
                cell(dataset, "snn", counting, "energy_pj")())
        return compute

    sheet.add("EnergyPerSynOp", lambda: config_value(config, NAME, "energy_per_synop_pj"), "fixed1",
              "energy per synaptic event (pJ, Horowitz 2014)")
    sheet.add("EnergyPerMAC", lambda: config_value(config, NAME, "energy_per_mac_pj"), "fixed1",
              "energy per multiply-accumulate (pJ, Horowitz 2014)")
    for dataset in DATASETS:
        name = DATASET_MACROS[dataset]
        add = sheet.add
        add(f"Energy{name}Shape", cell(dataset, "snn", "all spikes", "shape"), "text", f"{dataset}: layer sizes")
        add(f"Energy{name}SynOps", cell(dataset, "snn", "all spikes", "ops_per_inference"), "int",
            f"{dataset}: SNN synaptic events per inference (all spikes)")
        add(f"Energy{name}SynOpsDecision", cell(dataset, "snn", "until decision", "ops_per_inference"), "int",
            f"{dataset}: SNN synaptic events before the decision")
        add(f"Energy{name}MACs", cell(dataset, "ann", "dense MACs", "ops_per_inference"), "int",
            f"{dataset}: ANN multiply-accumulates per inference")
        add(f"Energy{name}SNNpJ", cell(dataset, "snn", "all spikes", "energy_pj"), "int",
            f"{dataset}: SNN energy per inference, all spikes (pJ)")
        add(f"Energy{name}SNNDecisionpJ", cell(dataset, "snn", "until decision", "energy_pj"), "int",
            f"{dataset}: SNN energy until the decision (pJ)")
        add(f"Energy{name}ANNpJ", cell(dataset, "ann", "dense MACs", "energy_pj"), "int",
            f"{dataset}: ANN energy per inference (pJ)")
        add(f"Energy{name}Ratio", ratio(dataset, "all spikes"), "ratio",
            f"{dataset}: ANN energy / SNN energy (all spikes)")
        add(f"Energy{name}RatioDecision", ratio(dataset, "until decision"), "ratio",
            f"{dataset}: ANN energy / SNN energy (until decision)")
        add(f"Energy{name}SNNAccuracy", cell(dataset, "snn", "all spikes", "test_accuracy"), "percent",
            f"{dataset}: SNN test accuracy (%)")
        add(f"Energy{name}ANNAccuracy", cell(dataset, "ann", "dense MACs", "test_accuracy"), "percent",
            f"{dataset}: ANN test accuracy (%)")
    return sheet.result()
