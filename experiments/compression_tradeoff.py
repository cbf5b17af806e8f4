"""Federated spiking network on Yin-Yang: accuracy vs cumulative uplink bits for every compressor.

FedAvg, 10 clients, IID, E = 5, with the uplink compressed by: none (float32), QSGD (s = 2, 8;
Elias-ω coded), top-k (1 %, 10 %; error feedback), random-k (10 %, unbiased), int8, and the
spike-causal sparse update. Bits are the exact encoded message lengths. The table in the data
(``bits_ratio_vs_none``, ``accuracy_gap_vs_none``) answers: which compressor reaches the
uncompressed final accuracy (within 1 point) with the fewest bits? Quick mode: 600 samples,
5 clients, 40 hidden neurons, 20 rounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAME = "compression_tradeoff"
TITLE = "Federated SNN on Yin-Yang: test accuracy vs cumulative uplink bits per compressor"

COMPRESSORS = ("none", "qsgd:2", "qsgd:8", "topk:0.01", "topk:0.1", "randk:0.1", "int8", "causal")


def config(mode: str) -> dict:
    if mode == "full":
        base = {"train_size": 5000, "test_size": 1000, "hidden": 120, "clients": 10, "rounds": 300,
                "local_steps": 5, "batch_size": 32, "eval_every": 10, "lr": 0.5, "seed": 0}
    else:
        base = {"train_size": 600, "test_size": 300, "hidden": 40, "clients": 5, "rounds": 20,
                "local_steps": 2, "batch_size": 16, "eval_every": 5, "lr": 0.5, "seed": 0}
    return {"base": base, "compressors": list(COMPRESSORS)}


def _label(spec: str) -> str:
    return spec.replace(":", "_")


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.presets import run_variants

    variants = [(_label(c), {"compressor": c}) for c in config["compressors"]]
    data = run_variants(ctx, config["base"], variants)
    data["compressor"] = data["label"].map({_label(c): c for c in config["compressors"]})
    final = data.groupby("label", sort=False).tail(1).set_index("label")
    ref = final.loc["none"]
    data["bits_ratio_vs_none"] = data["label"].map(ref["cum_uplink_bits"] / final["cum_uplink_bits"].replace(0, np.nan)).fillna(0.0)
    data["accuracy_gap_vs_none"] = data["label"].map(ref["test_accuracy"] - final["test_accuracy"])
    for label, row in final.iterrows():
        ctx.log(f"{label}: final accuracy {row['test_accuracy']:.4f} ({ref['test_accuracy'] - row['test_accuracy']:+.4f} "
                f"below none), {ref['cum_uplink_bits'] / row['cum_uplink_bits']:.1f}x fewer uplink bits")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, g in data.groupby("label", sort=False):
        g = g[g["cum_uplink_bits"] > 0]
        ax.plot(g["cum_uplink_bits"], g["test_accuracy"], marker=".", label=g["compressor"].iloc[0])
    ax.set(xscale="log", xlabel="cumulative uplink bits (exact encodings)", ylabel="test accuracy")
    ax.legend(fontsize=7)
    ax.set_title(TITLE, fontsize=8)
    fig.tight_layout()
    return fig


# Paper numbers: macro-name stem and LaTeX display name of every compressor of the sweep.
COMPRESSOR_MACROS = {
    "none": ("Uncompressed", "uncompressed float32"),
    "qsgd:2": ("QSGDTwo", r"QSGD ($s=2$)"),
    "qsgd:8": ("QSGDEight", r"QSGD ($s=8$)"),
    "topk:0.01": ("TopkOnePercent", r"top-$k$ (1\,\%)"),
    "topk:0.1": ("TopkTenPercent", r"top-$k$ (10\,\%)"),
    "randk:0.1": ("RandkTenPercent", r"random-$k$ (10\,\%)"),
    "int8": ("IntEight", "int8"),
    "causal": ("SpikeCausal", "spike-causal"),
}
# "Reaches the uncompressed final accuracy" means within one accuracy point.
ACCURACY_TOLERANCE = 0.01


def final_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The state after the last round of every compressor, indexed by compressor."""
    d = data[["compressor", "round", "test_accuracy", "cum_uplink_bits"]]
    return d.sort_values("round", kind="stable").groupby("compressor", sort=False).tail(1).set_index("compressor")


def best_compressor(data: pd.DataFrame) -> str:
    """The compressor with the fewest cumulative uplink bits among those whose final accuracy is
    within :data:`ACCURACY_TOLERANCE` of the uncompressed run's (the question the experiment asks)."""
    final = final_rows(data)
    if "none" not in final.index:
        raise ValueError(f"{NAME}: data.csv has no uncompressed run (compressor 'none')")
    reference = final.loc["none"]
    within = final[(reference["test_accuracy"] - final["test_accuracy"] <= ACCURACY_TOLERANCE + 1e-12)
                   & (final["cum_uplink_bits"] > 0)]
    return str(within["cum_uplink_bits"].idxmin())


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Final accuracy, x fewer uplink bits and accuracy gap per compressor, and the best compressor
    within one accuracy point of uncompressed."""
    from fsnn_theory.numbers import NumberSheet, config_value, fmt_text, rows

    sheet = NumberSheet(NAME, data)

    def final(compressor: str, column: str) -> float:
        sel = rows(data, NAME, compressor=compressor)
        return float(sel.sort_values("round", kind="stable").iloc[-1][column])

    def bits_ratio(compressor: str) -> float:  # uncompressed bits over the compressor's
        bits = final(compressor, "cum_uplink_bits")
        return final("none", "cum_uplink_bits") / bits if bits > 0 else float("nan")

    def display_name(compressor: str) -> str:
        return COMPRESSOR_MACROS[compressor][1] if compressor in COMPRESSOR_MACROS else fmt_text(compressor)

    for compressor, (stem, _) in COMPRESSOR_MACROS.items():
        sheet.add(f"Compression{stem}Accuracy", lambda: final(compressor, "test_accuracy"), "percent",
                  f"{compressor}: final test accuracy (%)")
        sheet.add(f"Compression{stem}BitsRatio", lambda: bits_ratio(compressor), "ratio",
                  f"{compressor}: x fewer uplink bits than uncompressed")
        sheet.add(f"Compression{stem}Gap",
                  lambda: final("none", "test_accuracy") - final(compressor, "test_accuracy"), "percent",
                  f"{compressor}: accuracy points below uncompressed")
    sheet.add("CompressionBest", lambda: display_name(best_compressor(data)), "latex",
              "fewest bits within one point of uncompressed accuracy")
    sheet.add("CompressionBestBitsRatio", lambda: bits_ratio(best_compressor(data)), "ratio",
              "its x fewer uplink bits")
    sheet.add("CompressionRounds", lambda: config_value(config, NAME, "base", "rounds"), "int", "rounds")
    return sheet.result()
