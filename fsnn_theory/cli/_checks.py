"""Checks of command-line options made BEFORE any computation (issue 15, defect 2).

`out_dir` is the argparse ``type`` of every ``--out`` (refuses ``""``, which `Path` would turn into
the current directory); `check_out` proves the directory usable by creating it and a probe file in
it (root ignores permission bits, so `os.access` would lie); `check_numbers` checks numeric
options against declared ranges and names the flag. Each raises `ValueError`; handlers print it
and return exit code 2.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["out_dir", "check_out", "Range", "check_numbers"]


def out_dir(text: str) -> Path:
    """argparse ``type`` of ``--out``: a non-empty path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a directory path, got an empty string")
    return Path(text)


def check_out(path: Path | str | None, flag: str = "--out") -> Path | None:
    """``path`` as a usable output directory: not a file, creatable, writable (ValueError otherwise).

    The directory is created (it would be at the end of the run anyway) and a probe file written
    and removed, so an unusable ``--out`` fails at once instead of after the computation.
    """
    if path is None:
        return None
    if str(path).strip() == "":
        raise ValueError(f"{flag} must be a directory path, got an empty string")
    p = Path(path)
    for parent in (p, *p.parents):  # the first existing ancestor must be a directory
        if parent.exists():
            if not parent.is_dir():
                what = "is a file" if parent == p else f"lies under the file {parent}"
                raise ValueError(f"{flag} {p} {what}: give a directory")
            break
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".fsnn-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{flag} {p} is not a writable directory ({exc.strerror or exc})") from None
    return p


@dataclass(frozen=True)
class Range:
    """Allowed values of one numeric flag: integer or real, [low, high] (``None`` = unbounded),
    ``low_open`` / ``high_open`` for ``> low`` / ``< high``. Reals must be finite."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False
    what: str = ""  # e.g. "a Dirichlet concentration"; default "an integer" / "a finite number"

    def describe(self) -> str:
        kind = self.what or ("an integer" if self.integer else "a finite number")
        lo = None if self.low is None else (f"> {self.low:g}" if self.low_open else f">= {self.low:g}")
        hi = None if self.high is None else (f"< {self.high:g}" if self.high_open else f"<= {self.high:g}")
        return f"{kind} " + " and ".join(x for x in (lo, hi) if x) if (lo or hi) else kind

    def ok(self, v) -> bool:
        if not self.integer and not math.isfinite(v):
            return False
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return self.high is None or (v < self.high if self.high_open else v <= self.high)


def check_numbers(args: argparse.Namespace, ranges: dict[str, Range]) -> None:
    """Every numeric option of ``ranges`` (keyed by flag, e.g. ``"--lr"``) that was given (not
    ``None``; lists checked entry by entry) lies in its range; else ValueError naming the flag."""
    for flag, r in ranges.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if v is not None and not r.ok(v):
                raise ValueError(f"{flag} must be {r.describe()}, got {v!r}")
