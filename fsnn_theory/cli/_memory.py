"""Memory a ``fsnn train`` / ``fsnn federate`` configuration needs, checked before it is built
(issue 15, defect 3: ``--hidden 100000000`` was killed by the kernel after 98 s at 23.8 GB).

The estimate, in bytes (float64 throughout the Python engine):

    8 * (PARAM_COPIES * P + (ACTIVATION_WORDS * B + EVAL_WORDS * S) * sum_l (n_in_l + 1) n_out_l)
      + BASE_BYTES

with P the parameter count, B the samples one gradient call sees (the mini-batch; ``fsnn
federate`` batches all clients' local steps, so clients x batch; the convex model maps the whole
training set to spike-time features at once) and the sum over layers of the per-(input, neuron)
pairs each sample touches. ``ACTIVATION_WORDS`` = 4 is the measured 3.2 words per (sample, input,
neuron) of the first-spike engine's training pass (peak RSS of ``fsnn train --dataset digits
--epochs 1 --hidden 2000`` at batch 20 and 600: 267 and 2203 MB) rounded up; S samples are
evaluated at once without gradients (``fsnn federate``: the whole training split; measured 0.34
words per (sample, input, neuron): 390 and 1078 MB at 2000 and 8000 hidden neurons, independent
of the batch), EVAL_WORDS = 0.5 rounded up; the parameter copies
are the parameters, gradient, Adam's two moments and the best epoch's copy (train), or the
server's, the clients' batched copies, control variates and error-feedback residuals (federate).
`tests/test_cli_defects.py` holds the estimate against a measured run.
"""

from __future__ import annotations

import os
import re

__all__ = ["INPUTS", "OUTPUTS", "estimate_bytes", "machine_bytes", "parse_bytes", "check_memory"]

#: Input and output widths of the two data sets' networks (`fsnn_theory.network`).
INPUTS = {"yin-yang": 4, "digits": 64}
OUTPUTS = {"yin-yang": 3, "digits": 10}
ACTIVATION_WORDS = 4
EVAL_WORDS = 0.5
BASE_BYTES = 350 * 2**20  # interpreter and imports (numpy, scipy, pandas, brian2, numba): about 220 MB measured,
#                            plus up to about 100 MB while numba compiles the engine kernels at first use
LIMIT_FRACTION = 0.75


def estimate_bytes(layer_sizes: list[int], batch: int, param_copies: int, eval_samples: int = 0) -> int:
    """Bytes the configuration needs (module docstring); Python ints, so no overflow."""
    pairs = sum((int(a) + 1) * int(b) for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    per_pair = param_copies + ACTIVATION_WORDS * int(batch) + EVAL_WORDS * int(eval_samples)
    return int(8 * per_pair * pairs) + BASE_BYTES


def machine_bytes() -> int:
    """Physical memory of the machine (``os.sysconf``; ``/proc/meminfo`` as a fallback)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        return kb * 1024


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
    """argparse ``type`` of ``--max-memory``: bytes, or a number with K, M, G or T (powers of 1024)."""
    import argparse

    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)i?B?\s*", str(text), flags=re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"must be a size > 0 such as 4G, 500M or 1000000 (bytes), got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def check_memory(need: int, max_memory: int | None, what: str) -> None:
    """ValueError if ``need`` exceeds ``max_memory`` (default: 75 % of the machine's memory)."""
    limit = int(LIMIT_FRACTION * machine_bytes()) if max_memory is None else int(max_memory)
    if need > limit:
        source = "--max-memory" if max_memory is not None else f"{LIMIT_FRACTION:.0%} of this machine's memory"
        raise ValueError(f"{what} needs about {_gb(need)} of memory, more than {_gb(limit)} ({source}); "
                         "use a smaller --hidden or --batch-size (or raise --max-memory)")


def _gb(n: int) -> str:
    return f"{n / 2**30:.3g} GB" if n >= 2**30 else f"{n / 2**20:.3g} MB"
