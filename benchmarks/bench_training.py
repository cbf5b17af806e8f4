"""Benchmark: seconds per training epoch on Yin-Yang 4-120-3 and peak memory; where the time goes.

    .venv/bin/python benchmarks/bench_training.py [--epochs N] [--batch-size B] [--json]

One epoch = 5000 training samples in mini-batches of 150 (forward pass, exact backward pass,
Adam step or weight bump), the recipe of `fsnn_theory.studies.setups.default_training_config`. Measured
separately: the training pass alone and the per-epoch evaluation (validation + test, 2000
samples), each as wall time and as process CPU time (the machine may be shared: CPU time is the
figure that other jobs disturb least; the load average is printed). Peak memory: tracemalloc peak
of one epoch (numpy allocations are traced) and the process's maximum resident set size.
A cProfile of one epoch attributes the time to forward pass (spike times), backward pass
(spike-time derivatives and chain rule), loss, optimiser and bookkeeping.
"""

from __future__ import annotations

import argparse
import math
import cProfile
import json
import os
import pstats
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fsnn_theory.network import predict_from_times  # noqa: E402
from fsnn_theory.training import (  # noqa: E402
    Optimizer,
    clip_update_norm,
    evaluate,
    minibatch_order,
    weight_bumping,
)
from fsnn_theory.studies.setups import default_training_config, load_dataset, make_classifier  # noqa: E402


def training_pass(model, dataset, config, params, opt, epoch: int):
    """One epoch of mini-batch updates, exactly as `fsnn_theory.training.train` does it."""
    X, y = dataset.train.X, dataset.train.y
    order = minibatch_order(X.shape[0], epoch, config.seed)
    lr = config.learning_rate(epoch)
    bump_value, last = config.bumping.value, None
    for s in range(0, X.shape[0], config.batch_size):
        idx = order[s : s + config.batch_size]
        _, grad, fwd = model.loss_grad_forward(params, X[idx], y[idx], max_dw_norm=config.max_dw_norm)
        predict_from_times(fwd.output_times, model.loss_fn.t_max)
        params, last, bump_value = weight_bumping(model, params, fwd, config.bumping, bump_value, last, y[idx])
        if last is None:
            delta, _ = clip_update_norm(opt.update(grad, lr), config.max_update_norm)
            params = params - delta
    return params


def evaluation_pass(model, dataset, config, params):
    evaluate(model, params, dataset.validation, config.eval_batch)
    evaluate(model, params, dataset.test, config.eval_batch)


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


# (label, file, function, indent): cumulative times of these functions; indented rows are parts
# of the row above them
PROFILE_ROWS = [
    ("forward passes (training + evaluation)", "network.py", "_forward", 0),
    ("sort inputs, interval set-up", "neurons.py", "__init__", 1),
    ("running sums of the interval coefficients", "neurons.py", "decayed", 1),
    ("first crossing: select interval, log", "neurons.py", "_select_first_crossing", 1),
    ("backward pass (chain rule)", "network.py", "_backward", 0),
    ("spike-time derivatives (engine)", "neurons.py", "_gradients", 1),
    ("loss and its derivative", "network.py", "_first_spike_loss", 0),
    ("optimiser (Adam)", "training.py", "update", 0),
    ("weight bumping", "training.py", "weight_bumping", 0),
]


def profile_epoch(model, dataset, config, params) -> tuple[list[tuple[str, int, float]], float]:
    """Cumulative time of the main steps in one training + evaluation epoch (cProfile)."""
    opt = Optimizer(config.optimizer, model.n_params)
    prof = cProfile.Profile()
    prof.enable()
    w0 = time.perf_counter()
    p = training_pass(model, dataset, config, params, opt, 0)
    evaluation_pass(model, dataset, config, p)
    total = time.perf_counter() - w0
    prof.disable()
    stats = pstats.Stats(prof).stats
    rows = []
    for label, fname, func, indent in PROFILE_ROWS:
        cum = sum(v[3] for (f, _, fn), v in stats.items() if f.endswith(fname) and fn == func)
        rows.append((label, indent, cum))
    return rows, total


def snntorch_epoch(n_samples: int, batch_size: int, steps: int, epochs: int):
    """snnTorch 1.0 on the same shape (4+bias -> 120 -> 3, current-based LIF = ``snn.Synaptic``),
    time-stepped with ``steps`` steps over the 10 ms window, latency-coded inputs, forward +
    backward (surrogate gradient, BPTT) + Adam per mini-batch. Returns (wall, CPU) seconds per
    epoch of ``n_samples`` samples (median over ``epochs``), or None if snnTorch is not installed."""
    try:
        import snntorch as snn
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    # one intra-op thread, like the numpy engine: on a shared 2-core machine more threads made
    # snnTorch 25x slower (oversubscription), which would flatter the ratio
    torch.set_num_threads(1)
    dt = 10.0 / steps  # ms per step; tau_s = 1 ms, tau_m = 2 ms as in the analytic network
    alpha, beta = math.exp(-dt / 1.0), math.exp(-dt / 2.0)
    fc1, fc2 = torch.nn.Linear(5, 120), torch.nn.Linear(120, 3)
    lif1, lif2 = snn.Synaptic(alpha=alpha, beta=beta), snn.Synaptic(alpha=alpha, beta=beta)
    opt = torch.optim.Adam(list(fc1.parameters()) + list(fc2.parameters()), lr=1e-3)
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 1, (n_samples, 4))
    t_in = np.concatenate([0.15 + v * 1.85, np.full((n_samples, 1), 0.9)], axis=1)
    idx = np.minimum((t_in / dt).astype(int), steps - 1)
    spikes = np.zeros((steps, n_samples, 5), dtype=np.float32)
    spikes[idx, np.arange(n_samples)[:, None], np.arange(5)[None, :]] = 1.0
    x_all = torch.from_numpy(spikes)
    y_all = torch.from_numpy(rng.integers(0, 3, n_samples))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for s0 in range(0, n_samples, batch_size):
            x, y = x_all[:, s0 : s0 + batch_size], y_all[s0 : s0 + batch_size]
            syn1, mem1 = lif1.init_synaptic()
            syn2, mem2 = lif2.init_synaptic()
            out = []
            for t in range(steps):
                spk1, syn1, mem1 = lif1(fc1(x[t]), syn1, mem1)
                spk2, syn2, mem2 = lif2(fc2(spk1), syn2, mem2)
                out.append(mem2)
            loss = loss_fn(torch.stack(out).max(dim=0).values, y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    epoch()  # warm-up
    walls, cpus = [], []
    for _ in range(epochs):
        _, w, c = timed(epoch)
        walls.append(w)
        cpus.append(c)
    return float(np.median(walls)), float(np.median(cpus)), torch.get_num_threads()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs after one warm-up epoch (default 5)")
    ap.add_argument("--batch-size", type=int, default=150)
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    ap.add_argument("--snntorch-steps", type=int, default=50, help="time steps of the snnTorch comparison (default 50)")
    ap.add_argument("--no-snntorch", action="store_true", help="skip the snnTorch comparison")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    dataset = load_dataset("yin-yang")
    model = make_classifier("yin-yang", (120,), "lif")
    config = default_training_config("yin-yang", batch_size=args.batch_size)
    params = model.init_params(0)
    opt = Optimizer(config.optimizer, model.n_params)

    params = training_pass(model, dataset, config, params, opt, 0)  # warm-up (imports, caches)
    train_wall, train_cpu, eval_wall, eval_cpu = [], [], [], []
    for e in range(1, args.epochs + 1):
        params, w, c = timed(lambda: training_pass(model, dataset, config, params, opt, e))
        train_wall.append(w)
        train_cpu.append(c)
        _, w, c = timed(lambda: evaluation_pass(model, dataset, config, params))
        eval_wall.append(w)
        eval_cpu.append(c)

    tracemalloc.start()
    p2 = training_pass(model, dataset, config, params, Optimizer(config.optimizer, model.n_params), 0)
    evaluation_pass(model, dataset, config, p2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux

    groups = profile_epoch(model, dataset, config, params)
    load_after = os.getloadavg()

    snn_res = None if args.no_snntorch else snntorch_epoch(dataset.train.n_samples, args.batch_size,
                                                          args.snntorch_steps, max(1, min(args.epochs, 3)))
    med = lambda xs: float(np.median(xs))  # noqa: E731
    n_batches = -(-dataset.train.n_samples // args.batch_size)
    print(f"Yin-Yang 4-120-3 LIF (tau_m = 2 tau_s), {dataset.train.n_samples} training samples, "
          f"batch {args.batch_size} ({n_batches} mini-batches), {args.epochs} timed epochs")
    print(f"machine: {os.cpu_count()} cores, load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"training pass   : median {med(train_wall):.3f} s wall, {med(train_cpu):.3f} s CPU per epoch "
          f"(min {min(train_wall):.3f} / {min(train_cpu):.3f})")
    print(f"evaluation pass : median {med(eval_wall):.3f} s wall, {med(eval_cpu):.3f} s CPU per epoch "
          f"(validation + test, 2000 samples)")
    print(f"epoch incl. eval: median {med(np.add(train_wall, eval_wall)):.3f} s wall, "
          f"{med(np.add(train_cpu, eval_cpu)):.3f} s CPU")
    print(f"memory          : tracemalloc peak {peak / 2**20:.1f} MiB during one epoch, max RSS {maxrss_mb:.0f} MiB")
    n_train = dataset.train.n_samples
    if snn_res is None:
        print("snnTorch        : not installed (pip install torch snntorch) or skipped; no ratio")
        ratios = {}
    else:
        sw, sc, threads = snn_res
        ratios = {"snntorch_seconds_per_epoch_wall": sw, "snntorch_seconds_per_epoch_cpu": sc,
                  "speedup_vs_snntorch_wall": sw / med(train_wall), "speedup_vs_snntorch_cpu": sc / med(train_cpu),
                  "snntorch_steps": args.snntorch_steps, "torch_threads": threads}
        print(f"snnTorch 1.0    : T = {args.snntorch_steps} steps, same shape, forward + backward (BPTT) + Adam: "
              f"{sw:.3f} s wall, {sc:.3f} s CPU per epoch ({n_train / sw:,.0f} samples/s wall; torch threads {threads})")
        print(f"ratio           : analytic training pass {n_train / med(train_wall):,.0f} samples/s wall -> "
              f"{sw / med(train_wall):.1f}x snnTorch (wall), {sc / med(train_cpu):.1f}x (CPU)")
    rows, total = groups
    print(f"where the time goes (cProfile of one epoch incl. evaluation, {total:.3f} s with profiling):")
    for label, indent, t in rows:
        print(f"  {'  ' * indent}{label:<{50 - 2 * indent}s} {t:7.3f} s  {100 * t / total:5.1f} %")
    if args.json:
        print(json.dumps({
            "train_seconds_per_epoch_wall": med(train_wall), "train_seconds_per_epoch_cpu": med(train_cpu),
            "eval_seconds_per_epoch_wall": med(eval_wall), "eval_seconds_per_epoch_cpu": med(eval_cpu),
            "tracemalloc_peak_mib": peak / 2**20, "max_rss_mib": maxrss_mb,
            "load_average": [load_before[0], load_after[0]], "cores": os.cpu_count(), **ratios,
        }, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
