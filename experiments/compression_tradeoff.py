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
