"""Training curves of a time-to-first-spike network on Yin-Yang (exact spike-time gradients).

4-120-3 network of LIF neurons with tau_m = 2 tau_s, the training recipe of Göltz et al. 2021
(Adam, lr 0.005, batch 150, 300 epochs, step decay, weight bumping, gradient guard); three seeds
in full mode, median and range over seeds. The reported accuracy is the test accuracy at each
seed's best validation epoch. Quick mode: 1000 training samples, 40 hidden units, 20 epochs.

Also the shared helpers of the other network experiments: `trained_network` trains (or loads
from the experiment's stored chunks) one network of a recipe and seed.
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


def trained_network(ctx, rec: dict, seed: int):
    """(history DataFrame without the wall-clock column, best-validation params) of ``rec``, ``seed``.

    Both are stored as chunks of ``ctx`` (keys ``history_seed<S>``, ``params_seed<S>``), so a rerun
    reuses them; training runs at most once per call.
    """
    from fsnn_theory.studies.setups import run_recipe

    memo: dict = {}

    def result():
        if "r" not in memo:
            memo["r"] = run_recipe(rec, seed)[2]
        return memo["r"]

    def history() -> pd.DataFrame:
        r = result()
        h = r.history.drop(columns=["seconds"]).copy()  # wall time is not reproducible
        h.insert(0, "seed", seed)
        h["selected"] = h["epoch"] == r.best_epoch
        return h

    hist = ctx.cached(f"history_seed{seed}", history)
    params = ctx.cached(f"params_seed{seed}", lambda: pd.DataFrame({"w": result().params}))
    return hist, params["w"].to_numpy(dtype=float)


def training_curves(cfg: dict, ctx) -> pd.DataFrame:
    frames = []
    for seed in ctx.progress(cfg["seeds"], desc="seeds"):
        hist, _ = trained_network(ctx, cfg["recipe"], seed)
        best = hist.loc[hist["selected"]].iloc[0]
        ctx.log(
            f"seed {seed}: test accuracy {best['test_accuracy']:.4f} at best validation epoch "
            f"{int(best['epoch'])} (val {best['val_accuracy']:.4f})"
        )
        frames.append(hist)
    return pd.concat(frames, ignore_index=True)


def run(config: dict, ctx) -> pd.DataFrame:
    return training_curves(config, ctx)


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
