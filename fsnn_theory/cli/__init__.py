"""The ``fsnn`` command line.

    fsnn list                                    registered experiments (name, title)
    fsnn reproduce [--quick | --full] [--only NAME ...] [--out DIR] [--force] [--quiet]
    fsnn reproduce --status [--quick | --full] [--only NAME ...] [--out DIR]
    fsnn train --dataset {yin-yang,digits} ...   one spiking network, per-epoch CSV
    fsnn federate --dataset ... --clients N ...  federated training, per-round CSV
    fsnn verify [--quick] [--json]               published bounds against measured runs
    fsnn explain NAME [--CONSTANT VALUE ...]     a theorem, its assumptions and its value

Adding a subcommand (e.g. ``fsnn train``) is one `Subcommand` entry: write
``add_arguments(parser)`` and ``handler(args) -> int`` (in this file, or in a module
``fsnn_theory/cli/<name>.py`` that defines ``HELP``, ``add_arguments`` and ``handler``) and add it to
`SUBCOMMANDS`. Handlers return the exit code; `main` never lets a traceback escape for user
errors (unknown names, bad flags), only prints a message and returns 2.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fsnn_theory import __version__
from fsnn_theory.cli._table import format_table
from fsnn_theory.cli import energy as cli_energy
from fsnn_theory.cli import explain as cli_explain
from fsnn_theory.cli import federate as cli_federate
from fsnn_theory.cli import paper as cli_paper
from fsnn_theory.cli import train as cli_train
from fsnn_theory.cli import verify as cli_verify

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # argparse's code for usage errors
EXIT_INTERRUPTED = 130  # shell convention for SIGINT


@dataclass(frozen=True)
class Subcommand:
    """One ``fsnn <name>`` subcommand: its arguments and its handler (returns the exit code)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


def _registry():
    # Looked up at call time so tests can monkeypatch experiments.REGISTRY.
    import experiments

    return experiments.REGISTRY


def _use_agg_backend() -> None:
    # Headless rendering for figures; only if nobody has imported pyplot with a backend yet.
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- fsnn list ------------------------------------------------------------------------------


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _list_handler(args: argparse.Namespace) -> int:
    registry = _registry()
    if not registry:
        print("(no experiments registered)")
        return EXIT_OK
    print(format_table(["experiment", "title"], [[n, m.TITLE] for n, m in registry.items()]))
    return EXIT_OK


# ---- fsnn reproduce -------------------------------------------------------------------------


def _reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", dest="mode", action="store_const", const="quick",
        help="small sizes, minutes (default)",
    )
    mode.add_argument(
        "--full", dest="mode", action="store_const", const="full", help="paper sizes"
    )
    parser.set_defaults(mode="quick")
    parser.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME", default=None,
        help="run only these experiments and, first, whatever they require that is not "
        "complete (default: all, in paper order)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results"), metavar="DIR",
        help="output root; each experiment writes DIR/NAME/ (default: results)",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="rerun the experiments named (all by default) even if complete, discarding stored "
        "chunks; their prerequisites still rerun only when stale",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars or log lines; only the summary"
    )
    parser.add_argument(
        "--status", action="store_true",
        help="run nothing; list each experiment as complete / stale / missing, with the reason",
    )


def _status_table(registry, selected: list[str], args: argparse.Namespace) -> int:
    from fsnn_theory.experiment import experiment_status

    memo: dict = {}
    rows = []
    for name in selected:
        st = experiment_status(registry[name], args.mode, args.out, registry, memo)
        rows.append([name, st.state, "; ".join(st.reasons) or "-"])
    print(format_table(["experiment", "status", "reason"], rows), flush=True)
    return EXIT_OK


def _reproduce_handler(args: argparse.Namespace) -> int:
    from fsnn_theory.experiment import PrerequisiteError, plan, run_experiment

    registry = _registry()
    requested = list(dict.fromkeys(args.only)) if args.only else list(registry)
    unknown = [n for n in requested if n not in registry]
    if unknown:
        known = ", ".join(registry) or "(none registered)"
        _err(
            f"fsnn reproduce: error: unknown experiment(s): {', '.join(unknown)}; "
            f"known experiments: {known}"
        )
        return EXIT_USAGE
    if not requested:
        print("(no experiments registered; nothing to reproduce)")
        return EXIT_OK
    try:
        # Prerequisites (REQUIRES) come first, also those not asked for (they run only if stale).
        selected = plan(requested, registry)
    except ValueError as exc:
        _err(f"fsnn reproduce: error: {exc}")
        return EXIT_USAGE
    if args.status:
        return _status_table(registry, selected, args)

    _use_agg_backend()
    rows, failed = [], []
    for i, name in enumerate(selected, 1):
        if not args.quiet:
            _err(f"[{i}/{len(selected)}] {name} ({args.mode}): {registry[name].TITLE}")
        try:
            # --force applies to the experiments asked for; prerequisites rerun only when stale.
            result = run_experiment(
                registry[name], args.mode, args.out, force=args.force and name in requested,
                quiet=args.quiet, registry=registry,
            )
        except PrerequisiteError as exc:  # its prerequisite failed above; no traceback needed
            failed.append(name)
            _err(f"[{i}/{len(selected)}] {name}: FAILED: {exc}")
            rows.append([name, "FAILED", "-", args.out / name])
            continue
        except Exception as exc:  # one failure must not stop the other experiments
            failed.append(name)
            _err(f"[{i}/{len(selected)}] {name}: FAILED: {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
            rows.append([name, "FAILED", "-", args.out / name])
            continue
        if not args.quiet:
            why = f" ({'; '.join(result.reasons)})" if result.reasons and result.status != "skipped" else ""
            _err(
                f"[{i}/{len(selected)}] {name}: {result.status}{why} in {result.seconds:.1f} s "
                f"-> {result.out_dir}"
            )
        rows.append([name, result.status, f"{result.seconds:.1f}", result.out_dir])

    print(format_table(["experiment", "status", "seconds", "output"], rows), flush=True)
    if failed:
        _err(f"{len(failed)} of {len(selected)} experiment(s) failed: {', '.join(failed)}")
        return EXIT_FAILED
    return EXIT_OK


# ---- registry of subcommands ------------------------------------------------------------------

SUBCOMMANDS: list[Subcommand] = [
    Subcommand("list", "list the registered experiments", _list_arguments, _list_handler),
    Subcommand(
        "reproduce",
        "run experiments and write data, figures and manifests",
        _reproduce_arguments,
        _reproduce_handler,
    ),
    Subcommand("train", cli_train.HELP, cli_train.add_arguments, cli_train.handler),
    Subcommand("federate", cli_federate.HELP, cli_federate.add_arguments, cli_federate.handler),
    Subcommand("energy", cli_energy.HELP, cli_energy.add_arguments, cli_energy.handler),
    Subcommand("verify", cli_verify.HELP, cli_verify.add_arguments, cli_verify.handler),
    Subcommand("explain", cli_explain.HELP, cli_explain.add_arguments, cli_explain.handler),
    Subcommand("paper", cli_paper.HELP, cli_paper.add_arguments, cli_paper.handler),
]


def build_parser() -> argparse.ArgumentParser:
    """The ``fsnn`` parser with one subparser per entry of `SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="fsnn",
        description="Theory of federated spiking neural networks: experiments and tools.",
    )
    parser.add_argument("--version", action="version", version=f"fsnn_theory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in SUBCOMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(handler=cmd.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fsnn``; returns the exit code (0 ok, 1 failure, 2 usage, 130 Ctrl-C)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: return the code, don't exit
        if isinstance(exc.code, int):
            return exc.code
        return EXIT_OK if exc.code is None else EXIT_USAGE
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        _err("interrupted; completed chunks are kept, rerun the same command to resume")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
