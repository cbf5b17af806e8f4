"""``fsnn train``: train a time-to-first-spike network on Yin-Yang or the 8x8 digits.

    fsnn train --dataset {yin-yang,digits} [--epochs N] [--seed S] [--hidden H [H ...]]
               [--model {lif,nlif}] [--tau-m MS] [--tau-s MS] [--optimizer {adam,sgd}]
               [--lr LR] [--batch-size B] [--input-noise MS] [--patience P] [--out DIR]
               [--json] [--quiet]

Writes ``DIR/history.csv`` (one row per epoch: epoch, train_loss, train_accuracy, val_accuracy,
test_accuracy, silent_fraction, synops_per_sample, seconds, learning_rate, weight_bumps),
``DIR/params.npy`` (the parameters of the best validation epoch) and ``DIR/summary.json``.
With ``--json`` one JSON line goes to stdout: test_accuracy (at the best validation epoch),
best_epoch, val_accuracy, final_test_accuracy, epochs, seconds, seconds_per_epoch, synops_per_sample,
out. Bad input (unknown data set or model, bad sizes, an unusable ``--out``, a network estimated to
need more than 75 % of the machine's memory or ``--max-memory``) is reported as a message before
anything is computed, exit code 2. The state after every epoch is stored in
``DIR/checkpoint.pkl``: after Ctrl-C the same command resumes and ends with the same parameters
and history (but the wall-time column); files of another configuration are refused unless ``--force``.

This module defines ``add_arguments(parser)`` and ``handler(args) -> int`` for the `fsnn` CLI
(`fsnn_theory.cli`); it does not import the CLI module itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fsnn_theory.cli._checks import Range, check_numbers, check_out, out_dir
from fsnn_theory.cli._resume import CHECKPOINT_FILE, RunDirectory
from fsnn_theory.cli._memory import INPUTS, OUTPUTS, check_memory, estimate_bytes, parse_bytes

NAME = "train"
HELP = "train a time-to-first-spike network (Yin-Yang or 8x8 digits) with exact spike-time gradients"

EXIT_OK = 0
EXIT_USAGE = 2

#: Ranges of the numeric flags, checked before anything is computed. ``--lr`` <= 1000: the
#: defaults are 0.005 (Adam) and 16 (federated SGD); a step 1e5 times the federated default
#: already throws every weight out of the range where any neuron spikes, and 1e300 overflows
#: float32 (issue 15, defect 5).
RANGES = {
    "--epochs": Range(1, 10**6, integer=True), "--seed": Range(0, None, integer=True),
    "--hidden": Range(1, None, integer=True), "--tau-m": Range(0, 1e6, low_open=True),
    "--tau-s": Range(0, 1e6, low_open=True), "--lr": Range(0, 1e3, low_open=True),
    "--batch-size": Range(1, None, integer=True), "--input-noise": Range(0, 1e6),
    "--patience": Range(1, None, integer=True),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", required=True, metavar="NAME",
        help="data set: yin-yang (Kriener et al. 2022, standard splits) or digits (scikit-learn 8x8)",
    )
    parser.add_argument("--epochs", type=int, default=None, metavar="N",
                        help="training epochs (default: 300 for yin-yang, 150 for digits)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the initial weights and the mini-batch order (default 0)")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, metavar="H",
                        help="hidden layer size(s) (default: 120 for yin-yang, 100 for digits)")
    parser.add_argument("--model", default="lif", metavar="NAME",
                        help="neuron model of every layer: lif (default; tau_m = 2 tau_s) or nlif")
    parser.add_argument("--tau-m", type=float, default=None, metavar="MS",
                        help="membrane time constant of the lif model in ms (default 2 tau_s)")
    parser.add_argument("--tau-s", type=float, default=1.0, metavar="MS",
                        help="synaptic time constant in ms (default 1)")
    parser.add_argument("--optimizer", default="adam", metavar="NAME", help="adam (default) or sgd")
    parser.add_argument("--lr", type=float, default=None, metavar="LR", help="initial learning rate (default 0.005)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="B", help="mini-batch size (default 150)")
    parser.add_argument("--input-noise", type=float, default=None, metavar="MS",
                        help="std of Gaussian jitter on training input spike times (default: 0.2 for digits, 0 for yin-yang)")
    parser.add_argument("--patience", type=int, default=None, metavar="P",
                        help="early stopping: epochs without validation gain (default: off)")
    parser.add_argument("--out", type=out_dir, default=None, metavar="DIR",
                        help="output directory (default: results/train/<dataset>-seed<S>)")
    parser.add_argument("--max-memory", type=parse_bytes, default=None, metavar="SIZE",
                        help="refuse configurations estimated to need more (e.g. 4G; default 75%% of the machine's memory)")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the results")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress lines on stderr")
    parser.add_argument("--force", action="store_true",
                        help="replace the files of an earlier run with another configuration in --out (else refused)")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _save_npy_atomic(path: Path, array) -> None:
    """``np.save`` written atomically (never a half-written parameter file)."""
    import io

    import numpy as np

    from fsnn_theory.files import write_bytes_atomic

    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes_atomic(buffer.getvalue(), path)


def handler(args: argparse.Namespace) -> int:
    from fsnn_theory.files import write_csv_atomic, write_json_atomic
    from fsnn_theory.studies.setups import DEFAULT_HIDDEN, default_training_config, load_dataset, make_classifier
    from fsnn_theory.training import train

    out = args.out if args.out is not None else Path("results") / "train" / f"{args.dataset}-seed{args.seed}"
    try:
        check_numbers(args, RANGES)
        check_out(out)
        if args.dataset in INPUTS:  # an unknown data set is reported by make_classifier below
            hidden = list(args.hidden) if args.hidden is not None else list(DEFAULT_HIDDEN[args.dataset])
            layers = [INPUTS[args.dataset], *hidden, OUTPUTS[args.dataset]]
            # parameters, gradient, Adam's two moments, the best epoch's copy, a spare
            need = estimate_bytes(layers, args.batch_size or 150, param_copies=6, eval_samples=250)
            check_memory(need, args.max_memory, "this network")
        model = make_classifier(
            args.dataset, None if args.hidden is None else tuple(args.hidden), args.model,
            tau_m=args.tau_m, tau_s=args.tau_s,
        )
        config = default_training_config(
            args.dataset, epochs=args.epochs, seed=args.seed, optimizer=args.optimizer,
            learning_rate=args.lr, batch_size=args.batch_size, patience=args.patience,
            input_noise=args.input_noise,
        )
        dataset = load_dataset(args.dataset)
        spec = {k: getattr(args, k) for k in ("dataset", "epochs", "seed", "hidden", "model", "tau_m", "tau_s",
                                              "optimizer", "lr", "batch_size", "input_noise", "patience")}
        run_dir = RunDirectory(out, "train", spec, ("history.csv", "params.npy", "summary.json"))
        snapshot = run_dir.claim(args.force)
    except ValueError as exc:
        _err(f"fsnn train: error: {exc}")
        return EXIT_USAGE
    if snapshot is not None and not args.quiet:
        _err(f"fsnn train: resuming after epoch {snapshot['epoch']} of {config.epochs} ({out / CHECKPOINT_FILE})")

    def progress(row: dict) -> None:
        if not args.quiet:
            _err(
                f"[train {args.dataset}] epoch {row['epoch']:>4}: loss {row['train_loss']:.4f}  "
                f"train {row['train_accuracy']:.4f}  val {row['val_accuracy']:.4f}  "
                f"test {row['test_accuracy']:.4f}  silent {row['silent_fraction']:.3f}  "
                f"{row['seconds']:.2f} s"
            )

    try:
        result = train(model, dataset, config, on_epoch=progress, resume=snapshot, on_checkpoint=run_dir.save)
    except ValueError as exc:
        _err(f"fsnn train: error: {exc}")
        return EXIT_USAGE

    history = result.history
    best = history.loc[history["epoch"] == result.best_epoch].iloc[0]
    summary = {
        "dataset": args.dataset,
        "model": args.model,
        "layer_sizes": list(model.network.layer_sizes),
        "seed": args.seed,
        "epochs": int(history["epoch"].iloc[-1]),
        "best_epoch": result.best_epoch,
        "val_accuracy": result.best_val_accuracy,
        "test_accuracy": result.test_accuracy,
        "final_test_accuracy": float(history["test_accuracy"].iloc[-1]),
        "stopped_early": result.stopped_early,
        "synops_per_sample": float(best["synops_per_sample"]),
        "seconds": round(result.seconds, 3),
        "seconds_per_epoch": round(float(history["seconds"].mean()), 4),
        "out": str(out),
    }
    write_csv_atomic(history, out / "history.csv")
    _save_npy_atomic(out / "params.npy", result.params)
    write_json_atomic(summary, out / "summary.json")
    run_dir.finish()
    if args.json:
        print(json.dumps(summary, sort_keys=True), flush=True)
    elif not args.quiet:
        print(
            f"test accuracy {result.test_accuracy:.4f} at best validation epoch {result.best_epoch} "
            f"({summary['epochs']} epochs, {result.seconds:.1f} s) -> {out}",
            flush=True,
        )
    return EXIT_OK
