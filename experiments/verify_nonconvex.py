"""Yu et al. (2019) non-convex local-SGD bound held against the federated spiking network.

Göltz et al.'s Yin-Yang time-to-first-spike network trained by local SGD on exact spike-time
gradients (no guard, no bumping), N workers that each hold a full copy of the data (the
identical-distribution setting of the theorem), averaging every E steps, constant step
gamma = 0.5 / L-hat. Measured: the running average of ||grad f(xbar_t)||^2 at the workers' average;
bound: Yu et al. Theorem 1 with L (power iteration with finite-difference Hessian-vector
products), sigma^2 and G (all MEASURED at points along the run) and f0 - f* <= f(x0) (exact upper
bound, the loss is non-negative). The spike-time loss is only piecewise smooth, so the check is
weaker than the convex ones and not rigorous. Quick mode: 150 samples, 20 hidden neurons, T = 100.
"""

from __future__ import annotations

import pandas as pd

NAME = "verify_nonconvex"
TITLE = "Yu et al. 2019 non-convex bound vs measured average squared gradient norm (spiking network)"


def config(mode: str) -> dict:
    from fsnn_theory.studies.verify import verification_config

    return {"spiking": verification_config(mode)["spiking"]}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.verify import SpikingSetting, yu2019_case

    c = config["spiking"]
    setting = SpikingSetting(**c["setting"])
    runs = {f"E{E}_seed{seed}": (E, seed) for E in c["local_steps"] for seed in c["seeds"]}
    frames = ctx.map(lambda key: yu2019_case(setting, runs[key][0], c["steps"] // runs[key][0], runs[key][1]),
                     runs, desc="E, seed")
    for (E, seed), last in zip(runs.values(), frames):
        ctx.log(f"E={E} seed {seed}: final measured {last['measured'].iloc[-1]:.4g}, bound "
                f"{last['bound'].iloc[-1]:.4g} (L={last['L'].iloc[0]:.3g}, sigma2={last['sigma2'].iloc[0]:.3g}, "
                f"G2={last['G2'].iloc[0]:.3g})")
    return pd.concat(frames, ignore_index=True)


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt
    import numpy as np

    Es = sorted(data["local_steps"].unique())
    fig, axes = plt.subplots(1, len(Es) + 1, figsize=(3.8 * (len(Es) + 1), 3.4), squeeze=False)
    for ax, E in zip(axes[0], Es):
        g = data[data["local_steps"] == E]
        for seed, gs in g.groupby("seed"):
            ax.plot(gs["steps_taken"], gs["measured"], label=f"measured, seed {seed}")
            if gs["bound"].notna().any():
                ax.plot(gs["steps_taken"], gs["bound"], ls="--", label=f"bound, seed {seed}")
            else:
                ax.text(0.05, 0.05, "precondition gamma <= 1/L fails\n(measured L): no bound", fontsize=7,
                        transform=ax.transAxes)
        if (g["measured"] > 0).any():
            ax.set(yscale="log", xscale="log")
        ax.set(xlabel="iterations T", ylabel="(1/T) sum ||grad f(xbar_t)||^2", title=f"Yu et al. 2019 Thm 1, I = E = {E}")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=6)
    ax = axes[0, -1]
    plotted = False
    for (E, seed), g in data.groupby(["local_steps", "seed"]):
        ratio = g["bound"] / g["measured"]
        ok = np.isfinite(ratio) & (ratio > 0)
        if ok.any():
            ax.plot(g["steps_taken"][ok], ratio[ok], label=f"E={E}, seed {seed}")
            plotted = True
    ax.axhline(1.0, color="k", lw=0.8)
    if plotted:
        ax.set(xscale="log", yscale="log")
        ax.legend(fontsize=6)
    ax.set(xlabel="iterations T", ylabel="bound / measured", title="tightness ratio (measured constants)")
    ax.title.set_fontsize(8)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


THEOREM_MACROS = {"Yu2019 Thm1 (non-convex, SNN)": "Yu"}  # theorem label of data.csv -> macro stem


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Checks, violations and tightness of Yu et al.'s bound, and the checkpoints where gamma <= 1/L failed."""
    from experiments.verify_strongly_convex import add_theorem_numbers, theorem_checks
    from fsnn_theory.numbers import NumberSheet

    sheet = NumberSheet(NAME, data)
    add_theorem_numbers(sheet, THEOREM_MACROS)
    (theorem,) = THEOREM_MACROS
    sheet.add("YuPreconditionFailures", lambda: int(theorem_checks(data, NAME, theorem)["bound"].isna().sum()), "int",
              "checkpoints where gamma <= 1/L failed")  # the bound is NaN where its precondition fails
    return sheet.result()
