"""Rounds to reach epsilon versus the number of local steps E: measured vs Li et al. (2020).

FedAvg with Li et al.'s schedule on the strongly convex model (Dirichlet alpha = 0.1 split, full
participation), E in {1, 2, 5, 10, 20, 50}. Measured: the first round with F(w_R) - F* <= epsilon
(epsilon a fixed fraction of the initial gap). Predicted: the smallest R whose Theorem 1 bound is
<= epsilon, with the constants measured on that E's runs. Li et al. argue for a U shape (too few
and too many local steps both cost rounds); the figure shows both curves on log axes and their
ratio. Quick mode: epsilon = 0.35 x initial gap, one seed.
"""

from __future__ import annotations

import pandas as pd

NAME = "rounds_vs_local_steps"
TITLE = "Rounds to epsilon vs local steps E: measured FedAvg vs Li et al. 2020 Theorem 1"


def config(mode: str) -> dict:
    from fsnn_theory.studies.verify import verification_config

    cfg = verification_config(mode)
    return {"convex": cfg["convex"], "rounds": cfg["rounds"]}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.verify import ConvexSetting, convex_problem, rounds_vs_local_steps_case

    problem = convex_problem(ConvexSetting(**config["convex"]))
    c = config["rounds"]
    steps = {f"E{E}": E for E in c["local_steps"]}
    frames = ctx.map(lambda key: rounds_vs_local_steps_case(
        problem, c["partition"], [steps[key]], c["max_rounds"], c["max_steps"], c["seeds"], c["eps_fraction"],
        c["min_rounds"]), steps, desc="E")
    for E, last in zip(c["local_steps"], frames):
        ctx.log(f"E={E}: measured rounds {last['measured_rounds'].tolist()}, predicted "
                f"{last['predicted_rounds'].iloc[0]:.4g}")
    return pd.concat(frames, ignore_index=True)


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt
    import numpy as np

    g = data.groupby("local_steps")
    E = np.array(sorted(data["local_steps"].unique()))
    measured = g["measured_rounds"].median().reindex(E)
    predicted = g["predicted_rounds"].first().reindex(E)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    ax = axes[0]
    ax.plot(E, predicted.values, "s--", label="predicted (Li et al. Thm 1)")
    ax.plot(E, measured.values, "o-", label="measured (median over seeds)")
    ax.plot(E, (measured * E).values, "^:", label="measured SGD steps (rounds x E)")
    ax.set(xscale="log", yscale="log", xlabel="local steps E", ylabel="rounds to epsilon",
           title=f"epsilon = {config['rounds']['eps_fraction']:g} x initial gap")
    ax.set_xticks(E, [str(e) for e in E])
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(E, (predicted / measured).values, "o-")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="local steps E", ylabel="predicted / measured rounds",
           title="tightness ratio")
    ax.set_xticks(E, [str(e) for e in E])
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


THEOREM_MACROS = {"Li2020 Thm1 rounds-to-eps": "LiRounds"}  # theorem label of data.csv -> macro stem


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""Checks and tightness of Li et al.'s rounds to epsilon, and per E of the sweep
    (``config["rounds"]["local_steps"]``) the median over seeds of the measured and predicted
    rounds (inf: not reached); the E with the fewest rounds, and epsilon."""
    from experiments.verify_strongly_convex import add_theorem_numbers
    from fsnn_theory.numbers import NumberSheet, config_value, rows, spelled

    sheet = NumberSheet(NAME, data)
    add_theorem_numbers(sheet, THEOREM_MACROS)
    for E in config_value(config, NAME, "rounds", "local_steps"):
        sheet.add(f"RoundsMeasuredE{spelled(E)}",
                  lambda: float(rows(data, NAME, local_steps=E)["measured_rounds"].astype(float).median()), "int",
                  f"E = {E}: measured rounds to epsilon")
        sheet.add(f"RoundsPredictedE{spelled(E)}",
                  lambda: float(rows(data, NAME, local_steps=E)["predicted_rounds"].astype(float).median()),
                  "magnitude", f"E = {E}: rounds predicted by Li et al. Thm 1")
    for column, which in (("measured_rounds", "Measured"), ("predicted_rounds", "Predicted")):
        sheet.add(f"RoundsBest{which}E", lambda: int(data.groupby("local_steps")[column].median().idxmin()), "int",
                  f"E with the fewest {which.lower()} rounds")
    for E in config_value(config, NAME, "rounds", "local_steps"):
        sheet.add(f"RoundsE{spelled(E)}", lambda: E, "plain", f"local steps E = {E} of the sweep")
    sheet.add("RoundsEpsilonFraction", lambda: config_value(config, NAME, "rounds", "eps_fraction"), "fixed2",
              "epsilon as a fraction of the initial gap")
    return sheet.result()
