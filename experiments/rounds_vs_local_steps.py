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
