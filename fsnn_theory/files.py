"""Files that are either absent or complete: atomic writers, exact CSV round trips, hashes.

Every writer goes through a temp file in the target's directory, ``fsync`` and ``os.replace``, so a
reader (or a killed run) never sees a torn file. CSV floats are written as their shortest
round-trip repr, so `read_csv_exact` gives back bit-identical values and equal frames give
byte-identical files.

Layer: utilities (imports nothing from the project but ``_validation``); used by every layer above.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

__all__ = [
    "FIGURE_DPI",
    "FIGURE_FORMATS",
    "canonical_json",
    "config_hash",
    "csv_text",
    "read_csv_exact",
    "save_figure_atomic",
    "sha256_file",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

FIGURE_FORMATS: tuple[str, ...] = ("pdf", "png")
FIGURE_DPI = 150

# pandas >= 3 parses floats exactly by default (and deprecates float_precision); older pandas
# needs the round-trip parser to read back exactly what was written.
_READ_CSV_KWARGS: dict[str, Any] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
)

def _write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` via a temp file in its directory, fsync it, then ``os.replace`` it.

    ``os.replace`` is atomic on POSIX and Windows, so readers see the old file or the new one,
    never a torn one. The temp file is removed if ``write`` raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = _open_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        # BaseException: a Ctrl-C mid-write must not leave the temp file behind either.
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _open_temp(path: Path) -> tuple[int, Path]:
    """Create a fresh temp file beside ``path`` with the mode a plain ``open(path, "wb")`` gives.

    ``tempfile.mkstemp`` would force mode 0600 (results unreadable to a group sharing them).
    Instead the file is created with 0666 and the kernel applies the umask (and any default
    ACL), as for ``open()``; when ``path`` already exists its permission bits are kept, as
    ``open(path, "wb")`` keeps them on truncation.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:  # astronomically rare name clash: draw another name
            continue
        try:
            existing = os.stat(path)
        except FileNotFoundError:
            return fd, tmp
        try:
            if stat.S_ISREG(existing.st_mode):
                os.chmod(fd if os.chmod in os.supports_fd else tmp, stat.S_IMODE(existing.st_mode))
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        return fd, tmp
    raise FileExistsError(f"could not create a unique temp file beside {path}")


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _format_float(value: float) -> str:
    # Shortest decimal string that round-trips to the same float64 (Python's repr), so
    # 1.0 stays "1.0" (reads back as float, unlike "%.17g" -> "1") and 0.1 stays "0.1".
    # float() first: numpy 2 scalars repr as "np.float64(0.1)".
    return repr(float(value))


def csv_text(df: pd.DataFrame) -> str:
    """The exact CSV text written for ``df``: no index, exact floats, ``\\n`` line endings."""
    return df.to_csv(index=False, float_format=_format_float, lineterminator="\n")


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``path`` atomically as UTF-8 CSV (``index=False``, exact floats).

    Floats are written as their shortest round-trip repr, so `read_csv_exact` returns
    bit-identical values and equal frames give byte-identical files.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    data = csv_text(df).encode("utf-8")
    return _write_atomic(Path(path), lambda fh: fh.write(data))


def read_csv_exact(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV written by `write_csv_atomic`, floats parsed exactly (bit-identical)."""
    return pd.read_csv(path, **_READ_CSV_KWARGS)


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, ASCII, NaN/inf rejected (not valid JSON)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def config_hash(config: dict) -> str:
    """sha256 hex digest of ``canonical_json(config)``; independent of key order."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented, key-sorted JSON (trailing newline) to ``path`` atomically."""
    data = (json.dumps(obj, sort_keys=True, indent=2, allow_nan=False) + "\n").encode("utf-8")
    return _write_atomic(Path(path), lambda fh: fh.write(data))


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    return _write_atomic(Path(path), lambda fh: fh.write(data))


def write_text_atomic(text: str, path: str | os.PathLike[str]) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; e.g. the LaTeX the proofs generate."""
    return write_bytes_atomic(text.encode("utf-8"), path)


def save_figure_atomic(fig, stem: str | os.PathLike[str]) -> list[Path]:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png`` (dpi 150), each atomically.

    The PDF carries no creation date, so the same figure gives the same bytes.
    Returns the written paths in the order pdf, png.
    """
    stem = Path(stem)
    written = []
    for ext in FIGURE_FORMATS:
        # Metadata: drop the PDF timestamp for reproducible bytes; PNG's default is stable.
        metadata = {"CreationDate": None} if ext == "pdf" else None
        written.append(
            _write_atomic(
                stem.with_name(f"{stem.name}.{ext}"),
                lambda fh, ext=ext, md=metadata: fig.savefig(
                    fh, format=ext, dpi=FIGURE_DPI, metadata=md
                ),
            )
        )
    return written


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
