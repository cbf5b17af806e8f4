r"""Table arithmetic of the verification: checkpoints, seed means with confidence intervals,
informative fractions, violations, negative controls, slopes, and the row record.

Everything here is pure arithmetic on arrays (no runs). The conventions, fixed in advance for every
row of ``fsnn verify``:

* **Checkpoints** (:func:`checkpoints`): :data:`N_CHECKPOINTS` = 20 log-spaced points between
  ``horizon / CHECKPOINT_SPAN`` and ``horizon`` (rounded to whole units, duplicates dropped).
* **Seed means** (:func:`seed_mean_ci`): a bound on an expectation is compared with the mean over
  the seeds, with a two-sided 95 % Student-t interval; a *violation* is a checkpoint where the
  lower end of the interval is above the bound (upper bounds). A deterministic run (one "seed")
  has a zero-width interval: its value *is* the expectation.
* **Informative** checkpoints: where the bound is below the initial value of the measured
  quantity (``initial``; e.g. :math:`F(w_1) - F^*`). ``informative_fraction`` is their share; a
  row with none is ``vacuous``. Tightness (bound / measured mean) is reported over informative
  checkpoints only.
* **Slopes** (:func:`loglog_slope`): least-squares slope of log(measured mean) on log(x) over the
  informative checkpoints, with a 95 % t interval; ``rate_consistent`` iff the upper end of that
  interval is <= the predicted slope + :data:`SLOPE_TOLERANCE`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fsnn_theory._validation import check_choice, check_int

__all__ = [
    "N_CHECKPOINTS",
    "CHECKPOINT_SPAN",
    "SLOPE_TOLERANCE",
    "RIGOR_LABELS",
    "SOURCE_LABELS",
    "checkpoints",
    "seed_mean_ci",
    "loglog_slope",
    "UpperSummary",
    "summarize_upper",
    "VerificationRow",
    "ROW_FIELDS",
    "rows_frame",
]

N_CHECKPOINTS = 20
CHECKPOINT_SPAN = 100.0
SLOPE_TOLERANCE = 0.1
RIGOR_LABELS = ("proven", "empirical")
SOURCE_LABELS = ("verbatim", "secondary", "recalled")
KINDS = ("upper", "lower", "tight")


def checkpoints(horizon: int, unit: int = 1, n: int = N_CHECKPOINTS, span: float = CHECKPOINT_SPAN) -> np.ndarray:
    """Log-spaced checkpoints in [horizon/span, horizon], multiples of ``unit`` (e.g. E SGD steps
    per round), sorted, unique; the last one is ``horizon`` itself (a multiple of ``unit``)."""
    horizon = check_int("horizon", horizon, low=1)
    unit = check_int("unit", unit, low=1, high=horizon)
    n = check_int("n", n, low=2)
    if horizon % unit:
        raise ValueError(f"horizon must be a multiple of unit = {unit}, got {horizon}")
    if not span > 1.0:
        raise ValueError(f"span must be > 1, got {span!r}")
    raw = np.geomspace(max(horizon / span, unit), horizon, n)
    pts = np.unique(np.maximum(np.round(raw / unit), 1).astype(np.int64) * unit)
    return pts


def seed_mean_ci(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Mean over axis 0 (seeds) and the two-sided 95 % Student-t interval of the mean.

    ``values``: (S, C) measurements of S independent seeds at C checkpoints. S = 1 is a
    deterministic run: the interval has zero width. Returns (mean, low, high), each (C,).
    """
    from scipy.stats import t as student_t

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 1:
        raise ValueError(f"values must be a (seeds, checkpoints) array with >= 1 seed, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("values must be finite (a diverged run is not a measurement)")
    mean = v.mean(axis=0)
    S = v.shape[0]
    if S == 1:
        return mean, mean.copy(), mean.copy()
    half = float(student_t.ppf(0.975, S - 1)) * v.std(axis=0, ddof=1) / math.sqrt(S)
    return mean, mean - half, mean + half


def loglog_slope(x, y) -> tuple[float, float, float] | None:
    """Least-squares slope of log y on log x with its 95 % t interval: (slope, low, high).
    None with fewer than 3 points or non-positive values (no slope to fit)."""
    from scipy.stats import t as student_t

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    x, y = np.log(x[ok]), np.log(y[ok])
    if x.size < 3 or np.ptp(x) == 0:
        return None
    A = np.stack([x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = x.size - 2
    s2 = float(resid @ resid) / dof
    se = math.sqrt(s2 / float(np.sum((x - x.mean()) ** 2)))
    half = float(student_t.ppf(0.975, dof)) * se
    return float(coef[0]), float(coef[0] - half), float(coef[0] + half)


@dataclass(frozen=True)
class UpperSummary:
    """Summary of an upper bound held against seed means at fixed checkpoints."""

    checks: int
    violations: int
    informative_fraction: float
    median_tightness: float | None
    worst_tightness: float | None


def summarize_upper(bound, mean, low, initial: float) -> UpperSummary:
    r"""Upper bound ``bound`` (C,) against seed means ``mean`` with interval lower end ``low``.

    violations: checkpoints with ``low > bound``; informative: ``bound < initial``; tightness =
    bound / mean over the informative checkpoints (median, and the worst = smallest).
    """
    b = np.asarray(bound, dtype=np.float64)
    m = np.asarray(mean, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    if not (b.shape == m.shape == lo.shape) or b.ndim != 1 or b.size == 0:
        raise ValueError(f"bound, mean and low must be 1-d of one length, got {b.shape}, {m.shape}, {lo.shape}")
    if not initial > 0:
        raise ValueError(f"initial must be > 0 (the initial value of the bounded quantity), got {initial!r}")
    viol = int(np.sum(lo > b))
    inf = b < initial
    frac = float(np.mean(inf))
    med = worst = None
    if inf.any():
        with np.errstate(divide="ignore"):
            r = np.where(m[inf] > 0, b[inf] / np.where(m[inf] > 0, m[inf], 1.0), np.inf)
        fin = r[np.isfinite(r)]
        if fin.size:
            med, worst = float(np.median(fin)), float(np.min(fin))
    return UpperSummary(int(b.size), viol, frac, med, worst)


@dataclass(frozen=True)
class VerificationRow:
    r"""One row of the verification table (the ``fsnn verify --json`` schema).

    ``theorem`` short label; ``kind`` upper / lower / tight (read from the :class:`Bound`);
    ``rigor`` ``proven`` (every constant exact, a proven bound or solved to a certified tolerance,
    and every hypothesis met) or ``empirical`` (some constant measured); ``source_checked``
    ``verbatim`` / ``secondary`` / ``recalled``; ``instance`` ``model`` (the project's convex
    model) or ``worst_case`` (the source's hard instance); ``seeds``; ``checks`` (checkpoints);
    ``violations``; ``informative_fraction``; ``status`` ``verified`` / ``vacuous`` / ``violated``
    / ``control not caught`` (upper) or the lower-bound ``verdict``; ``control`` (name and
    factor of the negative control), ``control_caught`` (its run gave >= 1 violation);
    ``slope_*`` the rate in ``slope_variable``; tightness = bound / seed mean at the informative
    checkpoints.
    """

    theorem: str
    kind: str
    rigor: str
    source_checked: str
    configuration: str
    instance: str
    seeds: int
    checks: int
    violations: int
    informative_fraction: float | None
    status: str
    control: str | None
    control_caught: bool | None
    control_violations: int | None
    slope_variable: str | None
    slope_predicted: float | None
    slope_measured: float | None
    slope_low: float | None
    slope_high: float | None
    rate_consistent: bool | None
    median_tightness: float | None
    worst_tightness: float | None
    verdict: str | None
    constants: str
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("rigor", self.rigor, RIGOR_LABELS)
        check_choice("source_checked", self.source_checked, SOURCE_LABELS)
        check_choice("instance", self.instance, ("model", "worst_case"))
        if self.verdict is not None:
            check_choice("verdict", self.verdict, ("consistent", "inconsistent"))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():  # JSON has no inf/nan
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d

    @property
    def failing(self) -> bool:
        """A ``proven`` row whose bound was violated or whose negative control was not caught."""
        if self.rigor != "proven":
            return False
        if self.kind == "lower":
            return self.verdict == "inconsistent"
        return self.violations > 0 or self.control_caught is False


ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(VerificationRow))


def rows_frame(rows: Sequence[VerificationRow]) -> pd.DataFrame:
    """The rows as a DataFrame with :data:`ROW_FIELDS`."""
    return pd.DataFrame([r.as_dict() for r in rows], columns=list(ROW_FIELDS))
