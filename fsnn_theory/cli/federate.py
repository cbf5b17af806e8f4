"""``fsnn federate``: federated training of a spiking network (or the convex model) with exact accounting.

    fsnn federate --dataset {yin-yang,digits} --clients N --rounds R --local-steps E
                  --partition {iid,dirichlet,shards,powerlaw} [--alpha A] [--participation K]
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

Defaults for the spiking model (SGD on exact spike-time gradients): constant learning rate 0.5,
batch 32, Göltz et al.'s per-spike gradient guard 0.2 and their weight bumping of silent neurons
(plain SGD without it lets the output neurons fall silent after a few thousand steps on Yin-Yang).
For the convex model: constant step 1/L (L its smoothness constant), L2 penalty 1e-3.
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
    from fsnn_theory.federated import ALGORITHMS, PARTITION_KINDS, SCHEDULES, SCHEMES

    a = parser.add_argument
    a("--dataset", choices=DATASETS, default="yin-yang", help="data set (default yin-yang)")
    a("--model", choices=MODELS, default="snn",
      help="snn: time-to-first-spike network (default); logreg: logistic regression on fixed spike-time features")
    a("--clients", type=int, default=10, metavar="N", help="number of clients N (default 10)")
    a("--rounds", type=int, default=100, metavar="R", help="communication rounds R (default 100)")
    a("--local-steps", type=int, default=None, metavar="E", help="local SGD steps per round (default 1)")
    a("--local-epochs", type=int, default=None, metavar="EP",
      help="local epochs per round instead of --local-steps")
    a("--batch-size", type=int, default=32, metavar="B", help="minibatch size (default 32)")
    a("--partition", choices=PARTITION_KINDS, default="iid", help="how data is split among clients (default iid)")
    a("--alpha", type=float, default=0.5, metavar="A", help="Dirichlet concentration alpha > 0 (default 0.5)")
    a("--shards-per-client", type=int, default=2, metavar="C", help="shards per client (default 2)")
    a("--exponent", type=float, default=1.0, metavar="BETA", help="power-law size exponent (default 1)")
    a("--participation", type=int, default=None, metavar="K", help="clients sampled per round (1 <= K <= N)")
    a("--scheme", choices=SCHEMES, default=None,
      help="full (default without --participation), I (K with replacement by p_k), II (K uniformly without "
           "replacement; default with --participation)")
    a("--dropout", type=float, default=0.0, metavar="Q", help="probability that a selected client drops out")
    a("--algorithm", choices=ALGORITHMS, default="fedavg", help="fedavg (default), fedprox or scaffold")
    a("--prox-mu", type=float, default=0.01, metavar="MU", help="FedProx proximal weight (default 0.01)")
    a("--compressor", default="none", metavar="SPEC",
      help="uplink compressor: none, qsgd:S, topk:FRAC, randk:FRAC, int8 or causal (default none)")
    a("--schedule", choices=SCHEDULES, default=None, help="step sizes: constant, inverse eta0/(1+decay t), li2020")
    a("--lr", type=float, default=None, metavar="ETA0", help="initial learning rate")
    a("--decay", type=float, default=None, metavar="BETA", help="decay of the inverse schedule")
    a("--clip", type=float, default=None, metavar="C", help="clip each minibatch gradient to norm C")
    a("--max-dw-norm", type=float, default=None, metavar="G",
      help="per-spike gradient guard of the spiking model (default 0.2; 0 switches it off)")
    a("--no-bumping", action="store_true", help="switch off weight bumping of silent neurons (spiking model)")
    a("--hidden", type=int, default=None, metavar="H", help="hidden neurons (default 120 yin-yang, 100 digits)")
    a("--l2", type=float, default=1e-3, metavar="LAMBDA", help="L2 penalty of the logreg model (default 1e-3)")
    a("--train-size", type=int, default=5000, metavar="N", help="Yin-Yang training samples (default 5000)")
    a("--test-size", type=int, default=1000, metavar="N", help="Yin-Yang test samples (default 1000)")
    a("--eval-every", type=int, default=1, metavar="R", help="evaluate every R rounds (default 1)")
    a("--seed", type=int, default=0, metavar="S", help="seed of everything random (default 0)")
    a("--out", type=Path, required=True, metavar="DIR", help="output directory")
    a("--json", action="store_true", help="print the summary as one JSON line")


def _err(msg: str) -> None:
    print(f"fsnn federate: error: {msg}", file=sys.stderr, flush=True)


def _build(args: argparse.Namespace):
    """(model, train, test, partition, config) from the arguments; ValueError for bad input."""
    from fsnn_theory.data import digits_dataset, yin_yang_dataset
    from fsnn_theory.federated import (
        FederatedConfig,
        LogisticRegressionModel,
        SpikeTimeFeatures,
        StepSchedule,
        make_partition,
        spike_feature_dataset,
    )

    if args.clients < 1:
        raise ValueError(f"--clients N must be an integer >= 1, got {args.clients}")
    if args.participation is not None and not 1 <= args.participation <= args.clients:
        raise ValueError(f"--participation K must satisfy 1 <= K <= N = {args.clients} (--clients), got {args.participation}")
    if args.partition == "dirichlet" and not args.alpha > 0:
        raise ValueError(f"--alpha must be a Dirichlet concentration > 0, got {args.alpha}")
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
    K = None if scheme == "full" else args.participation

    if args.dataset == "yin-yang":
        ds = yin_yang_dataset(train_size=args.train_size, test_size=args.test_size)
    else:
        ds = digits_dataset(seed=args.seed)
    if args.model == "snn":
        from fsnn_theory.network import digits_classifier, yin_yang_classifier

        hidden = args.hidden or (120 if args.dataset == "yin-yang" else 100)
        model = (yin_yang_classifier if args.dataset == "yin-yang" else digits_classifier)(hidden)
        kind = args.schedule or "constant"
        if kind == "li2020":
            raise ValueError("--schedule li2020 needs a strongly convex model: use --model logreg")
        schedule = StepSchedule(kind, 0.5 if args.lr is None else args.lr, 1.0 if args.decay is None else args.decay)
        guard = 0.2 if args.max_dw_norm is None else (args.max_dw_norm or None)
        if args.no_bumping:
            bumping = None
        else:
            from fsnn_theory.training import WeightBumping

            bumping = WeightBumping()
    else:
        feats = SpikeTimeFeatures(ds.n_features, n_hidden=args.hidden or 100,
                                  encoding="goltz" if args.dataset == "yin-yang" else "latency", seed=args.seed)
        ds = spike_feature_dataset(ds, feats)
        model = LogisticRegressionModel(feats.n_hidden, ds.n_classes, l2=args.l2)
        L, mu = model.smoothness(ds.train.X), model.strong_convexity()
        kind = args.schedule or "constant"
        schedule = StepSchedule(kind, 1.0 / L if args.lr is None else args.lr,
                                1.0 if args.decay is None else args.decay, L=L, mu=mu)
        if args.max_dw_norm:
            raise ValueError("--max-dw-norm applies to --model snn only")
        guard = bumping = None
    partition = make_partition(args.partition, ds.train.y, args.clients, args.seed, alpha=args.alpha,
                               shards_per_client=args.shards_per_client, exponent=args.exponent)
    local_steps = args.local_steps if args.local_epochs is None else None
    if args.local_epochs is None and local_steps is None:
        local_steps = 1
    config = FederatedConfig(
        rounds=args.rounds, algorithm=args.algorithm, local_steps=local_steps, local_epochs=args.local_epochs,
        batch_size=args.batch_size, schedule=schedule, prox_mu=args.prox_mu, scheme=scheme,
        clients_per_round=K, dropout=args.dropout, compressor=args.compressor, eval_every=args.eval_every,
        seed=args.seed, clip_grad_norm=args.clip, max_dw_norm=guard, bumping=bumping,
    )
    # k = ceil(FRAC d) must lie in (0, d]: guaranteed by FRAC in (0, 1], checked by the compressor.
    return model, ds, partition, config


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
