r"""EF21 (Richtárik, Sokolov, Fatkhullin 2021) as analysed: N clients, full local gradients, top-k
compression of gradient *differences*, against its Theorem 1
(:func:`fsnn_theory.theory.bounds.ef21_bound`).

Deterministic (full gradients, top-k is deterministic), so one run is the expectation
(``seeds = 1``). On the convex model with the IID split (equal client sizes, so
:math:`f = \frac1n\sum_i f_i` as the theorem assumes) every constant is a proven bound: L and
:math:`L_i` Böhning's bounds, :math:`f(x^0) - f^{\inf}` with :math:`f^{\inf}` the certified lower
end of :math:`F^*`, :math:`G^0 = 0` (each client sends its first gradient in full). The statement
itself is recalled (``source_checked = "recalled"``).

Control: plain top-k compressed gradient descent *without* error feedback,
:math:`x^{t+1} = x^t - \gamma\frac1n\sum_i\mathrm{top}_k(\nabla f_i(x^t))`, at the same step: a biased
compressor used without the mechanism the theorem analyses; held against the same bound.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fsnn_theory._validation import check_int
from fsnn_theory.studies.verification.curves import case_curves
from fsnn_theory.studies.verification.problems import ConvexProblem, partition_from_spec
from fsnn_theory.studies.verification.table import checkpoints
from fsnn_theory.theory import bounds as bd

__all__ = ["top_k_rows", "ef21_gradient_norms", "ef21_case"]


def top_k_rows(V: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest-magnitude entries of every row of V (ties: the lower index), zero the rest."""
    V = np.asarray(V, dtype=np.float64)
    idx = np.argsort(-np.abs(V), axis=1, kind="stable")[:, :k]
    out = np.zeros_like(V)
    np.put_along_axis(out, idx, np.take_along_axis(V, idx, axis=1), axis=1)
    return out


def _client_blocks(problem: ConvexProblem, partition):
    N = partition.n_clients
    n_max = max(len(i) for i in partition.client_indices)
    Zc = np.zeros((N, n_max, problem.Z.shape[1]))
    Yc = np.zeros((N, n_max), dtype=np.int64)
    Sw = np.zeros((N, n_max))
    for k, idx in enumerate(partition.client_indices):
        Zc[k, :len(idx)] = problem.Z[idx]
        Yc[k, :len(idx)] = problem.y[idx]
        Sw[k, :len(idx)] = 1.0 / len(idx)
    return Zc, Yc, Sw


def ef21_gradient_norms(problem: ConvexProblem, partition, k: int, gamma: float, steps: int,
                        error_feedback: bool = True) -> np.ndarray:
    r""":math:`\|\nabla f(x^t)\|^2` for t = 0..steps-1 (f = the mean of the client objectives) of EF21
    (Algorithm 1, :math:`g_i^0 = \nabla f_i(x^0)`) or, with ``error_feedback=False``, of top-k
    compressed gradient descent."""
    steps = check_int("steps", steps, low=1)
    Zc, Yc, Sw = _client_blocks(problem, partition)
    N = partition.n_clients
    model = problem.model

    def grads(x):
        _, G = model.batched_loss_and_grad(np.broadcast_to(x, (N, x.size)), Zc, Yc, Sw)
        return G

    x = np.array(problem.w1, dtype=np.float64)
    Gi = grads(x)
    g_i = Gi.copy()  # g_i^0 = grad f_i(x^0): G^0 = 0
    out = np.empty(steps)
    for t in range(steps):
        full = Gi.mean(axis=0)
        out[t] = float(full @ full)
        if error_feedback:
            x = x - gamma * g_i.mean(axis=0)
            Gi = grads(x)
            g_i = g_i + top_k_rows(Gi - g_i, k)
        else:
            x = x - gamma * top_k_rows(Gi, k).mean(axis=0)
            Gi = grads(x)
    return out


def ef21_case(problem: ConvexProblem, partition_spec: str, k_fraction: float, horizon: int) -> pd.DataFrame:
    r"""EF21 at the largest step Theorem 1 admits, measured
    :math:`\frac1T\sum_{t<T}\|\nabla f(x^t)\|^2` at the 20 checkpoints; initial value
    :math:`\|\nabla f(x^0)\|^2`; control: top-k without error feedback (module docstring)."""
    from fsnn_theory.studies import estimate as est

    if not 0.0 < k_fraction <= 1.0:
        raise ValueError(f"k_fraction must lie in (0, 1], got {k_fraction!r}")
    horizon = check_int("horizon", horizon, low=2)
    part = partition_from_spec(problem.y, problem.setting.clients, partition_spec)
    if not np.allclose(part.weights, 1.0 / part.n_clients, rtol=0.0, atol=1e-12):
        raise ValueError(f"partition {partition_spec!r} must be balanced: EF21 analyses f = (1/n) sum_i f_i")
    d = int(problem.model.n_params)
    k = max(1, int(math.floor(k_fraction * d)))
    alpha = k / d
    Li = np.array([est.logreg_smoothness_bound(problem.model, problem.X[idx]).value for idx in part.client_indices])
    L = est.logreg_smoothness_bound(problem.model, problem.X).value
    L_tilde = float(np.sqrt(np.mean(Li ** 2)))
    gamma = float(bd.ef21_step_limit(L, L_tilde, alpha))
    f0_gap = float(problem.loss(problem.w1)[0]) - problem.f_star_lower
    run = np.cumsum(ef21_gradient_norms(problem, part, k, gamma, horizon))
    ctl = np.cumsum(ef21_gradient_norms(problem, part, k, gamma, horizon, error_feedback=False))
    steps = checkpoints(horizon)
    avg_run, avg_ctl = run[steps - 1] / steps, ctl[steps - 1] / steps
    bound = bd.ef21_bound(steps, gamma, L, L_tilde, alpha, f0_gap, 0.0)
    return case_curves(theorem="EF21 Thm1 top-k", bound=bound, rigor="proven",
                       configuration=f"{partition_spec} k={k}/{d} T={horizon} N={part.n_clients}",
                       steps=steps, run_values=avg_run[None, :], initial=float(run[0]),
                       constants=(f"L={L:.4g}, L_tilde={L_tilde:.4g} (Boehning), alpha=k/d, G0=0, "
                                  f"f(x0)-f_inf certified; gamma = the theorem's limit {gamma:.4g}"),
                       control="top-k without error feedback (same step)", control_values=avg_ctl[None, :],
                       slope_predicted=-1.0, note="deterministic: full gradients, one run is the expectation",
                       local_steps=1, partition=partition_spec, scheme="full")
