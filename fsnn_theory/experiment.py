"""The experiment spine: run one paper figure's experiment, cache it, resume it, record it.

An *experiment module* (one per paper figure, in the top-level ``experiments`` package) defines::

    NAME = "spike_time_precision"                      # equal to the module's own name
    TITLE = "one line shown by `fsnn list`"
    def config(mode: str) -> dict                      # mode "quick" | "full"; JSON, with seeds
    def run(config: dict, ctx: RunContext) -> pandas.DataFrame
    def plot(data: pandas.DataFrame, config: dict) -> matplotlib.figure.Figure

`run_experiment` writes, under ``out_root/NAME/``::

    config.json     {"name", "mode", "package_version", "config_hash", "config"}
    parts/          one CSV per completed chunk (``ctx.cached``) + config_hash.txt
    data.csv        the DataFrame returned by run()
    figure.pdf, figure.png
    manifest.json   written last: its presence (with matching hashes) marks the run complete

Guarantees:

* Every file is written atomically (temp file in the same directory, fsync, ``os.replace``), so a
  file on disk is either absent or complete; a killed run never leaves a half-written file.
* A rerun whose config hash matches and whose manifest lists existing files with matching sha256 is
  *skipped*. A changed config, or a missing or altered file, reruns the experiment.
* A rerun reuses every chunk stored under ``parts/`` for the same config hash (status *resumed*);
  parts from a different config are discarded. ``force=True`` discards parts too and recomputes.
* Nothing written is lost on failure: if ``plot()`` raises, ``data.csv`` and the parts stay.
* Determinism: floats are written with the shortest repr that round-trips exactly, and
  ``ctx.cached`` always returns the chunk *as read back from its CSV*, so a fresh run and a resumed
  run see identical DataFrames and the same config gives a byte-identical ``data.csv``.

CSV round trip: numeric, bool and string columns survive; an empty string and the string "nan" read
back as NaN, and the index is dropped (``index=False``). Keep results in plain columns.

This module imports no pyplot and selects no matplotlib backend (the ``fsnn`` CLI selects Agg).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pandas as pd

from fsnn_theory import __version__
from fsnn_theory._validation import check_choice
from fsnn_theory.files import (
    FIGURE_FORMATS,
    canonical_json,
    config_hash,
    read_csv_exact,
    save_figure_atomic,
    sha256_file,
    write_bytes_atomic,
    write_csv_atomic,
    write_json_atomic,
)

__all__ = [
    "MODES",
    "REQUIRED_FILES",
    "ExperimentResult",
    "RunContext",
    "check_experiment_module",
    "is_complete",
    "run_experiment",
]

MODES: tuple[str, ...] = ("quick", "full")
CONFIG_FILE = "config.json"
DATA_FILE = "data.csv"
FIGURE_STEM = "figure"
MANIFEST_FILE = "manifest.json"
PARTS_DIR = "parts"
PARTS_HASH_FILE = "config_hash.txt"
REQUIRED_FILES: tuple[str, ...] = (
    CONFIG_FILE,
    DATA_FILE,
    *(f"{FIGURE_STEM}.{ext}" for ext in FIGURE_FORMATS),
)

# Chunk keys become file names: keep them portable and unable to escape parts/.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]{0,199}")
T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Run context given to an experiment's run()
# --------------------------------------------------------------------------------------------


@dataclass
class RunContext:
    """What an experiment's ``run(config, ctx)`` may use.

    Attributes:
        name: experiment name.
        mode: "quick" or "full".
        out_dir: ``out_root/NAME``; the experiment's own directory.
        config_hash: hash of the config this run belongs to.
        quiet: no progress bars and no log lines.
        parts_computed / parts_reused: chunk keys computed in this run / loaded from disk.
    """

    name: str
    mode: str
    out_dir: Path
    config_hash: str
    quiet: bool = False
    parts_computed: list[str] = field(default_factory=list)
    parts_reused: list[str] = field(default_factory=list)

    @property
    def parts_dir(self) -> Path:
        return self.out_dir / PARTS_DIR

    def cached(self, key: str, fn: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Return chunk ``key``: loaded from ``parts/<key>.csv`` if a previous run of the same
        config completed it, else computed by ``fn()`` and stored atomically first.

        This is how a killed run resumes. ``key`` must be a file-name-safe string
        (letters, digits, ``._=+-``, first character alphanumeric, at most 200 characters),
        unique per chunk and a function of the config only (e.g. ``f"seed{seed}_n{n}"``).

        The returned frame is always the one read back from the CSV, on the first run as on a
        resumed one, so downstream code sees the same dtypes and values either way.
        """
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            raise ValueError(
                f"key must match {_KEY_PATTERN.pattern!r} (a file-name-safe chunk name); "
                f"got {key!r}"
            )
        path = self.parts_dir / f"{key}.csv"
        if path.is_file():
            self.parts_reused.append(key)
            return read_csv_exact(path)
        df = fn()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"{self.name}: ctx.cached({key!r}, fn): fn must return a pandas DataFrame, "
                f"got {type(df).__name__}"
            )
        write_csv_atomic(df, path)
        self.parts_computed.append(key)
        return read_csv_exact(path)

    def progress(
        self, iterable: Iterable[T], desc: str | None = None, total: int | None = None
    ) -> Iterator[T]:
        """Wrap ``iterable`` in a tqdm progress bar on stderr (off when quiet or not a TTY)."""
        from tqdm import tqdm

        disable = self.quiet or not _isatty(sys.stderr)
        label = f"{self.name}: {desc}" if desc else self.name
        return iter(
            tqdm(iterable, desc=label, total=total, file=sys.stderr, disable=disable, leave=False)
        )

    def log(self, msg: str) -> None:
        """Print ``[NAME] msg`` to stderr (without breaking progress bars), unless quiet."""
        if self.quiet:
            return
        from tqdm import tqdm

        tqdm.write(f"[{self.name}] {msg}", file=sys.stderr)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# Running an experiment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentResult:
    """Outcome of `run_experiment`.

    ``status`` is "ran" (computed from scratch), "resumed" (at least one stored chunk reused) or
    "skipped" (complete outputs for this config already on disk). ``files`` are the paths of
    config.json, data.csv, figure.pdf, figure.png, manifest.json. ``seconds`` is this call's
    wall time.
    """

    name: str
    status: str
    out_dir: Path
    files: tuple[Path, ...]
    seconds: float


def check_experiment_module(module: ModuleType) -> ModuleType:
    """Raise ``TypeError`` unless ``module`` has NAME, TITLE, config(), run() and plot()."""
    label = getattr(module, "__name__", repr(module))
    missing = [a for a in ("NAME", "TITLE") if not isinstance(getattr(module, a, None), str)]
    missing += [a for a in ("config", "run", "plot") if not callable(getattr(module, a, None))]
    if missing:
        raise TypeError(
            f"experiment module {label} lacks {', '.join(missing)} "
            "(needs str NAME, str TITLE and functions config(mode), run(config, ctx), "
            "plot(data, config))"
        )
    if not module.NAME or not _KEY_PATTERN.fullmatch(module.NAME):
        raise TypeError(f"experiment module {label}: NAME {module.NAME!r} is not a valid name")
    return module


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def is_complete(out_dir: str | os.PathLike[str], cfg_hash: str) -> bool:
    """True if ``out_dir`` holds a finished run of the config with hash ``cfg_hash``.

    Finished means: manifest.json and config.json both carry ``cfg_hash``, the manifest lists
    every required file, and every listed file exists with the listed sha256.
    """
    out_dir = Path(out_dir)
    manifest = _load_json(out_dir / MANIFEST_FILE)
    stored_config = _load_json(out_dir / CONFIG_FILE)
    if not isinstance(manifest, dict) or not isinstance(stored_config, dict):
        return False
    if manifest.get("config_hash") != cfg_hash or stored_config.get("config_hash") != cfg_hash:
        return False
    files = manifest.get("files")
    if not isinstance(files, list):
        return False
    listed = {}
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return False
        listed[entry["path"]] = entry.get("sha256")
    if not set(REQUIRED_FILES) <= set(listed):
        return False
    for rel, digest in listed.items():
        path = out_dir / rel
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def _prepare_parts(parts_dir: Path, cfg_hash: str, discard: bool) -> None:
    """Keep ``parts_dir`` only if it belongs to ``cfg_hash``; otherwise start it afresh."""
    marker = parts_dir / PARTS_HASH_FILE
    stored = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
    if parts_dir.exists() and (discard or stored != cfg_hash):
        shutil.rmtree(parts_dir)
    if not marker.is_file():
        parts_dir.mkdir(parents=True, exist_ok=True)
        data = (cfg_hash + "\n").encode("ascii")
        write_bytes_atomic(data, marker)


def _close_figure(fig) -> None:
    # Figures made with pyplot stay registered (and in memory) until closed.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def run_experiment(
    module: ModuleType,
    mode: str,
    out_root: str | os.PathLike[str],
    force: bool = False,
    quiet: bool = False,
) -> ExperimentResult:
    """Run one experiment module into ``out_root/NAME/`` (see the module docstring).

    Steps: config(mode) → skip if complete → config.json → run(config, ctx) → data.csv →
    plot(data read back from data.csv, config) → figure.pdf/png → manifest.json.

    ``run`` receives the config after a JSON round trip (what config.json holds), so tuples
    arrive as lists. ``force`` reruns a complete experiment and discards its stored parts.
    Errors from the experiment propagate unchanged; files already written stay on disk.
    """
    start = time.perf_counter()
    check_experiment_module(module)
    check_choice("mode", mode, MODES)
    name = module.NAME

    raw_config = module.config(mode)
    if not isinstance(raw_config, dict):
        raise TypeError(
            f"{name}.config({mode!r}) must return a dict, got {type(raw_config).__name__}"
        )
    try:
        canonical = canonical_json(raw_config)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name}.config({mode!r}) must be JSON-serialisable (no NaN/inf): {exc}"
        ) from exc
    cfg = json.loads(canonical)
    cfg_hash = config_hash(cfg)

    out_dir = Path(out_root) / name
    out_dir.mkdir(parents=True, exist_ok=True)
    files = tuple(out_dir / rel for rel in (*REQUIRED_FILES, MANIFEST_FILE))

    if not force and is_complete(out_dir, cfg_hash):
        return ExperimentResult(name, "skipped", out_dir, files, time.perf_counter() - start)

    # From here the directory is incomplete until the new manifest is written.
    (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
    write_json_atomic(
        {
            "name": name,
            "mode": mode,
            "package_version": __version__,
            "config_hash": cfg_hash,
            "config": cfg,
        },
        out_dir / CONFIG_FILE,
    )
    _prepare_parts(out_dir / PARTS_DIR, cfg_hash, discard=force)

    ctx = RunContext(name=name, mode=mode, out_dir=out_dir, config_hash=cfg_hash, quiet=quiet)
    data = module.run(cfg, ctx)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{name}.run() must return a pandas DataFrame, got {type(data).__name__}")
    write_csv_atomic(data, out_dir / DATA_FILE)

    # Plot from the file, so a figure is always reproducible from data.csv alone.
    fig = module.plot(read_csv_exact(out_dir / DATA_FILE), cfg)
    if not callable(getattr(fig, "savefig", None)):
        raise TypeError(f"{name}.plot() must return a matplotlib Figure, got {type(fig).__name__}")
    try:
        save_figure_atomic(fig, out_dir / FIGURE_STEM)
    finally:
        _close_figure(fig)

    status = "resumed" if ctx.parts_reused else "ran"
    seconds = time.perf_counter() - start
    write_json_atomic(
        {
            "name": name,
            "mode": mode,
            "status": status,
            "seconds": round(seconds, 3),
            "config_hash": cfg_hash,
            "package_version": __version__,
            "parts_computed": len(ctx.parts_computed),
            "parts_reused": len(ctx.parts_reused),
            "files": [
                {
                    "path": rel,
                    "sha256": sha256_file(out_dir / rel),
                    "bytes": (out_dir / rel).stat().st_size,
                }
                for rel in REQUIRED_FILES
            ],
        },
        out_dir / MANIFEST_FILE,
    )
    return ExperimentResult(name, status, out_dir, files, time.perf_counter() - start)
