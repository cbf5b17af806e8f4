"""Compression bounds held against measured runs: QSGD, top-k with error feedback, bits to epsilon.

On the strongly convex model: (1) FedAvg with E = 1 and the QSGD uplink (s levels, exact Elias-ω
message lengths): QSGD Lemma 3.1 per message with exact expectations over the quantiser, Theorem
3.2 bits, and Li et al. Theorem 1 with the QSGD variance added to each client's sigma_k^2 (a
composition derived here for E = 1, where FedAvg is SGD with an unbiased compressed gradient);
(2) one worker with top-k and error feedback (Mem-SGD) against Stich et al. 2018 Theorem 2.4 (the
theorem covers a single worker only). Bits to epsilon are measured (exact cumulative uplink
bits) and compared with the bits the bounds predict and with the Korhonen–Alistarh lower bound
Omega(N d log(d/(N epsilon))) (constant 1: compare growth, not values).
"""

from __future__ import annotations

import pandas as pd

NAME = "verify_compression"
TITLE = "QSGD and top-k + error feedback: measured convergence and bits to epsilon vs their bounds"


def config(mode: str) -> dict:
    from fsnn_theory.studies.verify import verification_config

    cfg = verification_config(mode)
    return {"convex": cfg["convex"], "compression": cfg["compression"]}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.verify import ConvexSetting, convex_problem, memsgd_case, qsgd_case

    problem = convex_problem(ConvexSetting(**config["convex"]))
    c = config["compression"]
    cases = {
        "qsgd": lambda: qsgd_case(problem, c["partition"], c["qsgd_levels"], c["steps"], c["seeds"],
                                  c["eps_fraction"]),
        "topk": lambda: memsgd_case(problem, c["topk_fraction"], c["memsgd_steps"], c["seeds"],
                                    c["eps_fraction"]),
    }
    data = pd.concat(ctx.map(lambda key: cases[key](), cases, desc="compressors"), ignore_index=True)
    bits = data[data["theorem"].str.contains("bits-to-eps|Korhonen")]
    for _, r in bits.iterrows():
        ctx.log(f"{r['theorem']} seed {r['seed']}: measured {r['measured']:.4g} bits, bound {r['bound']:.4g}")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for ax, prefix in ((axes[0, 0], "Li2020 Thm1 + QSGD"), (axes[0, 1], "Stich2018")):
        g = data[data["theorem"].str.startswith(prefix)]
        for seed, gs in g.groupby("seed"):
            ax.plot(gs["step"], gs["measured"], label=f"measured, seed {seed}")
        first = g[g["seed"] == g["seed"].min()]
        ax.plot(first["step"], first["bound"], "k--", label="bound")
        ax.set(xscale="log", yscale="log", xlabel="SGD steps T",
               ylabel="F(w_T) - F*" if prefix.startswith("Li") else "f(xbar_T) - f*",
               title=g["theorem"].iloc[0] if len(g) else prefix)
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7)
    ax = axes[1, 0]
    g = data[data["theorem"].str.startswith("QSGD Lemma 3.1(ii)")]
    ax.loglog(g["bound"], g["measured"], ".", ms=2, label="messages")
    lim = [g["bound"].min(), g["bound"].max()]
    ax.loglog(lim, lim, "k-", lw=0.8, label="measured = bound")
    ax.set(xlabel="Lemma 3.1 bound min(d/s^2, sqrt(d)/s) ||v||^2", ylabel="exact E||Q(v) - v||^2",
           title="QSGD variance per message (exact expectation)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    labels, measured, predicted, lower = [], [], [], []
    for kind, up, low in (("QSGD", "bits-to-eps QSGD", "Korhonen-Alistarh 2021 lower bound (QSGD run)"),
                          ("top-k", "bits-to-eps top-k", "Korhonen-Alistarh 2021 lower bound (top-k run)")):
        u = data[data["theorem"].str.startswith(up)]
        lo = data[data["theorem"] == low]
        labels.append(kind)
        measured.append(u["measured"].median() if len(u) else np.nan)
        predicted.append(u["bound"].median() if len(u) else np.nan)
        lower.append(lo["bound"].median() if len(lo) else np.nan)
    x = np.arange(len(labels))
    ax.bar(x - 0.25, lower, 0.25, label="Korhonen-Alistarh (constant 1)")
    ax.bar(x, measured, 0.25, label="measured")
    ax.bar(x + 0.25, predicted, 0.25, label="predicted by the bound")
    ax.set(yscale="log", ylabel="uplink bits to epsilon", title="bits to epsilon")
    ax.set_xticks(x, labels)
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


# Theorem labels of data.csv (fsnn_theory.studies.verify) -> macro-name stem in the paper.
THEOREM_MACROS = {
    "QSGD Lemma 3.1(ii) variance per message": "QSGDVariance",
    "QSGD Lemma 3.1(iii) nonzeros per message": "QSGDNonzeros",
    "QSGD Thm3.2 bits per message": "QSGDBits",
    "Li2020 Thm1 + QSGD variance (E=1, derived)": "LiQSGD",
    "bits-to-eps QSGD (Li2020 Thm1 + Lemma 3.1)": "QSGDBitsToEps",
    "Korhonen-Alistarh 2021 lower bound (QSGD run)": "KorhonenQSGD",
    "Stich2018 Thm2.4 (top-k + EF, 1 worker)": "StichTopk",
    "bits-to-eps top-k (Stich2018 Thm2.4)": "TopkBitsToEps",
    "Korhonen-Alistarh 2021 lower bound (top-k run)": "KorhonenTopk",
}


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Checks, violations and tightness of every bound, all violations, and the measured bits to epsilon."""
    from experiments.verify_strongly_convex import add_theorem_numbers, theorem_checks, total_violations
    from fsnn_theory.numbers import NumberSheet

    sheet = NumberSheet(NAME, data)
    add_theorem_numbers(sheet, THEOREM_MACROS)
    sheet.add("CompressionVerifyViolations", lambda: total_violations(data, NAME), "int", "violations, all theorems")
    for stem, what in (("QSGD", "QSGD"), ("Topk", "top-k")):
        theorem = next(t for t, s in THEOREM_MACROS.items() if s == f"{stem}BitsToEps")
        sheet.add(f"{stem}BitsToEpsMeasured", lambda: float(theorem_checks(data, NAME, theorem)["measured"].median()),
                  "magnitude", f"measured uplink bits to epsilon, {what}")  # median over seeds
    return sheet.result()
