r"""``fsnn paper``: feed ``paper/`` from the experiments' outputs (figures and every quoted number).

    fsnn paper [--results DIR] [--out DIR] [--allow-missing]

The project rule is that every figure is made by a script from data the script wrote, and every
number the paper quotes comes from the experiments' outputs. This step is the only bridge between
``results/`` (written by ``fsnn reproduce``) and the LaTeX sources in ``paper/``. It only
*assembles*: each experiment module computes its own numbers (``numbers(data, config) ->
{Macro: (value, format, meaning)}``, next to the code that makes the data; formats in
`fsnn_theory.numbers`). It writes, under ``--out`` (default ``paper/generated``):

``figures/<name>.pdf``
    a copy of ``results/<name>/figure.pdf`` for every registered experiment;
``numbers.tex``
    ``\ResultsMode`` (quick or full: the mode the results were made in), ``\PackageVersion``, then
    one ``\newcommand{\Macro}{value}`` per number of every experiment's ``numbers``, in paper
    order, each with its meaning as a comment;
``<theorem>.tex``
    the LaTeX written by the proof checks (experiment ``proof_checks``: the statement from the
    front matter of ``proofs/<theorem>.md`` and the checked display), copied here when the results
    come from another checkout (the ``tex`` column of ``proof_checks/data.csv`` is a path relative
    to the directory holding ``results/``); already in place after ``make reproduce``.

An experiment without complete outputs (``config.json``, ``data.csv``, ``figure.pdf`` and the
``manifest.json`` that marks a finished run) is an error naming it and the command that creates
it (``fsnn reproduce --only NAME``). With ``--allow-missing`` its numbers become
``\textbf{??}`` (their macros are declared by ``numbers(None, config)``), its figure is left out
(the paper draws a framed placeholder) and a warning is printed, so a draft can be typeset from
partial results. Every file is written atomically (temp file in the same directory, then
``os.replace``).

The command line (``HELP``, ``add_arguments``, ``handler``) is in `fsnn_theory.cli.paper`, which
imports this module only when the command runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from fsnn_theory.files import read_csv_exact, write_bytes_atomic
from fsnn_theory.numbers import check_macro, fmt_text, format_value
from fsnn_theory.theory.statements import THEOREM_PARTS, macro_stem

__all__ = [
    "FIGURES_DIR",
    "NUMBERS_FILE",
    "PAPER_THEOREMS",
    "ExperimentOutput",
    "MissingExperimentError",
    "PaperInputs",
    "TeXMissingError",
    "build_paper_inputs",
    "experiment_numbers",
    "load_experiment_output",
    "macro_names",
    "missing_output_files",
    "numbers_tex",
    "results_mode",
    "theorem_stub",
    "typeset_pdf",
]

FIGURES_DIR = "figures"
NUMBERS_FILE = "numbers.tex"
# Files of a finished experiment run that this step reads (manifest.json marks the run complete).
INPUT_FILES: tuple[str, ...] = ("config.json", "data.csv", "figure.pdf", "manifest.json")
MISSING_VALUE = r"\textbf{??}"
# First line of a theorem file stubbed by --allow-missing: such a file never counts as present.
PLACEHOLDER_MARKER = "% placeholder written by `fsnn paper --allow-missing`"

# The theorem files the paper \inputs: written by proofs/check_<theorem>.py (experiment
# proof_checks) as paper/generated/<theorem>.tex.
PAPER_THEOREMS: tuple[str, ...] = (
    "spike_time_regularity",
    "ttfs_loss_smoothness",
    "no_global_lipschitz",
    "clock_driven_error",
    "federated_ttfs_convergence",
    "smoothed_federated_convergence",
    "spike_causal_communication",
)
# Macros about the results as a whole (not one experiment).
PROVENANCE_MACROS: tuple[str, ...] = ("ResultsMode", "PackageVersion")


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentOutput:
    """What one finished experiment left in ``results/<name>/``: its data and its config.

    ``config`` is the experiment's own config (``config.json["config"]``); ``mode`` is "quick" or
    "full" and ``package_version`` the version that wrote it.
    """

    name: str
    mode: str
    package_version: str
    config: dict[str, Any]
    data: pd.DataFrame
    directory: Path


class MissingExperimentError(FileNotFoundError):
    """Experiments whose outputs the paper needs are missing; the message names each one and the
    command that creates it (``fsnn reproduce --only NAME ...``).

    ``missing`` maps an experiment to its absent files; ``theorem_files`` lists the proof checks'
    theorem .tex files that were found neither in the checkout that made the results nor in the
    output directory (they are made by the experiment ``proof_checks``).
    """

    def __init__(self, missing: Mapping[str, Sequence[str]], results: Path, theorem_files: Sequence[str] = (),
                 proof_checks_complete: bool = False):
        self.missing = dict(missing)
        self.theorem_files = list(theorem_files)
        results = Path(results)
        parts = []
        if not results.is_dir():
            parts.append(f"no results directory {results}: create the outputs of every experiment with "
                         "`fsnn reproduce` (or `make reproduce`), then rerun `fsnn paper`")
        elif self.missing:
            details = "; ".join(f"{name} (no {', '.join(files)} in {results / name})"
                                for name, files in self.missing.items())
            parts.append(f"missing output of {len(self.missing)} experiment(s): {details}. Create it with "
                         f"`fsnn reproduce --only {' '.join(self.missing)}` (add --full for paper sizes)")
        if self.theorem_files:
            command = ("`fsnn reproduce --only proof_checks --force` (its run is complete but the files are gone)"
                       if proof_checks_complete else "`fsnn reproduce --only proof_checks`")
            parts.append(f"missing theorem file(s) of the proof checks: {', '.join(self.theorem_files)}; "
                         f"create them with {command} in the checkout that holds {results}")
        super().__init__("; ".join(parts) + "; or pass --allow-missing to typeset a draft with ?? in their place")


@dataclass(frozen=True)
class PaperInputs:
    """What `build_paper_inputs` wrote: figure paths, the numbers file, theorem files, and what was missing."""

    figures: tuple[Path, ...]
    numbers: Path
    theorems: tuple[Path, ...]
    mode: str
    macros: int
    missing: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Reading results
# --------------------------------------------------------------------------------------------


def missing_output_files(directory: Path) -> list[str]:
    """The files of :data:`INPUT_FILES` absent from an experiment's output directory."""
    directory = Path(directory)
    return [f for f in INPUT_FILES if not (directory / f).is_file()]


def load_experiment_output(results: Path, name: str) -> ExperimentOutput:
    """Read ``results/<name>/{config.json,data.csv}``; `MissingExperimentError` if the run is incomplete."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty experiment name, got {name!r}")
    directory = Path(results) / name
    missing = missing_output_files(directory)
    if missing:
        raise MissingExperimentError({name: missing}, Path(results))
    rerun = f"rerun `fsnn reproduce --only {name} --force`"
    try:
        with open(directory / "config.json", encoding="utf-8") as fh:
            stored = json.load(fh)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError: name the file (issue 15, defect 8)
        raise ValueError(f"{directory / 'config.json'} is not readable JSON ({exc}); {rerun}") from None
    if not isinstance(stored, dict) or "mode" not in stored or not isinstance(stored.get("config"), dict):
        raise ValueError(f"{directory / 'config.json'}: expected the keys 'mode' and 'config' (written by fsnn reproduce)")
    try:
        data = read_csv_exact(directory / "data.csv")
    except (ValueError, LookupError) as exc:  # decoding, parse and empty-file errors of pandas
        raise ValueError(f"{directory / 'data.csv'} is not a readable CSV table ({type(exc).__name__}: {exc}); "
                         f"{rerun}") from None
    return ExperimentOutput(
        name=name, mode=str(stored["mode"]), package_version=str(stored.get("package_version", "")),
        config=stored["config"], data=data, directory=directory,
    )


def results_mode(outputs: Iterable[ExperimentOutput]) -> str:
    """The mode all results were made in ("quick" or "full"); "mixed (...)" if they differ."""
    modes = sorted({o.mode for o in outputs})
    if not modes:
        return "unknown"
    if len(modes) == 1:
        return modes[0]
    return "mixed (" + ", ".join(modes) + ")"


def _package_version(outputs: Iterable[ExperimentOutput]) -> str:
    versions = sorted({o.package_version for o in outputs if o.package_version})
    return ", ".join(versions) if versions else "unknown"


# --------------------------------------------------------------------------------------------
# Each experiment's numbers
# --------------------------------------------------------------------------------------------


def _resolve(registered: Sequence[str] | Mapping[str, ModuleType]) -> dict[str, ModuleType]:
    """Experiment name -> module, in paper order (names are looked up in the registry)."""
    if isinstance(registered, Mapping):
        return dict(registered)
    import experiments

    return {name: experiments.get(name) for name in dict.fromkeys(registered)}


def experiment_numbers(module: ModuleType, output: ExperimentOutput | None,
                       mode: str = "quick") -> dict[str, tuple[Any, str, str]]:
    """``module.numbers(data, config)`` of a finished run, or ``numbers(None, config(mode))`` (the
    macros declared, values None) when ``output`` is None; {} for a module without ``numbers``.

    Checks the contract: macro names are letters only and each entry is (value, format, meaning)."""
    numbers = getattr(module, "numbers", None)
    if numbers is None:
        return {}
    name = getattr(module, "NAME", getattr(module, "__name__", "?"))
    try:
        if output is None:
            result = numbers(None, module.config(mode if mode in ("quick", "full") else "quick"))
        else:
            result = numbers(output.data, output.config)
    except (KeyError, IndexError, TypeError) as exc:  # e.g. a column absent from data.csv
        raise ValueError(f"{name}: numbers() failed on its data.csv / config.json: {exc!r}") from exc
    if not isinstance(result, Mapping):
        raise ValueError(f"{name}: numbers() must return a dict {{macro: (value, format, meaning)}}, "
                         f"got {type(result).__name__}")
    for macro, entry in result.items():
        try:
            check_macro(macro)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[1], str)
                and isinstance(entry[2], str)):
            raise ValueError(f"{name}: numbers()[{macro!r}] must be (value, format, meaning), got {entry!r}")
    return dict(result)


def _all_numbers(modules: Mapping[str, ModuleType], outputs: Mapping[str, ExperimentOutput | None],
                 mode: str) -> dict[str, dict[str, tuple[Any, str, str]]]:
    """Every experiment's numbers, in paper order; ValueError if a macro is defined twice."""
    per_experiment = {name: experiment_numbers(module, outputs.get(name), mode) for name, module in modules.items()}
    seen: dict[str, str] = {m: "numbers.tex itself" for m in PROVENANCE_MACROS}
    for name, numbers in per_experiment.items():
        for macro in numbers:
            if macro in seen:
                raise ValueError(f"macro names must be unique; \\{macro} is defined by {seen[macro]} and {name}")
            seen[macro] = name
    return per_experiment


def macro_names(registered: Sequence[str] | Mapping[str, ModuleType], mode: str = "quick") -> list[str]:
    """Every macro `numbers_tex` defines, in the order it writes them (declared without results)."""
    per_experiment = _all_numbers(_resolve(registered), {}, mode)
    return [*PROVENANCE_MACROS, *(m for numbers in per_experiment.values() for m in numbers)]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _comment(text: str) -> str:
    return " ".join(str(text).split()).replace("%", "per cent")


def numbers_tex(outputs: Mapping[str, ExperimentOutput | None], registered: Sequence[str] | Mapping[str, ModuleType],
                results_label: str = "results") -> str:
    r"""The text of ``numbers.tex``: ``\ResultsMode``, ``\PackageVersion`` and one ``\newcommand``
    per number of every registered experiment's ``numbers``, grouped per experiment in paper order.

    ``outputs`` maps an experiment name to its output, or to None when it is missing (its macros
    become ``\textbf{??}``); an experiment that is absent from the mapping counts as missing too.
    A ValueError from a computation names the experiment and the macro.
    """
    present = [o for o in outputs.values() if o is not None]
    mode = results_mode(present)
    lines = [
        f"% Generated by `fsnn paper` from {_comment(results_label)}/<experiment>/{{data.csv,config.json}}. Do not edit:",
        "% rerun `make paper` (after `make reproduce`). One macro per number the paper quotes.",
        "",
        f"\\newcommand{{\\ResultsMode}}{{{fmt_text(mode) if present else MISSING_VALUE}}}"
        "  % quick or full: the mode of fsnn reproduce",
        f"\\newcommand{{\\PackageVersion}}{{{fmt_text(_package_version(present)) if present else MISSING_VALUE}}}",
    ]
    for name, numbers in _all_numbers(_resolve(registered), outputs, mode).items():
        if not numbers:
            continue
        lines += ["", f"% ---- {name}"]
        for macro, (value, fmt, meaning) in numbers.items():
            text = MISSING_VALUE if outputs.get(name) is None else format_value(value, fmt)
            lines.append(f"\\newcommand{{\\{macro}}}{{{text}}}  % {_comment(meaning)}")
    return "\n".join(lines) + "\n"


def _theorem_sources(results: Path, proof_checks: ExperimentOutput | None) -> dict[str, Path]:
    """Where the proof checks wrote each theorem's .tex: ``tex`` of proof_checks/data.csv, a path
    relative to the checkout that ran them (the directory holding ``results/``)."""
    if proof_checks is None or "tex" not in proof_checks.data.columns:
        return {}
    root = Path(results).resolve().parent
    return {str(r.proof): root / str(r.tex) for r in proof_checks.data.itertuples()}


def is_theorem_file(path: Path | None) -> bool:
    """True if ``path`` is a theorem .tex written by a proof check (not an --allow-missing stub)."""
    if path is None or not Path(path).is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as fh:
        return not fh.readline().startswith(PLACEHOLDER_MARKER)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def theorem_file_sources(results: Path, out: Path, proof_checks: ExperimentOutput | None) -> dict[str, Path | None]:
    """For each theorem of :data:`PAPER_THEOREMS`: the proof check's .tex to use (in the checkout
    that made ``results``, else already in ``out``), or None if neither is a real theorem file."""
    sources = _theorem_sources(results, proof_checks)
    plan: dict[str, Path | None] = {}
    for theorem in PAPER_THEOREMS:
        candidates = (sources.get(theorem), Path(out) / f"{theorem}.tex")
        plan[theorem] = next((c for c in candidates if is_theorem_file(c)), None)
    return plan


def copy_figures(results: Path, out: Path, outputs: Mapping[str, ExperimentOutput | None],
                 registered: Sequence[str]) -> list[Path]:
    """``results/<name>/figure.pdf`` -> ``out/figures/<name>.pdf`` for every registered experiment
    with outputs; the copy of a missing one is removed, so no figure outlives its numbers."""
    figures = []
    for name in registered:
        dest = Path(out) / FIGURES_DIR / f"{name}.pdf"
        if outputs.get(name) is None:
            dest.unlink(missing_ok=True)
            continue
        figures.append(write_bytes_atomic((Path(results) / name / "figure.pdf").read_bytes(), dest))
    return figures


def place_theorem_files(out: Path, plan: Mapping[str, Path | None]) -> list[Path]:
    """Put each theorem's .tex at ``out/<theorem>.tex`` (copied unless it is already there); a
    missing one becomes a stub that prints ?? (and never counts as present later)."""
    placed = []
    for theorem, source in plan.items():
        dest = Path(out) / f"{theorem}.tex"
        if source is None:
            write_bytes_atomic(theorem_stub(theorem).encode("utf-8"), dest)
        elif not _same_file(source, dest):
            write_bytes_atomic(source.read_bytes(), dest)
        placed.append(dest)
    return placed


def theorem_stub(theorem: str) -> str:
    r"""The ``<theorem>.tex`` written by --allow-missing when the proof check's is absent: the
    macros a real one defines (`statements.THEOREM_PARTS`), each printing ``\textbf{??}``."""
    text = f"{MISSING_VALUE}~(proof check output {fmt_text(theorem)}.tex missing)"
    stem = macro_stem(theorem)
    return "\n".join([f"{PLACEHOLDER_MARKER}: run the proof checks",
                      *(f"\\newcommand{{\\{stem}{part}}}{{{text}}}" for part in THEOREM_PARTS)]) + "\n"


def build_paper_inputs(results: Path, out: Path, registered: Sequence[str] | Mapping[str, ModuleType],
                       allow_missing: bool = False,
                       warn: Callable[[str], None] | None = None) -> PaperInputs:
    r"""Copy figures, place the theorem .tex files and write ``numbers.tex`` under ``out``.

    ``registered`` is the list of experiments in paper order (``experiments.EXPERIMENT_NAMES``), or
    a mapping name -> experiment module.
    Raises `MissingExperimentError` (naming every missing experiment and the command that creates
    it) unless ``allow_missing``; then ``warn`` is called once per missing item, the missing
    numbers are ``\textbf{??}``, a stale copy of a missing figure is removed (the paper draws a
    placeholder instead) and a missing theorem file is replaced by a ``??`` stub. Everything is
    read and computed before the first file is written, so an error leaves ``out`` as it was.
    """
    results, out = Path(results), Path(out)
    modules = _resolve(registered)
    warn = warn or (lambda msg: None)
    outputs: dict[str, ExperimentOutput | None] = {}
    missing: dict[str, list[str]] = {}
    for name in modules:
        files = missing_output_files(results / name)
        if files:
            missing[name] = files
        outputs[name] = None if files else load_experiment_output(results, name)

    theorem_plan = theorem_file_sources(results, out, outputs.get("proof_checks"))
    missing_theorems = [f"{out / t}.tex" for t, src in theorem_plan.items() if src is None]
    if (missing or missing_theorems) and not allow_missing:
        raise MissingExperimentError(missing, results, missing_theorems,
                                     proof_checks_complete=outputs.get("proof_checks") is not None)
    for name, files in missing.items():
        warn(f"experiment {name} has no complete output ({', '.join(files)} missing under {results / name}): "
             f"its numbers are ?? and its figure a placeholder; create it with `fsnn reproduce --only {name}`")
    if missing_theorems:
        warn(f"no theorem file {', '.join(missing_theorems)}: the paper prints ?? in its place; "
             "create them with `fsnn reproduce --only proof_checks --force`")

    text = numbers_tex(outputs, modules, results_label=str(results))  # may raise: before any file is written
    figures = copy_figures(results, out, outputs, list(modules))
    theorems = place_theorem_files(out, theorem_plan)
    numbers_path = write_bytes_atomic(text.encode("utf-8"), out / NUMBERS_FILE)
    mode = results_mode(o for o in outputs.values() if o is not None)
    if mode.startswith("mixed"):
        warn(f"the results mix modes ({mode}); the paper says so through \\ResultsMode. "
             "Rerun everything in one mode: `fsnn reproduce --quick` or `--full`")
    missing_items = (*missing, *(["proof_checks"] if missing_theorems and "proof_checks" not in missing else []))
    return PaperInputs(figures=tuple(figures), numbers=numbers_path, theorems=tuple(theorems), mode=mode,
                       macros=text.count("\\newcommand"), missing=tuple(missing_items))


# --------------------------------------------------------------------------------------------
# Typesetting the PDF (needs a TeX installation)
# --------------------------------------------------------------------------------------------

PAPER_SOURCE = "fsnn_theory.tex"
TEX_INSTALL_HINT = (
    "typesetting needs latexmk and LaTeX with the packages the paper uses: on Debian/Ubuntu "
    "`apt-get install texlive-latex-extra latexmk` (and `poppler-utils` for the ?? check of the PDF text); "
    "elsewhere TeX Live or MiKTeX with latexmk"
)
_UNDEFINED = re.compile(r"(?:Reference|Citation) [`'][^']*' on page \d+ undefined|There were undefined references")


class TeXMissingError(RuntimeError):
    """No ``latexmk`` on the PATH; the message says what to install."""


def typeset_pdf(paper_dir: str | os.PathLike[str], source: str = PAPER_SOURCE) -> Path:
    """Typeset ``paper_dir/source`` with latexmk and return the PDF's path.

    Raises `TeXMissingError` (what to install) when latexmk is absent, and ``ValueError`` naming
    the problem when the run fails (a missing figure or macro stops it: ``-halt-on-error``), when
    the log reports an undefined reference or citation, or when the PDF text shows ``??`` (a
    reference LaTeX could not resolve, or a number that ``--allow-missing`` left out).
    """
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        raise TeXMissingError(f"latexmk not found; {TEX_INSTALL_HINT}")
    paper_dir = Path(paper_dir)
    tex = paper_dir / source
    if not tex.is_file():
        raise ValueError(f"no paper source at {tex}")
    proc = subprocess.run(
        [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", source],
        cwd=paper_dir, capture_output=True, text=True, errors="replace",
    )
    log_path = tex.with_suffix(".log")
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
    if proc.returncode != 0:
        errors = [line for line in log.splitlines() if line.startswith("!")] or proc.stdout.splitlines()[-5:]
        raise ValueError(f"latexmk failed on {tex} (exit {proc.returncode}): " + " | ".join(errors[:5]))
    undefined = sorted(set(_UNDEFINED.findall(log)))
    if undefined:
        raise ValueError(f"{tex}: " + "; ".join(undefined[:5]))
    pdf = tex.with_suffix(".pdf")
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:
        text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, errors="replace").stdout
        if "??" in text:
            raise ValueError(f"{pdf} shows ?? (an unresolved reference or a missing number)")
    return pdf
