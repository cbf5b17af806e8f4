"""The run context an experiment's ``run(config, ctx)`` receives: chunks, artefacts, progress, log.

Layer: utilities (imports only `fsnn_theory.files`), so every experiment may import the type; the
spine (`fsnn_theory.experiment`) creates one per run.

Chunks are *declared*: ``ctx.map(fn, keys)`` hands the runner a list of independent pieces of work
(one per key), and the runner's scheduler decides how to execute them. The scheduler is a plain
function ``scheduler(jobs, progress) -> None`` that calls every job once; `serial_scheduler` runs
them one after the other in this process. A job computes its chunk *and* stores it, so a scheduler
that runs jobs elsewhere (e.g. a Dask cluster sharing the results directory) keeps the resume
guarantee: a killed run keeps every chunk that finished. A chunk's randomness must come from its key
(and the config), never from the order in which chunks run.

Artefacts are files an experiment publishes for the experiments that list it in ``REQUIRES``
(e.g. the trained parameters of `yin_yang_training`): ``ctx.artefact(name, arrays)`` writes a
deterministic ``.npz`` atomically under ``artefacts/``; the manifest lists it with its sha256, and a
dependent reads it with ``ctx.load_artefact(prerequisite, name)``, which checks that sha256.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from fsnn_theory.files import read_csv_exact, sha256_file, write_bytes_atomic, write_csv_atomic

__all__ = [
    "check_experiment_module",
    "ARTEFACTS_DIR",
    "MANIFEST_FILE",
    "PARTS_DIR",
    "Job",
    "RunContext",
    "Scheduler",
    "check_key",
    "read_npz",
    "serial_scheduler",
    "write_npz_atomic",
]

PARTS_DIR = "parts"
ARTEFACTS_DIR = "artefacts"
MANIFEST_FILE = "manifest.json"

# Chunk keys and artefact names become file names: keep them portable and unable to escape parts/.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]{0,199}")
T = TypeVar("T")

Job = Callable[[], None]
Scheduler = Callable[[Sequence[Job], Callable[[Iterable[Job]], Iterable[Job]]], None]


def check_key(what: str, key: object) -> str:
    """``key`` if it is a file-name-safe name, else ``ValueError`` naming ``what`` and the rule."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(
            f"{what} must match {KEY_PATTERN.pattern!r} (letters, digits, '._=+-', first character "
            f"alphanumeric, at most 200 characters); got {key!r}"
        )
    return key


def serial_scheduler(jobs: Sequence[Job], progress: Callable[[Iterable[Job]], Iterable[Job]] = iter) -> None:
    """Run every job once, in order, in this process (the scheduler used today).

    A drop-in replacement (Dask, a process pool) must call each job exactly once and re-raise the
    first failure; the order does not matter because each chunk is seeded from its key.
    """
    for job in progress(jobs):
        job()


# ---- deterministic .npz ------------------------------------------------------------------------

# np.savez stamps each member with the current time; a fixed stamp makes equal arrays equal bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_npz_atomic(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` (readable by ``np.load``), atomically.

    Members are stored in sorted-name order with a fixed timestamp, so equal arrays give
    byte-identical files. Names must be file-name safe; object arrays are refused (no pickles).
    """
    if not isinstance(arrays, dict) or not arrays:
        raise ValueError(f"arrays must be a non-empty dict of name -> array; got {arrays!r:.80}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            check_key("artefact array name", name)
            arr = np.asarray(arrays[name])
            if arr.dtype.hasobject:
                raise ValueError(f"array {name!r} has dtype object; only numeric/bool/str arrays are stored")
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o600 << 16
            zf.writestr(info, member.getvalue())
    return write_bytes_atomic(buf.getvalue(), path)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` written by `write_npz_atomic` (no pickles)."""
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


# ---- the context -------------------------------------------------------------------------------


@dataclass
class RunContext:
    """What an experiment's ``run(config, ctx)`` may use.

    Attributes:
        name: experiment name.
        mode: "quick" or "full".
        out_dir: ``out_root/NAME``; the experiment's own directory.
        config_hash: hash of the config this run belongs to.
        quiet: no progress bars and no log lines.
        run_key: the completion key (config + code + prerequisites) that stored chunks belong to.
        prerequisites: name -> output directory of each experiment this one ``REQUIRES``.
        scheduler: how ``map`` executes its jobs (`serial_scheduler` unless the runner says else).
        parts_computed / parts_reused: chunk keys computed in this run / stored by an earlier run
            and loaded from disk.
        artefacts_written: artefact path (relative to out_dir) -> sha256, written by this run.
        artefacts_read: prerequisite -> {artefact path: sha256} read by this run.
    """

    name: str
    mode: str
    out_dir: Path
    config_hash: str
    quiet: bool = False
    run_key: str = ""
    prerequisites: dict[str, Path] = field(default_factory=dict)
    scheduler: Scheduler = serial_scheduler
    parts_computed: list[str] = field(default_factory=list)
    parts_reused: list[str] = field(default_factory=list)
    artefacts_written: dict[str, str] = field(default_factory=dict)
    artefacts_read: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def parts_dir(self) -> Path:
        return self.out_dir / PARTS_DIR

    # ---- chunks -----------------------------------------------------------------------------

    def _part_path(self, key: str) -> Path:
        return self.parts_dir / f"{check_key('key', key)}.csv"

    def _store(self, key: str, fn: Callable[[], pd.DataFrame]) -> None:
        df = fn()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"{self.name}: chunk {key!r}: the function must return a pandas DataFrame, "
                f"got {type(df).__name__}"
            )
        write_csv_atomic(df, self._part_path(key))

    def cached(self, key: str, fn: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Return chunk ``key``: loaded from ``parts/<key>.csv`` if a previous run with the same
        completion key stored it, else computed by ``fn()`` and stored atomically first.

        This is how a killed run resumes. ``key`` must be a file-name-safe string
        (letters, digits, ``._=+-``, first character alphanumeric, at most 200 characters),
        unique per chunk and a function of the config only (e.g. ``f"seed{seed}_n{n}"``).

        The returned frame is always the one read back from the CSV, on the first run as on a
        resumed one, so downstream code sees the same dtypes and values either way. Prefer
        `map` for several independent chunks: it lets the runner schedule them.
        """
        path = self._part_path(key)
        if path.is_file():
            if key not in self.parts_computed:  # stored by an earlier run, not earlier in this one
                self.parts_reused.append(key)
        else:
            self._store(key, fn)
            self.parts_computed.append(key)
        return read_csv_exact(path)

    def map(self, fn: Callable[[str], pd.DataFrame], keys: Iterable[str], desc: str | None = None) -> list[pd.DataFrame]:
        """The chunks ``fn(key)`` for every key, in key order, as read back from their CSVs.

        Stored chunks are reused; the missing ones are handed to the scheduler as independent
        jobs. ``fn(key)`` must depend on the key and the config only (seed from the key), so the
        result does not depend on which chunks were stored or in which order the rest ran.
        Keys must be unique and file-name safe (see `cached`).
        """
        keys = list(keys)
        for key in keys:
            check_key("key", key)
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"keys must be unique; repeated: {', '.join(dupes)}")
        missing = [k for k in keys if not self._part_path(k).is_file()]
        self.parts_reused.extend(k for k in keys if k not in missing)
        jobs = [partial(self._store, key, partial(fn, key)) for key in missing]
        self.scheduler(jobs, partial(self.progress, desc=desc, total=len(jobs)))
        not_stored = [k for k in missing if not self._part_path(k).is_file()]
        if not_stored:
            raise RuntimeError(f"{self.name}: the scheduler did not store chunk(s) {', '.join(not_stored)}")
        self.parts_computed.extend(missing)
        return [read_csv_exact(self._part_path(k)) for k in keys]

    # ---- artefacts --------------------------------------------------------------------------

    def artefact(self, filename: str, arrays: dict[str, np.ndarray]) -> Path:
        """Publish ``arrays`` as ``artefacts/<filename>`` (a deterministic ``.npz``) for the
        experiments that require this one; listed with its sha256 in the manifest."""
        check_key("artefact filename", filename)
        if not filename.endswith(".npz"):
            raise ValueError(f"artefact filename must end in .npz; got {filename!r}")
        rel = f"{ARTEFACTS_DIR}/{filename}"
        path = write_npz_atomic(arrays, self.out_dir / rel)
        self.artefacts_written[rel] = sha256_file(path)
        return path

    def prerequisite_dir(self, name: str) -> Path:
        """Output directory of prerequisite ``name`` (must be listed in this experiment's REQUIRES)."""
        if name not in self.prerequisites:
            declared = ", ".join(self.prerequisites) or "(none)"
            raise ValueError(f"{self.name}: {name!r} is not a declared prerequisite; REQUIRES lists {declared}")
        return self.prerequisites[name]

    def load_artefact(self, prerequisite: str, filename: str) -> dict[str, np.ndarray]:
        """The arrays of artefact ``filename`` published by ``prerequisite``.

        The file's sha256 must equal the one in the prerequisite's manifest (else ``ValueError``:
        the prerequisite's outputs were altered and it must be rerun); the digest is recorded so
        this run's manifest says exactly which artefact it was computed from.
        """
        directory = self.prerequisite_dir(prerequisite)
        rel = f"{ARTEFACTS_DIR}/{check_key('artefact filename', filename)}"
        listed = _manifest_digests(directory / MANIFEST_FILE)
        path = directory / rel
        if rel not in listed:
            raise ValueError(
                f"{self.name}: prerequisite {prerequisite!r} lists no artefact {rel!r} in its manifest "
                f"(it publishes: {', '.join(k for k in listed if k.startswith(ARTEFACTS_DIR)) or 'none'})"
            )
        if not path.is_file() or sha256_file(path) != listed[rel]:
            raise ValueError(
                f"{self.name}: artefact {rel} of {prerequisite!r} is missing or altered; rerun {prerequisite}"
            )
        self.artefacts_read.setdefault(prerequisite, {})[rel] = listed[rel]
        return read_npz(path)

    # ---- progress and log -------------------------------------------------------------------

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


def _manifest_digests(path: Path) -> dict[str, str]:
    """path -> sha256 of every file a manifest lists (empty if it is missing or unreadable)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files: Any = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        return {}
    return {
        f["path"]: f.get("sha256")
        for f in files
        if isinstance(f, dict) and isinstance(f.get("path"), str)
    }


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# The experiment contract (checked by the registry in experiments/ and by the runner)
# --------------------------------------------------------------------------------------------


def check_experiment_module(module: ModuleType) -> ModuleType:
    """Raise ``TypeError`` unless ``module`` has NAME, TITLE, config(), run() and plot() (and, if
    present, REQUIRES and SOURCE_FILES as tuples of strings)."""
    label = getattr(module, "__name__", repr(module))
    missing = [a for a in ("NAME", "TITLE") if not isinstance(getattr(module, a, None), str)]
    missing += [a for a in ("config", "run", "plot") if not callable(getattr(module, a, None))]
    if missing:
        raise TypeError(
            f"experiment module {label} lacks {', '.join(missing)} "
            "(needs str NAME, str TITLE and functions config(mode), run(config, ctx), "
            "plot(data, config))"
        )
    if not module.NAME or not KEY_PATTERN.fullmatch(module.NAME):
        raise TypeError(f"experiment module {label}: NAME {module.NAME!r} is not a valid name")
    for attr in ("REQUIRES", "SOURCE_FILES"):
        value = getattr(module, attr, ())
        if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) and v for v in value):
            raise TypeError(f"experiment module {label}: {attr} must be a tuple of names, got {value!r}")
    if module.NAME in getattr(module, "REQUIRES", ()):
        raise TypeError(f"experiment module {label}: REQUIRES lists the experiment itself")
    return module
