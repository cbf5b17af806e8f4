r"""``fsnn paper``: copy the experiments' figures into ``paper/generated`` and write ``numbers.tex``.

    fsnn paper [--results DIR] [--out DIR] [--allow-missing]

Reads ``DIR/<name>/{config.json,data.csv,figure.pdf,manifest.json}`` (written by ``fsnn
reproduce``) and writes ``OUT/figures/<name>.pdf``, ``OUT/numbers.tex`` (one ``\newcommand`` per
number the paper quotes, each computed by its experiment's ``numbers(data, config)``, and
``\ResultsMode``: quick or full) and puts the proof checks' ``OUT/<theorem>.tex`` (theorem
statement from ``proofs/<theorem>.md``, checked display) in place; see `fsnn_theory.paper`. A missing experiment is an error naming it
and the command that creates it (exit code 1), unless ``--allow-missing``: then its numbers are
``\textbf{??}`` and a warning is printed.

This module defines ``add_arguments(parser)`` and ``handler(args) -> int`` for the `fsnn` CLI
(`fsnn_theory.cli`); pandas and the experiments are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsnn_theory.cli._checks import check_out, out_dir

NAME = "paper"
HELP = "copy the experiments' figures to paper/generated and write numbers.tex (every number the paper quotes)"

EXIT_OK = 0
EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help="where `fsnn reproduce` wrote the experiments (default: results)")
    parser.add_argument("--out", type=out_dir, default=Path("paper/generated"), metavar="DIR",
                        help="where the paper's generated inputs go (default: paper/generated)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="typeset a draft anyway: a missing experiment's numbers become ?? (with a warning)")
    parser.add_argument("--pdf", action="store_true",
                        help="then typeset the paper (latexmk) in the folder above --out and check it: no undefined "
                             "reference, no missing figure, no ??")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def handler(args: argparse.Namespace) -> int:
    import experiments
    from fsnn_theory.paper import FIGURES_DIR, MissingExperimentError, build_paper_inputs

    try:
        check_out(args.out)
    except ValueError as exc:
        _err(f"fsnn paper: error: {exc}")
        return 2
    try:
        written = build_paper_inputs(
            args.results, args.out, list(experiments.EXPERIMENT_NAMES), allow_missing=args.allow_missing,
            warn=lambda msg: _err(f"fsnn paper: warning: {msg}"),
        )
    except (MissingExperimentError, ValueError) as exc:
        _err(f"fsnn paper: error: {exc}")
        return EXIT_FAILED
    missing = f"; missing (??): {', '.join(written.missing)}" if written.missing else ""
    print(
        f"{len(written.figures)} figures -> {Path(args.out) / FIGURES_DIR}; {written.macros} numbers -> "
        f"{written.numbers}; {len(written.theorems)} theorem files in {args.out} "
        f"(results in {written.mode} mode{missing})",
        flush=True,
    )
    if args.pdf:
        from fsnn_theory.paper import TeXMissingError, typeset_pdf

        try:
            pdf = typeset_pdf(Path(args.out).resolve().parent)
        except TeXMissingError as exc:
            _err(f"fsnn paper: {exc}")
            return EXIT_FAILED
        except ValueError as exc:
            _err(f"fsnn paper: error: {exc}")
            return EXIT_FAILED
        print(f"typeset {pdf}", flush=True)
    return EXIT_OK
