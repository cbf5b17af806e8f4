"""``fsnn energy``: one federated run and its energy on one device profile, computation and radio.

    fsnn energy --device {mcu-ble,phone-lte,headset-wifi} [--model {snn,ann}] [--target ACC]
                [every flag of `fsnn federate`] [--out DIR] [--json]

Runs the federated training of `fsnn federate` (``--model ann``: the ReLU MLP of the same shape as
the spiking network, `fsnn_theory.ann`, default step size 1.0) with every local step's operations
counted (`fsnn_theory.opcounts`), and prints the energy of the run, or of its rounds up to the
first evaluated round whose test accuracy reaches ``--target``: computation (Horowitz 2014 45 nm
energies x the profile's technology factor), uplink and downlink radio (Huang et al. 2012 power
model at the profile's throughputs, one tail per transfer), the peak training memory against the
profile's budget, and the crossover energy per bit above which the radio dominates
(`fsnn_theory.theory.energy`). ``--json`` prints the same as one JSON line. A target never reached
is reported as ``rounds: inf`` (JSON: null) with infinite (null) energies. Unknown device or bad
flags: a message naming the flag, exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from fsnn_theory.cli import federate as cli_federate
from fsnn_theory.cli._checks import Range, check_numbers, check_out

NAME = "energy"
HELP = "energy of one federated run on a device profile: computation and radio, peak memory, crossover"

EXIT_OK = 0
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fsnn_theory.theory.energy import DEVICE_PROFILES

    cli_federate.add_arguments(parser)
    for action in parser._actions:  # reuse federate's flags; --out optional, --model gains "ann"
        if action.dest == "out":
            action.required = False
            action.help = "optional output directory (rounds.csv, energy.json)"
        if action.dest in ("force", "quiet"):  # federate's resume and progress flags: no effect here
            action.help = argparse.SUPPRESS
        if action.dest == "model":
            action.choices = ("snn", "ann", "logreg")
            action.help = "snn (default), ann (ReLU MLP of the same shape) or logreg (not counted: an error)"
    parser.add_argument("--device", required=True, metavar="NAME",
                        help=f"device profile: {', '.join(DEVICE_PROFILES)}")
    parser.add_argument("--target", type=float, default=None, metavar="ACC",
                        help="stop the accounting at the first evaluated round with test accuracy >= ACC in (0, 1]")


def _err(msg: str) -> None:
    print(f"fsnn energy: error: {msg}", file=sys.stderr, flush=True)


def breakdown(run, model, profile, target: float | None, batch_size: int, clients: int, steps: int) -> dict:
    """The energy breakdown of a finished run of a `CountingModel` (see the module docstring)."""
    import numpy as np

    from fsnn_theory.opcounts import OperationCounts
    from fsnn_theory.theory.energy import compute_joules, crossover_joules_per_bit, round_radio_joules

    h = run.history
    rounds_total = int(h["round"].iloc[-1])
    per_round = model.per_round(rounds_total, clients * steps)
    if target is None:
        idx = len(h) - 1
    else:
        hits = np.flatnonzero(h["test_accuracy"].to_numpy() >= target)
        idx = int(hits[0]) if hits.size else None
    out = {"device": profile.name, "target_accuracy": target,
           "final_test_accuracy": float(h["test_accuracy"].iloc[-1]), "n_params": int(model.n_params)}
    if idx is None:
        out.update(rounds=None, compute_joules=None, uplink_joules=None, downlink_joules=None,
                   radio_joules=None, total_joules=None, crossover_j_per_bit=None)
        return out
    r = int(h["round"].iloc[idx])
    counts = OperationCounts()
    for c in per_round[:r]:
        counts = counts + c
    comp45 = compute_joules(counts.fmul, counts.fadd, counts.compare, counts.sram_words)
    transfers = float(h["participants"].iloc[: idx + 1].sum())
    up_bits, down_bits = float(h["cum_uplink_bits"].iloc[idx]), float(h["cum_downlink_bits"].iloc[idx])
    up, down = round_radio_joules(up_bits, down_bits, transfers, transfers, profile)
    comp = comp45 * profile.technology_factor
    out.update(rounds=r, fmul=counts.fmul, fadd=counts.fadd, compare=counts.compare, sram_words=counts.sram_words,
               compute_joules=comp, uplink_bits=up_bits, downlink_bits=down_bits, uplink_joules=up,
               downlink_joules=down, radio_joules=up + down, total_joules=comp + up + down,
               radio_share=(up + down) / (comp + up + down),
               crossover_j_per_bit=crossover_joules_per_bit(comp45, up_bits + down_bits) if up_bits + down_bits > 0 else None)
    return out


def handler(args: argparse.Namespace) -> int:
    from fsnn_theory.federated import run_federated
    from fsnn_theory.opcounts import CountingModel, memory_bytes, snn_memory_per_sample, training_memory_words
    from fsnn_theory.theory.energy import device_profile

    try:
        check_numbers(args, {**cli_federate.RANGES, "--target": Range(0, 1, low_open=True)})
        check_out(args.out)
        profile = device_profile(args.device)
        if args.target is not None and not (math.isfinite(args.target) and 0 < args.target <= 1):
            raise ValueError(f"--target must be a test accuracy in (0, 1], got {args.target}")
        if args.model == "logreg":
            raise ValueError("--model logreg has no operation counts here: use --model snn or ann")
        ann = args.model == "ann"
        if ann:
            args = argparse.Namespace(**{**vars(args), "model": "snn", "lr": 1.0 if args.lr is None else args.lr})
        model, ds, partition, config = cli_federate._build(args)
        if config.scheme != "full" or config.dropout > 0 or config.local_steps is None:
            raise ValueError("fsnn energy counts full participation with --local-steps only "
                             "(no --participation, --dropout or --local-epochs)")
        if ann:
            from fsnn_theory.ann import mlp_like

            snn = model
            model = mlp_like(snn.network.layer_sizes)
            config = dataclasses.replace(config, max_dw_norm=None, bumping=None)
            stored, scratch = model.memory_per_sample()
        else:
            stored, scratch = snn_memory_per_sample(model.network)
        counting = CountingModel(model)
        run = run_federated(counting, ds.train, ds.test, partition, config)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    out = breakdown(run, counting, profile, args.target, config.batch_size, partition.n_clients, config.local_steps)
    peak = memory_bytes(training_memory_words(model.n_params, stored, scratch, config.batch_size,
                                              config.compressor.error_feedback), "float32")
    out.update(model="ann" if ann else "snn", dataset=args.dataset, compressor=config.compressor.name,
               peak_memory_bytes=peak, memory_budget_bytes=profile.memory_bytes,
               fits_memory=bool(peak <= profile.memory_bytes))
    if args.out is not None:
        from fsnn_theory.files import write_csv_atomic, write_json_atomic

        write_csv_atomic(run.history, Path(args.out) / "rounds.csv")
        write_json_atomic(out, Path(args.out) / "energy.json")
    if args.json:
        print(json.dumps(out, sort_keys=True, allow_nan=False), flush=True)
        return EXIT_OK
    rounds = "inf (target not reached)" if out["rounds"] is None else str(out["rounds"])
    lines = [f"{out['model']} on {args.dataset}, device {profile.name}, compressor {out['compressor']}: "
             f"rounds {rounds}, final test accuracy {out['final_test_accuracy']:.4f}"]
    if out["rounds"] is not None:
        lines += [
            f"computation  {out['compute_joules']:.4g} J  ({out['fmul']:.3g} mult, {out['fadd']:.3g} add, "
            f"{out['compare']:.3g} compare, {out['sram_words']:.3g} SRAM words)",
            f"uplink       {out['uplink_joules']:.4g} J  ({out['uplink_bits']:.4g} bits)",
            f"downlink     {out['downlink_joules']:.4g} J  ({out['downlink_bits']:.4g} bits)",
            f"total        {out['total_joules']:.4g} J  (radio {100 * out['radio_share']:.2f} %)",
            f"crossover    {out['crossover_j_per_bit']:.3g} J/bit at 45 nm (radio dominates above it)",
        ]
    lines.append(f"peak memory  {peak} bytes (float32) of {profile.memory_bytes:.0f} "
                 f"({'fits' if out['fits_memory'] else 'DOES NOT FIT'})")
    print("\n".join(lines), flush=True)
    return EXIT_OK
