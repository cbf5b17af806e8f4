"""Federated spiking network on Yin-Yang: accuracy vs round for E ∈ {1, 5, 20} local steps.

FedAvg, 10 clients, batch 32, IID and Dirichlet α = 0.5 splits: more local work per round speeds
up progress per round, and under label skew the clients drift apart (Li et al. 2020: the bound's
8(E-1)²G² term). Quick mode: 600 samples, 5 clients, 40 hidden neurons, 10 rounds.
"""

from __future__ import annotations

import pandas as pd

NAME = "federated_local_steps"
TITLE = "Federated SNN on Yin-Yang: accuracy vs round for E = 1, 5, 20 local steps"

STEPS = (1, 5, 20)


def config(mode: str) -> dict:
    if mode == "full":
        base = {"train_size": 5000, "test_size": 1000, "hidden": 120, "clients": 10, "rounds": 200,
                "batch_size": 32, "eval_every": 10, "lr": 0.5, "seed": 0}
    else:
        base = {"train_size": 600, "test_size": 300, "hidden": 40, "clients": 5, "rounds": 10,
                "batch_size": 16, "eval_every": 5, "lr": 0.5, "seed": 0}
    variants, columns = [], {}
    for part, spec in (("iid", "iid"), ("dirichlet_0.5", "dirichlet:0.5")):
        for E in STEPS:
            variants.append([f"{part}_E{E}", {"partition": spec, "local_steps": E}])
            columns[f"{part}_E{E}"] = {"partition": part, "local_steps": E}
    return {"base": base, "variants": variants, "columns": columns}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.presets import add_variant_columns, run_variants

    data = run_variants(ctx, config["base"], [(label, ov) for label, ov in config["variants"]])
    return add_variant_columns(data, config["columns"], ("partition", "local_steps"))


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    parts = list(dict.fromkeys(data["partition"]))
    fig, axes = plt.subplots(1, len(parts), figsize=(5 * len(parts), 4), sharey=True, squeeze=False)
    for ax, part in zip(axes[0], parts):
        for E, g in data[data["partition"] == part].groupby("local_steps"):
            ax.plot(g["round"], g["test_accuracy"], label=f"E = {E}")
        ax.set(title=part, xlabel="round", ylabel="test accuracy")
        ax.legend(fontsize=8)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


PARTITION_MACROS = {"iid": "IID", "dirichlet_0.5": "DirichletHalf"}  # partitions of config() -> macro stem


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""Final test accuracy per partition and E, the rounds, and the swept E (``\LocalStepsE<E>``)."""
    from fsnn_theory.numbers import NumberSheet, config_value, final_round_rows, rows, spelled

    sheet = NumberSheet(NAME, data)
    for partition, pname in PARTITION_MACROS.items():
        for E in STEPS:
            sheet.add(f"LocalStepsAccuracy{pname}E{spelled(E)}",
                      lambda: float(final_round_rows(rows(data, NAME, label=f"{partition}_E{E}"))[
                          "test_accuracy"].mean()),
                      "percent", f"{partition}, E = {E}: final test accuracy (%)")
    sheet.add("LocalStepsRounds", lambda: config_value(config, NAME, "base", "rounds"), "int", "rounds")
    for E in STEPS:
        sheet.add(f"LocalStepsE{spelled(E)}", lambda: E, "plain", f"local steps E = {E} of the sweep")
    return sheet.result()
