"""The experiment spine: run one paper figure's experiment, cache it, resume it, record it.

An *experiment module* (one per paper figure, in the top-level ``experiments`` package) defines::

    NAME = "spike_time_precision"                      # equal to the module's own name
    TITLE = "one line shown by `fsnn list`"
    def config(mode: str) -> dict                      # mode "quick" | "full"; JSON, with seeds
    def run(config: dict, ctx: RunContext) -> pandas.DataFrame
    def plot(data: pandas.DataFrame, config: dict) -> matplotlib.figure.Figure

and optionally::

    REQUIRES = ("yin_yang_training",)        # experiments whose artefacts run() reads; run first
    SOURCE_FILES = ("proofs/check_*.py",)    # files run() reads besides its imports (globs,
                                             # relative to the directory holding `experiments/`)

`run_experiment` writes, under ``out_root/NAME/``::

    config.json     {"name", "mode", "package_version", "config_hash", "code_hash", "run_key", "config"}
    parts/          one CSV per completed chunk (``ctx.map`` / ``ctx.cached``) + run_key.txt
    artefacts/      files published for dependents (``ctx.artefact``), e.g. trained parameters
    data.csv        the DataFrame returned by run()
    figure.pdf, figure.png
    manifest.json   written last: its presence (with matching keys and hashes) marks the run complete

The completion key (``run_key``) is the hash of

* the config hash,
* the *code hash*: sha256 of every project source file the experiment uses -- its module, every
  module under ``fsnn_theory/`` or ``experiments/`` it imports directly or indirectly (found
  statically with `ast`: every ``import``/``from`` statement, function-local ones included,
  relative ones resolved, ``from pkg import sub`` counting module ``sub``, parent packages'
  ``__init__`` included except the registry ``experiments/__init__.py``) and its ``SOURCE_FILES``
  (``.py`` ones with their imports followed too); the list with per-file digests is recorded in
  config.json and manifest.json,
* the run keys of its prerequisites (``REQUIRES``).

Guarantees:

* Every file is written atomically (temp file in the same directory, fsync, ``os.replace``), so a
  file on disk is either absent or complete; a killed run never leaves a half-written file.
* A rerun is *skipped* when its manifest carries the current run key, every listed file exists with
  its listed sha256, and every prerequisite is complete with the key and artefacts this run used.
  Otherwise it reruns: editing the experiment or any module it imports reruns it; editing an
  unrelated module does not. `experiment_status` says which (complete / stale / missing) and why.
* Stored chunks under ``parts/`` are reused only for the same run key (status *resumed*): a chunk
  from another config or older code is never reused. ``force=True`` discards parts and recomputes.
* Prerequisites: `run_experiment` refuses to run while a prerequisite is not complete (clear
  ``PrerequisiteError``); `plan` orders a selection so that prerequisites come first.
* Nothing written is lost on failure: if ``plot()`` raises, ``data.csv`` and the parts stay.
* Determinism: floats are written with the shortest repr that round-trips exactly, and chunks are
  always returned *as read back from their CSV*, so a fresh run and a resumed run see identical
  DataFrames and the same config gives a byte-identical ``data.csv``.

Chunk execution goes through one scheduler function (`fsnn_theory.context.serial_scheduler`
today); pass another as ``run_experiment(..., scheduler=...)`` to run chunks elsewhere.

CSV round trip: numeric, bool and string columns survive; an empty string and the string "nan" read
back as NaN, and the index is dropped (``index=False``). Keep results in plain columns.

This module imports no pyplot and selects no matplotlib backend (the ``fsnn`` CLI selects Agg).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from fsnn_theory import __version__
from fsnn_theory._validation import check_choice
from fsnn_theory.context import (
    ARTEFACTS_DIR,
    MANIFEST_FILE,
    PARTS_DIR,
    RunContext,
    Scheduler,
    check_experiment_module,
    serial_scheduler,
)
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
    "ExperimentKey",
    "ExperimentResult",
    "ExperimentStatus",
    "PrerequisiteError",
    "RunContext",
    "check_experiment_module",
    "experiment_key",
    "experiment_status",
    "plan",
    "run_experiment",
    "source_files",
]

MODES: tuple[str, ...] = ("quick", "full")
CONFIG_FILE = "config.json"
DATA_FILE = "data.csv"
FIGURE_STEM = "figure"
PARTS_KEY_FILE = "run_key.txt"
REQUIRED_FILES: tuple[str, ...] = (
    CONFIG_FILE,
    DATA_FILE,
    *(f"{FIGURE_STEM}.{ext}" for ext in FIGURE_FORMATS),
)
# Top-level packages whose modules count as project code (besides the experiment's own package).
PROJECT_PACKAGES: tuple[str, ...] = ("fsnn_theory", "experiments")


class PrerequisiteError(RuntimeError):
    """An experiment was asked to run while one of its prerequisites is not complete."""


def _registry(registry: Mapping[str, ModuleType] | None) -> Mapping[str, ModuleType]:
    if registry is not None:
        return registry
    import experiments  # the spine sits above the experiments layer

    return experiments.REGISTRY


# --------------------------------------------------------------------------------------------
# Source closure: which files an experiment's results depend on
# --------------------------------------------------------------------------------------------


def _package_root(top: str) -> Path | None:
    """Directory of top-level package ``top`` (without importing it), or None."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]).resolve() if locations else None


def _module_file(name: str, roots: dict[str, Path]) -> Path | None:
    """The source file of module ``name`` if it lies in one of the project ``roots``."""
    parts = name.split(".")
    root = roots.get(parts[0])
    if root is None:
        return None
    base = root.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if len(parts) > 1 and base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _module_name(path: Path, roots: dict[str, Path]) -> tuple[str | None, bool]:
    """(dotted name, is_package) of a project file; (None, False) for a script outside packages."""
    for top, root in roots.items():
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        parts = [top, *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            return ".".join(parts[:-1]), True
        return ".".join(parts), False
    return None, False


def _imported_names(path: Path, modname: str | None, is_package: bool) -> set[str]:
    """Every module name an ``import``/``from`` anywhere in ``path`` may load (and its parents)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if modname is None:
                    continue
                package = modname.split(".") if is_package else modname.split(".")[:-1]
                if node.level - 1 > len(package) - 1:
                    continue  # beyond the top-level package: Python would refuse it too
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            # `from pkg import sub` loads module pkg.sub when sub is a module; resolved below.
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    with_parents = set()
    for name in names:
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return with_parents


def source_files(module: ModuleType) -> dict[str, str]:
    """``{relative path: sha256}`` of every project source file ``module``'s results depend on.

    The closure is static (see the module docstring): the module itself, every module of
    ``fsnn_theory``, ``experiments`` or the module's own top-level package reached through
    ``import`` statements (any depth, function-local too), and the files matching the module's
    ``SOURCE_FILES`` globs. The package holding the experiment module (the registry) is left out:
    it only lists experiments. Paths are relative to the directory containing the top-level
    package, e.g. ``fsnn_theory/neurons.py``. A module without a source file (built in a test)
    depends on nothing.
    """
    file = getattr(module, "__file__", None)
    if not file:
        return {}
    path = Path(file).resolve()
    own_name = getattr(module, "__name__", "")
    tops = dict.fromkeys([*PROJECT_PACKAGES, own_name.split(".")[0]])
    roots = {top: root for top in tops if (root := _package_root(top)) is not None}
    registry_pkg, _, _ = own_name.rpartition(".")
    excluded = _module_file(registry_pkg, roots) if registry_pkg else None
    base = roots[own_name.split(".")[0]].parent if own_name.split(".")[0] in roots else path.parent

    start = [path]
    for pattern in getattr(module, "SOURCE_FILES", ()):
        matches = sorted(p.resolve() for p in base.glob(pattern) if p.is_file())
        if not matches:
            raise ValueError(
                f"{own_name}.SOURCE_FILES: pattern {pattern!r} matches no file under {base}"
            )
        start.extend(matches)

    seen: set[Path] = set()
    todo = list(start)
    while todo:
        current = todo.pop()
        if current in seen or current == excluded:
            continue
        seen.add(current)
        if current.suffix != ".py":
            continue
        modname, is_package = _module_name(current, roots)
        for name in _imported_names(current, modname, is_package):
            found = _module_file(name, roots)
            if found is not None and found not in seen:
                todo.append(found)

    def label(p: Path) -> str:
        for root in roots.values():
            if p.is_relative_to(root.parent):
                return p.relative_to(root.parent).as_posix()
        return p.as_posix()

    return {label(p): sha256_file(p) for p in sorted(seen, key=label)}


# --------------------------------------------------------------------------------------------
# Completion keys, plans and status
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentKey:
    """What a run's results are a function of: config, code and prerequisites' keys.

    ``run_key`` = sha256 of canonical JSON {"config": config_hash, "code": code_hash,
    "requires": {name: run_key}}; ``code_hash`` = sha256 of canonical JSON of ``code_files``.
    """

    name: str
    mode: str
    config: dict
    config_hash: str
    code_files: dict[str, str]
    code_hash: str
    requires: dict[str, str]
    run_key: str


def _digest(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def _canonical_config(module: ModuleType, mode: str) -> dict:
    raw = module.config(mode)
    if not isinstance(raw, dict):
        raise TypeError(f"{module.NAME}.config({mode!r}) must return a dict, got {type(raw).__name__}")
    try:
        canonical = canonical_json(raw)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{module.NAME}.config({mode!r}) must be JSON-serialisable (no NaN/inf): {exc}"
        ) from exc
    return json.loads(canonical)


def _lookup(name: str, registry: Mapping[str, ModuleType], needed_by: str) -> ModuleType:
    if name not in registry:
        raise ValueError(
            f"{needed_by}.REQUIRES lists {name!r}, which is not a registered experiment "
            f"(known: {', '.join(registry) or 'none'})"
        )
    return registry[name]


def experiment_key(
    module: ModuleType,
    mode: str,
    registry: Mapping[str, ModuleType] | None = None,
    _memo: dict | None = None,
    _path: tuple[str, ...] = (),
) -> ExperimentKey:
    """The completion key of ``module`` in ``mode`` (prerequisites resolved in ``registry``)."""
    check_experiment_module(module)
    check_choice("mode", mode, MODES)
    memo = {} if _memo is None else _memo
    name = module.NAME
    if name in _path:
        raise ValueError(f"REQUIRES has a cycle: {' -> '.join((*_path, name))}")
    if (name, mode) in memo:
        return memo[(name, mode)]
    cfg = _canonical_config(module, mode)
    cfg_hash = config_hash(cfg)
    files = source_files(module)
    code = _digest(files)
    requires = {}
    for req in getattr(module, "REQUIRES", ()):
        reg = _registry(registry)
        requires[req] = experiment_key(_lookup(req, reg, name), mode, reg, memo, (*_path, name)).run_key
    key = ExperimentKey(
        name, mode, cfg, cfg_hash, files, code, requires,
        _digest({"config": cfg_hash, "code": code, "requires": requires}),
    )
    memo[(name, mode)] = key
    return key


def plan(names: Sequence[str], registry: Mapping[str, ModuleType] | None = None) -> list[str]:
    """``names`` with their prerequisites (transitively), each after what it requires.

    Otherwise the order is the order of ``names`` (prerequisites just before their first
    dependent). Unknown names or prerequisites and ``REQUIRES`` cycles raise ``ValueError``.
    """
    reg = _registry(registry)
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...], needed_by: str | None) -> None:
        if name in done:
            return
        if name in path:
            raise ValueError(f"REQUIRES has a cycle: {' -> '.join((*path, name))}")
        module = _lookup(name, reg, needed_by) if needed_by else reg.get(name)
        if module is None:
            raise ValueError(f"unknown experiment {name!r} (known: {', '.join(reg) or 'none'})")
        for req in getattr(module, "REQUIRES", ()):
            visit(req, (*path, name), name)
        done.add(name)
        order.append(name)

    for name in names:
        visit(name, (), None)
    return order


@dataclass(frozen=True)
class ExperimentStatus:
    """``state`` is "complete", "stale" (outputs exist but no longer match) or "missing" (no
    finished run); ``reasons`` say why it is not complete (empty when complete)."""

    name: str
    state: str
    reasons: tuple[str, ...]


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _listed_files(manifest: dict) -> dict[str, Any] | None:
    files = manifest.get("files")
    if not isinstance(files, list):
        return None
    listed = {}
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return None
        listed[entry["path"]] = entry.get("sha256")
    return listed


def _changed_files(old: Any, new: dict[str, str]) -> list[str]:
    if not isinstance(old, dict):
        return ["(no code hash recorded)"]
    changed = [p for p in sorted(set(old) | set(new)) if old.get(p) != new.get(p)]
    return [p + ("" if p in new else " (no longer used)") + ("" if p in old else " (new)") for p in changed]


def experiment_status(
    module: ModuleType,
    mode: str,
    out_root: str | os.PathLike[str],
    registry: Mapping[str, ModuleType] | None = None,
    _memo: dict | None = None,
) -> ExperimentStatus:
    """Whether ``out_root/NAME`` holds a finished run that matches the current config, code and
    prerequisites (see the module docstring), and if not, why."""
    memo = {} if _memo is None else _memo
    key = experiment_key(module, mode, registry, memo.setdefault("keys", {}))
    cache = memo.setdefault("status", {})
    if (key.name, mode) in cache:
        return cache[(key.name, mode)]
    out_dir = Path(out_root) / key.name
    manifest = _load_json(out_dir / MANIFEST_FILE)
    reasons: list[str] = []
    if not isinstance(manifest, dict):
        started = (out_dir / CONFIG_FILE).exists() or (out_dir / PARTS_DIR).exists()
        result = ExperimentStatus(
            key.name, "missing",
            ("incomplete run (no manifest; stored chunks are reused if the key matches)",)
            if started else ("never run",),
        )
        cache[(key.name, mode)] = result
        return result
    if manifest.get("mode") != mode:
        reasons.append(f"mode changed ({manifest.get('mode')} -> {mode})")
    elif manifest.get("config_hash") != key.config_hash:
        reasons.append("config changed")
    changed = _changed_files(manifest.get("code_files"), key.code_files)
    if changed:
        reasons.append(f"code changed: {', '.join(changed)}")
    recorded = manifest.get("prerequisites") if isinstance(manifest.get("prerequisites"), dict) else {}
    for req, req_key in key.requires.items():
        req_status = experiment_status(_registry(registry)[req], mode, out_root, registry, memo)
        entry = recorded.get(req) if isinstance(recorded.get(req), dict) else {}
        if req_status.state != "complete":
            reasons.append(f"prerequisite {req} {req_status.state}")
            continue
        req_listed = _listed_files(_load_json(Path(out_root) / req / MANIFEST_FILE) or {}) or {}
        used = entry.get("artefacts") if isinstance(entry.get("artefacts"), dict) else None
        if entry.get("run_key") != req_key or used is None or any(
            req_listed.get(p) != d for p, d in used.items()
        ):
            reasons.append(f"prerequisite {req} changed since this run")
    listed = _listed_files(manifest)
    if listed is None:
        reasons.append("files altered: manifest unreadable")
    else:
        absent = [r for r in REQUIRED_FILES if r not in listed]
        bad = [rel for rel, digest in listed.items()
               if not (out_dir / rel).is_file() or sha256_file(out_dir / rel) != digest]
        if absent or bad:
            reasons.append(f"files altered: {', '.join(sorted(set(absent) | set(bad)))}")
    stored_config = _load_json(out_dir / CONFIG_FILE)
    if not isinstance(stored_config, dict) or stored_config.get("run_key") != manifest.get("run_key"):
        reasons.append("files altered: config.json does not match the manifest")
    if not reasons and manifest.get("run_key") != key.run_key:
        reasons.append("run key changed")  # every component matched: a format change
    result = ExperimentStatus(key.name, "stale" if reasons else "complete", tuple(reasons))
    cache[(key.name, mode)] = result
    return result


# --------------------------------------------------------------------------------------------
# Running an experiment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentResult:
    """Outcome of `run_experiment`.

    ``status`` is "ran" (computed from scratch), "resumed" (at least one stored chunk reused) or
    "skipped" (complete outputs for this key already on disk). ``files`` are the paths of
    config.json, data.csv, figure.pdf, figure.png, manifest.json. ``seconds`` is this call's
    wall time; ``parts_computed`` / ``parts_reused`` count chunks (0 when skipped).
    """

    name: str
    status: str
    out_dir: Path
    files: tuple[Path, ...]
    seconds: float
    parts_computed: int = 0
    parts_reused: int = 0
    reasons: tuple[str, ...] = field(default=())


def _prepare_parts(parts_dir: Path, run_key: str, discard: bool) -> None:
    """Keep ``parts_dir`` only if it belongs to ``run_key``; otherwise start it afresh."""
    marker = parts_dir / PARTS_KEY_FILE
    stored = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
    if parts_dir.exists() and (discard or stored != run_key):
        shutil.rmtree(parts_dir)
    if not marker.is_file():
        parts_dir.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic((run_key + "\n").encode("ascii"), marker)


def _close_figure(fig) -> None:
    # Figures made with pyplot stay registered (and in memory) until closed.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def _file_entry(out_dir: Path, rel: str) -> dict[str, Any]:
    path = out_dir / rel
    return {"path": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def run_experiment(
    module: ModuleType,
    mode: str,
    out_root: str | os.PathLike[str],
    force: bool = False,
    quiet: bool = False,
    registry: Mapping[str, ModuleType] | None = None,
    scheduler: Scheduler = serial_scheduler,
) -> ExperimentResult:
    """Run one experiment module into ``out_root/NAME/`` (see the module docstring).

    Steps: key (config, code, prerequisites) → skip if complete → config.json → run(config, ctx)
    → data.csv → plot(data read back from data.csv, config) → figure.pdf/png → manifest.json.

    ``run`` receives the config after a JSON round trip (what config.json holds), so tuples
    arrive as lists. ``force`` reruns a complete experiment and discards its stored parts.
    Prerequisites (``REQUIRES``, looked up in ``registry``, default `experiments.REGISTRY`) must be
    complete in ``out_root`` (else `PrerequisiteError`; `plan` orders them first).
    Errors from the experiment propagate unchanged; files already written stay on disk.
    """
    start = time.perf_counter()
    memo: dict = {}
    key = experiment_key(module, mode, registry, memo.setdefault("keys", {}))
    name = key.name
    out_root = Path(out_root)
    out_dir = out_root / name
    files = tuple(out_dir / rel for rel in (*REQUIRED_FILES, MANIFEST_FILE))

    prerequisites = {}
    for req in key.requires:
        req_status = experiment_status(_registry(registry)[req], mode, out_root, registry, memo)
        if req_status.state != "complete":
            raise PrerequisiteError(
                f"{name} requires {req}, which is {req_status.state} in {out_root} "
                f"({'; '.join(req_status.reasons)}); run it first "
                f"(`fsnn reproduce --only {name}` does)"
            )
        prerequisites[req] = out_root / req

    status = experiment_status(module, mode, out_root, registry, memo)
    if not force and status.state == "complete":
        return ExperimentResult(name, "skipped", out_dir, files, time.perf_counter() - start)

    # From here the directory is incomplete until the new manifest is written.
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
    shutil.rmtree(out_dir / ARTEFACTS_DIR, ignore_errors=True)  # only this run's artefacts count
    write_json_atomic(
        {
            "name": name,
            "mode": mode,
            "package_version": __version__,
            "config_hash": key.config_hash,
            "code_hash": key.code_hash,
            "code_files": key.code_files,
            "run_key": key.run_key,
            "config": key.config,
        },
        out_dir / CONFIG_FILE,
    )
    _prepare_parts(out_dir / PARTS_DIR, key.run_key, discard=force)

    ctx = RunContext(
        name=name, mode=mode, out_dir=out_dir, config_hash=key.config_hash, quiet=quiet,
        run_key=key.run_key, prerequisites=prerequisites, scheduler=scheduler,
    )
    data = module.run(key.config, ctx)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{name}.run() must return a pandas DataFrame, got {type(data).__name__}")
    write_csv_atomic(data, out_dir / DATA_FILE)

    # Plot from the file, so a figure is always reproducible from data.csv alone.
    fig = module.plot(read_csv_exact(out_dir / DATA_FILE), key.config)
    if not callable(getattr(fig, "savefig", None)):
        raise TypeError(f"{name}.plot() must return a matplotlib Figure, got {type(fig).__name__}")
    try:
        save_figure_atomic(fig, out_dir / FIGURE_STEM)
    finally:
        _close_figure(fig)

    unused = sorted(set(key.requires) - set(ctx.artefacts_read))
    run_status = "resumed" if ctx.parts_reused else "ran"
    seconds = time.perf_counter() - start
    write_json_atomic(
        {
            "name": name,
            "mode": mode,
            "status": run_status,
            "seconds": round(seconds, 3),
            "config_hash": key.config_hash,
            "code_hash": key.code_hash,
            "code_files": key.code_files,
            "run_key": key.run_key,
            "package_version": __version__,
            "parts_computed": len(ctx.parts_computed),
            "parts_reused": len(ctx.parts_reused),
            "prerequisites": {
                req: {"run_key": req_key, "artefacts": ctx.artefacts_read.get(req, {})}
                for req, req_key in key.requires.items()
            },
            "files": [_file_entry(out_dir, rel) for rel in (*REQUIRED_FILES, *sorted(ctx.artefacts_written))],
        },
        out_dir / MANIFEST_FILE,
    )
    if unused and not quiet:
        ctx.log(f"REQUIRES lists {', '.join(unused)} but run() read none of its artefacts")
    return ExperimentResult(
        name, run_status, out_dir, files, time.perf_counter() - start,
        len(ctx.parts_computed), len(ctx.parts_reused), status.reasons,
    )
