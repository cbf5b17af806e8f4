r"""``fsnn paper``: feed ``paper/`` from the experiments' outputs (figures and every quoted number).

    fsnn paper [--results DIR] [--out DIR] [--allow-missing]

The project rule is that every figure is made by a script from data the script wrote, and every
number the paper quotes comes from the experiments' outputs. This step is the only bridge between
``results/`` (written by ``fsnn reproduce``) and the LaTeX sources in ``paper/``. It writes, under
``--out`` (default ``paper/generated``):

``figures/<name>.pdf``
    a copy of ``results/<name>/figure.pdf`` for every registered experiment;
``numbers.tex``
    one ``\newcommand{\Macro}{value}`` per number in :data:`PAPER_NUMBERS`, each computed from the
    experiment's ``data.csv`` / ``config.json`` by a small named function below, plus
    ``\ResultsMode`` (quick or full: the mode the results were made in) and ``\PackageVersion``;
``<theorem>.tex``
    the LaTeX written by the proof checks (experiment ``proof_checks``), copied here when the
    results come from another checkout (the ``tex`` column of ``proof_checks/data.csv`` is a path
    relative to the directory holding ``results/``); already in place after ``make reproduce``.

An experiment without complete outputs (``config.json``, ``data.csv``, ``figure.pdf`` and the
``manifest.json`` that marks a finished run) is an error naming it and the command that creates
it (``fsnn reproduce --only NAME``). With ``--allow-missing`` its numbers become
``\textbf{??}``, its figure is left out (the paper draws a framed placeholder) and a warning is
printed, so a draft can be typeset from partial results. Every file is written atomically (temp
file in the same directory, then ``os.replace``).

Macro names are letters only (LaTeX control words). Numbers are formatted for text mode:
accuracies and densities in per cent without the sign, thousands grouped as ``12{,}345``, and
magnitudes outside [0.001, 10^5) as ``\ensuremath{1.23\times 10^{6}}``.

The command line (``HELP``, ``add_arguments``, ``handler``) is in `fsnn_theory.cli.paper`, which
imports this module only when the command runs.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fsnn_theory.files import read_csv_exact, write_bytes_atomic

__all__ = [
    "FIGURES_DIR",
    "NUMBERS_FILE",
    "PAPER_THEOREMS",
    "PAPER_NUMBERS",
    "ExperimentOutput",
    "MissingExperimentError",
    "PaperNumber",
    "PaperInputs",
    "build_paper_inputs",
    "load_experiment_output",
    "macro_names",
    "missing_output_files",
    "numbers_tex",
    "paper_experiments",
    "results_mode",
]

FIGURES_DIR = "figures"
NUMBERS_FILE = "numbers.tex"
# Files of a finished experiment run that this step reads (manifest.json marks the run complete).
INPUT_FILES: tuple[str, ...] = ("config.json", "data.csv", "figure.pdf", "manifest.json")
MISSING_VALUE = r"\textbf{??}"
# First line of a theorem file stubbed by --allow-missing: such a file never counts as present.
PLACEHOLDER_MARKER = "% placeholder written by `fsnn paper --allow-missing`"

# The theorem summaries the paper \inputs: written by proofs/check_<theorem>.py (experiment
# proof_checks) as paper/generated/<theorem>.tex.
PAPER_THEOREMS: tuple[str, ...] = (
    "spike_time_regularity",
    "ttfs_loss_smoothness",
    "no_global_lipschitz",
    "clock_driven_error",
    "federated_ttfs_convergence",
    "spike_causal_communication",
)

_MACRO_PATTERN = re.compile(r"[A-Za-z]+")


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


@dataclass(frozen=True)
class PaperNumber:
    r"""One number the paper quotes: ``\macro`` = ``fmt(compute(output))`` of experiment ``experiment``.

    ``meaning`` is written as a comment next to the macro in ``numbers.tex``, so a reader of the
    generated file sees what each value is and where it comes from.
    """

    macro: str
    experiment: str
    meaning: str
    compute: Callable[[ExperimentOutput], Any]
    fmt: Callable[[Any], str]

    def __post_init__(self) -> None:
        if not isinstance(self.macro, str) or not _MACRO_PATTERN.fullmatch(self.macro):
            raise ValueError(f"macro must be a LaTeX control word (letters only), got {self.macro!r}")


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


def fmt_latex(x: Any) -> str:
    """A value that is already LaTeX (display names built in this module)."""
    return str(x)


fmt_order = partial(fmt_fixed, digits=2)
fmt_ratio = partial(fmt_fixed, digits=1)


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
    with open(directory / "config.json", encoding="utf-8") as fh:
        stored = json.load(fh)
    if not isinstance(stored, dict) or "mode" not in stored or not isinstance(stored.get("config"), dict):
        raise ValueError(f"{directory / 'config.json'}: expected the keys 'mode' and 'config' (written by fsnn reproduce)")
    return ExperimentOutput(
        name=name, mode=str(stored["mode"]), package_version=str(stored.get("package_version", "")),
        config=stored["config"], data=read_csv_exact(directory / "data.csv"), directory=directory,
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
# Small helpers on result tables
# --------------------------------------------------------------------------------------------


def _rows(data: pd.DataFrame, experiment: str, **where: Any) -> pd.DataFrame:
    """The rows with ``column == value`` for every keyword; ValueError naming what is absent."""
    mask = np.ones(len(data), dtype=bool)
    for column, value in where.items():
        if column not in data.columns:
            raise ValueError(f"{experiment}: data.csv has no column {column!r} (columns: {', '.join(data.columns)})")
        col = data[column]
        if isinstance(value, float):
            mask &= np.isclose(col.astype(float), value, rtol=0.0, atol=1e-12)
        else:
            mask &= (col == value).to_numpy()
    rows = data.loc[mask]
    if rows.empty:
        condition = ", ".join(f"{k} = {v!r}" for k, v in where.items())
        raise ValueError(f"{experiment}: data.csv has no row with {condition}")
    return rows


def final_round_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The last row of every run of a federated history: the state after the last round. A run is
    a ``label``, or a (``label``, ``seed``) pair where the experiment repeats runs over seeds."""
    keys = ["label", "seed"] if "seed" in data.columns else ["label"]
    return data.sort_values("round", kind="stable").groupby(keys, sort=False).tail(1)


def final_test_accuracy(output: ExperimentOutput, label: str) -> float:
    """Test accuracy of the federated run ``label`` after its last round; the mean over seeds
    where the run is repeated (what the experiment's figure reports)."""
    final = final_round_rows(_rows(output.data, output.name, label=label))
    return float(final["test_accuracy"].mean())


def run_seeds(output: ExperimentOutput, label: str) -> int:
    """How many seeds the federated run ``label`` was repeated for (1 without a ``seed`` column)."""
    rows = _rows(output.data, output.name, label=label)
    return int(rows["seed"].nunique()) if "seed" in rows.columns else 1


def config_value(output: ExperimentOutput, *path: str | int) -> Any:
    """``config[path[0]][path[1]]...`` of the experiment's config.json, with a clear error if absent."""
    value: Any = output.config
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"{output.name}: config.json has no entry {'/'.join(map(str, path))}") from None
    return value


def from_config(*path: str | int) -> Callable[[ExperimentOutput], Any]:
    """A number read from the experiment's config.json (sizes, rounds, constants the text quotes)."""

    def read(output: ExperimentOutput) -> Any:
        return config_value(output, *path)

    read.__name__ = "config_" + "_".join(map(str, path))
    return read


def _join_numbers(values: Iterable[Any]) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


# --------------------------------------------------------------------------------------------
# spike_time_precision: convergence orders of Brian2 against the closed forms
# --------------------------------------------------------------------------------------------

PRECISION_MODELS = {"nlif": "NLIF", "lif_alpha": "LIFAlpha", "lif_2to1": "LIFTwoToOne", "lif_3to1": "LIFThreeToOne"}
PRECISION_MODES = {"none": "Plain", "linear": "Linear", "cubic": "Cubic"}
# Which error statistic converges cleanly, per reference (as in experiments/spike_time_precision.py).
PRECISION_STATISTIC = {"threshold": "max_error", "end_to_end": "median_error"}


def convergence_order(output: ExperimentOutput, model: str, mode: str, reference: str) -> float:
    """Least-squares slope of log(error) against log(dt): the fitted order of one model and mode.

    The statistic is the max error for the threshold term and the median error end to end (the
    figure's legend shows the same fit).
    """
    rows = _rows(output.data, output.name, model=model, mode=mode, reference=reference)
    column = PRECISION_STATISTIC[reference]
    rows = rows[rows[column] > 0]
    if len(rows) < 2:
        return math.nan
    return float(np.polyfit(np.log(rows["dt"].astype(float)), np.log(rows[column].astype(float)), 1)[0])


def decision_mismatches(output: ExperimentOutput) -> int:
    """Spike/no-spike disagreements between Brian2 and the closed form, over every run."""
    return int(output.data["decision_mismatches"].sum())


def finest_dt(output: ExperimentOutput) -> float:
    """The smallest simulation time step of the sweep (ms)."""
    return float(output.data["dt"].min())


def coarsest_dt(output: ExperimentOutput) -> float:
    """The largest simulation time step of the sweep (ms)."""
    return float(output.data["dt"].max())


def cubic_max_error_at_finest_dt(output: ExperimentOutput) -> float:
    """Largest threshold-term error of cubic interpolation at the finest dt, over all models (ms)."""
    d = output.data
    rows = _rows(d, output.name, mode="cubic", reference="threshold")
    return float(rows.loc[rows["dt"] == rows["dt"].min(), "max_error"].max())


def _spike_time_precision_numbers() -> list[PaperNumber]:
    exp = "spike_time_precision"
    numbers = []
    for model, model_name in PRECISION_MODELS.items():
        for mode, mode_name in PRECISION_MODES.items():
            numbers.append(PaperNumber(
                f"Order{model_name}{mode_name}", exp,
                f"fitted order of the threshold-term error, {model}, {mode} crossing",
                partial(convergence_order, model=model, mode=mode, reference="threshold"), fmt_order))
            if mode != "cubic":  # the experiment runs end to end without cubic (dominated by input rounding)
                numbers.append(PaperNumber(
                    f"Order{model_name}{mode_name}EndToEnd", exp,
                    f"fitted order of the end-to-end median error, {model}, {mode} crossing",
                    partial(convergence_order, model=model, mode=mode, reference="end_to_end"), fmt_order))
    numbers += [
        PaperNumber("PrecisionDecisionMismatches", exp, "spike/no-spike disagreements, all runs",
                    decision_mismatches, fmt_int),
        PaperNumber("PrecisionFinestDt", exp, "finest time step (ms)", finest_dt, fmt_magnitude),
        PaperNumber("PrecisionCoarsestDt", exp, "coarsest time step (ms)", coarsest_dt, fmt_magnitude),
        PaperNumber("PrecisionCubicMaxErrorFinestDt", exp, "max cubic error at the finest dt, all models (ms)",
                    cubic_max_error_at_finest_dt, fmt_magnitude),
    ]
    return numbers


# --------------------------------------------------------------------------------------------
# yin_yang_training, digits_training: training curves
# --------------------------------------------------------------------------------------------


def selected_test_accuracy(output: ExperimentOutput) -> float:
    """Median over seeds of the test accuracy at each seed's best validation epoch (the reported one)."""
    selected = output.data.loc[output.data["selected"].astype(bool)]
    if selected.empty:
        raise ValueError(f"{output.name}: data.csv marks no selected (best validation) epoch")
    return float(np.median(selected["test_accuracy"]))


def final_epoch_test_accuracy(output: ExperimentOutput) -> float:
    """Median over seeds of the test accuracy after the last epoch."""
    last = output.data.sort_values("epoch", kind="stable").groupby("seed").tail(1)
    return float(np.median(last["test_accuracy"]))


def selected_silent_fraction(output: ExperimentOutput) -> float:
    """Median over seeds of the fraction of silent neurons at the best validation epoch."""
    selected = output.data.loc[output.data["selected"].astype(bool)]
    return float(np.median(selected["silent_fraction"]))


def training_epochs(output: ExperimentOutput) -> int:
    """Epochs trained (the largest epoch index)."""
    return int(output.data["epoch"].max())


def training_seeds(output: ExperimentOutput) -> int:
    """Number of seeds (independent trainings)."""
    return int(output.data["seed"].nunique())


def network_shape(output: ExperimentOutput, n_in: int, n_out: int) -> str:
    """Layer sizes ``n_in-hidden...-n_out`` of the trained network, from the recipe in config.json."""
    hidden = config_value(output, "recipe", "hidden")
    return "-".join(str(s) for s in [n_in, *hidden, n_out])


def _training_numbers(exp: str, prefix: str, n_in: int, n_out: int) -> list[PaperNumber]:
    return [
        PaperNumber(f"{prefix}TestAccuracy", exp, "test accuracy at the best validation epoch, median of seeds (%)",
                    selected_test_accuracy, fmt_percent),
        PaperNumber(f"{prefix}FinalTestAccuracy", exp, "test accuracy after the last epoch, median of seeds (%)",
                    final_epoch_test_accuracy, fmt_percent),
        PaperNumber(f"{prefix}SilentPercent", exp, "silent neurons at the best validation epoch, median (%)",
                    selected_silent_fraction, fmt_percent),
        PaperNumber(f"{prefix}Epochs", exp, "training epochs", training_epochs, fmt_int),
        PaperNumber(f"{prefix}Seeds", exp, "seeds", training_seeds, fmt_int),
        PaperNumber(f"{prefix}Shape", exp, "layer sizes", partial(network_shape, n_in=n_in, n_out=n_out), fmt_text),
    ]


# --------------------------------------------------------------------------------------------
# decision_regions, spike_raster
# --------------------------------------------------------------------------------------------


def decision_test_accuracy(output: ExperimentOutput) -> float:
    """Accuracy on the Yin-Yang test points drawn over the decision regions."""
    test = _rows(output.data, output.name, kind="test")
    return float((test["label"] == test["prediction"]).mean())


def decision_misclassified(output: ExperimentOutput) -> int:
    """Number of misclassified test points (circled in the figure)."""
    test = _rows(output.data, output.name, kind="test")
    return int((test["label"] != test["prediction"]).sum())


def raster_hidden_firing_fraction(output: ExperimentOutput) -> float:
    """Mean over the shown samples of the fraction of hidden neurons (bias excluded) that spike."""
    hidden = _rows(output.data, output.name, layer="hidden")
    hidden = hidden.loc[~hidden["is_bias"].astype(bool)]
    return float((hidden["time"] >= 0).groupby(hidden["sample"]).mean().mean())


def raster_correct_samples(output: ExperimentOutput) -> int:
    """How many of the shown samples (one per class) the network classifies correctly."""
    per_sample = output.data.groupby("sample")[["label", "prediction"]].first()
    return int((per_sample["label"] == per_sample["prediction"]).sum())


def raster_samples(output: ExperimentOutput) -> int:
    """Number of samples shown in the raster."""
    return int(output.data["sample"].nunique())


# --------------------------------------------------------------------------------------------
# energy_per_inference
# --------------------------------------------------------------------------------------------

ENERGY_DATASETS = {"yin-yang": "YinYang", "digits": "Digits"}


def _energy_row(output: ExperimentOutput, dataset: str, network: str, counting: str) -> pd.Series:
    return _rows(output.data, output.name, dataset=dataset, network=network, counting=counting).iloc[0]


def energy_value(output: ExperimentOutput, dataset: str, network: str, counting: str, column: str) -> Any:
    """One cell of the energy table: ``column`` of (data set, network, counting)."""
    return _energy_row(output, dataset, network, counting)[column]


def energy_ratio(output: ExperimentOutput, dataset: str, counting: str) -> float:
    """ANN energy (dense MACs) divided by the SNN energy (synaptic events counted as ``counting``)."""
    ann = float(_energy_row(output, dataset, "ann", "dense MACs")["energy_pj"])
    snn = float(_energy_row(output, dataset, "snn", counting)["energy_pj"])
    return ann / snn


def _energy_numbers() -> list[PaperNumber]:
    exp = "energy_per_inference"
    numbers = [
        PaperNumber("EnergyPerSynOp", exp, "energy per synaptic event (pJ, Horowitz 2014)",
                    from_config("energy_per_synop_pj"), partial(fmt_fixed, digits=1)),
        PaperNumber("EnergyPerMAC", exp, "energy per multiply-accumulate (pJ, Horowitz 2014)",
                    from_config("energy_per_mac_pj"), partial(fmt_fixed, digits=1)),
    ]
    for dataset, name in ENERGY_DATASETS.items():
        cell = partial(energy_value, dataset=dataset)
        numbers += [
            PaperNumber(f"Energy{name}Shape", exp, f"{dataset}: layer sizes",
                        partial(cell, network="snn", counting="all spikes", column="shape"), fmt_text),
            PaperNumber(f"Energy{name}SynOps", exp, f"{dataset}: SNN synaptic events per inference (all spikes)",
                        partial(cell, network="snn", counting="all spikes", column="ops_per_inference"), fmt_int),
            PaperNumber(f"Energy{name}SynOpsDecision", exp, f"{dataset}: SNN synaptic events before the decision",
                        partial(cell, network="snn", counting="until decision", column="ops_per_inference"), fmt_int),
            PaperNumber(f"Energy{name}MACs", exp, f"{dataset}: ANN multiply-accumulates per inference",
                        partial(cell, network="ann", counting="dense MACs", column="ops_per_inference"), fmt_int),
            PaperNumber(f"Energy{name}SNNpJ", exp, f"{dataset}: SNN energy per inference, all spikes (pJ)",
                        partial(cell, network="snn", counting="all spikes", column="energy_pj"), fmt_int),
            PaperNumber(f"Energy{name}SNNDecisionpJ", exp, f"{dataset}: SNN energy until the decision (pJ)",
                        partial(cell, network="snn", counting="until decision", column="energy_pj"), fmt_int),
            PaperNumber(f"Energy{name}ANNpJ", exp, f"{dataset}: ANN energy per inference (pJ)",
                        partial(cell, network="ann", counting="dense MACs", column="energy_pj"), fmt_int),
            PaperNumber(f"Energy{name}Ratio", exp, f"{dataset}: ANN energy / SNN energy (all spikes)",
                        partial(energy_ratio, dataset=dataset, counting="all spikes"), fmt_ratio),
            PaperNumber(f"Energy{name}RatioDecision", exp, f"{dataset}: ANN energy / SNN energy (until decision)",
                        partial(energy_ratio, dataset=dataset, counting="until decision"), fmt_ratio),
            PaperNumber(f"Energy{name}SNNAccuracy", exp, f"{dataset}: SNN test accuracy (%)",
                        partial(cell, network="snn", counting="all spikes", column="test_accuracy"), fmt_percent),
            PaperNumber(f"Energy{name}ANNAccuracy", exp, f"{dataset}: ANN test accuracy (%)",
                        partial(cell, network="ann", counting="dense MACs", column="test_accuracy"), fmt_percent),
        ]
    return numbers


# --------------------------------------------------------------------------------------------
# regularity_check: Theorem 1, Corollary 1, Theorem 2 against the engine
# --------------------------------------------------------------------------------------------

LOSS_CHECKS = ("loss gradient G", "loss smoothness L")
DISCRETISATION_METHODS = {"plain": "Plain", "linear": "Linear", "Hermite": "Hermite"}


def regularity_rows(output: ExperimentOutput, theorem: str) -> pd.DataFrame:
    """Rows of one result: "theorem1" (spike-time derivatives), "corollary1" (the loss), "theorem2" (dt)."""
    d = output.data
    has_dt = d["dt"].notna()
    is_loss = d["check"].isin(LOSS_CHECKS)
    masks = {"theorem1": ~has_dt & ~is_loss, "corollary1": ~has_dt & is_loss, "theorem2": has_dt}
    if theorem not in masks:
        raise ValueError(f"theorem must be one of {', '.join(masks)}, got {theorem!r}")
    rows = d.loc[masks[theorem]]
    if rows.empty:
        raise ValueError(f"{output.name}: data.csv has no rows of {theorem}")
    return rows


def regularity_violations(output: ExperimentOutput, theorem: str) -> int:
    """Samples on the wrong side of a bound (must be 0), summed over the rows of ``theorem``."""
    return int(regularity_rows(output, theorem)["violations"].sum())


def regularity_comparisons(output: ExperimentOutput, theorem: str) -> int:
    """Measured values held against a bound, summed over the rows of ``theorem``."""
    return int(regularity_rows(output, theorem)["samples"].sum())


def regularity_median_slack(output: ExperimentOutput, theorem: str, constants: str, checks: Sequence[str] | None = None,
                            statistic: str = "median") -> float:
    """Median over models and checks of the per-row median slack bound/measured (1 = tight).

    Only upper bounds with the given ``constants`` ("instance" or "class"); ``checks`` restricts to
    those check names. ``statistic`` "min" / "max" returns the smallest / largest per-row median instead.
    """
    rows = regularity_rows(output, theorem)
    rows = rows.loc[(rows["kind"] == "upper") & (rows["constants"] == constants)]
    if checks is not None:
        rows = rows.loc[rows["check"].isin(checks)]
    values = rows["median_slack"].dropna().astype(float)
    if values.empty:
        raise ValueError(f"{output.name}: no {constants} upper-bound rows of {theorem} for checks {checks}")
    return float({"median": np.median, "min": np.min, "max": np.max}[statistic](values))


def regularity_worst_slack(output: ExperimentOutput, theorem: str, checks: Sequence[str] | None = None,
                           method: str | None = None) -> float:
    """Smallest slack bound/measured over every sample of the rows (instance constants): how close
    the bound comes to being attained. ``method`` picks the discretisation rows by their first word."""
    rows = regularity_rows(output, theorem)
    rows = rows.loc[(rows["kind"] == "upper") & (rows["constants"] == "instance")]
    if checks is not None:
        rows = rows.loc[rows["check"].isin(checks)]
    if method is not None:
        rows = rows.loc[rows["check"].str.split().str[0].str.rstrip(":") == method]
    values = rows["min_slack"].dropna().astype(float)
    if values.empty:
        raise ValueError(f"{output.name}: no instance upper-bound rows of {theorem} for {checks or method}")
    return float(values.min())


def regularity_models(output: ExperimentOutput) -> int:
    """Number of neuron models checked."""
    return int(output.data["model"].nunique())


def regularity_dt(output: ExperimentOutput, which: str) -> float:
    """Finest ("min") or coarsest ("max") time step of the Theorem 2 rows (ms)."""
    dts = regularity_rows(output, "theorem2")["dt"].astype(float)
    return float(dts.min() if which == "min" else dts.max())


def _regularity_numbers() -> list[PaperNumber]:
    exp = "regularity_check"
    numbers = []
    for theorem, name in (("theorem1", "ThmOne"), ("corollary1", "CorOne"), ("theorem2", "ThmTwo")):
        numbers += [
            PaperNumber(f"Regularity{name}Violations", exp, f"{theorem}: violations (must be 0)",
                        partial(regularity_violations, theorem=theorem), fmt_int),
            PaperNumber(f"Regularity{name}Comparisons", exp, f"{theorem}: measured values held against a bound",
                        partial(regularity_comparisons, theorem=theorem), fmt_int),
        ]
    slack = regularity_median_slack
    numbers += [
        PaperNumber("RegularityModels", exp, "neuron models checked", regularity_models, fmt_int),
        PaperNumber("RegularityThmOneMedianSlack", exp, "Theorem 1, instance constants: median slack",
                    partial(slack, theorem="theorem1", constants="instance"), fmt_ratio),
        PaperNumber("RegularityThmOneClassSlackMin", exp, "Theorem 1, class constants: smallest median slack",
                    partial(slack, theorem="theorem1", constants="class", statistic="min"), fmt_magnitude),
        PaperNumber("RegularityThmOneClassSlackMax", exp, "Theorem 1, class constants: largest median slack",
                    partial(slack, theorem="theorem1", constants="class", statistic="max"), fmt_magnitude),
        PaperNumber("RegularityEntryWorstSlack", exp, "Theorem 1 (a) entry bound: smallest slack (1 = attained)",
                    partial(regularity_worst_slack, theorem="theorem1", checks=["dt*/dw entry"]),
                    partial(fmt_fixed, digits=3)),
        PaperNumber("RegularityHessianMedianSlack", exp, "Theorem 1 (d) Hessian bound: median slack (instance)",
                    partial(slack, theorem="theorem1", constants="instance", checks=["Hessian spectral"]), fmt_ratio),
        PaperNumber("RegularityLossGMedianSlack", exp, "Corollary 1 G: median slack (instance)",
                    partial(slack, theorem="corollary1", constants="instance", checks=["loss gradient G"]), fmt_ratio),
        PaperNumber("RegularityLossLMedianSlack", exp, "Corollary 1 L: median slack (instance)",
                    partial(slack, theorem="corollary1", constants="instance", checks=["loss smoothness L"]), fmt_ratio),
        PaperNumber("RegularityLossLClassSlack", exp, "Corollary 1 L: median slack (class constants)",
                    partial(slack, theorem="corollary1", constants="class", checks=["loss smoothness L"]),
                    fmt_magnitude),
        PaperNumber("RegularityDtMin", exp, "Theorem 2: finest dt (ms)", partial(regularity_dt, which="min"),
                    fmt_magnitude),
        PaperNumber("RegularityDtMax", exp, "Theorem 2: coarsest dt (ms)", partial(regularity_dt, which="max"),
                    fmt_magnitude),
    ]
    for method, name in DISCRETISATION_METHODS.items():
        numbers.append(PaperNumber(
            f"Regularity{name}WorstSlack", exp, f"Theorem 2, {method}: smallest slack bound/error",
            partial(regularity_worst_slack, theorem="theorem2", method=method), partial(fmt_fixed, digits=2)))
    return numbers


# --------------------------------------------------------------------------------------------
# federated_ttfs_check: Theorem 3 measured
# --------------------------------------------------------------------------------------------


def local_sgd_runs(output: ExperimentOutput, column: str | None = None) -> int:
    """Number of local-SGD runs, or of runs where the boolean ``column`` holds."""
    if column is None:
        return len(output.data)
    return int(output.data[column].astype(bool).sum())


def first_causal_change(output: ExperimentOutput, which: str) -> float:
    """Earliest ("min") / latest ("max") step at which a run's first causal-set change happened
    (runs without a change, recorded as -1, are left out); NaN if no run left K that way."""
    steps = output.data["first_causal_change"]
    steps = steps[steps >= 0]
    if steps.empty:
        return math.nan
    return float(steps.min() if which == "min" else steps.max())


def local_sgd_tightness(output: ExperimentOutput, which: str) -> float:
    """Smallest ("min") / largest ("max") ratio bound / measured over the runs."""
    ratio = output.data["bound"].astype(float) / output.data["measured"].astype(float)
    return float(ratio.min() if which == "min" else ratio.max())


def local_sgd_step_size(output: ExperimentOutput) -> float:
    """The step size gamma of every run (``ttfs_local_sgd_step_size``, so gamma <= 1/L)."""
    return float(output.data["gamma"].iloc[0])


def local_sgd_margin(output: ExperimentOutput) -> float:
    """The margin s_min fixed before training (half the smallest initial slope)."""
    return float(output.data["s_min"].iloc[0])


def averaging_intervals(output: ExperimentOutput) -> str:
    """The averaging intervals I of the sweep, as a list for the text."""
    return _join_numbers(config_value(output, "intervals"))


def _ttfs_check_numbers() -> list[PaperNumber]:
    exp = "federated_ttfs_check"
    return [
        PaperNumber("LocalSGDRuns", exp, "local-SGD runs (intervals x seeds)", local_sgd_runs, fmt_int),
        PaperNumber("LocalSGDRunsMarginHeld", exp, "runs whose margins and weight bounds held throughout",
                    partial(local_sgd_runs, column="margin_held"), fmt_int),
        PaperNumber("LocalSGDRunsStayedInK", exp, "runs that stayed in K (no causal-set change)",
                    partial(local_sgd_runs, column="stayed_in_K"), fmt_int),
        PaperNumber("LocalSGDFirstChangeMin", exp, "earliest first causal-set change (step)",
                    partial(first_causal_change, which="min"), fmt_int),
        PaperNumber("LocalSGDFirstChangeMax", exp, "latest first causal-set change (step)",
                    partial(first_causal_change, which="max"), fmt_int),
        PaperNumber("LocalSGDTightnessMin", exp, "smallest bound / measured",
                    partial(local_sgd_tightness, which="min"), fmt_magnitude),
        PaperNumber("LocalSGDTightnessMax", exp, "largest bound / measured",
                    partial(local_sgd_tightness, which="max"), fmt_magnitude),
        PaperNumber("LocalSGDStepSize", exp, "step size gamma (<= 1/L)",
                    local_sgd_step_size, fmt_magnitude),
        PaperNumber("LocalSGDSmin", exp, "margin s_min", local_sgd_margin, fmt_magnitude),
        PaperNumber("LocalSGDSteps", exp, "local-SGD steps T", from_config("steps"), fmt_int),
        PaperNumber("LocalSGDWorkers", exp, "workers N", from_config("workers"), fmt_int),
        PaperNumber("LocalSGDIntervals", exp, "averaging intervals I",
                    averaging_intervals, fmt_text),
    ]


# --------------------------------------------------------------------------------------------
# spike_causal_density: Theorem 4 measured
# --------------------------------------------------------------------------------------------

CAUSAL_LAYERS = {"hidden": "Hidden", "output": "Output"}


def causal_density_max_abs_error(output: ExperimentOutput) -> float:
    """Largest |measured - predicted| density over layers and presentations M."""
    d = output.data
    return float((d["measured_density"] - d["predicted_density"]).abs().max())


def causal_density_max_error_in_se(output: ExperimentOutput) -> float:
    """Largest |measured - predicted| in units of (standard error + sampling resolution)."""
    d = output.data
    return float(((d["measured_density"] - d["predicted_density"]).abs() / (d["measured_se"] + d["resolution"])).max())


def causal_presentations(output: ExperimentOutput, which: str) -> int:
    """Smallest ("min") or largest ("max") number of sample presentations M per round."""
    return int(output.data["M"].min() if which == "min" else output.data["M"].max())


def causal_layer_value(output: ExperimentOutput, layer: str, which: str, column: str) -> float:
    """``column`` of ``layer`` at the smallest ("min") or largest ("max") M."""
    rows = _rows(output.data, output.name, layer=layer)
    m = rows["M"].min() if which == "min" else rows["M"].max()
    return float(rows.loc[rows["M"] == m, column].iloc[0])


def causal_bits_fraction(output: ExperimentOutput, layer: str, which: str, column: str) -> float:
    """Bits per message of ``column`` (measured spike-causal or QSGD bound) over dense float32 bits."""
    return causal_layer_value(output, layer, which, column) / causal_layer_value(output, layer, which, "dense_bits")


def _spike_causal_density_numbers() -> list[PaperNumber]:
    exp = "spike_causal_density"
    numbers = [
        PaperNumber("SpikeCausalMaxAbsError", exp, "largest |measured - predicted| density",
                    causal_density_max_abs_error, fmt_magnitude),
        PaperNumber("SpikeCausalMaxErrorInSE", exp, "largest error / (s.e. + resolution)",
                    causal_density_max_error_in_se, fmt_order),
        PaperNumber("SpikeCausalSmallM", exp, "smallest M", partial(causal_presentations, which="min"), fmt_int),
        PaperNumber("SpikeCausalLargeM", exp, "largest M", partial(causal_presentations, which="max"), fmt_int),
    ]
    for layer, name in CAUSAL_LAYERS.items():
        numbers.append(PaperNumber(f"SpikeCausal{name}Weights", exp, f"{layer}: weights d",
                                   partial(causal_layer_value, layer=layer, which="min", column="d"), fmt_int))
        for which, size in (("min", "SmallM"), ("max", "LargeM")):
            value = partial(causal_layer_value, layer=layer, which=which)
            numbers += [
                PaperNumber(f"SpikeCausal{name}Predicted{size}", exp, f"{layer}, {which} M: predicted density (%)",
                            partial(value, column="predicted_density"), fmt_percent),
                PaperNumber(f"SpikeCausal{name}Measured{size}", exp, f"{layer}, {which} M: measured density (%)",
                            partial(value, column="measured_density"), fmt_percent),
                PaperNumber(f"SpikeCausal{name}Bits{size}", exp,
                            f"{layer}, {which} M: spike-causal bits / dense float32 bits (%)",
                            partial(causal_bits_fraction, layer=layer, which=which, column="measured_bits"),
                            fmt_percent),
            ]
        numbers.append(PaperNumber(f"SpikeCausal{name}QSGDBits", exp,
                                   f"{layer}: QSGD (s = sqrt d) bits bound / dense float32 bits (%)",
                                   partial(causal_bits_fraction, layer=layer, which="min", column="qsgd_bits_bound"),
                                   fmt_percent))
    return numbers


# --------------------------------------------------------------------------------------------
# proof_checks
# --------------------------------------------------------------------------------------------


def proof_count(output: ExperimentOutput, passed_only: bool = False) -> int:
    """Number of proofs checked (or of those whose every step passed)."""
    d = output.data
    return int(d["passed"].astype(bool).sum()) if passed_only else len(d)


def proof_steps(output: ExperimentOutput) -> int:
    """Algebraic steps re-derived with sympy, over all proofs."""
    return int(output.data["steps"].sum())


# --------------------------------------------------------------------------------------------
# Federated experiments on Yin-Yang
# --------------------------------------------------------------------------------------------

HETEROGENEITY_LABELS = {
    "iid": "IID", "dirichlet_1.0": "DirichletOne", "dirichlet_0.5": "DirichletHalf",
    "dirichlet_0.1": "DirichletTenth", "central": "Central", "central_large_batch": "CentralLargeBatch",
}
LOCAL_STEPS_PARTITIONS = {"iid": "IID", "dirichlet_0.5": "DirichletHalf"}
LOCAL_STEPS = {1: "One", 5: "Five", 20: "Twenty"}
DROPOUT_LEVELS = {0.0: "Zero", 0.25: "TwentyFive", 0.5: "Fifty", 0.75: "SeventyFive"}
DROPOUT_PARTITION = "dirichlet_0.5"  # run in quick and full mode (full adds IID)
CAUSAL_BATCHES = {1: "One", 4: "Four", 16: "Sixteen", 64: "SixtyFour"}

COMPRESSORS = {
    "none": ("Uncompressed", "uncompressed float32"),
    "qsgd:2": ("QSGDTwo", r"QSGD ($s=2$)"),
    "qsgd:8": ("QSGDEight", r"QSGD ($s=8$)"),
    "topk:0.01": ("TopkOnePercent", r"top-$k$ (1\,\%)"),
    "topk:0.1": ("TopkTenPercent", r"top-$k$ (10\,\%)"),
    "randk:0.1": ("RandkTenPercent", r"random-$k$ (10\,\%)"),
    "int8": ("IntEight", "int8"),
    "causal": ("SpikeCausal", "spike-causal"),
}
# "Reaches the uncompressed final accuracy" means within one accuracy point (experiment docstring).
ACCURACY_TOLERANCE = 0.01


def label_heterogeneity(output: ExperimentOutput, label: str) -> float:
    """Mean total-variation distance of the clients' label distributions to the global one (mean
    over seeds where the partition is redrawn per seed)."""
    return float(final_round_rows(_rows(output.data, output.name, label=label))["mean_label_tv"].mean())


def local_steps_accuracy(output: ExperimentOutput, partition: str, local_steps: int) -> float:
    """Final test accuracy of FedAvg with ``local_steps`` local steps on ``partition``."""
    return final_test_accuracy(output, f"{partition}_E{local_steps}")


def dropout_accuracy(output: ExperimentOutput, partition: str, dropout: float) -> float:
    """Final test accuracy under client dropout probability ``dropout``."""
    rows = _rows(output.data, output.name, partition=partition, dropout=float(dropout))
    return float(rows.sort_values("round", kind="stable")["test_accuracy"].iloc[-1])


def _compression_final(output: ExperimentOutput, compressor: str) -> pd.Series:
    rows = _rows(output.data, output.name, compressor=compressor)
    return rows.sort_values("round", kind="stable").iloc[-1]


def compression_bits_ratio(output: ExperimentOutput, compressor: str) -> float:
    """Cumulative uplink bits of the uncompressed run over those of ``compressor`` (x fewer bits)."""
    none = float(_compression_final(output, "none")["cum_uplink_bits"])
    bits = float(_compression_final(output, compressor)["cum_uplink_bits"])
    return none / bits if bits > 0 else math.nan


def compression_accuracy(output: ExperimentOutput, compressor: str) -> float:
    """Final test accuracy with the uplink compressed by ``compressor``."""
    return float(_compression_final(output, compressor)["test_accuracy"])


def compression_accuracy_gap(output: ExperimentOutput, compressor: str) -> float:
    """Uncompressed final accuracy minus the compressor's (fraction; positive = worse)."""
    return compression_accuracy(output, "none") - compression_accuracy(output, compressor)


def best_compressor_within_tolerance(output: ExperimentOutput) -> str:
    """The compressor with the fewest cumulative uplink bits among those whose final accuracy is
    within :data:`ACCURACY_TOLERANCE` of the uncompressed run's (the question the experiment asks)."""
    d = output.data[["compressor", "round", "test_accuracy", "cum_uplink_bits"]]
    final = d.sort_values("round", kind="stable").groupby("compressor", sort=False).tail(1).set_index("compressor")
    if "none" not in final.index:
        raise ValueError(f"{output.name}: data.csv has no uncompressed run (compressor 'none')")
    reference = final.loc["none"]
    within = final[(reference["test_accuracy"] - final["test_accuracy"] <= ACCURACY_TOLERANCE + 1e-12)
                   & (final["cum_uplink_bits"] > 0)]
    return str(within["cum_uplink_bits"].idxmin())


def compressor_display_name(compressor: str) -> str:
    """LaTeX name of a compressor spec (e.g. ``qsgd:2`` -> QSGD ($s=2$))."""
    return COMPRESSORS[compressor][1] if compressor in COMPRESSORS else fmt_text(compressor)


def best_compressor_name(output: ExperimentOutput) -> str:
    """LaTeX name of `best_compressor_within_tolerance`."""
    return compressor_display_name(best_compressor_within_tolerance(output))


def best_compressor_bits_ratio(output: ExperimentOutput) -> float:
    """How many times fewer uplink bits `best_compressor_within_tolerance` sends than uncompressed."""
    return compression_bits_ratio(output, best_compressor_within_tolerance(output))


def causal_update_density(output: ExperimentOutput, batch_size: int) -> float:
    """Mean over rounds (after round 0) of the fraction of weights a spike-causal update sends."""
    rows = _rows(output.data, output.name, batch_size=batch_size)
    return float(rows.loc[rows["round"] > 0, "update_density"].mean())


def causal_per_sample_density(output: ExperimentOutput, column: str) -> float:
    """Mean over batch sizes of the per-sample causal density (initial or final model)."""
    return float(output.data.groupby("batch_size")[column].first().mean())


def _federated_numbers() -> list[PaperNumber]:
    numbers = []
    exp = "federated_heterogeneity"
    for label, name in HETEROGENEITY_LABELS.items():
        numbers.append(PaperNumber(f"HeterogeneityAccuracy{name}", exp, f"{label}: final test accuracy (%)",
                                   partial(final_test_accuracy, label=label), fmt_percent))
        if not label.startswith("central"):
            numbers.append(PaperNumber(f"HeterogeneityTV{name}", exp, f"{label}: mean label TV distance",
                                       partial(label_heterogeneity, label=label), fmt_order))
    numbers += [
        PaperNumber("HeterogeneityClients", exp, "clients N", from_config("base", "clients"), fmt_int),
        PaperNumber("HeterogeneityRounds", exp, "rounds", from_config("base", "rounds"), fmt_int),
        PaperNumber("HeterogeneityLocalSteps", exp, "local steps E",
                    from_config("base", "local_steps"), fmt_int),
        PaperNumber("HeterogeneityHidden", exp, "hidden neurons", from_config("base", "hidden"), fmt_int),
        PaperNumber("HeterogeneitySeeds", exp, "seeds of each run (accuracies are means over seeds)",
                    partial(run_seeds, label="iid"), fmt_int),
    ]
    exp = "federated_local_steps"
    for partition, pname in LOCAL_STEPS_PARTITIONS.items():
        for E, ename in LOCAL_STEPS.items():
            numbers.append(PaperNumber(f"LocalStepsAccuracy{pname}E{ename}", exp,
                                       f"{partition}, E = {E}: final test accuracy (%)",
                                       partial(local_steps_accuracy, partition=partition, local_steps=E), fmt_percent))
    numbers.append(PaperNumber("LocalStepsRounds", exp, "rounds", from_config("base", "rounds"), fmt_int))
    exp = "compression_tradeoff"
    for compressor, (cname, _) in COMPRESSORS.items():
        numbers += [
            PaperNumber(f"Compression{cname}Accuracy", exp, f"{compressor}: final test accuracy (%)",
                        partial(compression_accuracy, compressor=compressor), fmt_percent),
            PaperNumber(f"Compression{cname}BitsRatio", exp, f"{compressor}: x fewer uplink bits than uncompressed",
                        partial(compression_bits_ratio, compressor=compressor), fmt_ratio),
            PaperNumber(f"Compression{cname}Gap", exp, f"{compressor}: accuracy points below uncompressed",
                        partial(compression_accuracy_gap, compressor=compressor), fmt_percent),
        ]
    numbers += [
        PaperNumber("CompressionBest", exp, "fewest bits within one point of uncompressed accuracy",
                    best_compressor_name, fmt_latex),
        PaperNumber("CompressionBestBitsRatio", exp, "its x fewer uplink bits",
                    best_compressor_bits_ratio, fmt_ratio),
        PaperNumber("CompressionRounds", exp, "rounds", from_config("base", "rounds"), fmt_int),
    ]
    exp = "dropout_robustness"
    for q, qname in DROPOUT_LEVELS.items():
        numbers.append(PaperNumber(f"DropoutAccuracyQ{qname}", exp,
                                   f"{DROPOUT_PARTITION}, dropout q = {q:g}: final test accuracy (%)",
                                   partial(dropout_accuracy, partition=DROPOUT_PARTITION, dropout=q), fmt_percent))
    numbers.append(PaperNumber("DropoutRounds", exp, "rounds", from_config("base", "rounds"), fmt_int))
    exp = "causal_density"
    for B, bname in CAUSAL_BATCHES.items():
        numbers.append(PaperNumber(f"CausalUpdateDensityB{bname}", exp,
                                   f"B = {B}: mean fraction of weights sent per round (%)",
                                   partial(causal_update_density, batch_size=B), fmt_percent))
    numbers += [
        PaperNumber("CausalPerSampleDensityInitial", exp, "one sample, initial model: causal density (%)",
                    partial(causal_per_sample_density, column="per_sample_density_initial"), fmt_percent),
        PaperNumber("CausalPerSampleDensityFinal", exp, "one sample, final model: causal density (%)",
                    partial(causal_per_sample_density, column="per_sample_density_final"), fmt_percent),
    ]
    return numbers


# --------------------------------------------------------------------------------------------
# verify_*: published bounds against measured runs
# --------------------------------------------------------------------------------------------

# theorem label in data.csv (fsnn_theory.studies.verify) -> macro stem, per experiment
VERIFIED_THEOREMS: dict[str, dict[str, str]] = {
    "verify_strongly_convex": {
        "Li2020 Thm1 (full participation)": "LiThmOne",
        "Li2020 Thm2 (scheme I)": "LiThmTwo",
        "Li2020 Thm3 (scheme II)": "LiThmThree",
        "FieldGuide Thm1 (convex, constant step)": "FieldGuide",
    },
    "rounds_vs_local_steps": {"Li2020 Thm1 rounds-to-eps": "LiRounds"},
    "verify_nonconvex": {"Yu2019 Thm1 (non-convex, SNN)": "Yu"},
    "verify_compression": {
        "QSGD Lemma 3.1(ii) variance per message": "QSGDVariance",
        "QSGD Lemma 3.1(iii) nonzeros per message": "QSGDNonzeros",
        "QSGD Thm3.2 bits per message": "QSGDBits",
        "Li2020 Thm1 + QSGD variance (E=1, derived)": "LiQSGD",
        "bits-to-eps QSGD (Li2020 Thm1 + Lemma 3.1)": "QSGDBitsToEps",
        "Korhonen-Alistarh 2021 lower bound (QSGD run)": "KorhonenQSGD",
        "Stich2018 Thm2.4 (top-k + EF, 1 worker)": "StichTopk",
        "bits-to-eps top-k (Stich2018 Thm2.4)": "TopkBitsToEps",
        "Korhonen-Alistarh 2021 lower bound (top-k run)": "KorhonenTopk",
    },
}
ROUNDS_LOCAL_STEPS = {1: "One", 2: "Two", 5: "Five", 10: "Ten", 20: "Twenty", 50: "Fifty"}


def theorem_checks(output: ExperimentOutput, theorem: str) -> pd.DataFrame:
    """The check rows (run, checkpoint) of one theorem label; ValueError listing the labels present."""
    d = output.data
    rows = d.loc[(d["theorem"] == theorem).to_numpy(), ["theorem", "kind", "measured", "bound"]]
    if rows.empty:
        present = ", ".join(dict.fromkeys(d["theorem"].astype(str)))
        raise ValueError(f"{output.name}: data.csv has no checks of theorem {theorem!r}; present: {present}")
    return rows


def theorem_summary(output: ExperimentOutput, theorem: str) -> tuple[int, int, float | None, float | None]:
    """(checks, violations, median, worst tightness bound/measured) over every check of ``theorem``,
    pooled across its configurations, with the library's definitions (`verify.summarize_checks`)."""
    from fsnn_theory.studies.verify import summarize_checks

    rows = theorem_checks(output, theorem)
    return summarize_checks(rows["bound"], rows["measured"], str(rows["kind"].iloc[0]))


def theorem_checks_count(output: ExperimentOutput, theorem: str) -> int:
    """Checks of ``theorem`` where the bound was evaluated (its precondition held)."""
    return theorem_summary(output, theorem)[0]


def theorem_violations(output: ExperimentOutput, theorem: str) -> int:
    """Checks of ``theorem`` with the measurement on the wrong side of the bound."""
    return theorem_summary(output, theorem)[1]


def theorem_median_tightness(output: ExperimentOutput, theorem: str) -> float:
    """Median over the checks of ``theorem`` of bound / measured (1 = tight)."""
    value = theorem_summary(output, theorem)[2]
    return math.nan if value is None else value


def theorem_worst_tightness(output: ExperimentOutput, theorem: str) -> float:
    """Tightness of the check closest to (or beyond) the bound: the smallest ratio for an upper bound."""
    value = theorem_summary(output, theorem)[3]
    return math.nan if value is None else value


def theorem_precondition_failures(output: ExperimentOutput, theorem: str) -> int:
    """Checkpoints where the bound could not be evaluated (precondition failed: bound is NaN)."""
    return int(theorem_checks(output, theorem)["bound"].isna().sum())


def experiment_violations(output: ExperimentOutput) -> int:
    """Violations over every theorem of a verification experiment."""
    return sum(theorem_violations(output, str(t)) for t in output.data["theorem"].drop_duplicates())


def median_measured(output: ExperimentOutput, theorem: str) -> float:
    """Median over seeds of the measured value of a one-checkpoint theorem (e.g. bits to epsilon)."""
    return float(theorem_checks(output, theorem)["measured"].median())


def rounds_to_epsilon(output: ExperimentOutput, local_steps: int, column: str) -> float:
    """Median over seeds of ``measured_rounds`` or ``predicted_rounds`` for ``local_steps`` (inf: not reached)."""
    rows = _rows(output.data, output.name, local_steps=local_steps)
    return float(rows[column].astype(float).median())


def best_local_steps(output: ExperimentOutput, column: str) -> int:
    """The number of local steps E with the fewest rounds to epsilon (measured or predicted)."""
    per_e = output.data.groupby("local_steps")[column].median()
    return int(per_e.idxmin())


def _verification_numbers() -> list[PaperNumber]:
    numbers = []
    for exp, theorems in VERIFIED_THEOREMS.items():
        for theorem, stem in theorems.items():
            numbers += [
                PaperNumber(f"{stem}Checks", exp, f"{theorem}: checks", partial(theorem_checks_count, theorem=theorem),
                            fmt_int),
                PaperNumber(f"{stem}Violations", exp, f"{theorem}: violations",
                            partial(theorem_violations, theorem=theorem), fmt_int),
                PaperNumber(f"{stem}MedianTightness", exp, f"{theorem}: median bound / measured",
                            partial(theorem_median_tightness, theorem=theorem), fmt_magnitude),
                PaperNumber(f"{stem}WorstTightness", exp, f"{theorem}: worst bound / measured",
                            partial(theorem_worst_tightness, theorem=theorem), fmt_magnitude),
            ]
    numbers += [
        PaperNumber("StronglyConvexViolations", "verify_strongly_convex", "violations, all theorems",
                    experiment_violations, fmt_int),
        PaperNumber("CompressionVerifyViolations", "verify_compression", "violations, all theorems",
                    experiment_violations, fmt_int),
        PaperNumber("YuPreconditionFailures", "verify_nonconvex", "checkpoints where gamma <= 1/L failed",
                    partial(theorem_precondition_failures, theorem="Yu2019 Thm1 (non-convex, SNN)"), fmt_int),
        PaperNumber("QSGDBitsToEpsMeasured", "verify_compression", "measured uplink bits to epsilon, QSGD",
                    partial(median_measured, theorem="bits-to-eps QSGD (Li2020 Thm1 + Lemma 3.1)"), fmt_magnitude),
        PaperNumber("TopkBitsToEpsMeasured", "verify_compression", "measured uplink bits to epsilon, top-k",
                    partial(median_measured, theorem="bits-to-eps top-k (Stich2018 Thm2.4)"), fmt_magnitude),
    ]
    exp = "rounds_vs_local_steps"
    for E, ename in ROUNDS_LOCAL_STEPS.items():
        numbers += [
            PaperNumber(f"RoundsMeasuredE{ename}", exp, f"E = {E}: measured rounds to epsilon",
                        partial(rounds_to_epsilon, local_steps=E, column="measured_rounds"), fmt_int),
            PaperNumber(f"RoundsPredictedE{ename}", exp, f"E = {E}: rounds predicted by Li et al. Thm 1",
                        partial(rounds_to_epsilon, local_steps=E, column="predicted_rounds"), fmt_magnitude),
        ]
    numbers += [
        PaperNumber("RoundsBestMeasuredE", exp, "E with the fewest measured rounds",
                    partial(best_local_steps, column="measured_rounds"), fmt_int),
        PaperNumber("RoundsBestPredictedE", exp, "E with the fewest predicted rounds",
                    partial(best_local_steps, column="predicted_rounds"), fmt_int),
        PaperNumber("RoundsEpsilonFraction", exp, "epsilon as a fraction of the initial gap",
                    from_config("rounds", "eps_fraction"), partial(fmt_fixed, digits=2)),
    ]
    return numbers


# --------------------------------------------------------------------------------------------
# All numbers
# --------------------------------------------------------------------------------------------


def _module_number(output: ExperimentOutput, macro: str) -> Any:
    """Value of ``macro`` from the experiment module's own ``numbers(data, config)``."""
    import importlib

    module = importlib.import_module(f"experiments.{output.name}")
    return module.numbers(output.data, output.config)[macro][0]


def _fmt_spec(x: Any, spec: str) -> str:
    """A value of an experiment's ``numbers``: text escaped ("s"), "g" specs by `fmt_magnitude`
    (LaTeX powers of ten), else ``format(x, spec)``; NaN (not computed in this mode) as n/a."""
    if spec == "s":
        return fmt_text(x)
    if _is_missing_value(x) or math.isinf(float(x)):
        return fmt_magnitude(x)
    if spec.endswith("g"):
        return fmt_magnitude(x, int(spec.strip(".g") or 3))
    return format(float(x), spec)


def _energy_to_accuracy_numbers() -> list[PaperNumber]:
    # the experiment declares its macros (NUMBER_MACROS) and computes them (numbers); a generic
    # bridge for every experiment with `numbers` may replace this one
    from experiments import energy_to_accuracy as exp

    return [PaperNumber(macro, exp.NAME, meaning, partial(_module_number, macro=macro), partial(_fmt_spec, spec=spec))
            for macro, (spec, meaning) in exp.NUMBER_MACROS.items()]


def _paper_numbers() -> tuple[PaperNumber, ...]:
    numbers = _spike_time_precision_numbers()
    numbers += _training_numbers("yin_yang_training", "YinYang", 4, 3)
    numbers += _training_numbers("digits_training", "Digits", 64, 10)
    numbers += [
        PaperNumber("DecisionTestAccuracy", "decision_regions", "test accuracy over the decision regions (%)",
                    decision_test_accuracy, fmt_percent),
        PaperNumber("DecisionMisclassified", "decision_regions", "misclassified test points",
                    decision_misclassified, fmt_int),
        PaperNumber("RasterHiddenFiringPercent", "spike_raster", "hidden neurons that spike, mean over samples (%)",
                    raster_hidden_firing_fraction, fmt_percent),
        PaperNumber("RasterCorrect", "spike_raster", "shown samples classified correctly",
                    raster_correct_samples, fmt_int),
        PaperNumber("RasterSamples", "spike_raster", "samples shown", raster_samples, fmt_int),
    ]
    numbers += _energy_numbers()
    numbers += _regularity_numbers()
    numbers += _ttfs_check_numbers()
    numbers += _spike_causal_density_numbers()
    numbers += [
        PaperNumber("ProofChecksProofs", "proof_checks", "proofs checked", proof_count, fmt_int),
        PaperNumber("ProofChecksPassed", "proof_checks", "proofs whose every step passed",
                    partial(proof_count, passed_only=True), fmt_int),
        PaperNumber("ProofChecksSteps", "proof_checks", "algebraic steps checked with sympy", proof_steps, fmt_int),
    ]
    numbers += _federated_numbers()
    numbers += _verification_numbers()
    numbers += _energy_to_accuracy_numbers()
    # group by experiment, experiments in order of first appearance (numbers.tex reads per experiment)
    first = {}
    for n in numbers:
        first.setdefault(n.experiment, len(first))
    numbers.sort(key=lambda n: first[n.experiment])
    names = [n.macro for n in numbers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"macro names must be unique; repeated: {', '.join(duplicates)}")
    return tuple(numbers)


PAPER_NUMBERS: tuple[PaperNumber, ...] = _paper_numbers()
# Macros about the results as a whole (not one experiment).
PROVENANCE_MACROS: tuple[str, ...] = ("ResultsMode", "PackageVersion")


def macro_names() -> list[str]:
    """Every macro `numbers_tex` defines, in the order it writes them."""
    return [*PROVENANCE_MACROS, *(n.macro for n in PAPER_NUMBERS)]


def paper_experiments(registered: Sequence[str]) -> list[str]:
    """Experiments the paper needs: every registered one (each contributes a figure), then any
    experiment that only contributes numbers, in paper order."""
    names = list(dict.fromkeys(registered))
    names += [n.experiment for n in PAPER_NUMBERS if n.experiment not in names]
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _comment(text: str) -> str:
    return " ".join(str(text).split()).replace("%", "per cent")


def numbers_tex(outputs: Mapping[str, ExperimentOutput | None], results_label: str = "results") -> str:
    r"""The text of ``numbers.tex``: ``\ResultsMode``, ``\PackageVersion`` and one
    ``\newcommand`` per :data:`PAPER_NUMBERS` entry.

    ``outputs`` maps an experiment name to its output, or to None when it is missing (its macros
    become ``\textbf{??}``); an experiment that is absent from the mapping counts as missing too.
    A ValueError from a computation names the experiment and the macro.
    """
    present = [o for o in outputs.values() if o is not None]
    lines = [
        f"% Generated by `fsnn paper` from {_comment(results_label)}/<experiment>/{{data.csv,config.json}}. Do not edit:",
        "% rerun `make paper` (after `make reproduce`). One macro per number the paper quotes.",
        "",
        f"\\newcommand{{\\ResultsMode}}{{{fmt_text(results_mode(present)) if present else MISSING_VALUE}}}"
        "  % quick or full: the mode of fsnn reproduce",
        f"\\newcommand{{\\PackageVersion}}{{{fmt_text(_package_version(present)) if present else MISSING_VALUE}}}",
    ]
    current = None
    for number in PAPER_NUMBERS:
        if number.experiment != current:
            current = number.experiment
            lines += ["", f"% ---- {current}"]
        output = outputs.get(number.experiment)
        if output is None:
            value = MISSING_VALUE
        else:
            try:
                value = number.fmt(number.compute(output))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ValueError(f"{number.experiment}: cannot compute \\{number.macro} ({number.meaning}): {exc}") from exc
        lines.append(f"\\newcommand{{\\{number.macro}}}{{{value}}}  % {_comment(number.meaning)}")
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
            stub = (f"{PLACEHOLDER_MARKER}: run the proof checks\n"
                    f"{MISSING_VALUE}~(proof check output {fmt_text(theorem)}.tex missing)\n")
            write_bytes_atomic(stub.encode("utf-8"), dest)
        elif not _same_file(source, dest):
            write_bytes_atomic(source.read_bytes(), dest)
        placed.append(dest)
    return placed


def build_paper_inputs(results: Path, out: Path, registered: Sequence[str], allow_missing: bool = False,
                       warn: Callable[[str], None] | None = None) -> PaperInputs:
    r"""Copy figures, place the theorem .tex files and write ``numbers.tex`` under ``out``.

    ``registered`` is the list of experiments in paper order (``experiments.EXPERIMENT_NAMES``).
    Raises `MissingExperimentError` (naming every missing experiment and the command that creates
    it) unless ``allow_missing``; then ``warn`` is called once per missing item, the missing
    numbers are ``\textbf{??}``, a stale copy of a missing figure is removed (the paper draws a
    placeholder instead) and a missing theorem file is replaced by a ``??`` stub. Everything is
    read and computed before the first file is written, so an error leaves ``out`` as it was.
    """
    results, out = Path(results), Path(out)
    warn = warn or (lambda msg: None)
    outputs: dict[str, ExperimentOutput | None] = {}
    missing: dict[str, list[str]] = {}
    for name in paper_experiments(registered):
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

    text = numbers_tex(outputs, results_label=str(results))  # may raise: before any file is written
    figures = copy_figures(results, out, outputs, registered)
    theorems = place_theorem_files(out, theorem_plan)
    numbers_path = write_bytes_atomic(text.encode("utf-8"), out / NUMBERS_FILE)
    mode = results_mode(o for o in outputs.values() if o is not None)
    if mode.startswith("mixed"):
        warn(f"the results mix modes ({mode}); the paper says so through \\ResultsMode. "
             "Rerun everything in one mode: `fsnn reproduce --quick` or `--full`")
    missing_items = (*missing, *(["proof_checks"] if missing_theorems and "proof_checks" not in missing else []))
    return PaperInputs(figures=tuple(figures), numbers=numbers_path, theorems=tuple(theorems), mode=mode,
                       macros=len(macro_names()), missing=tuple(missing_items))
