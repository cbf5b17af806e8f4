"""Li et al. (2020) Theorems 1-3 and the Field Guide's Theorem 1 held against measured FedAvg (convex model).

FedAvg on L2-regularised logistic regression over fixed spike-time features of Yin-Yang, with Li
et al.'s schedule eta_t = 2/(mu(gamma + t)); schemes full / I / II, E in {1, 5, 20}, IID and
Dirichlet(0.1, 1) splits (scheme II: the balanced IID and shard splits it requires), several
seeds. Measured F(w_R) - F* after every round (F* certified from below) against the theorem's
bound with L (Böhning upper bound), mu (exact), sigma_k^2 and G^2 (maxima along the runs), Gamma
and ||w_1 - w*||^2 (solved to tolerance). Also FedAvg with a constant step 1/(4L) on balanced
splits against Wang et al.'s Field Guide Theorem 1 (average gap over rounds and local steps), with
every constant a proven bound. Every row must show 0 violations. Figure: one row of panels per
theorem, one panel per E: measured gap (median over seeds, solid) and bound (dashed) on log axes,
and the median tightness ratio bound/measured per case. Quick mode: 200 SGD steps, 2 seeds.
"""

from __future__ import annotations

import pandas as pd

NAME = "verify_strongly_convex"
TITLE = "Li et al. 2020 Thms 1-3 and Field Guide Thm 1 vs measured FedAvg (convex model), tightness ratios"


def config(mode: str) -> dict:
    from fsnn_theory.studies.verify import verification_config

    cfg = verification_config(mode)
    return {"convex": cfg["convex"], "li2020": cfg["li2020"], "field_guide": cfg["field_guide"]}


def run(config: dict, ctx) -> pd.DataFrame:
    from functools import partial

    from fsnn_theory.studies.verify import (ConvexSetting, convex_problem, field_guide_case, li2020_case,
                                           li2020_cases, verification_rows)

    problem = convex_problem(ConvexSetting(**config["convex"]))
    fg = config["field_guide"]
    cases = {key: partial(li2020_case, problem, **kw) for key, kw in li2020_cases(config)}
    cases.update({
        f"fieldguide_E{E}_{spec.replace(':', '')}": partial(
            field_guide_case, problem, spec, E, fg["rounds"], fg["seeds"], fg["eta_fraction"])
        for spec in fg["partitions"] for E in fg["local_steps"]
    })
    frames = ctx.map(lambda key: cases[key](), cases, desc="Li et al. and Field Guide cases")
    data = pd.concat(frames, ignore_index=True)
    for r in verification_rows(data):
        ctx.log(f"{r.theorem} [{r.configuration}]: {r.violations} violations in {r.checks} checks, "
                f"median bound/measured {r.median_tightness:.3g}")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    order = ["Li2020 Thm1", "Li2020 Thm2", "Li2020 Thm3", "FieldGuide"]
    theorems = sorted(dict.fromkeys(data["theorem"]),
                      key=lambda t: next((i for i, o in enumerate(order) if t.startswith(o)), len(order)))
    Es = sorted(data["local_steps"].unique())
    fig, axes = plt.subplots(len(theorems), len(Es) + 1, figsize=(3.6 * (len(Es) + 1), 3.0 * len(theorems)),
                             squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, theorem in enumerate(theorems):
        ds = data[data["theorem"] == theorem]
        parts = list(dict.fromkeys(ds["partition"]))
        for j, E in enumerate(Es):
            ax = axes[i, j]
            if not (ds["local_steps"] == E).any():  # this theorem was not run with this E
                ax.axis("off")
                continue
            for c, part in enumerate(parts):
                g = ds[(ds["local_steps"] == E) & (ds["partition"] == part)]
                med = g.groupby("steps_taken")["measured"].median()
                bnd = g.groupby("steps_taken")["bound"].first()
                col = colors[c % len(colors)]
                ax.plot(med.index, med.values, color=col, label=f"{part} measured")
                ax.plot(bnd.index, bnd.values, color=col, ls="--", label=f"{part} bound")
            ax.set(yscale="log", xscale="log", title=f"{theorem}, E={E}", xlabel="SGD steps T")
            ax.xaxis.set_minor_formatter(NullFormatter())
            if j == 0:
                ax.set_ylabel("F(w_T) - F*" if theorem.startswith("Li") else "avg of F(xbar) - F*")
            ax.title.set_fontsize(8)
        next(a for a in axes[i, :-1] if a.axison).legend(fontsize=6)
        ax = axes[i, -1]
        for c, part in enumerate(parts):
            g = ds[ds["partition"] == part]
            ratio = (g["bound"] / g["measured"]).groupby(g["local_steps"]).median()
            ax.plot(ratio.index, ratio.values, "o-", color=colors[c % len(colors)], label=part)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set(xscale="log", yscale="log", xlabel="local steps E", ylabel="median bound / measured",
               title="tightness ratio (1 = tight)")
        ax.title.set_fontsize(8)
        ax.set_xticks(Es, [str(e) for e in Es])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=6)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


# Theorem labels of data.csv (fsnn_theory.studies.verify) -> macro-name stem in the paper.
THEOREM_MACROS = {
    "Li2020 Thm1 (full participation)": "LiThmOne",
    "Li2020 Thm2 (scheme I)": "LiThmTwo",
    "Li2020 Thm3 (scheme II)": "LiThmThree",
    "FieldGuide Thm1 (convex, constant step)": "FieldGuide",
}


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
    """Checks, violations and tightness of every theorem, and the violations over all of them."""
    from fsnn_theory.numbers import NumberSheet

    sheet = NumberSheet(NAME, data)
    add_theorem_numbers(sheet, THEOREM_MACROS)
    sheet.add("StronglyConvexViolations", lambda: total_violations(data, NAME), "int", "violations, all theorems")
    return sheet.result()
