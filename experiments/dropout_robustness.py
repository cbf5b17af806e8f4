"""Federated spiking network on Yin-Yang under client dropouts.

FedAvg, 10 clients, E = 5, every selected client fails to report with probability q ∈ {0, 0.25,
0.5, 0.75} (it received the model but sends nothing; the round averages the survivors, renormalised;
an all-dropped round leaves the model unchanged), for an IID and a Dirichlet α = 0.5 split.
Quick mode: 600 samples, 5 clients, 40 hidden neurons, 12 rounds.
"""

from __future__ import annotations

import pandas as pd

NAME = "dropout_robustness"
TITLE = "Federated SNN on Yin-Yang: accuracy vs round under client dropout probability q"

DROPOUTS = (0.0, 0.25, 0.5, 0.75)


def config(mode: str) -> dict:
    if mode == "full":
        base = {"train_size": 5000, "test_size": 1000, "hidden": 120, "clients": 10, "rounds": 200,
                "local_steps": 5, "batch_size": 32, "eval_every": 10, "lr": 0.5, "seed": 0}
        parts = [["iid", "iid"], ["dirichlet_0.5", "dirichlet:0.5"]]
    else:
        base = {"train_size": 600, "test_size": 300, "hidden": 40, "clients": 5, "rounds": 12,
                "local_steps": 2, "batch_size": 16, "eval_every": 4, "lr": 0.5, "seed": 0}
        parts = [["dirichlet_0.5", "dirichlet:0.5"]]
    variants = [[f"{p}_q{q}", {"partition": spec, "dropout": q}] for p, spec in parts for q in DROPOUTS]
    columns = {f"{p}_q{q}": {"partition": p, "dropout": q} for p, _ in parts for q in DROPOUTS}
    return {"base": base, "variants": variants, "columns": columns}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.presets import add_variant_columns, run_variants

    data = run_variants(ctx, config["base"], [(label, ov) for label, ov in config["variants"]])
    return add_variant_columns(data, config["columns"], ("partition", "dropout"))


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    parts = list(dict.fromkeys(data["partition"]))
    fig, axes = plt.subplots(1, len(parts), figsize=(5 * len(parts), 4), sharey=True, squeeze=False)
    for ax, part in zip(axes[0], parts):
        for q, g in data[data["partition"] == part].groupby("dropout"):
            ax.plot(g["round"], g["test_accuracy"], label=f"q = {q:g}")
        ax.set(title=part, xlabel="round", ylabel="test accuracy")
        ax.legend(fontsize=8)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


PARTITION = "dirichlet_0.5"  # the partition run in both modes (full mode adds IID): the paper quotes it


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""Final test accuracy per dropout probability q on :data:`PARTITION`, the rounds, and the
    swept q (``\DropoutQ<per cent spelled>``, e.g. ``\DropoutQTwentyFive`` = 0.25)."""
    from fsnn_theory.numbers import NumberSheet, config_value, rows, spelled

    sheet = NumberSheet(NAME, data)
    for q in DROPOUTS:
        sheet.add(f"DropoutAccuracyQ{spelled(round(100 * q))}",
                  lambda: float(rows(data, NAME, partition=PARTITION, dropout=float(q)).sort_values(
                      "round", kind="stable")["test_accuracy"].iloc[-1]),
                  "percent", f"{PARTITION}, dropout q = {q:g}: final test accuracy (%)")
    sheet.add("DropoutRounds", lambda: config_value(config, NAME, "base", "rounds"), "int", "rounds")
    for q in DROPOUTS:
        sheet.add(f"DropoutQ{spelled(round(100 * q))}", lambda: q, "plain", f"dropout probability q = {q:g}")
    return sheet.result()
