r"""Numeric verification of Theorem 1, Corollary 1 and Theorem 2 against the analytic engine.

For every model of the engine (NLIF, LIF τm = τs, LIF τm = 2τs, LIF general), random layers
(input spike times, weights of both signs) are pushed through ``fsnn_theory.neurons``; every
neuron that fires is a sample. For each bound of :mod:`fsnn_theory.theory.regularity` the
measured quantity (gradient and Hessian norms from the engine, loss gradient and Hessian by the
chain rule, crossing errors of a clock-driven threshold test) is held against the bound, with
two choices of constants:

* ``instance``: the sample's own constants (its slope as :math:`s_{\min}`, its causal count,
  its causal weights): the sharpest legitimate use of the theorem;
* ``class``: one margin :math:`s_{\min}` and the layer's n_in and largest weight for all samples
  with slope :math:`\ge s_{\min}` (the theorem as a statement about the margin set).

Output rows: model, check, bound kind, constants, samples, violations (must be 0), and the slack
``bound/measured`` for upper bounds (``measured/bound`` for lower ones): median and minimum, so
1 means tight. Theorem 2 rows carry ``dt``; its simulation is the scheme of Brian2 written in
numpy on the exact potential (inputs on the grid; threshold tested on the grid; linear or cubic
Hermite interpolation in the crossing step, the Hermite root from
``fsnn_theory.brian.hermite_first_crossing``, the routine Brian2 runs use).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fsnn_theory.neurons import make_model, potential, potential_derivative, spike_time_gradients, spike_time_hessian
from fsnn_theory.theory import regularity as R

NAME = "regularity_check"
TITLE = "Theorems 1-2 against the engine: violations (must be 0) and tightness of every bound"

MODELS = {
    "nlif": {"name": "nlif", "tau_s": 1.0, "theta": 1.0},
    "lif_alpha": {"name": "lif", "tau_m": 1.0, "tau_s": 1.0, "theta": 1.0},
    "lif_double": {"name": "lif", "tau_m": 2.0, "tau_s": 1.0, "theta": 1.0},
    "lif_general": {"name": "lif", "tau_m": 3.0, "tau_s": 1.0, "theta": 0.7},
}

RTOL = 1e-9  # floating-point slack when comparing a measurement with its bound


def config(mode: str) -> dict:
    quick = mode == "quick"
    return {
        "seed": 20260,
        "models": MODELS,
        "n_in": 6 if quick else 10,
        "patterns": 60 if quick else 200,
        "columns": 80 if quick else 250,
        "s_min": 0.05,
        "tau_xi": 0.5,
        "loss_layers": 40 if quick else 150,
        "loss_classes": 3,
        "disc_patterns": 40 if quick else 150,
        "disc_columns": 8 if quick else 16,
        "disc_dt": [2.0**-k for k in range(4, 8 if quick else 10)],
        "disc_grid": 0.125,  # input times on this grid (a multiple of every dt)
        "disc_t_max": 12.0,
    }


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def sample_layer(model, rng: np.random.Generator, patterns: int, n_in: int, n_out: int):
    """Input times U[0, 2 max tau] and weights N(mu, sigma) with mu chosen so that most neurons fire."""
    tau = max(model.time_constants)
    t_in = rng.uniform(0.0, 2.0 * tau, size=(patterns, n_in))
    kmax = R.kernel_constants(model).kappa_max
    scale = model.theta / (kmax * n_in)
    w = rng.normal(2.5 * scale, 3.0 * scale, size=(n_in, n_out))
    return t_in, w


# --------------------------------------------------------------------------------------------
# Theorem 1: measurements per neuron
# --------------------------------------------------------------------------------------------


def measure_spike_times(model, t_in: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Per firing neuron: slope, causal constants and the measured norms of Theorem 1."""
    g_w, g_t = spike_time_gradients(model, t_in, w)
    hess = spike_time_hessian(model, t_in, w)  # (B, n, n, M)
    t_star = model.first_spike_times(t_in, w)
    slope = model.slope_at_threshold(t_in, w)
    fires = np.isfinite(t_star) & (slope > 0)
    causal = fires[:, None, :] & (t_in[:, :, None] < t_star[:, None, :])
    w_c = np.where(causal, w[None, :, :], 0.0)
    vddot = potential_derivative(model, np.where(fires, t_star, 0.0), t_in, w, order=2)
    h = np.moveaxis(hess, 3, 1)  # (B, M, n, n)
    eig = np.linalg.eigvalsh(h)
    on_time = (t_in[:, :, None] == t_star[:, None, :]).any(axis=1)  # an input exactly at t*
    sel = fires & ~on_time
    out = {
        "slope": slope,
        "n_causal": causal.sum(axis=1),
        "w_inf": np.abs(w_c).max(axis=1),
        "w_l1": np.abs(w_c).sum(axis=1),
        "w_l2": np.sqrt((w_c**2).sum(axis=1)),
        "dw_entry": np.abs(g_w).max(axis=1),
        "dw_l2": np.sqrt((g_w**2).sum(axis=1)),
        "dw_l1": np.abs(g_w).sum(axis=1),
        "dt_entry": np.abs(g_t).max(axis=1),
        "dt_l2": np.sqrt((g_t**2).sum(axis=1)),
        "dt_l1": np.abs(g_t).sum(axis=1),
        "dt_sum": g_t.sum(axis=1),
        "hess_2": np.abs(eig).max(axis=-1),
        "hess_F": np.sqrt((h**2).sum(axis=(-1, -2))),
        "vddot": np.abs(vddot),
    }
    return {k: v[sel] for k, v in out.items()}


def _summary(model_key, check, bound, measured, constants, dt=np.nan) -> dict:
    value = np.broadcast_to(np.asarray(bound.value, dtype=np.float64), np.shape(measured))
    measured = np.asarray(measured, dtype=np.float64)
    holds = np.asarray(bound.holds(measured, rtol=RTOL, atol=1e-300))
    if bound.kind == "lower":
        slack = measured / value
    elif bound.kind == "upper":
        slack = value / np.where(measured > 0, measured, np.nan)
    else:  # tight: the supremum of the measured quantity should reach the value
        slack = value / np.where(measured > 0, measured, np.nan)
    slack = slack[np.isfinite(slack)]
    return {
        "model": model_key, "check": check, "kind": bound.kind, "constants": constants, "dt": dt,
        "samples": int(measured.size), "violations": int((~holds).sum()),
        "median_slack": float(np.median(slack)) if slack.size else np.nan,
        "min_slack": float(slack.min()) if slack.size else np.nan,
        "max_measured": float(measured.max()) if measured.size else np.nan,
        "max_bound": float(value.max()) if value.size else np.nan,
    }


def regularity_rows(model_key: str, model, m: dict, s_min: float, n_in: int, w_global: float) -> list[dict]:
    """One row per bound of Theorem 1, with instance constants and with class constants."""
    rows = []
    for constants in ("instance", "class"):
        if constants == "instance":
            sel = np.ones(m["slope"].shape, bool)
            s, n, wi, wl = m["slope"], np.maximum(m["n_causal"], 1), m["w_inf"], m["w_l1"]
        else:
            sel = m["slope"] >= s_min
            s, n, wi, wl = s_min, n_in, w_global, None
        pick = lambda key: m[key][sel]  # noqa: E731
        cut = (lambda x: x[sel]) if np.ndim(s) else (lambda x: x)
        s, n, wi = cut(np.asarray(s)), cut(np.asarray(n)), cut(np.asarray(wi))
        wl = None if wl is None else wl[sel]
        for norm in ("entry", "l2", "l1"):
            rows.append(_summary(model_key, f"dt*/dw {norm}", R.spike_time_weight_gradient_bound(model, s, n, norm),
                                 pick(f"dw_{norm}"), constants))
            rows.append(_summary(model_key, f"dt*/dt_in {norm}",
                                 R.spike_time_input_gradient_bound(model, s, n, w_max=wi, w_l1=wl, norm=norm),
                                 pick(f"dt_{norm}"), constants))
        curv = R.potential_derivative_bound(model, 2, n, w_max=wi, w_l1=wl)
        rows.append(_summary(model_key, "|V''(t*)|", curv, pick("vddot"), constants))
        hb = R.spike_time_hessian_bound(model, s, n, w_max=wi, w_l1=wl)
        rows.append(_summary(model_key, "Hessian spectral", hb, pick("hess_2"), constants))
        rows.append(_summary(model_key, "Hessian Frobenius", hb, pick("hess_F"), constants))
    # lower bounds (instance constants only: they are statements about one crossing)
    rows.append(_summary(model_key, "dt*/dw l2 (lower)",
                         R.spike_time_weight_gradient_lower_bound(model.theta, m["slope"], m["w_l2"]),
                         m["dw_l2"], "instance"))
    rows.append(_summary(model_key, "dt*/dt_in l1 (lower)",
                         R.spike_time_input_gradient_lower_bound(np.maximum(m["n_causal"], 1), "l1"),
                         m["dt_l1"], "instance"))
    sum_err = np.abs(m["dt_sum"] - 1.0)
    rows.append({"model": model_key, "check": "sum_j dt*/dt_j = 1 (max abs error)", "kind": "tight",
                 "constants": "instance", "dt": np.nan, "samples": int(sum_err.size),
                 "violations": int((sum_err > 1e-9).sum()), "median_slack": np.nan, "min_slack": np.nan,
                 "max_measured": float(sum_err.max()), "max_bound": 1e-9})
    return rows


# --------------------------------------------------------------------------------------------
# Corollary 1: the one-layer loss
# --------------------------------------------------------------------------------------------


def loss_derivatives(model, t_in, w, labels, tau_xi: float, n_classes: int):
    r"""Gradient (Frobenius norm) and Hessian (spectral norm) of the loss for stacked layers.

    ``w`` is (n_in, R*K): R layers of K outputs side by side; ``labels`` (B, R). The Hessian is
    assembled by the chain rule :math:`J^\top H_t J + \operatorname{blockdiag}(\partial_k\ell\,\nabla^2 t_k)`
    from the engine's spike-time gradients and Hessians. Returns per (sample, layer): grad norm,
    Hessian norm, min slope, max causal count, max ||w_C||_inf, max ||w_C||_1 over the K outputs,
    and whether all K outputs fire.
    """
    b, n = t_in.shape
    K = n_classes
    r = w.shape[1] // K
    t_star = model.first_spike_times(t_in, w)
    g, _ = spike_time_gradients(model, t_in, w)
    hess = spike_time_hessian(model, t_in, w)
    slope = model.slope_at_threshold(t_in, w)
    fires = np.isfinite(t_star) & (slope > 0)
    causal = fires[:, None, :] & (t_in[:, :, None] < t_star[:, None, :])
    w_c = np.abs(np.where(causal, w[None], 0.0))
    shape = (b, r, K)
    ok = fires.reshape(shape).all(axis=-1)
    t = np.where(fires, t_star, 0.0).reshape(shape)
    z = -t / tau_xi
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    onehot = np.eye(K)[labels]
    dl = (onehot - p) / tau_xi  # (b, r, K)
    d2l = (p[..., :, None] * np.eye(K) - p[..., :, None] * p[..., None, :]) / tau_xi**2  # (b, r, K, K)
    gk = np.moveaxis(g.reshape(b, n, r, K), 1, 3)  # (b, r, K, n)
    grad = dl[..., None] * gk
    grad_norm = np.sqrt((grad**2).sum(axis=(-1, -2)))
    hk = np.moveaxis(hess.reshape(b, n, n, r, K), (1, 2), (3, 4))  # (b, r, K, n, n)
    big = np.einsum("brkl,brki,brlj->brkilj", d2l, gk, gk)
    idx = np.arange(K)
    big[:, :, idx, :, idx, :] += np.moveaxis(dl[..., None, None] * hk, 2, 0)
    big = big.reshape(b * r, K * n, K * n)
    hess_norm = np.abs(np.linalg.eigvalsh(big)).max(axis=-1).reshape(b, r)
    per_out = lambda x: x.reshape(shape)  # noqa: E731
    return {
        "ok": ok, "grad": grad_norm, "hess": hess_norm,
        "slope": np.where(ok, per_out(np.where(fires, slope, np.inf)).min(axis=-1), 0.0),
        "n_causal": per_out(causal.sum(axis=1)).max(axis=-1),
        "w_inf": per_out(w_c.max(axis=1)).max(axis=-1),
        "w_l1": per_out(w_c.sum(axis=1)).max(axis=-1),
    }


def loss_rows(model_key, model, d, s_min, n_in, w_global, tau_xi) -> list[dict]:
    rows = []
    ok = d["ok"] & (d["slope"] > 0)
    for constants in ("instance", "class"):
        if constants == "instance":
            sel = ok
            s, n, wi, wl = d["slope"][sel], np.maximum(d["n_causal"][sel], 1), d["w_inf"][sel], d["w_l1"][sel]
        else:
            sel = ok & (d["slope"] >= s_min)
            s, n, wi, wl = s_min, n_in, w_global, None
        rows.append(_summary(model_key, "loss gradient G", R.ttfs_loss_gradient_bound(model, s, n, tau_xi),
                             d["grad"][sel], constants))
        rows.append(_summary(model_key, "loss smoothness L",
                             R.ttfs_loss_smoothness_bound(model, s, n, tau_xi, w_max=wi, w_l1=wl),
                             d["hess"][sel], constants))
    return rows


# --------------------------------------------------------------------------------------------
# Theorem 2: clock-driven simulation on the exact potential
# --------------------------------------------------------------------------------------------


def grid_crossings(model, t_in: np.ndarray, w: np.ndarray, dt: float, t_max: float):
    """Plain, linear and Hermite spike times of a clock-driven threshold test (inputs on the grid).

    V is the exact potential at the grid times :math:`n\\,dt` (what exact integration per step
    gives); the plain time is the first grid time with :math:`V \\ge \\vartheta`; the linear one
    interpolates V between that grid time and the previous one; the Hermite one uses V and
    :math:`\\dot V` at both ends (right derivative at the step start, left at its end).
    Returns three (batch, n_out) arrays, ``inf`` where no grid time reaches threshold.
    """
    from fsnn_theory.brian import hermite_first_crossing

    n_steps = int(np.ceil(t_max / dt)) + 1
    grid = np.arange(n_steps) * dt
    v = potential(model, grid[:, None, None], t_in, w)  # (steps, B, M)
    above = v >= model.theta
    found = above.any(axis=0)
    k = np.argmax(above, axis=0)
    plain = np.where(found, grid[k], np.inf)
    k0 = np.maximum(k - 1, 0)
    t0, t1 = grid[k0], grid[k]
    v0 = np.take_along_axis(v, k0[None], 0)[0]
    v1 = np.take_along_axis(v, k[None], 0)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        lin = np.where(found & (k > 0), t0 + dt * (model.theta - v0) / (v1 - v0), plain)
    vd0 = potential_derivative(model, t0, t_in, w)  # left derivative ...
    arriving = t_in[:, :, None] == t0[:, None, :]  # ... plus inputs arriving at the step start
    vd0 = vd0 + (np.where(arriving, w[None], 0.0)).sum(axis=1) * R.kernel_constants(model).kappa1_max
    vd1 = potential_derivative(model, t1, t_in, w)
    frac = hermite_first_crossing(v0, vd0, v1, vd1, dt, model.theta)
    herm = np.where(found & (k > 0), t0 + frac * dt, plain)
    return plain, lin, herm


def discretisation_rows(model_key, model, rng, cfg) -> list[dict]:
    n_in, grid, t_max = cfg["n_in"], cfg["disc_grid"], cfg["disc_t_max"]
    patterns, columns = cfg["disc_patterns"], cfg["disc_columns"]
    tau = max(model.time_constants)
    # input times on the coarse grid, hence on every finer grid dt = grid / 2^k (exact in binary)
    t_in = grid * rng.integers(0, int(2 * tau / grid) + 1, size=(patterns, n_in)).astype(float)
    _, w = sample_layer(model, rng, 1, n_in, columns)
    t_star = model.first_spike_times(t_in, w)
    slope = model.slope_at_threshold(t_in, w)
    causal = t_in[:, :, None] < t_star[:, None, :]
    w_c = np.abs(np.where(causal, w[None], 0.0)).sum(axis=1)
    c = R.kernel_constants(model)
    d2, d4 = w_c * c.kappa2_max, w_c * c.kappa4_max  # bounds on |V''| and |V''''| on the step
    good = np.isfinite(t_star) & (slope > 0) & (t_star < t_max - 1.0)
    t_ref = np.where(good, t_star, 0.0)
    rows = []
    for dt in cfg["disc_dt"]:
        plain, lin, herm = grid_crossings(model, t_in, w, dt, t_max)
        ok_plain = good & (dt <= 2 * slope / d2)
        ok_int = good & (dt <= slope / d2)
        ok_her = ok_int & (slope**2 >= 2 * d2 * d4 * dt**4 / 384)
        err = (plain - t_ref)[ok_plain]
        b = R.clock_driven_error_bound(dt, slope[ok_plain], d2[ok_plain])
        row = _summary(model_key, "plain: 0 <= t_rec - t* < dt", b, err, "instance", dt)
        row["violations"] = int(((err < 0) | (err >= dt)).sum())  # both ends, strict at dt
        rows.append(row)
        b = R.interpolated_crossing_error_bound(dt, slope[ok_int], d2[ok_int], method="linear")
        rows.append(_summary(model_key, "linear interpolation", b, np.abs(lin - t_ref)[ok_int], "instance", dt))
        b = R.interpolated_crossing_error_bound(dt, slope[ok_her], d2[ok_her], d4[ok_her], method="hermite")
        rows.append(_summary(model_key, "Hermite interpolation", b, np.abs(herm - t_ref)[ok_her], "instance", dt))
    return rows


# --------------------------------------------------------------------------------------------
# Experiment contract
# --------------------------------------------------------------------------------------------


def _model_rows(key: str, cfg: dict) -> pd.DataFrame:
    params = dict(cfg["models"][key])
    model = make_model(params.pop("name"), **params)
    # one independent stream per model, derived from the seed and the model's position
    rng = np.random.default_rng([cfg["seed"], list(cfg["models"]).index(key)])
    t_in, w = sample_layer(model, rng, cfg["patterns"], cfg["n_in"], cfg["columns"])
    m = measure_spike_times(model, t_in, w)
    rows = regularity_rows(key, model, m, cfg["s_min"], cfg["n_in"], float(np.abs(w).max()))
    K = cfg["loss_classes"]
    t_in2, w2 = sample_layer(model, rng, cfg["patterns"], cfg["n_in"], K * cfg["loss_layers"])
    labels = rng.integers(0, K, size=(cfg["patterns"], cfg["loss_layers"]))
    d = loss_derivatives(model, t_in2, w2, labels, cfg["tau_xi"], K)
    rows += loss_rows(key, model, d, cfg["s_min"], cfg["n_in"], float(np.abs(w2).max()), cfg["tau_xi"])
    rows += discretisation_rows(key, model, rng, cfg)
    return pd.DataFrame(rows)


def run(config: dict, ctx) -> pd.DataFrame:
    models = {f"model_{key}": key for key in config["models"]}
    frames = ctx.map(lambda chunk: _model_rows(models[chunk], config), models, desc="models")
    data = pd.concat(frames, ignore_index=True)
    total = int(data["violations"].sum())
    ctx.log(f"{int(data['samples'].sum())} comparisons, {total} violations")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [1.4, 1]})
    reg = data[data["dt"].isna() & (data["kind"] != "tight")]
    checks = list(dict.fromkeys(reg["check"]))
    markers = dict(zip(config["models"], "osD^"))
    for key, grp in reg[reg["constants"] == "instance"].groupby("model", sort=False):
        pos = [checks.index(c) for c in grp["check"]]
        ax1.scatter(grp["min_slack"], pos, marker=markers.get(key, "o"), label=f"{key} (min)")
        ax1.scatter(grp["median_slack"], pos, marker=markers.get(key, "o"), facecolors="none",
                    edgecolors="grey", s=20)
    ax1.set_yticks(range(len(checks)), checks, fontsize=7)
    ax1.set_xscale("log")
    ax1.axvline(1.0, color="k", lw=0.8)
    ax1.set_xlabel("slack = bound / measured (instance constants; filled: min, open: median)")
    ax1.legend(fontsize=7)
    ax1.set_title(f"Theorem 1, Corollary 1: violations = {int(reg['violations'].sum())}", fontsize=9)
    disc = data[data["dt"].notna()]
    colours = {"plain": "C0", "linear": "C1", "Hermite": "C2"}
    for method, grp in disc.groupby(disc["check"].str.split().str[0].str.rstrip(":"), sort=False):
        worst = grp.groupby("dt")[["max_measured", "max_bound"]].max()
        ax2.plot(worst.index, worst["max_measured"], "-o", color=colours.get(method), label=f"{method}: max error")
        ax2.plot(worst.index, worst["max_bound"], "--", color=colours.get(method), label=f"{method}: max bound")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("dt (ms)")
    ax2.set_ylabel("|spike time error| (ms), worst sample over all models")
    ax2.set_title(f"Theorem 2 (orders dt, dt^2, dt^4): violations = {int(disc['violations'].sum())}", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


# Paper numbers: which rows belong to which result, and the macro-name stems.
LOSS_CHECKS = ("loss gradient G", "loss smoothness L")  # Corollary 1 (loss_rows)
RESULT_MACROS = {"theorem1": "ThmOne", "corollary1": "CorOne", "theorem2": "ThmTwo"}
DISCRETISATION_MACROS = {"plain": "Plain", "linear": "Linear", "Hermite": "Hermite"}  # first word of the check


def result_rows(data: pd.DataFrame, result: str) -> pd.DataFrame:
    """Rows of one result: "theorem1" (spike-time derivatives), "corollary1" (the loss), "theorem2" (dt)."""
    has_dt = data["dt"].notna()
    is_loss = data["check"].isin(LOSS_CHECKS)
    masks = {"theorem1": ~has_dt & ~is_loss, "corollary1": ~has_dt & is_loss, "theorem2": has_dt}
    if result not in masks:
        raise ValueError(f"result must be one of {', '.join(masks)}, got {result!r}")
    selected = data.loc[masks[result]]
    if selected.empty:
        raise ValueError(f"{NAME}: data.csv has no rows of {result}")
    return selected


def _upper_rows(data, result, constants, checks=None, method=None) -> pd.DataFrame:
    """Upper-bound rows of ``result`` with ``constants``; optionally only ``checks`` or one
    discretisation ``method`` (the first word of the check name)."""
    sel = result_rows(data, result)
    sel = sel.loc[(sel["kind"] == "upper") & (sel["constants"] == constants)]
    if checks is not None:
        sel = sel.loc[sel["check"].isin(checks)]
    if method is not None:
        sel = sel.loc[sel["check"].str.split().str[0].str.rstrip(":") == method]
    return sel


def median_slack(data, result, constants, checks=None, statistic="median") -> float:
    """Median (or "min"/"max") over rows of the per-row median slack bound/measured (1 = tight)."""
    values = _upper_rows(data, result, constants, checks)["median_slack"].dropna().astype(float)
    if values.empty:
        raise ValueError(f"{NAME}: no {constants} upper-bound rows of {result} for checks {checks}")
    return float({"median": np.median, "min": np.min, "max": np.max}[statistic](values))


def worst_slack(data, result, checks=None, method=None) -> float:
    """Smallest slack bound/measured over every sample of the rows (instance constants): how close
    the bound comes to being attained."""
    values = _upper_rows(data, result, "instance", checks, method)["min_slack"].dropna().astype(float)
    if values.empty:
        raise ValueError(f"{NAME}: no instance upper-bound rows of {result} for {checks or method}")
    return float(values.min())


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Violations and comparisons per result, median and worst slacks, and the dt range of Theorem 2."""
    from fsnn_theory.numbers import NumberSheet

    sheet = NumberSheet(NAME, data)
    for result, name in RESULT_MACROS.items():
        sheet.add(f"Regularity{name}Violations", lambda: int(result_rows(data, result)["violations"].sum()), "int",
                  f"{result}: violations (must be 0)")
        sheet.add(f"Regularity{name}Comparisons", lambda: int(result_rows(data, result)["samples"].sum()), "int",
                  f"{result}: measured values held against a bound")
    dts = lambda: result_rows(data, "theorem2")["dt"].astype(float)  # noqa: E731
    add = sheet.add
    add("RegularityModels", lambda: int(data["model"].nunique()), "int", "neuron models checked")
    add("RegularityThmOneMedianSlack", lambda: median_slack(data, "theorem1", "instance"), "ratio",
        "Theorem 1, instance constants: median slack")
    add("RegularityThmOneClassSlackMin", lambda: median_slack(data, "theorem1", "class", statistic="min"),
        "magnitude", "Theorem 1, class constants: smallest median slack")
    add("RegularityThmOneClassSlackMax", lambda: median_slack(data, "theorem1", "class", statistic="max"),
        "magnitude", "Theorem 1, class constants: largest median slack")
    add("RegularityEntryWorstSlack", lambda: worst_slack(data, "theorem1", checks=["dt*/dw entry"]), "fixed3",
        "Theorem 1 (a) entry bound: smallest slack (1 = attained)")
    add("RegularityHessianMedianSlack",
        lambda: median_slack(data, "theorem1", "instance", checks=["Hessian spectral"]), "ratio",
        "Theorem 1 (d) Hessian bound: median slack (instance)")
    add("RegularityLossGMedianSlack", lambda: median_slack(data, "corollary1", "instance", checks=["loss gradient G"]),
        "ratio", "Corollary 1 G: median slack (instance)")
    add("RegularityLossLMedianSlack",
        lambda: median_slack(data, "corollary1", "instance", checks=["loss smoothness L"]), "ratio",
        "Corollary 1 L: median slack (instance)")
    add("RegularityLossLClassSlack", lambda: median_slack(data, "corollary1", "class", checks=["loss smoothness L"]),
        "magnitude", "Corollary 1 L: median slack (class constants)")
    add("RegularityDtMin", lambda: float(dts().min()), "magnitude", "Theorem 2: finest dt (ms)")
    add("RegularityDtMax", lambda: float(dts().max()), "magnitude", "Theorem 2: coarsest dt (ms)")
    for method, name in DISCRETISATION_MACROS.items():
        add(f"Regularity{name}WorstSlack", lambda: worst_slack(data, "theorem2", method=method), "fixed2",
            f"Theorem 2, {method}: smallest slack bound/error")
    return sheet.result()
