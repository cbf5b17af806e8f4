"""``fsnn federate``: federated training of a spiking network (or the convex model) with exact accounting.

    fsnn federate --dataset {yin-yang,digits} --clients N --rounds R --local-steps E
                  --partition {iid,dirichlet:ALPHA,shards:C,powerlaw:BETA} [--participation K]
                  [--scheme {full,I,II}] --algorithm {fedavg,fedprox,scaffold}
                  --compressor {none,qsgd:S,topk:FRAC,randk:FRAC,int8,causal} [--model {snn,logreg}]
                  --seed S --out DIR [--json]   (and tuning flags: --lr, --schedule, --batch-size, ...)

Writes ``DIR/rounds.csv`` (one row per evaluated round; columns of
`fsnn_theory.federated.HISTORY_COLUMNS`: round, train_loss, test_loss, test_accuracy, uplink_bits,
downlink_bits, cumulative bits, synops (training events), inference_synops, energy, samples,
participants, reporting, update_density — deterministic given the seed), ``DIR/timing.csv``
(client compute seconds per round; wall time, not deterministic) and ``DIR/summary.json``. With
``--json`` the summary is printed as one JSON line on stdout.

Bad input (alpha <= 0, K > N, a client with no samples, k outside (0, d], s < 1, unknown algorithm
or compressor, ...) is reported as a message naming the parameter and its allowed values; exit 2.

Defaults for the spiking model: the paper's tuned FedAvg recipe
(`fsnn_theory.studies.setups.federated_recipe`, from ``experiments/federated_heterogeneity.py``):
E = 10 local SGD steps of batch 32 on exact spike-time gradients, Göltz et al.'s per-spike
gradient guard 0.2 and their weight bumping of silent neurons, 120 / 100 hidden neurons, η0 = 16,
evaluation every 10 rounds; 150 rounds instead of the paper's 400, with η = 16/(1 + 0.1 r) at
round r instead of 16/(1 + 0.01 r) (IID Yin-Yang, seeds 0-2: 94.7-95.1 %). For the
convex model: one local step, constant step 1/L (L its smoothness constant), L2 penalty 1e-3,
100 rounds. Partitions are spec strings (``iid``, ``dirichlet:0.5``, ``shards:2``, ``powerlaw:1``);
``--alpha`` / ``--shards-per-client`` / ``--exponent`` with a bare kind still work.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

NAME = "federate"
HELP = "federated training (FedAvg / FedProx / SCAFFOLD) with partitions, compression and exact accounting"

EXIT_OK = 0
EXIT_USAGE = 2

DATASETS = ("yin-yang", "digits")
MODELS = ("snn", "logreg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fsnn_theory.federated import ALGORITHMS, SCHEDULES, SCHEMES

    a = parser.add_argument
    a("--dataset", choices=DATASETS, default="yin-yang", help="data set (default yin-yang)")
    a("--model", choices=MODELS, default="snn",
      help="snn: time-to-first-spike network (default); logreg: logistic regression on fixed spike-time features")
    a("--clients", type=int, default=10, metavar="N", help="number of clients N (default 10)")
    a("--rounds", type=int, default=None, metavar="R",
      help="communication rounds R (default: snn 150 of the paper's tuned recipe; logreg 100)")
    a("--local-steps", type=int, default=None, metavar="E", help="local SGD steps per round (default: snn 10, logreg 1)")
    a("--local-epochs", type=int, default=None, metavar="EP",
      help="local epochs per round instead of --local-steps")
    a("--batch-size", type=int, default=None, metavar="B", help="minibatch size (default 32)")
    a("--partition", default="iid", metavar="SPEC",
      help="how data is split among clients: iid (default), dirichlet:ALPHA, shards:C, powerlaw:BETA")
    a("--alpha", type=float, default=None, metavar="A",
      help="Dirichlet concentration alpha > 0 for --partition dirichlet (same as --partition dirichlet:A)")
    a("--shards-per-client", type=int, default=None, metavar="C", help="same as --partition shards:C")
    a("--exponent", type=float, default=None, metavar="BETA", help="same as --partition powerlaw:BETA")
    a("--participation", type=int, default=None, metavar="K", help="clients sampled per round (1 <= K <= N)")
    a("--scheme", choices=SCHEMES, default=None,
      help="full (default without --participation), I (K with replacement by p_k), II (K uniformly without "
           "replacement; default with --participation)")
    a("--dropout", type=float, default=0.0, metavar="Q", help="probability that a selected client drops out")
    a("--algorithm", choices=ALGORITHMS, default="fedavg", help="fedavg (default), fedprox or scaffold")
    a("--prox-mu", type=float, default=0.01, metavar="MU", help="FedProx proximal weight (default 0.01)")
    a("--compressor", default="none", metavar="SPEC",
      help="uplink compressor: none, qsgd:S, topk:FRAC, randk:FRAC, int8 or causal (default none)")
    a("--schedule", choices=SCHEDULES, default=None,
      help="step sizes: constant, inverse eta0/(1+decay t), li2020 (default: snn inverse, logreg constant)")
    a("--lr", type=float, default=None, metavar="ETA0", help="initial learning rate (default: snn 16, logreg 1/L)")
    a("--decay", type=float, default=None, metavar="BETA",
      help="decay per SGD step of the inverse schedule (default: snn 0.1/E, i.e. 0.1 per round; logreg 1)")
    a("--clip", type=float, default=None, metavar="C", help="clip each minibatch gradient to norm C")
    a("--max-dw-norm", type=float, default=None, metavar="G",
      help="per-spike gradient guard of the spiking model (default 0.2; 0 switches it off)")
    a("--no-bumping", action="store_true", help="switch off weight bumping of silent neurons (spiking model)")
    a("--hidden", type=int, default=None, metavar="H", help="hidden neurons (default 120 yin-yang, 100 digits)")
    a("--l2", type=float, default=1e-3, metavar="LAMBDA", help="L2 penalty of the logreg model (default 1e-3)")
    a("--train-size", type=int, default=5000, metavar="N", help="Yin-Yang training samples (default 5000)")
    a("--test-size", type=int, default=1000, metavar="N", help="Yin-Yang test samples (default 1000)")
    a("--eval-every", type=int, default=None, metavar="R",
      help="evaluate every R rounds, and after the last (default: snn 10, logreg 1)")
    a("--seed", type=int, default=0, metavar="S", help="seed of everything random (default 0)")
    a("--out", type=Path, required=True, metavar="DIR", help="output directory")
    a("--json", action="store_true", help="print the summary as one JSON line")


def _err(msg: str) -> None:
    print(f"fsnn federate: error: {msg}", file=sys.stderr, flush=True)


def _partition_spec(args: argparse.Namespace) -> str:
    """The partition spec string from ``--partition`` and the older per-parameter flags."""
    from fsnn_theory.federated import PartitionSpec, parse_partition

    spec = parse_partition(args.partition)
    legacy = [(flag, kind, value) for flag, kind, value in (("--alpha", "dirichlet", args.alpha),
                                                           ("--shards-per-client", "shards", args.shards_per_client),
                                                           ("--exponent", "powerlaw", args.exponent))
              if value is not None]
    if not legacy:
        return str(spec)
    flag, kind, value = legacy[0]
    if len(legacy) > 1 or spec.kind != kind:
        raise ValueError(f"{flag} applies to --partition {kind} only (got --partition {args.partition}"
                         + (f" and {legacy[1][0]}" if len(legacy) > 1 else "") + ")")
    if ":" in args.partition:
        raise ValueError(f"give the {kind} parameter once: --partition {kind}:{value:g} or --partition {kind} {flag} {value:g}")
    if kind == "dirichlet" and not (math.isfinite(value) and value > 0):
        raise ValueError(f"--alpha must be a Dirichlet concentration > 0, got {value}")
    return str(PartitionSpec(kind, value))


def run_spec_from_args(args: argparse.Namespace) -> dict:
    """The run spec (`fsnn_theory.studies.presets`) of the arguments: the tuned recipe of the data
    set (`fsnn_theory.studies.setups.federated_recipe`) with every given flag applied on top."""
    from fsnn_theory.studies.setups import FEDERATE_ROUND_DECAY, RUN_SPEC_DEFAULTS, federated_recipe

    if args.clients < 1:
        raise ValueError(f"--clients N must be an integer >= 1, got {args.clients}")
    if args.participation is not None and not 1 <= args.participation <= args.clients:
        raise ValueError(f"--participation K must satisfy 1 <= K <= N = {args.clients} (--clients), got {args.participation}")
    # the schedule would name its own parameters (eta0, decay); name the flags the user typed
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a finite number > 0, got {args.lr}")
    if args.decay is not None and not (math.isfinite(args.decay) and args.decay >= 0):
        raise ValueError(f"--decay must be a finite number >= 0, got {args.decay}")
    scheme = args.scheme or ("full" if args.participation is None else "II")
    if scheme == "full" and args.participation is not None and args.participation != args.clients:
        raise ValueError("--scheme full uses every client: drop --participation or choose --scheme I or II")
    if scheme != "full" and args.participation is None:
        raise ValueError(f"--scheme {scheme} samples K clients per round: give --participation K (1 <= K <= N)")
    if args.model == "logreg" and args.max_dw_norm:
        raise ValueError("--max-dw-norm applies to --model snn only")

    if args.model == "snn":
        spec = federated_recipe(args.dataset)
    else:  # convex model: constant step 1/L, one local step, every round evaluated
        spec = {**RUN_SPEC_DEFAULTS, "dataset": args.dataset, "model": "logreg", "hidden": 100, "rounds": 100,
                "local_steps": 1, "schedule": "constant", "lr": None, "decay": 1.0, "eval_every": 1}
    given = {
        "train_size": args.train_size, "test_size": args.test_size, "hidden": args.hidden, "l2": args.l2,
        "clients": args.clients, "partition": _partition_spec(args), "rounds": args.rounds,
        "local_steps": args.local_steps, "local_epochs": args.local_epochs, "batch_size": args.batch_size,
        "algorithm": args.algorithm, "prox_mu": args.prox_mu, "scheme": scheme,
        "clients_per_round": None if scheme == "full" else args.participation, "dropout": args.dropout,
        "compressor": args.compressor, "schedule": args.schedule, "lr": args.lr, "decay": args.decay,
        "clip": args.clip, "max_dw_norm": args.max_dw_norm, "eval_every": args.eval_every, "seed": args.seed,
    }
    spec.update({k: v for k, v in given.items() if v is not None})
    if args.model == "snn" and args.decay is None and args.local_steps is not None:
        spec["decay"] = FEDERATE_ROUND_DECAY / args.local_steps  # the recipe's decay is per round, not per step
    spec["clients_per_round"] = given["clients_per_round"]
    if args.no_bumping:
        spec["bumping"] = False
    if args.local_epochs is not None:
        spec["local_steps"] = None
    return spec


def _build(args: argparse.Namespace):
    """(model, dataset, partition, config) from the arguments; ValueError for bad input."""
    from fsnn_theory.studies.presets import build_run

    # k = ceil(FRAC d) must lie in (0, d]: guaranteed by FRAC in (0, 1], checked by the compressor.
    return build_run(run_spec_from_args(args))


def handler(args: argparse.Namespace) -> int:
    from fsnn_theory.files import write_csv_atomic, write_json_atomic
    from fsnn_theory.federated import run_federated

    try:
        model, ds, partition, config = _build(args)
        run = run_federated(model, ds.train, ds.test, partition, config)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    out = Path(args.out)
    write_csv_atomic(run.history, out / "rounds.csv")
    write_csv_atomic(run.timing, out / "timing.csv")
    summary = {"dataset": args.dataset, "model": args.model, **run.summary, "out": str(out)}
    write_json_atomic(summary, out / "summary.json")
    if args.json:
        print(json.dumps(summary, sort_keys=True, allow_nan=False), flush=True)
    else:
        print(
            f"{args.model} on {args.dataset}: {config.algorithm}, {partition.n_clients} clients, {config.rounds} rounds, "
            f"compressor {config.compressor.name}\n"
            f"final test accuracy {run.summary['final_test_accuracy']:.4f}, train loss {run.summary['final_train_loss']:.4f}\n"
            f"uplink {run.summary['total_uplink_bits']} bits, downlink {run.summary['total_downlink_bits']} bits, "
            f"training events {run.summary['total_train_synops']:.3g}\n"
            f"wrote {out / 'rounds.csv'}, {out / 'timing.csv'}, {out / 'summary.json'}",
            flush=True,
        )
    return EXIT_OK
