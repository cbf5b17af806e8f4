"""``fsnn verify``: hold published bounds against measured runs where the bounds say something.

    fsnn verify [--quick | --full] [--json] [--wide] [--only GROUP ...] [--out DIR]

Runs the algorithm each theorem analyses (`fsnn_theory.studies.verification`), in the
*informative regime* (the bound falls below the initial value of what it bounds), at 20
log-spaced checkpoints fixed in advance, over >= 10 seeds (bounds on expectations are held
against seed means with a 95 % interval; a violation is the interval's lower end above the
bound), each with a *negative control* that breaks one computed hypothesis of the theorem and
must be flagged. Groups: ``li2020`` (FedAvg on the strongly convex model, Li et al. 2020 Theorems
1-3, every constant certified), ``worst_case`` (the Field Guide's Theorem 1 on the noisy
quadratic, where its first term is attained up to 2 - eta L) and ``compression`` (QSGD Lemma 3.1
(ii), exact expectations; EF21 Theorem 1 with top-k, multi-client, deterministic).

The plain table fits 100 columns (``--wide``: every column). ``--json`` prints one JSON object per
row on stdout (the fields of `fsnn_theory.studies.verification.table.VerificationRow`: theorem,
kind, rigor, source_checked, configuration, instance, seeds, checks, violations,
informative_fraction, status, control, control_caught, slope_predicted, slope_measured,
rate_consistent, median_tightness, worst_tightness, verdict, ...). ``--out DIR`` also writes
``DIR/verification_table.csv`` and ``DIR/verification_curves.csv``.

Exit code 1 if a ``proven`` row has a violation or a negative control that was not caught (or a
proven lower bound is inconsistent); 0 otherwise. ``--quick`` takes about a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from pathlib import Path

from fsnn_theory.cli._table import format_table

NAME = "verify"
HELP = "hold published bounds against measured federated runs (informative regime, controls, seed means)"

EXIT_OK = 0
EXIT_VIOLATED = 1

GROUPS = ("li2020", "worst_case", "compression")
WIDTH = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="10 seeds, short horizons (about a minute)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="20 seeds, 5x longer horizons (the paper's table; default)")
    parser.set_defaults(mode="full")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per table row on stdout instead of the text table")
    parser.add_argument("--wide", action="store_true", help="every column (wider than 100 characters)")
    parser.add_argument("--only", nargs="+", action="extend", choices=GROUPS, metavar="GROUP", default=None,
                        help=f"run only these groups ({', '.join(GROUPS)}; default: all)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="also write DIR/verification_table.csv and DIR/verification_curves.csv")


def _g(x, fmt=".2g") -> str:
    return "-" if x is None else format(x, fmt)


def _tight(x) -> str:
    if x is None:
        return "-"
    return f"{x:.2g}" if x < 100 else f"{x:.0e}"


def _yn(x) -> str:
    return "-" if x is None else ("yes" if x else "NO")


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "~"


def narrow_table(rows) -> str:
    """The table in at most :data:`WIDTH` columns (labels shortened with ``~``)."""
    headers = ["theorem", "configuration", "rigor", "src", "n", "inf", "viol", "ctrl", "slope", "tight",
               "status"]
    body = [[_cut(r.theorem, 20), _cut(r.configuration, 20), r.rigor[:5], r.source_checked[:3], r.seeds,
             _g(r.informative_fraction), r.violations, _yn(r.control_caught), _g(r.slope_measured, ".2f"),
             _tight(r.median_tightness), _cut(r.status, 8)] for r in rows]
    return format_table(headers, body)


def wide_table(rows) -> str:
    headers = ["theorem", "configuration", "kind", "rigor", "source", "instance", "seeds", "checks", "violations",
               "informative", "control", "caught", "slope pred", "slope meas [95% CI]", "rate ok",
               "median b/m", "worst b/m", "status"]
    body = [[r.theorem, r.configuration, r.kind, r.rigor, r.source_checked, r.instance, r.seeds, r.checks,
             r.violations, _g(r.informative_fraction), r.control or "-", _yn(r.control_caught),
             _g(r.slope_predicted), "-" if r.slope_measured is None else
             f"{r.slope_measured:.2f} [{r.slope_low:.2f}, {r.slope_high:.2f}]", _yn(r.rate_consistent),
             _g(r.median_tightness, ".3g"), _g(r.worst_tightness, ".3g"), r.status] for r in rows]
    return format_table(headers, body)


def handler(args: argparse.Namespace) -> int:
    from fsnn_theory.files import write_csv_atomic
    from fsnn_theory.studies.verification import rows_frame, rows_from_curves
    from fsnn_theory.studies.verification import run as verification_run

    groups = tuple(dict.fromkeys(args.only)) if args.only else GROUPS
    t0 = time.perf_counter()

    def progress(iterable, desc):
        for item in iterable:
            print(f"[verify] {item[0]} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
            yield item

    curves = verification_run.run_verification(args.mode, progress=progress, groups=groups)
    rows = rows_from_curves(curves)
    if args.out is not None:
        write_csv_atomic(rows_frame(rows), Path(args.out) / "verification_table.csv")
        write_csv_atomic(curves, Path(args.out) / "verification_curves.csv")
    if args.json:
        for r in rows:
            print(json.dumps(r.as_dict(), allow_nan=False))
    else:
        print(wide_table(rows) if args.wide else narrow_table(rows))
        print()
        print("src: source checked verbatim / secondary / recalled; n: seeds; inf: informative fraction;\n"
              "viol: checkpoints with the 95% CI above the bound; ctrl: negative control caught;\n"
              "slope: d log(measured)/d log T; tight: median bound/measured (informative checkpoints)")
        for theorem in dict.fromkeys(r.theorem for r in rows):
            first = next(r for r in rows if r.theorem == theorem)
            controls = "; ".join(dict.fromkeys(r.control or "none" for r in rows if r.theorem == theorem))
            print(textwrap.fill(f"{theorem}: {first.source}", WIDTH, subsequent_indent="    "))
            print(textwrap.fill(f"control: {controls}", WIDTH, initial_indent="    ", subsequent_indent="    "))
    failing = [r for r in rows if r.failing]
    print(f"[verify] {len(rows)} rows, {sum(r.checks for r in rows)} checks, "
          f"{sum(r.violations for r in rows)} violations, "
          f"{sum(1 for r in rows if r.control_caught is False)} uncaught controls "
          f"({time.perf_counter() - t0:.0f} s, mode {args.mode})", file=sys.stderr, flush=True)
    if failing:
        for r in failing:
            print(f"[verify] FAILED: {r.theorem} [{r.configuration}]: {r.violations} violations, "
                  f"control caught: {r.control_caught}", file=sys.stderr)
        return EXIT_VIOLATED
    return EXIT_OK
