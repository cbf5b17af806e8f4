"""Li et al. (2020) Theorems 1-3 on the strongly convex model and the Field Guide's Theorem 1 on its
worst-case quadratic, in the regime where the bounds say something, with negative controls.

FedAvg exactly as Li et al. analyse it (`fsnn_theory.studies.verification`): L2-regularised
logistic regression on fixed spike-time features of Yin-Yang (penalty 2, condition number about
1.8), started far from the optimum so that the bound falls below the initial gap after a few dozen
steps; schemes full / I / II, E in {1, 2, 5}, IID and Dirichlet(0.1) splits, every constant a
proven bound (rigor "proven"). Measured F(w_T) - F* at 20 log-spaced checkpoints, mean over 10
seeds (20 in full mode) with a 95 % interval. Each row has a negative control (the step schedule
beta/(gamma+t) with beta*mu below the proof's limit 1) that must be flagged. Plus the Field
Guide's Theorem 1 on the noisy quadratic where its first term is attained up to 2 - eta L
(instance "worst_case"), and EF21's Theorem 1 (multi-client top-k with error feedback, statement
recalled) on the same model, whose control is top-k without error feedback. Figure: measured seed mean (solid, with its interval), control (dotted)
and bound (dashed) per row; the informative region is where the bound is below the initial value
(grey line).
"""

from __future__ import annotations

import pandas as pd

NAME = "verify_strongly_convex"
TITLE = "Li et al. 2020 Thms 1-3, Field Guide Thm 1 (worst case), EF21 Thm 1: bounds vs runs with controls"

_LI = {"Li2020 Thm1 full": "LiThmOne", "Li2020 Thm2 sch. I": "LiThmTwo", "Li2020 Thm3 sch. II": "LiThmThree",
       "FieldGuide Thm1 w.c.": "FieldGuideWorstCase", "EF21 Thm1 top-k": "EFTwentyOne"}


def config(mode: str) -> dict:
    from fsnn_theory.studies.verification import run as verification_run

    cfg = verification_run.verification_config(mode)
    return {"convex": cfg["convex"], "li2020": cfg["li2020"], "worst_case": cfg["worst_case"],
            "compression": cfg["compression"]}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.verification import case_list, rows_from_curves, run_case
    from fsnn_theory.studies.verification.problems import ConvexSetting, convex_problem

    cases = [c for c in case_list(config, ("li2020", "worst_case", "compression")) if c[1] != "qsgd_variance"]
    problem = convex_problem(ConvexSetting(**config["convex"]))
    frames = [ctx.cached(key, lambda name=name, kw=kw: run_case(problem, name, kw))
              for key, name, kw in ctx.progress(cases, desc="cases")]
    data = pd.concat(frames, ignore_index=True)
    for r in rows_from_curves(data):
        ctx.log(f"{r.theorem} [{r.configuration}]: {r.violations} violations, informative {r.informative_fraction:.2f}, "
                f"control caught {r.control_caught}, median bound/measured {r.median_tightness:.3g}")
    return data


def numbers(data: pd.DataFrame, config: dict) -> dict:
    """Paper macros: per theorem, rows, checks, violations, smallest informative fraction, caught
    controls, seeds, median (over rows) of the median tightness and the smallest tightness."""
    import numpy as np

    from fsnn_theory.studies.verification import rows_from_curves

    rows = rows_from_curves(data)
    out = {}
    for theorem, stem in _LI.items():
        rs = [r for r in rows if r.theorem == theorem]
        if not rs:
            continue
        out[f"{stem}Rows"] = (len(rs), "{:d}", f"{theorem}: rows (configurations)")
        out[f"{stem}Checks"] = (sum(r.checks for r in rs), "{:d}", f"{theorem}: checkpoints")
        out[f"{stem}Violations"] = (sum(r.violations for r in rs), "{:d}", f"{theorem}: violations (CI above bound)")
        out[f"{stem}InformativeMin"] = (min(r.informative_fraction for r in rs), "{:.2f}",
                                        f"{theorem}: smallest informative fraction")
        out[f"{stem}ControlsCaught"] = (sum(bool(r.control_caught) for r in rs), "{:d}",
                                        f"{theorem}: negative controls flagged")
        out[f"{stem}Seeds"] = (min(r.seeds for r in rs), "{:d}", f"{theorem}: seeds per row")
        out[f"{stem}MedianTightness"] = (float(np.median([r.median_tightness for r in rs])), "{:.3g}",
                                         f"{theorem}: median over rows of median bound/measured")
        out[f"{stem}WorstTightness"] = (min(r.worst_tightness for r in rs), "{:.3g}",
                                        f"{theorem}: smallest bound/measured")
        slopes = [r.slope_measured for r in rs if r.slope_measured is not None]
        if slopes:
            out[f"{stem}SlopeMax"] = (max(slopes), "{:.2f}", f"{theorem}: shallowest measured slope in T")
            out[f"{stem}SlopeMin"] = (min(slopes), "{:.2f}", f"{theorem}: steepest measured slope in T")
        out[f"{stem}RatesConsistent"] = (sum(r.rate_consistent is True for r in rs), "{:d}",
                                         f"{theorem}: rows whose slope interval is within the predicted + 0.1")
    out["StronglyConvexViolations"] = (sum(r.violations for r in rows), "{:d}", "violations, all rows")
    out["StronglyConvexRows"] = (len(rows), "{:d}", "rows, all theorems")
    return out


def plot(data: pd.DataFrame, config: dict):
    import math

    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(zip(data["theorem"], data["configuration"])))
    ncol = 4
    nrow = math.ceil(len(groups) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.7 * nrow), squeeze=False)
    for ax, (theorem, cfg) in zip(axes.ravel(), groups):
        g = data[(data["theorem"] == theorem) & (data["configuration"] == cfg)]
        run = g[g["variant"] == "run"].sort_values("step")
        ctl = g[g["variant"] == "control"].sort_values("step")
        ax.fill_between(run["step"], run["low"].clip(lower=1e-300), run["high"], color="C0", alpha=0.25, lw=0)
        ax.plot(run["step"], run["mean"], "C0-", label="measured (seed mean)")
        ax.plot(run["step"], run["bound"], "C0--", label="bound")
        if len(ctl):
            ax.plot(ctl["step"], ctl["mean"], "C3:", label="control")
        ax.axhline(float(run["initial"].iloc[0]), color="0.6", lw=0.8)
        ax.set(xscale="log", yscale="log", xlabel="T (SGD steps or rounds)")
        ax.set_title(f"{theorem}\n{cfg}", fontsize=7)
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig
