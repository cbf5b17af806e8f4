"""Benchmark: 10 clients x 100 rounds of federated training of the Yin-Yang spiking network.

FedAvg, IID, E = 1 local step of batch 32 per client and round, the 4-120-3 network with exact
spike-time gradients (per-spike guard and weight bumping as in `fsnn federate`), all 5000 training
samples; evaluation (training loss on 5000, test accuracy on 1000 samples) every 10 rounds.
Target: <= 60 s on the project machine. Prints one JSON line; exit code 1 if over the target.

    python benchmarks/bench_federated.py [--rounds R] [--local-steps E]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--local-steps", type=int, default=1)
    args = parser.parse_args()

    from fsnn_theory.studies.presets import build_model_and_data, run_spec

    spec = {"clients": args.clients, "rounds": args.rounds, "local_steps": args.local_steps, "batch_size": 32,
            "eval_every": 10, "partition": "iid", "seed": 0}
    build_model_and_data(spec)  # data generation outside the timed region
    start = time.perf_counter()
    run = run_spec(spec)
    seconds = time.perf_counter() - start
    out = {
        "benchmark": "federated_yin_yang_snn",
        "clients": args.clients,
        "rounds": args.rounds,
        "local_steps": args.local_steps,
        "seconds": round(seconds, 2),
        "client_seconds": round(run.summary["client_seconds"], 2),
        "target_seconds": TARGET_SECONDS,
        "final_test_accuracy": run.summary["final_test_accuracy"],
        "total_uplink_bits": run.summary["total_uplink_bits"],
    }
    print(json.dumps(out), flush=True)
    return 0 if seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
