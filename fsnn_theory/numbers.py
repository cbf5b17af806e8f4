r"""The numbers a paper quotes: text-mode LaTeX formatting and the ``numbers(data, config)`` helper.

Every experiment defines ``numbers(data, config) -> {Macro: (value, format, meaning)}`` next to
the code that makes its data; ``fsnn paper`` only assembles the macros into ``numbers.tex``
(`fsnn_theory.paper`). This module is what those functions share:

* formatters (:data:`FORMATS`, `format_value`): per cent without the sign, counts with thousands
  grouped as ``12{,}345``, fixed decimals, magnitudes outside [0.001, 10^5) as
  ``\ensuremath{1.23\times 10^{6}}``, escaped text and raw LaTeX;
* `NumberSheet`, which collects an experiment's numbers; given ``data=None`` it only *declares*
  them (macro, format, meaning, value None), so the paper knows the macros of a missing
  experiment and prints ``??`` for them;
* `spelled`, which turns a sweep value into the letters of a macro name (LaTeX control words are
  letters only): ``spelled(64) == "SixtyFour"``, so a macro name follows from the sweep constant;
* small table helpers (`rows`, `final_round_rows`, `join_numbers`, `config_value`).

Layer: utilities (imports nothing from the project but ``_validation``), so experiments, studies and
the spine may all use it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FORMATS",
    "MACRO_PATTERN",
    "NumberSheet",
    "check_macro",
    "config_value",
    "final_round_rows",
    "fmt_fixed",
    "fmt_int",
    "fmt_magnitude",
    "fmt_percent",
    "fmt_plain",
    "fmt_text",
    "format_value",
    "join_numbers",
    "rows",
    "spelled",
]

MACRO_PATTERN = re.compile(r"[A-Za-z]+")


def check_macro(name: Any) -> str:
    """``name`` if it is a LaTeX control word (letters only), else ValueError."""
    if not isinstance(name, str) or not MACRO_PATTERN.fullmatch(name):
        raise ValueError(f"macro must be a LaTeX control word (letters only), got {name!r}")
    return name


# --------------------------------------------------------------------------------------------
# Formatting (text-mode LaTeX)
# --------------------------------------------------------------------------------------------


def _is_missing_value(x: Any) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x))


def _group_thousands(text: str) -> str:
    """``12345.6`` -> ``12{,}345.6``: the braces keep LaTeX from adding space after the comma."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = body.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + "{,}".join(groups) + dot + frac


def _check_digits(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def fmt_fixed(x: Any, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals (convergence orders, ratios); ``n/a`` for a missing value.

    >>> fmt_fixed(1.99935), fmt_fixed(-1234.5, 1)
    ('2.00', '-1{,}234.5')
    """
    digits = _check_digits("digits", digits, 0)
    if _is_missing_value(x):
        return "n/a"
    if math.isinf(x):
        return r"$\infty$" if x > 0 else r"$-\infty$"
    return _group_thousands(f"{float(x):.{digits}f}")


def fmt_percent(x: Any, digits: int = 1) -> str:
    """A fraction in [0, 1] as per cent with ``digits`` decimals, without the sign (the text adds it)."""
    if _is_missing_value(x):
        return "n/a"
    return fmt_fixed(100.0 * float(x), digits)


def fmt_int(x: Any) -> str:
    """A count, rounded to an integer, thousands grouped; ``$\\infty$`` for inf (e.g. never reached).

    >>> fmt_int(1033600), fmt_int(float("inf"))
    ('1{,}033{,}600', '$\\\\infty$')
    """
    if _is_missing_value(x):
        return "n/a"
    if math.isinf(x):
        return r"$\infty$" if x > 0 else r"$-\infty$"
    return _group_thousands(str(int(round(float(x)))))


def fmt_magnitude(x: Any, significant: int = 3) -> str:
    r"""``x`` to ``significant`` digits: plain for 0.001 <= |x| < 10^5, else ``\ensuremath{m\times 10^{e}}``.

    Used for bound/measured ratios and errors that span many orders of magnitude.

    >>> fmt_magnitude(824.3), fmt_magnitude(0.01702), fmt_magnitude(2.29e6)
    ('824', '0.0170', '\\ensuremath{2.29\\times 10^{6}}')
    """
    significant = _check_digits("significant", significant, 1)
    if _is_missing_value(x):
        return "n/a"
    x = float(x)
    if math.isinf(x):
        return r"$\infty$" if x > 0 else r"$-\infty$"
    if x == 0.0:
        return "0"
    rounded = float(f"{x:.{significant}g}")  # round first, so 9.996 becomes 10.0, not 9.996 -> "10.00"
    exponent = math.floor(math.log10(abs(rounded)))
    if -3 <= exponent <= 4:
        decimals = max(0, significant - 1 - exponent)
        return _group_thousands(f"{rounded:.{decimals}f}")
    mantissa = rounded / 10.0**exponent
    m = f"{mantissa:.{significant - 1}f}".rstrip("0").rstrip(".")
    return rf"\ensuremath{{{m}\times 10^{{{exponent}}}}}"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def fmt_text(x: Any) -> str:
    """Plain text with LaTeX's special characters escaped (mode names, network shapes)."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in str(x))


def fmt_plain(x: Any) -> str:
    """A sweep value as typed in a config (shortest form): ``0.25``, ``1``, ``64``.

    >>> fmt_plain(0.25), fmt_plain(1.0), fmt_plain(64)
    ('0.25', '1', '64')
    """
    if _is_missing_value(x):
        return "n/a"
    return f"{x:g}" if isinstance(x, (float, np.floating)) else str(x)


def fmt_latex(x: Any) -> str:
    """A value that is already LaTeX (display names built by the experiment)."""
    return str(x)


# Format names an experiment's numbers() may use -> formatter. "order" (fitted convergence
# orders) and "ratio" are the two fixed-decimal cases the paper uses most.
FORMATS: dict[str, Callable[[Any], str]] = {
    "int": fmt_int,
    "percent": fmt_percent,
    "fixed1": lambda x: fmt_fixed(x, 1),
    "fixed2": lambda x: fmt_fixed(x, 2),
    "fixed3": lambda x: fmt_fixed(x, 3),
    "order": lambda x: fmt_fixed(x, 2),
    "ratio": lambda x: fmt_fixed(x, 1),
    "magnitude": fmt_magnitude,
    "plain": fmt_plain,
    "text": fmt_text,
    "latex": fmt_latex,
}


def format_value(value: Any, fmt: str) -> str:
    """``value`` as text-mode LaTeX with the formatter named ``fmt`` (a key of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return FORMATS[fmt](value)


# --------------------------------------------------------------------------------------------
# Macro names from sweep values
# --------------------------------------------------------------------------------------------

_ONES = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
         "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen",
         "Nineteen")
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")


def spelled(n: int) -> str:
    """The English words of an integer 0 <= n <= 9999, capitalised and joined (macro-name letters).

    >>> spelled(0), spelled(16), spelled(64), spelled(75), spelled(100), spelled(1024)
    ('Zero', 'Sixteen', 'SixtyFour', 'SeventyFive', 'OneHundred', 'OneThousandTwentyFour')
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= 9999:
        raise ValueError(f"n must be an integer in [0, 9999], got {n!r}")
    n = int(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + (_ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + "Hundred" + (spelled(n % 100) if n % 100 else "")
    return _ONES[n // 1000] + "Thousand" + (spelled(n % 1000) if n % 1000 else "")


# --------------------------------------------------------------------------------------------
# Collecting an experiment's numbers
# --------------------------------------------------------------------------------------------


class NumberSheet:
    r"""Collects ``{macro: (value, format, meaning)}`` for one experiment's ``numbers()``.

    ``add(macro, compute, fmt, meaning)`` calls ``compute()`` only when the sheet has data; with
    ``data=None`` the value is None (the paper prints ``??``), so ``numbers(None, None)`` declares
    an experiment's macros without its results. An error inside ``compute`` becomes a ValueError
    naming the experiment, the macro and its meaning.
    """

    def __init__(self, experiment: str, data: pd.DataFrame | None):
        if not isinstance(experiment, str) or not experiment:
            raise ValueError(f"experiment must be a non-empty name, got {experiment!r}")
        if data is not None and not isinstance(data, pd.DataFrame):
            raise ValueError(f"data must be a pandas DataFrame or None, got {type(data).__name__}")
        self.experiment = experiment
        self.data = data
        self._numbers: dict[str, tuple[Any, str, str]] = {}

    @property
    def declaring(self) -> bool:
        """True when there is no data: macros are declared with value None."""
        return self.data is None

    def add(self, macro: str, compute: Callable[[], Any], fmt: str, meaning: str) -> None:
        check_macro(macro)
        if fmt not in FORMATS:
            raise ValueError(f"{self.experiment}: \\{macro}: fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if macro in self._numbers:
            raise ValueError(f"{self.experiment}: macro \\{macro} defined twice")
        value = None
        if not self.declaring:
            try:
                value = compute()
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ValueError(f"{self.experiment}: cannot compute \\{macro} ({meaning}): {exc}") from exc
        self._numbers[macro] = (value, fmt, meaning)

    def result(self) -> dict[str, tuple[Any, str, str]]:
        return dict(self._numbers)


# --------------------------------------------------------------------------------------------
# Small helpers on result tables
# --------------------------------------------------------------------------------------------


def rows(data: pd.DataFrame, experiment: str, **where: Any) -> pd.DataFrame:
    """The rows with ``column == value`` for every keyword; ValueError naming what is absent.

    Floats compare within 1e-12 (sweep values read back from CSV)."""
    mask = np.ones(len(data), dtype=bool)
    for column, value in where.items():
        if column not in data.columns:
            raise ValueError(f"{experiment}: data.csv has no column {column!r} (columns: {', '.join(data.columns)})")
        col = data[column]
        if isinstance(value, float):
            mask &= np.isclose(col.astype(float), value, rtol=0.0, atol=1e-12)
        else:
            mask &= (col == value).to_numpy()
    selected = data.loc[mask]
    if selected.empty:
        condition = ", ".join(f"{k} = {v!r}" for k, v in where.items())
        raise ValueError(f"{experiment}: data.csv has no row with {condition}")
    return selected


def final_round_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The last row of every run of a federated history: the state after the last round. A run is
    a ``label``, or a (``label``, ``seed``) pair where the experiment repeats runs over seeds."""
    keys = ["label", "seed"] if "seed" in data.columns else ["label"]
    return data.sort_values("round", kind="stable").groupby(keys, sort=False).tail(1)


def config_value(config: Mapping[str, Any], experiment: str, *path: str | int) -> Any:
    """``config[path[0]][path[1]]...`` with a ValueError naming the absent entry."""
    value: Any = config
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"{experiment}: config has no entry {'/'.join(map(str, path))}") from None
    return value


def join_numbers(values: Iterable[Any]) -> str:
    """``[1, 5, 0.5]`` -> ``"1, 5, 0.5"`` (a sweep as a list in the text)."""
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
