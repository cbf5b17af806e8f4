"""Brian2 against the closed forms: spike-time error versus time step, per neuron model.

For each model, random layers (inputs x weights) are simulated in Brian2 (one network, one run per
time step and interpolation mode) and every simulated first-spike time is compared with the analytic
engine. Two references, drawn differently in the figure:

- *threshold term* (solid): inputs on a 0.1 ms grid, so that Brian2 delivers them unchanged for every
  dt of the sweep; the reference is the closed form at those times, and the error is the clock's
  alone: in [0, dt) plain (order 1), O(dt^2) with linear and O(dt^4) with cubic interpolation.
- *end to end* (dashed): inputs at arbitrary times, reference = closed form at the TRUE input times;
  the error adds Brian2's rounding of input times down to the grid, a first-order term that
  interpolation cannot remove.

Only spikes whose slope at threshold is at least ``min_slope`` enter the error (a grazing crossing
is ill-conditioned in any simulator); the count of spike/no-spike disagreements on the remaining
neurons is reported too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAME = "spike_time_precision"
TITLE = "Brian2 vs closed-form spike times: error against dt (orders 1, 2, 4)"

MODES = ("none", "linear", "cubic")
MODE_LABELS = {"none": "plain", "linear": "linear interp.", "cubic": "cubic interp."}
MODEL_SPECS = {
    "nlif": {"name": "nlif", "tau_s": 1.0, "theta": 1.0},
    "lif_alpha": {"name": "lif", "tau_m": 1.0, "tau_s": 1.0, "theta": 1.0},
    "lif_2to1": {"name": "lif", "tau_m": 2.0, "tau_s": 1.0, "theta": 1.0},
    "lif_3to1": {"name": "lif", "tau_m": 3.0, "tau_s": 1.0, "theta": 1.0},
}


def config(mode: str) -> dict:
    quick = mode == "quick"
    return {
        "models": MODEL_SPECS,
        "batch": 60 if quick else 300,
        "n_in": 5,
        "n_out": 10,
        "input_window": 2.0,  # ms
        "grid": 0.1,  # ms: input grid of the threshold-term cases
        "t_max": 14.0,  # ms
        "dts": [0.1, 0.05, 0.025, 0.0125] if quick else [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125],
        "min_slope": 0.05,
        "seed": 2024,
    }


def _model(spec: dict):
    from fsnn_theory.neurons import make_model

    params = {k: v for k, v in spec.items() if k != "name"}
    return make_model(spec["name"], **params)


def make_cases(model, cfg: dict, rng: np.random.Generator, on_grid: bool):
    """Random input times in the window and weights that make most neurons fire once."""
    times = rng.uniform(0.0, cfg["input_window"], size=(cfg["batch"], cfg["n_in"]))
    if on_grid:
        times = np.round(times / cfg["grid"]) * cfg["grid"]
    scale = model.theta / model.kernel_max
    weights = rng.normal(0.6, 0.5, size=(cfg["n_in"], cfg["n_out"])) * scale
    return times, weights


def _errors(model, sim, times_ref, weights, cfg):
    """Max/median |sim - exact| over well-conditioned spikes, and decision mismatches."""
    exact = model.first_spike_times(times_ref, weights)
    slope = model.slope_at_threshold(times_ref, weights)
    exact = np.where(exact < cfg["t_max"], exact, np.inf)
    good = np.isinf(exact) | (slope >= cfg["min_slope"])
    both = good & np.isfinite(exact) & np.isfinite(sim)
    mismatch = int((good & (np.isfinite(exact) != np.isfinite(sim))).sum())
    err = np.abs(sim[both] - exact[both])
    return {
        "max_error": float(err.max()) if err.size else float("nan"),
        "median_error": float(np.median(err)) if err.size else float("nan"),
        "n_spikes": int(both.sum()),
        "decision_mismatches": mismatch,
    }


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.brian import delivered_input_times, simulate_first_spikes

    jobs = {f"{key}-dt{dt:g}": (key, dt) for key in config["models"] for dt in config["dts"]}

    def compute(chunk: str) -> pd.DataFrame:
        key, dt = jobs[chunk]
        spec = config["models"][key]
        model = _model(spec)
        # the same cases for every dt: one generator per model and input kind
        seed = [config["seed"], list(config["models"]).index(key)]
        rows = []
        for reference, on_grid in (("threshold", True), ("end_to_end", False)):
            rng = np.random.default_rng(seed + [int(on_grid)])
            times, weights = make_cases(model, config, rng, on_grid)
            delivered = delivered_input_times(times, dt)
            ref_times = delivered if reference == "threshold" else times
            for mode in MODES:
                if reference == "end_to_end" and mode == "cubic":
                    continue  # dominated by input rounding just as linear is
                sim = simulate_first_spikes(model, times, weights, dt, config["t_max"], interpolate=mode)
                rows.append({"model": key, "dt": dt, "mode": mode, "reference": reference,
                             **_errors(model, sim, ref_times, weights, config)})
        return pd.DataFrame(rows)

    return pd.concat(ctx.map(compute, jobs, desc="brian2 runs"), ignore_index=True)


# The threshold term is bounded case by case, so its maximum converges cleanly; the end-to-end
# error is a sum of input-rounding terms weighted by dt*/dt_i (up to 1/slope), whose maximum is set
# by the worst-conditioned spike: its median is the stable statistic.
STATISTIC = {"threshold": "max_error", "end_to_end": "median_error"}


def convergence_orders(data: pd.DataFrame) -> pd.DataFrame:
    """Least-squares slope of log(error) against log(dt), per model, mode and reference
    (max error for the threshold term, median error end to end, see `STATISTIC`)."""
    rows = []
    for (model, mode, reference), grp in data.groupby(["model", "mode", "reference"], sort=False):
        col = STATISTIC[reference]
        g = grp[grp[col] > 0]
        order = np.polyfit(np.log(g["dt"]), np.log(g[col]), 1)[0] if len(g) >= 2 else np.nan
        rows.append({"model": model, "mode": mode, "reference": reference, "order": float(order)})
    return pd.DataFrame(rows)


def plot(data: pd.DataFrame, config: dict):
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    orders = convergence_orders(data).set_index(["model", "mode", "reference"])["order"]
    models = list(dict.fromkeys(data["model"]))
    ncols = 2
    nrows = -(-len(models) // ncols)
    fig = Figure(figsize=(8.0, 3.3 * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    colors = {"none": "C0", "linear": "C1", "cubic": "C2"}
    for ax, model in zip(axes, models):
        d = data[data["model"] == model]
        for (mode, reference), g in d.groupby(["mode", "reference"], sort=False):
            style = "-o" if reference == "threshold" else "--s"
            p = orders[(model, mode, reference)]
            ax.loglog(g["dt"], g[STATISTIC[reference]], style, color=colors[mode], ms=3.5, lw=1.2,
                      label=f"{MODE_LABELS[mode]}: p = {p:.2f}")
        dts = np.array(sorted(d["dt"].unique()))
        ax.loglog(dts, dts, ":", color="0.3", lw=1.0, label="dt")
        spec = config["models"][model]
        params = ", ".join(f"{k}={v:g}" for k, v in spec.items() if k != "name")
        ax.set_title(f"{spec['name'].upper()} ({params})", fontsize=9)
        ax.set_xticks(dts)
        ax.set_xticklabels([f"{x:g}" for x in dts], fontsize=7)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=6.5, loc="lower right", ncol=1, title="solid: max vs delivered\ndashed: median vs true",
                  title_fontsize=6.5)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(models):]:
        ax.set_visible(False)
    for ax in axes[-ncols:]:
        ax.set_xlabel("dt (ms)")
    for ax in axes[::ncols]:
        ax.set_ylabel("|t_Brian2 − t_exact| (ms)")
    fig.suptitle(
        "Brian2 vs closed form. Solid: inputs on the grid; max error against the closed form at the delivered\n"
        "input times (threshold test only). Dashed: off-grid inputs; median error against the closed form at the\n"
        "true input times (adds Brian2's rounding of input times to the grid). p: fitted order.",
        fontsize=7.5,
    )
    return fig


# Macro-name stems of the sweep in the paper's numbers (LaTeX control words are letters only).
MODEL_MACROS = {"nlif": "NLIF", "lif_alpha": "LIFAlpha", "lif_2to1": "LIFTwoToOne", "lif_3to1": "LIFThreeToOne"}
MODE_MACROS = {"none": "Plain", "linear": "Linear", "cubic": "Cubic"}


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""The paper's numbers: fitted orders (``\Order<Model><Mode>[EndToEnd]``, the slopes of
    `convergence_orders`, as in the figure's legend), decision mismatches and the dt range."""
    from fsnn_theory.numbers import NumberSheet, rows

    sheet = NumberSheet(NAME, data)
    orders = None if data is None else convergence_orders(data)

    def order(model: str, mode: str, reference: str) -> float:
        return float(rows(orders, NAME, model=model, mode=mode, reference=reference)["order"].iloc[0])

    for model, model_name in MODEL_MACROS.items():
        for mode, mode_name in MODE_MACROS.items():
            sheet.add(f"Order{model_name}{mode_name}", lambda: order(model, mode, "threshold"), "order",
                      f"fitted order of the threshold-term error, {model}, {mode} crossing")
            if mode != "cubic":  # run() skips cubic end to end (dominated by input rounding)
                sheet.add(f"Order{model_name}{mode_name}EndToEnd", lambda: order(model, mode, "end_to_end"), "order",
                          f"fitted order of the end-to-end median error, {model}, {mode} crossing")

    def cubic_max_error_at_finest_dt() -> float:
        cubic = rows(data, NAME, mode="cubic", reference="threshold")
        return float(cubic.loc[cubic["dt"] == cubic["dt"].min(), "max_error"].max())

    sheet.add("PrecisionDecisionMismatches", lambda: int(data["decision_mismatches"].sum()), "int",
              "spike/no-spike disagreements, all runs")
    sheet.add("PrecisionFinestDt", lambda: float(data["dt"].min()), "magnitude", "finest time step (ms)")
    sheet.add("PrecisionCoarsestDt", lambda: float(data["dt"].max()), "magnitude", "coarsest time step (ms)")
    sheet.add("PrecisionCubicMaxErrorFinestDt", cubic_max_error_at_finest_dt, "magnitude",
              "max cubic error at the finest dt, all models (ms)")
    return sheet.result()
