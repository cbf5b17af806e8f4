"""Training curves of a time-to-first-spike network on Yin-Yang (exact spike-time gradients).

4-120-3 network of LIF neurons with tau_m = 2 tau_s, the training recipe of Göltz et al. 2021
(Adam, lr 0.005, batch 150, 300 epochs, step decay, weight bumping, gradient guard); three seeds
in full mode, median and range over seeds. The reported accuracy is the test accuracy at each
seed's best validation epoch. Quick mode: 1000 training samples, 40 hidden units, 20 epochs.

Also the shared helpers of the other network experiments: `training_curves` trains one network
per seed (one declared chunk each) and publishes each seed's best-validation parameters as the
artefact ``artefacts/network_seed<S>.npz`` (array ``w``); `trained_params` reads them in an
experiment that lists this one (or `digits_training`) in ``REQUIRES``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAME = "yin_yang_training"
TITLE = "Yin-Yang: training curves of an exact-gradient spiking network (median of seeds)"

# Göltz et al. 2021 (Nature Machine Intelligence 3), Yin-Yang test accuracy of their
# time-to-first-spike network, and an ANN of the same shape (Kriener et al. 2022).
GOLTZ_TEST_ACCURACY = 0.959
ANN_TEST_ACCURACY = 0.987


def config(mode: str) -> dict:
    from fsnn_theory.studies.setups import recipe

    return {
        "recipe": recipe("yin-yang", mode),
        "seeds": [0, 1, 2] if mode == "full" else [0],
    }


ARTEFACT = "network_seed{seed}.npz"  # best-validation parameters of one seed, array "w"


def _train(ctx, rec: dict, seed: int) -> pd.DataFrame:
    """Train seed ``seed``; store its best-validation params as chunk ``params_seed<S>`` and return
    the history without the wall-clock column (the chunk ``history_seed<S>``)."""
    from fsnn_theory.studies.setups import run_recipe

    r = run_recipe(rec, seed)[2]
    # Stored before the history chunk, so a stored history implies stored params.
    ctx.cached(f"params_seed{seed}", lambda: pd.DataFrame({"w": r.params}))
    h = r.history.drop(columns=["seconds"]).copy()  # wall time is not reproducible
    h.insert(0, "seed", seed)
    h["selected"] = h["epoch"] == r.best_epoch
    return h


def _params_only(rec: dict, seed: int) -> pd.DataFrame:
    from fsnn_theory.studies.setups import run_recipe

    return pd.DataFrame({"w": run_recipe(rec, seed)[2].params})


def training_curves(cfg: dict, ctx) -> pd.DataFrame:
    """One chunk per seed (training history), stacked; publishes each seed's parameters."""
    seeds = {f"history_seed{seed}": seed for seed in cfg["seeds"]}
    histories = ctx.map(lambda key: _train(ctx, cfg["recipe"], seeds[key]), seeds, desc="seeds")
    frames = []
    for seed, hist in zip(seeds.values(), histories):
        # Read back from its CSV (exact floats): the artefact holds what the chunk holds.
        params = ctx.cached(f"params_seed{seed}", lambda seed=seed: _params_only(cfg["recipe"], seed))
        ctx.artefact(ARTEFACT.format(seed=seed), {"w": params["w"].to_numpy(dtype=float)})
        best = hist.loc[hist["selected"]].iloc[0]
        ctx.log(
            f"seed {seed}: test accuracy {best['test_accuracy']:.4f} at best validation epoch "
            f"{int(best['epoch'])} (val {best['val_accuracy']:.4f})"
        )
        frames.append(hist)
    return pd.concat(frames, ignore_index=True)


def run(config: dict, ctx) -> pd.DataFrame:
    return training_curves(config, ctx)


def trained_params(ctx, prerequisite: str, rec: dict, seed: int) -> np.ndarray:
    """Best-validation parameters of ``seed`` published by ``prerequisite`` (`yin_yang_training`
    or `digits_training`, listed in the caller's ``REQUIRES``), checked to be of recipe ``rec``."""
    import json

    stored = json.loads((ctx.prerequisite_dir(prerequisite) / "config.json").read_text(encoding="utf-8"))
    if stored["config"]["recipe"] != rec:
        raise ValueError(f"{ctx.name}: recipe differs from the one {prerequisite} trained; use the same recipe()")
    if seed not in stored["config"]["seeds"]:
        raise ValueError(f"{ctx.name}: seed must be one of {prerequisite}'s seeds {stored['config']['seeds']}; got {seed}")
    return ctx.load_artefact(prerequisite, ARTEFACT.format(seed=seed))["w"]


def plot_curves(data: pd.DataFrame, title: str, references: dict[str, float]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    ax_acc, ax_loss = fig.subplots(1, 2)
    grouped = data.groupby("epoch")
    epochs = np.array(sorted(data["epoch"].unique()))
    for column, label, color in (
        ("train_accuracy", "train (running)", "0.6"),
        ("val_accuracy", "validation", "C0"),
        ("test_accuracy", "test", "C3"),
    ):
        med = grouped[column].median().reindex(epochs)
        lo = grouped[column].min().reindex(epochs)
        hi = grouped[column].max().reindex(epochs)
        ax_acc.plot(epochs, 100 * med, color=color, lw=1.2, label=label)
        if data["seed"].nunique() > 1:
            ax_acc.fill_between(epochs, 100 * lo, 100 * hi, color=color, alpha=0.2, lw=0)
    for name, value in references.items():
        ax_acc.axhline(100 * value, color="k", ls=":", lw=0.8)
        ax_acc.text(epochs[0], 100 * value, f" {name} {100 * value:.1f} %", va="bottom", fontsize=7)
    selected = data.loc[data["selected"]]
    med_test = 100 * float(np.median(selected["test_accuracy"]))
    ax_acc.set_title(
        f"test accuracy at best validation epoch: median {med_test:.1f} % "
        f"({', '.join(f'{100 * v:.1f}' for v in selected['test_accuracy'])})",
        fontsize=8,
    )
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy [%]")
    low = max(0.0, 100 * float(data[["val_accuracy", "test_accuracy"]].to_numpy().min()) - 2)
    ax_acc.set_ylim(low, 100)
    ax_acc.legend(fontsize=7, loc="lower right")
    med_loss = grouped["train_loss"].median().reindex(epochs)
    ax_loss.plot(epochs, med_loss, color="C2", lw=1.2, label="train loss (median)")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy + regulariser")
    ax2 = ax_loss.twinx()
    ax2.plot(epochs, 100 * grouped["silent_fraction"].median().reindex(epochs), color="C1", lw=1.0)
    ax2.set_ylabel("silent neurons (test) [%]", color="C1")
    ax_loss.legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=9)
    return fig


def plot(data: pd.DataFrame, config: dict):
    rec = config["recipe"]
    sizes = "-".join(str(s) for s in [4, *rec["hidden"], 3])
    return plot_curves(
        data,
        f"Yin-Yang {sizes}, {rec['model'].upper()} (tau_m = 2 tau_s), exact spike-time gradients, "
        f"{len(config['seeds'])} seed(s)",
        {"Göltz et al. 2021": GOLTZ_TEST_ACCURACY, "ANN": ANN_TEST_ACCURACY},
    )


# Inputs and classes of the encoded data set (x, y, 1-x, 1-y; yin, yang, dot): the layer sizes
# the paper quotes around the recipe's hidden layers.
INPUTS, CLASSES = 4, 3


def training_numbers(name: str, prefix: str, n_in: int, n_out: int, data: pd.DataFrame | None,
                     config: dict | None) -> dict:
    r"""``\<prefix>TestAccuracy`` etc. of a training experiment: medians over seeds of the test
    accuracy at the best validation epoch (the reported one) and after the last, silent neurons,
    epochs, seeds and the layer sizes."""
    from fsnn_theory.numbers import NumberSheet, config_value

    sheet = NumberSheet(name, data)

    def selected() -> pd.DataFrame:
        chosen = data.loc[data["selected"].astype(bool)]
        if chosen.empty:
            raise ValueError(f"{name}: data.csv marks no selected (best validation) epoch")
        return chosen

    def final_epoch_accuracy() -> float:
        last = data.sort_values("epoch", kind="stable").groupby("seed").tail(1)
        return float(np.median(last["test_accuracy"]))

    def shape() -> str:
        return "-".join(str(s) for s in [n_in, *config_value(config, name, "recipe", "hidden"), n_out])

    sheet.add(f"{prefix}TestAccuracy", lambda: float(np.median(selected()["test_accuracy"])), "percent",
              "test accuracy at the best validation epoch, median of seeds (%)")
    sheet.add(f"{prefix}FinalTestAccuracy", final_epoch_accuracy, "percent",
              "test accuracy after the last epoch, median of seeds (%)")
    sheet.add(f"{prefix}SilentPercent", lambda: float(np.median(selected()["silent_fraction"])), "percent",
              "silent neurons at the best validation epoch, median (%)")
    sheet.add(f"{prefix}Epochs", lambda: int(data["epoch"].max()), "int", "training epochs")
    sheet.add(f"{prefix}Seeds", lambda: int(data["seed"].nunique()), "int", "seeds")
    sheet.add(f"{prefix}Shape", shape, "text", "layer sizes")
    return sheet.result()


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """The paper's numbers of the Yin-Yang training (see `training_numbers`)."""
    return training_numbers(NAME, "YinYang", INPUTS, CLASSES, data, config)
