r"""The long table every case returns, and the rows of ``fsnn verify`` derived from it.

A case returns *curves*: one line per (theorem, configuration, variant, checkpoint) with the
columns of :data:`CURVE_COLUMNS`. ``variant`` is ``"run"`` (the theorem's hypotheses hold) or
``"control"`` (the negative control named in ``control``); ``mean`` / ``low`` / ``high`` the seed
mean of the measured quantity and its 95 % interval at checkpoint ``step``; ``bound`` the bound
there; ``initial`` the initial value of the measured quantity (informative iff bound < initial).
Everything a row needs is in the curves, so the table can be rebuilt from an experiment's
``data.csv`` (:func:`rows_from_curves`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fsnn_theory.studies.verification.table import (SLOPE_TOLERANCE, VerificationRow, loglog_slope, seed_mean_ci,
                                                    summarize_upper)

__all__ = ["CURVE_COLUMNS", "case_curves", "rows_from_curves"]

CURVE_COLUMNS: tuple[str, ...] = (
    "theorem", "kind", "rigor", "source_checked", "configuration", "instance", "variant", "control", "seeds",
    "step", "mean", "low", "high", "bound", "initial", "slope_predicted", "constants", "source", "note",
)


def case_curves(*, theorem: str, bound, rigor: str, configuration: str, steps, run_values, initial: float,
                constants: str, control: str | None = None, control_values=None, instance: str = "model",
                slope_predicted: float | None = None, note: str = "", **extra) -> pd.DataFrame:
    r"""Curves of one case. ``bound``: the :class:`~fsnn_theory.theory.bounds.Bound` evaluated at
    ``steps`` (its ``kind``, ``theorem`` and ``source_checked`` go into every line);
    ``run_values`` / ``control_values``: (S, C) measurements of S seeds at the C checkpoints."""
    steps = np.asarray(steps)
    b = np.broadcast_to(np.asarray(bound.value, dtype=np.float64), steps.shape)
    frames = []
    for variant, values in (("run", run_values), ("control", control_values)):
        if values is None:
            continue
        v = np.asarray(values, dtype=np.float64)
        mean, low, high = seed_mean_ci(v)
        df = pd.DataFrame({
            "theorem": theorem, "kind": bound.kind, "rigor": rigor,
            "source_checked": bound.source_checked or "recalled", "configuration": configuration,
            "instance": instance, "variant": variant, "control": control or "", "seeds": int(v.shape[0]),
            "step": steps, "mean": mean, "low": low, "high": high, "bound": b, "initial": float(initial),
            "slope_predicted": np.nan if slope_predicted is None else float(slope_predicted),
            "constants": constants, "source": bound.theorem, "note": note,
        })
        for key, val in extra.items():
            df[key] = val
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _opt(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _text(x) -> str:
    return "" if not isinstance(x, str) else x  # CSV reads "" back as NaN


def rows_from_curves(curves: pd.DataFrame) -> list[VerificationRow]:
    """One :class:`VerificationRow` per (theorem, configuration), in order of first appearance."""
    missing = [c for c in CURVE_COLUMNS if c not in curves.columns]
    if missing:
        raise ValueError(f"curves must have the columns {CURVE_COLUMNS}; missing {missing}")
    rows = []
    for (theorem, config), g in curves.groupby(["theorem", "configuration"], sort=False):
        run = g[g["variant"] == "run"].sort_values("step")
        ctl = g[g["variant"] == "control"].sort_values("step")
        first: Any = run.iloc[0]
        kind = str(first["kind"])
        steps = run["step"].to_numpy(dtype=np.float64)
        bound = run["bound"].to_numpy()
        mean, low, high = (run[c].to_numpy() for c in ("mean", "low", "high"))
        initial = float(first["initial"])
        verdict = control_caught = control_viol = None
        slope = None
        pred = _opt(first["slope_predicted"])
        if kind == "upper":
            s = summarize_upper(bound, mean, low, initial)
            checks, viol, frac, med, worst = s.checks, s.violations, s.informative_fraction, \
                s.median_tightness, s.worst_tightness
            if len(ctl):
                cs = summarize_upper(ctl["bound"].to_numpy(), ctl["mean"].to_numpy(), ctl["low"].to_numpy(), initial)
                control_viol = cs.violations
                control_caught = cs.violations > 0
            informative = bound < initial
            if pred is not None and informative.sum() >= 3:
                slope = loglog_slope(steps[informative], mean[informative])
            if viol:
                status = "violated"
            elif frac == 0:
                status = "vacuous"
            elif control_caught is not True:
                status = "control not caught" if len(ctl) else "no control"
            else:
                status = "verified"
        else:  # lower bound: consistent unless the whole interval lies below it somewhere
            checks = int(bound.size)
            viol = int(np.sum(high < bound))
            frac = None
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(mean > 0, bound / mean, np.nan)
            r = r[np.isfinite(r)]
            med = float(np.median(r)) if r.size else None
            worst = float(np.max(r)) if r.size else None
            verdict = "inconsistent" if viol else "consistent"
            status = verdict
        rows.append(VerificationRow(
            theorem=str(theorem), kind=kind, rigor=str(first["rigor"]), source_checked=str(first["source_checked"]),
            configuration=str(config), instance=str(first["instance"]), seeds=int(first["seeds"]), checks=checks,
            violations=viol, informative_fraction=frac, status=status, control=_text(first["control"]) or None,
            control_caught=control_caught, control_violations=control_viol,
            slope_variable="T" if pred is not None else None, slope_predicted=pred,
            slope_measured=slope[0] if slope else None, slope_low=slope[1] if slope else None,
            slope_high=slope[2] if slope else None,
            rate_consistent=(slope[2] <= pred + SLOPE_TOLERANCE) if (slope and pred is not None) else None,
            median_tightness=med, worst_tightness=worst, verdict=verdict, constants=_text(first["constants"]),
            source=_text(first["source"]), note=_text(first["note"]),
        ))
    return rows
