r"""Theorem 4 measured: density of spike-causal updates against its prediction, and bits per message.

Yin-Yang inputs (Göltz et al. 2021 encoding, 5 input spikes per sample) drive a random
two-layer time-to-first-spike network (LIF, τm = 2τs; weights as a typical initialisation) whose
spike times are computed once on a pool of m samples. For each layer,
:math:`q_{ij} = \Pr(t_i < t_j < \infty)` over the pool gives the predicted expected density
:math:`\frac1d\sum_{ij} 1 - (1 - q_{ij})^M` of a client update after M = B·E sample
presentations (Theorem 4 (i)); the measured density is the mean, over repeated draws of M pool
samples with replacement, of the fraction of weights causal on at least one drawn sample — the
support that ``federated.compressors.SpikeCausal`` transmits. Bits per message: the exact
``federated.compressors.causal_message_bits`` (measured, mean over draws) and the Theorem 4 (ii)
bound, against dense float32, QSGD with s = √d (≤ 2.8d + 32) and top-k at the same k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fsnn_theory.data import goltz_yin_yang_encoding, yin_yang
from fsnn_theory.neurons import causal_set, make_model
from fsnn_theory.theory import bounds
from fsnn_theory.theory import regularity as R

NAME = "spike_causal_density"
TITLE = "Theorem 4: predicted vs measured density of spike-causal updates, and bits per message"


def config(mode: str) -> dict:
    quick = mode == "quick"
    return {
        "seed": 4242,
        "model": {"name": "lif", "tau_m": 2.0, "tau_s": 1.0, "theta": 1.0},
        "pool": 1000 if quick else 5000,
        "hidden": 120,
        "classes": 3,
        "presentations": [1, 2, 5, 10, 20, 50, 150, 500, 1500],
        "draws": 100 if quick else 400,
    }


def _layers(cfg: dict, rng: np.random.Generator):
    params = dict(cfg["model"])
    model = make_model(params.pop("name"), **params)
    X, _ = yin_yang(cfg["pool"], seed=int(cfg["seed"]) % (2**31))
    t0 = goltz_yin_yang_encoding(X, tau_s=model.tau_s)
    kmax = R.kernel_constants(model).kappa_max
    # weights ~ N(mu, sigma) scaled so that a typical neuron sums to a few thresholds (most fire)
    w1 = rng.normal(1.5, 1.0, size=(t0.shape[1], cfg["hidden"])) * model.theta / (kmax * t0.shape[1])
    t1 = model.first_spike_times(t0, w1)
    w2 = rng.normal(1.0, 1.5, size=(cfg["hidden"], cfg["classes"])) * model.theta * 4 / (kmax * cfg["hidden"])
    t2 = model.first_spike_times(t1, w2)
    return [("hidden", t0, t1), ("output", t1, t2)]


def _rows(layer: str, t_in, t_out, cfg: dict, rng: np.random.Generator) -> list[dict]:
    causal = causal_set(t_in, t_out)  # (m, n_in, n_out)
    m, n_in, n_out = causal.shape
    d = n_in * n_out
    q = R.causal_pair_probability(t_in, t_out)
    flat = causal.reshape(m, d)
    rows = []
    for M in cfg["presentations"]:
        pred = R.spike_causal_density(q, M).value
        idx = rng.integers(0, m, size=(cfg["draws"], M))
        # union of the causal masks of the M drawn samples, for every draw at once
        support = np.zeros((cfg["draws"], d), dtype=bool)
        for col in range(M):  # M is at most a few thousand; each pass is vectorised over draws
            support |= flat[idx[:, col]]
        nnz = support.sum(axis=1)
        dens = nnz / d
        bits = np.array([1 + min(d, int(np.ceil(np.log2(d + 1))) + int(k) * int(np.ceil(np.log2(d)))) + 32 * int(k)
                         for k in nnz])
        k_mean = max(1, int(round(nnz.mean())))
        rows.append({
            "layer": layer, "d": d, "M": M,
            "predicted_density": pred,
            "measured_density": float(dens.mean()),
            "measured_se": float(dens.std(ddof=1) / np.sqrt(len(dens))),
            # sampling resolution: one synapse in one draw (the s.e. is 0 once every draw saturates)
            "resolution": 1.0 / (d * np.sqrt(len(dens))),
            "predicted_bits_bound": R.spike_causal_bits_bound(d, pred).value,
            "measured_bits": float(bits.mean()),
            "dense_bits": int(bounds.dense_float32_bits(d)),
            "qsgd_bits_bound": bounds.qsgd_dense_bits_bound(d).value,
            "topk_bits_same_k": int(bounds.topk_bits(d, min(k_mean, d))),
        })
    return rows


def run(config: dict, ctx) -> pd.DataFrame:
    def compute():
        rng = np.random.default_rng(config["seed"])
        rows = []
        for layer, t_in, t_out in _layers(config, rng):
            rows += _rows(layer, t_in, t_out, config, rng)
        return pd.DataFrame(rows)

    data = ctx.cached("density", compute)
    err = np.abs(data["measured_density"] - data["predicted_density"])
    worst = (err / (data["measured_se"] + data["resolution"])).max()
    ctx.log(f"largest |measured - predicted| density: {err.max():.2g} ({worst:.2f} x (s.e. + resolution))")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for i, (layer, grp) in enumerate(data.groupby("layer", sort=False)):
        c = f"C{i}"
        ax1.plot(grp["M"], grp["predicted_density"], "-", color=c, label=f"{layer}: predicted")
        ax1.errorbar(grp["M"], grp["measured_density"], yerr=2 * grp["measured_se"], fmt="o", color=c,
                     label=f"{layer}: measured (±2 s.e.)")
        ax2.plot(grp["M"], grp["measured_bits"] / grp["dense_bits"], "-o", color=c, label=f"{layer}: spike-causal")
        ax2.plot(grp["M"], grp["qsgd_bits_bound"] / grp["dense_bits"], ":", color=c, label=f"{layer}: QSGD s=sqrt(d)")
        ax2.plot(grp["M"], grp["topk_bits_same_k"] / grp["dense_bits"], "--", color=c, label=f"{layer}: top-k, same k")
    ax1.set_xscale("log")
    ax1.set_xlabel("sample presentations per round M = B E")
    ax1.set_ylabel("density of the update")
    ax1.legend(fontsize=7)
    ax1.set_title("Theorem 4 (i): 1 - (1 - q)^M averaged over synapses", fontsize=9)
    ax2.set_xscale("log")
    ax2.set_xlabel("M")
    ax2.set_ylabel("bits per message / dense float32")
    ax2.legend(fontsize=7)
    ax2.set_title("Theorem 4 (ii): bits per message", fontsize=9)
    fig.tight_layout()
    return fig


LAYER_MACROS = {"hidden": "Hidden", "output": "Output"}  # macro-name stems of the two layers


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Prediction errors, the range of M, and per layer predicted/measured densities and bits."""
    from fsnn_theory.numbers import NumberSheet, rows

    sheet = NumberSheet(NAME, data)

    def error() -> pd.Series:
        return (data["measured_density"] - data["predicted_density"]).abs()

    def at(layer: str, which: str, column: str) -> float:
        """``column`` of ``layer`` at the smallest ("min") or largest ("max") M."""
        sel = rows(data, NAME, layer=layer)
        m = sel["M"].min() if which == "min" else sel["M"].max()
        return float(sel.loc[sel["M"] == m, column].iloc[0])

    def bits_fraction(layer: str, which: str, column: str) -> float:
        """Bits per message of ``column`` over dense float32 bits."""
        return at(layer, which, column) / at(layer, which, "dense_bits")

    add = sheet.add
    add("SpikeCausalMaxAbsError", lambda: float(error().max()), "magnitude", "largest |measured - predicted| density")
    add("SpikeCausalMaxErrorInSE", lambda: float((error() / (data["measured_se"] + data["resolution"])).max()),
        "order", "largest error / (s.e. + resolution)")
    add("SpikeCausalSmallM", lambda: int(data["M"].min()), "int", "smallest M")
    add("SpikeCausalLargeM", lambda: int(data["M"].max()), "int", "largest M")
    for layer, name in LAYER_MACROS.items():
        add(f"SpikeCausal{name}Weights", lambda: int(at(layer, "min", "d")), "int", f"{layer}: weights d")
        for which, size in (("min", "SmallM"), ("max", "LargeM")):
            add(f"SpikeCausal{name}Predicted{size}", lambda: at(layer, which, "predicted_density"), "percent",
                f"{layer}, {which} M: predicted density (%)")
            add(f"SpikeCausal{name}Measured{size}", lambda: at(layer, which, "measured_density"), "percent",
                f"{layer}, {which} M: measured density (%)")
            add(f"SpikeCausal{name}Bits{size}", lambda: bits_fraction(layer, which, "measured_bits"), "percent",
                f"{layer}, {which} M: spike-causal bits / dense float32 bits (%)")
        add(f"SpikeCausal{name}QSGDBits", lambda: bits_fraction(layer, "min", "qsgd_bits_bound"), "percent",
            f"{layer}: QSGD (s = sqrt d) bits bound / dense float32 bits (%)")
    return sheet.result()
