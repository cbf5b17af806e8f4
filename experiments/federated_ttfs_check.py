r"""Theorem 3 measured: local SGD on one spiking layer, checked against its explicit rate.

N workers run local SGD (Yu et al. 2019: step γ, averaging every I steps, T steps, i.i.d.
mini-batches of B samples drawn from one shared pool — identical distributions) on the
time-to-first-spike cross-entropy of one layer (Yin-Yang inputs, Göltz encoding, 5 inputs -> 3
outputs, LIF τm = 2τs). The margin set is fixed before training: s_min is half the smallest slope
over the pool at the initial weights, n = n_in, W twice the largest initial weight. The step is
``regularity.ttfs_local_sgd_step_size`` (so γ ≤ 1/L). At every local iterate and every average
the run checks the hypothesis of Theorem 3 (all outputs of all pool samples fire with slope ≥
s_min, every causal set equal to the initial one, every |w| ≤ W) and records whether the run
stayed in K. Measured: :math:`\frac1T\sum_t\|\nabla f(\bar x_{t-1})\|^2` (full-pool gradient at the
virtual average), averaged over seeds, against ``regularity.ttfs_local_sgd_bound``.

Finding (quick and full mode): the margins and weight bounds hold throughout, but some pool
sample's causal set changes within the first few dozen steps (input and output spike times of a
data pool come arbitrarily close), so the runs leave K and the theorem's hypothesis fails; the
measured quantity nevertheless stays orders of magnitude below the bound. This is Proposition 1 (d)
in practice and motivates a population-level smoothness result (see proofs/federated_ttfs_convergence.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fsnn_theory.data import goltz_yin_yang_encoding, yin_yang
from fsnn_theory.neurons import causal_set, make_model, spike_time_gradients
from fsnn_theory.theory import regularity as R

NAME = "federated_ttfs_check"
TITLE = "Theorem 3: local SGD on one spiking layer against its explicit rate (and whether it stays in K)"


def config(mode: str) -> dict:
    quick = mode == "quick"
    return {
        "seed": 77,
        "model": {"name": "lif", "tau_m": 2.0, "tau_s": 1.0, "theta": 1.0},
        "pool": 200 if quick else 1000,
        "classes": 3,
        "tau_xi": 0.5,
        "workers": 4,
        "batch": 8,
        "steps": 40 if quick else 300,
        "intervals": [1, 5, 20],
        "seeds": 2 if quick else 10,
    }


def loss_and_grad(model, t_in, w, y, tau_xi):
    """Mean cross-entropy of softmax(-t/tau_xi) and its gradient in w (engine gradients)."""
    t = model.first_spike_times(t_in, w)
    g, _ = spike_time_gradients(model, t_in, w)
    z = -t / tau_xi
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = float(np.mean(-np.log(p[np.arange(len(y)), y])))
    dl = (np.eye(w.shape[1])[y] - p) / tau_xi  # (b, K)
    return loss, np.einsum("bk,bik->ik", dl, g) / len(y)


def in_margin_set(model, t_in, w, s_min, causal0, w_bound) -> tuple[bool, bool]:
    """(margins and weight bounds hold for every pool sample, no causal set changed)."""
    t = model.first_spike_times(t_in, w)
    slope = model.slope_at_threshold(t_in, w)
    margin = bool(np.isfinite(t).all() and (slope >= s_min).all() and (np.abs(w) <= w_bound).all())
    return margin, bool(np.array_equal(causal_set(t_in, t), causal0))


def setup(cfg: dict):
    params = dict(cfg["model"])
    model = make_model(params.pop("name"), **params)
    X, y = yin_yang(cfg["pool"], seed=int(cfg["seed"]))
    t_in = goltz_yin_yang_encoding(X, tau_s=model.tau_s)
    rng = np.random.default_rng(cfg["seed"])
    kmax = R.kernel_constants(model).kappa_max
    w0 = rng.uniform(1.0, 2.0, size=(t_in.shape[1], cfg["classes"])) * 2 * model.theta / (kmax * t_in.shape[1])
    t0 = model.first_spike_times(t_in, w0)
    slope0 = model.slope_at_threshold(t_in, w0)
    assert np.isfinite(t0).all(), "every output must fire at the initial weights"
    s_min = 0.5 * float(slope0.min())
    return model, t_in, y, w0, s_min, causal_set(t_in, t0), 2.0 * float(np.abs(w0).max())


def local_sgd(cfg: dict, interval: int, seed: int) -> dict:
    model, t_in, y, w0, s_min, causal0, w_bound = setup(cfg)
    n = t_in.shape[1]
    N, B, T, tx = cfg["workers"], cfg["batch"], cfg["steps"], cfg["tau_xi"]
    f0, _ = loss_and_grad(model, t_in, w0, y, tx)
    gamma = R.ttfs_local_sgd_step_size(model, s_min, n, tx, T, interval, N, B, f0, w_max=w_bound)
    rng = np.random.default_rng([cfg["seed"], seed, interval])
    local = np.repeat(w0[None], N, axis=0)
    margin_ok, first_change, sq = True, -1, []
    for step in range(T):
        avg = local.mean(axis=0)  # the virtual average x-bar_t of Yu et al.
        sq.append(float((loss_and_grad(model, t_in, avg, y, tx)[1] ** 2).sum()))
        for w in (avg, *local):
            margin, same = in_margin_set(model, t_in, w, s_min, causal0, w_bound)
            margin_ok &= margin
            if not same and first_change < 0:
                first_change = step
        for k in range(N):
            idx = rng.integers(0, len(y), size=B)
            local[k] -= gamma * loss_and_grad(model, t_in[idx], local[k], y[idx], tx)[1]
        if (step + 1) % interval == 0:
            local[:] = local.mean(axis=0)
    bound = R.ttfs_local_sgd_bound(model, s_min, n, tx, T, gamma, interval, N, B, f0, w_max=w_bound).value
    return {"interval": interval, "seed": seed, "gamma": gamma, "s_min": s_min, "f0": f0,
            "measured": float(np.mean(sq)), "bound": bound, "margin_held": bool(margin_ok),
            "first_causal_change": first_change, "stayed_in_K": bool(margin_ok and first_change < 0),
            "final_loss": loss_and_grad(model, t_in, local.mean(axis=0), y, tx)[0]}


def run(config: dict, ctx) -> pd.DataFrame:
    intervals = {f"interval{interval}": interval for interval in config["intervals"]}
    frames = ctx.map(
        lambda key: pd.DataFrame([local_sgd(config, intervals[key], s) for s in range(config["seeds"])]),
        intervals, desc="averaging intervals",
    )
    data = pd.concat(frames, ignore_index=True)
    summary = data.groupby("interval").agg(measured=("measured", "mean"), bound=("bound", "mean"),
                                           margin_held=("margin_held", "all"), stayed=("stayed_in_K", "all"),
                                           first_causal_change=("first_causal_change", "min"))
    ctx.log("mean (1/T) sum ||grad f||^2 vs bound:\n" + summary.to_string())
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    g = data.groupby("interval").agg(measured=("measured", "mean"), bound=("bound", "mean"))
    ax.plot(g.index, g["measured"], "o-", label="measured (mean over seeds)")
    ax.plot(g.index, g["bound"], "s--", label="Theorem 3 bound")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("averaging interval I")
    ax.set_ylabel("(1/T) sum_t ||grad f(x-bar_t)||^2")
    stayed = bool(data["stayed_in_K"].all())
    margin = bool(data["margin_held"].all())
    ax.set_title(f"local SGD, one spiking layer; margins held: {margin}; stayed in K "
                 f"(no causal-set change): {stayed}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Runs (held margins, stayed in K), first causal-set changes, tightness, and the set-up."""
    from fsnn_theory.numbers import NumberSheet, config_value, join_numbers

    sheet = NumberSheet(NAME, data)

    def first_change(which: str) -> float:
        steps = data["first_causal_change"]
        steps = steps[steps >= 0]  # -1: the run never left K that way
        if steps.empty:
            return float("nan")
        return float(steps.min() if which == "min" else steps.max())

    def tightness(which: str) -> float:
        ratio = data["bound"].astype(float) / data["measured"].astype(float)
        return float(ratio.min() if which == "min" else ratio.max())

    add = sheet.add
    add("LocalSGDRuns", lambda: len(data), "int", "local-SGD runs (intervals x seeds)")
    add("LocalSGDRunsMarginHeld", lambda: int(data["margin_held"].astype(bool).sum()), "int",
        "runs whose margins and weight bounds held throughout")
    add("LocalSGDRunsStayedInK", lambda: int(data["stayed_in_K"].astype(bool).sum()), "int",
        "runs that stayed in K (no causal-set change)")
    add("LocalSGDFirstChangeMin", lambda: first_change("min"), "int", "earliest first causal-set change (step)")
    add("LocalSGDFirstChangeMax", lambda: first_change("max"), "int", "latest first causal-set change (step)")
    add("LocalSGDTightnessMin", lambda: tightness("min"), "magnitude", "smallest bound / measured")
    add("LocalSGDTightnessMax", lambda: tightness("max"), "magnitude", "largest bound / measured")
    add("LocalSGDStepSize", lambda: float(data["gamma"].iloc[0]), "magnitude", "step size gamma (<= 1/L)")
    add("LocalSGDSmin", lambda: float(data["s_min"].iloc[0]), "magnitude", "margin s_min")
    add("LocalSGDSteps", lambda: config_value(config, NAME, "steps"), "int", "local-SGD steps T")
    add("LocalSGDWorkers", lambda: config_value(config, NAME, "workers"), "int", "workers N")
    add("LocalSGDIntervals", lambda: join_numbers(config_value(config, NAME, "intervals")), "text",
        "averaging intervals I")
    return sheet.result()
