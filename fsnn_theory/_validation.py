"""Input validation shared by the whole package.

Every public function checks its arguments here so that bad input fails early with a
`ValueError` that names the parameter and the allowed range, instead of a NaN in a result
or a traceback from deep inside numpy or Brian2.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as float if it is a finite number > 0, else raise ``ValueError``."""
    v = _as_real(name, value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_nonnegative(name: str, value: float) -> float:
    """Return ``value`` as float if it is a finite number >= 0, else raise ``ValueError``."""
    v = _as_real(name, value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_in_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as float if it lies in the interval given, else raise ``ValueError``."""
    v = _as_real(name, value)
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if math.isnan(v) or not (ok_low and ok_high):
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{rb}, got {value!r}")
    return v


def check_int(name: str, value: int, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer within [low, high], else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return v


def check_choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def as_float_array(
    name: str,
    value,
    *,
    ndim: int | None = None,
    allow_inf: bool = False,
    allow_neg_inf: bool = False,
) -> np.ndarray:
    """Convert to a float64 array and check dimension and finiteness.

    ``allow_inf`` admits ``+inf`` (e.g. an input that never spikes); NaN is never admitted.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    if not allow_inf and np.isposinf(arr).any():
        raise ValueError(f"{name} must be finite (no +inf), got an infinite entry")
    if not allow_neg_inf and np.isneginf(arr).any():
        raise ValueError(f"{name} must not contain -inf")
    return arr


def _show_bad(bad: np.ndarray):
    bad = np.asarray(bad).ravel()
    return bad[0].item() if bad.size == 1 else f"{bad[:3].tolist()} (and others)"


def real_array(name: str, value) -> np.ndarray:
    """A float64 array of finite reals (booleans refused), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype == bool):
        raise ValueError(f"{name} must be a real number or array of reals, got {value!r}")
    return as_float_array(name, value)


def positive_array(name: str, value) -> np.ndarray:
    """`real_array` with every entry > 0."""
    a = real_array(name, value)
    if not (a > 0).all():
        raise ValueError(f"{name} must be a finite number > 0, got {_show_bad(a[a <= 0])}")
    return a


def nonnegative_array(name: str, value) -> np.ndarray:
    """`real_array` with every entry >= 0."""
    a = real_array(name, value)
    if not (a >= 0).all():
        raise ValueError(f"{name} must be a finite number >= 0, got {_show_bad(a[a < 0])}")
    return a


def _as_real(name: str, value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
