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
    by_key = {key: (name, kw) for key, name, kw in cases}
    frames = ctx.map(lambda key: run_case(problem, *by_key[key]), by_key, desc="cases")
    data = pd.concat(frames, ignore_index=True)
    for r in rows_from_curves(data):
        ctx.log(f"{r.theorem} [{r.configuration}]: {r.violations} violations, informative {r.informative_fraction:.2f}, "
                f"control caught {r.control_caught}, median bound/measured {r.median_tightness:.3g}")
    return data


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


# Shared by the verification experiments that still use fsnn_theory.studies.verify's check rows
# (rounds_vs_local_steps, verify_nonconvex, verify_compression).


def theorem_checks(data: pd.DataFrame, experiment: str, theorem: str) -> pd.DataFrame:
    """The check rows (run, checkpoint) of one theorem label; ValueError listing the labels present."""
    sel = data.loc[(data["theorem"] == theorem).to_numpy(), ["theorem", "kind", "measured", "bound"]]
    if sel.empty:
        present = ", ".join(dict.fromkeys(data["theorem"].astype(str)))
        raise ValueError(f"{experiment}: data.csv has no checks of theorem {theorem!r}; present: {present}")
    return sel


def theorem_summary(data: pd.DataFrame, experiment: str, theorem: str) -> tuple:
    """(checks, violations, median, worst tightness bound/measured) over every check of ``theorem``,
    pooled across its configurations, with the library's definitions (`verify.summarize_checks`)."""
    from fsnn_theory.studies.verify import summarize_checks

    sel = theorem_checks(data, experiment, theorem)
    return summarize_checks(sel["bound"], sel["measured"], str(sel["kind"].iloc[0]))


def add_theorem_numbers(sheet, theorems: dict[str, str]) -> None:
    r"""``\<stem>Checks``, ``Violations``, ``MedianTightness``, ``WorstTightness`` of every theorem
    label -> stem of ``theorems`` (checks where the bound was evaluated, checks on the wrong side
    of the bound, median and worst bound/measured; None = no evaluated check, printed n/a)."""
    data, experiment = sheet.data, sheet.experiment
    for theorem, stem in theorems.items():
        summary = lambda: theorem_summary(data, experiment, theorem)  # noqa: E731
        sheet.add(f"{stem}Checks", lambda: summary()[0], "int", f"{theorem}: checks")
        sheet.add(f"{stem}Violations", lambda: summary()[1], "int", f"{theorem}: violations")
        sheet.add(f"{stem}MedianTightness", lambda: _nan_if_none(summary()[2]), "magnitude",
                  f"{theorem}: median bound / measured")
        sheet.add(f"{stem}WorstTightness", lambda: _nan_if_none(summary()[3]), "magnitude",
                  f"{theorem}: worst bound / measured")


def _nan_if_none(value):
    return float("nan") if value is None else value


def total_violations(data: pd.DataFrame, experiment: str) -> int:
    """Violations over every theorem of a verification experiment."""
    return sum(theorem_summary(data, experiment, str(t))[1] for t in data["theorem"].drop_duplicates())


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Paper macros per theorem: rows, checkpoints, violations, smallest informative fraction,
    caught controls, seeds, median (over rows) of the median tightness, smallest tightness, the
    range of measured slopes in T and the rows whose rate is consistent; and the totals."""
    import numpy as np

    from fsnn_theory.numbers import NumberSheet
    from fsnn_theory.studies.verification import rows_from_curves

    sheet = NumberSheet(NAME, data)
    all_rows = [] if sheet.declaring else rows_from_curves(data)

    nan = float("nan")

    def of(theorem: str) -> list:
        # a theorem a (reduced) config did not run has no rows: counts 0, statistics n/a
        return [r for r in all_rows if r.theorem == theorem]

    def stat(theorem: str, fn):
        rs = of(theorem)
        return fn(rs) if rs else nan

    def slopes(theorem: str) -> list[float]:
        return [r.slope_measured for r in of(theorem) if r.slope_measured is not None] or [nan]

    for theorem, stem in _LI.items():
        sheet.add(f"{stem}Rows", lambda t=theorem: len(of(t)), "int", f"{theorem}: rows (configurations)")
        sheet.add(f"{stem}Checks", lambda t=theorem: sum(r.checks for r in of(t)), "int", f"{theorem}: checkpoints")
        sheet.add(f"{stem}Violations", lambda t=theorem: sum(r.violations for r in of(t)), "int",
                  f"{theorem}: violations (95 % interval above the bound)")
        sheet.add(f"{stem}InformativeMin", lambda t=theorem: stat(t, lambda rs: min(r.informative_fraction for r in rs)),
                  "fixed2", f"{theorem}: smallest informative fraction")
        sheet.add(f"{stem}ControlsCaught", lambda t=theorem: sum(bool(r.control_caught) for r in of(t)), "int",
                  f"{theorem}: negative controls flagged")
        sheet.add(f"{stem}Seeds", lambda t=theorem: stat(t, lambda rs: min(r.seeds for r in rs)), "int",
                  f"{theorem}: seeds per row")
        sheet.add(f"{stem}MedianTightness",
                  lambda t=theorem: stat(t, lambda rs: float(np.median([r.median_tightness for r in rs]))),
                  "magnitude", f"{theorem}: median over rows of median bound/measured")
        sheet.add(f"{stem}WorstTightness", lambda t=theorem: stat(t, lambda rs: min(r.worst_tightness for r in rs)),
                  "magnitude", f"{theorem}: smallest bound/measured")
        sheet.add(f"{stem}SlopeMax", lambda t=theorem: max(slopes(t)), "fixed2",
                  f"{theorem}: shallowest measured slope in T")
        sheet.add(f"{stem}SlopeMin", lambda t=theorem: min(slopes(t)), "fixed2",
                  f"{theorem}: steepest measured slope in T")
        sheet.add(f"{stem}RatesConsistent", lambda t=theorem: sum(r.rate_consistent is True for r in of(t)), "int",
                  f"{theorem}: rows whose slope interval is within the predicted + 0.1")
    sheet.add("StronglyConvexViolations", lambda: sum(r.violations for r in all_rows), "int", "violations, all rows")
    sheet.add("StronglyConvexRows", lambda: len(all_rows), "int", "rows, all theorems")
    return sheet.result()
