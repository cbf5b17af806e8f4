"""``fsnn verify``: hold every published convergence and communication bound against measured runs.

    fsnn verify [--quick | --full] [--json] [--only CASE ...] [--out DIR]

Runs federated training with exactly the algorithms the theorems analyse, measures the theorems'
constants on the runs (`fsnn_theory.studies.estimate`), evaluates the bounds
(`fsnn_theory.theory.bounds`) at every checkpoint and prints the verification table
(`fsnn_theory.studies.verify`): theorem, kind, configuration, runs, checks, violations, median and
worst tightness ratio (bound / measured). Cases: ``li2020`` (FedAvg, strongly convex, Li et al.
2020 Theorems 1-3), ``rounds`` (rounds to epsilon vs local steps E), ``field_guide`` (constant step,
convex, Wang et al. 2021 Theorem 1, every constant a proven bound), ``spiking`` (the spiking
network, Yu et al. 2019, non-convex, measured constants), ``compression`` (QSGD, top-k with error
feedback, bits to epsilon, the Korhonen–Alistarh lower bound).

``--quick`` takes about two minutes on two cores; the default (``--full``) takes much longer.
With ``--json`` one JSON object per table row is printed on stdout (keys: theorem, kind, rigorous,
configuration, runs, checks, violations, median_tightness, worst_tightness, constants, source,
note). ``--out DIR`` also writes ``DIR/verification_table.csv`` and ``DIR/verification_checks.csv``.

Exit code 1 if a bound marked rigorous (a violation would be a bug: the theorem's hypotheses hold
and its constants are exact, proven bounds or measured on the run itself) is violated; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fsnn_theory.cli._table import format_table

NAME = "verify"
HELP = "hold every published bound against measured federated runs; print the verification table"

EXIT_OK = 0
EXIT_VIOLATED = 1

CASES = ("li2020", "rounds", "field_guide", "spiking", "compression")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sizes, about two minutes")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the paper's table (default; much longer)")
    parser.set_defaults(mode="full")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per table row on stdout instead of the text table")
    parser.add_argument("--only", nargs="+", action="extend", choices=CASES, metavar="CASE", default=None,
                        help=f"run only these cases ({', '.join(CASES)}; default: all)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="also write DIR/verification_table.csv and DIR/verification_checks.csv")


def _fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}"


def handler(args: argparse.Namespace) -> int:
    from fsnn_theory.files import write_csv_atomic
    from fsnn_theory.studies.verify import rows_frame, run_verification, verification_rows

    cases = tuple(dict.fromkeys(args.only)) if args.only else CASES
    t0 = time.perf_counter()

    def progress(iterable, desc):
        for item in iterable:
            print(f"[verify] {desc}: {item if not isinstance(item, tuple) else item[0]} "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
            yield item

    checks = run_verification(args.mode, progress=progress, cases=cases)
    rows = verification_rows(checks)
    if args.out is not None:
        write_csv_atomic(rows_frame(rows), Path(args.out) / "verification_table.csv")
        write_csv_atomic(checks, Path(args.out) / "verification_checks.csv")
    if args.json:
        for r in rows:
            print(json.dumps(r.as_dict(), allow_nan=False))
    else:
        headers = ["theorem", "kind", "rigorous", "configuration", "runs", "checks", "violations",
                   "median bound/meas", "worst bound/meas"]
        print(format_table(headers, [[r.theorem, r.kind, "yes" if r.rigorous else "no", r.configuration, r.runs,
                                      r.checks, r.violations, _fmt(r.median_tightness), _fmt(r.worst_tightness)]
                                     for r in rows]))
        print()
        for theorem in dict.fromkeys(r.theorem for r in rows):
            first = next(r for r in rows if r.theorem == theorem)
            print(f"{theorem}: {first.source}\n    constants: {first.constants}")
    failing = [r for r in rows if r.rigorous and r.violations > 0]
    print(f"[verify] {len(rows)} rows, {sum(r.checks for r in rows)} checks, "
          f"{sum(r.violations for r in rows if r.rigorous)} violations of rigorous bounds "
          f"({time.perf_counter() - t0:.0f} s, mode {args.mode})", file=sys.stderr, flush=True)
    if failing:
        for r in failing:
            print(f"[verify] VIOLATED: {r.theorem} [{r.configuration}]: {r.violations} of {r.checks} checks",
                  file=sys.stderr)
        return EXIT_VIOLATED
    return EXIT_OK
