r"""Population margin: how often, under the data, a trained network's neurons fire with a small slope.

Theorem 1's constants hold for a sample when every firing neuron it involves has slope
:math:`\dot V(t^*) \ge s_{min}` (the margin set :math:`M(s_{min})`) and Corollary 1 needs every
output to fire. :func:`population_margin` measures, per layer and per :math:`s_{min}`, the
fraction of samples with at least one firing neuron below the margin (and, for the output layer,
with a silent output), with a one-sided Clopper–Pearson upper confidence bound (Clopper & Pearson,
Biometrika 26, 1934): with probability ≥ ``confidence`` over an i.i.d. sample of the data, the
population probability is below ``upper``. That is a *measured* bound on the probability that
Theorem 1's hypothesis fails for a fresh sample, not a proof about the data distribution.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fsnn_theory._validation import check_in_range
from fsnn_theory.network import Network, forward
from fsnn_theory.neurons import slope_at_threshold

__all__ = ["clopper_pearson_upper", "population_margin"]


def clopper_pearson_upper(k, n, confidence: float = 0.95):
    r"""One-sided upper bound on a binomial probability after k successes in n trials (exact; 1 if k = n)."""
    check_in_range("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    k, n = np.asarray(k), np.asarray(n)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("need 0 <= k <= n and n >= 1")
    with np.errstate(invalid="ignore"):
        up = stats.beta.ppf(confidence, k + 1, n - k)
    return np.where(k >= n, 1.0, up)


def population_margin(network: Network, params, input_times, s_min: Sequence[float],
                      confidence: float = 0.95) -> pd.DataFrame:
    """Per layer and s_min: samples with a firing neuron of slope < s_min (and silent outputs).

    Columns: ``layer`` (1-based), ``s_min``, ``n_samples``, ``below`` (samples with at least one
    firing neuron of that layer whose slope is < s_min), ``fraction``, ``upper`` (Clopper–Pearson),
    ``silent_output`` (samples with a silent output neuron; output layer only, else 0),
    ``fail`` = below or silent_output, ``fail_upper``, and ``min_slope`` over the firing neurons.
    """
    fwd = forward(network, params, input_times)
    weights = network.unflatten(params)
    grid = np.asarray(s_min, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or np.any(~(grid > 0)):
        raise ValueError(f"s_min must be a non-empty list of positive margins, got {s_min!r}")
    rows = []
    n = fwd.layer_inputs[0].shape[0]
    for l, (model, t_in, t_out, w) in enumerate(zip(network.models, fwd.layer_inputs, fwd.spike_times, weights)):
        slope = slope_at_threshold(model, t_in, w)
        firing = np.isfinite(t_out)
        masked = np.where(firing, slope, np.inf)
        per_sample_min = masked.min(axis=1)
        silent = (~firing).any(axis=1) if l == network.n_layers - 1 else np.zeros(n, dtype=bool)
        for s in grid:
            below = per_sample_min < s
            fail = below | silent
            rows.append({"layer": l + 1, "s_min": float(s), "n_samples": n, "below": int(below.sum()),
                         "fraction": float(below.mean()),
                         "upper": float(clopper_pearson_upper(int(below.sum()), n, confidence)),
                         "silent_output": int(silent.sum()), "fail": int(fail.sum()),
                         "fail_upper": float(clopper_pearson_upper(int(fail.sum()), n, confidence)),
                         "min_slope": float(masked[np.isfinite(masked)].min()) if np.isfinite(masked).any()
                         else float("nan")})
    return pd.DataFrame(rows)
