r"""FedAvg exactly as the theorems analyse it, vectorised over seeds, on a :class:`ConvexProblem`.

:func:`local_sgd_gaps` runs S independent seeds at once (parameters of shape (S, N, d): every
client of every seed in one batched gradient call) and returns :math:`F(w_T) - F^*` at the
checkpoints only. Algorithm (Li et al. 2020, Sec. 2-3): each round the server model is broadcast,
every client takes E SGD steps on minibatches of B samples drawn uniformly with replacement from
its own data with the global step sizes :math:`\eta_t` (t = 1, 2, ... counts SGD steps), and the
server aggregates

* ``"full"`` (Theorem 1): :math:`w \leftarrow \sum_k p_k w^k`;
* ``"I"`` (Theorem 2): K indices drawn with replacement with probabilities :math:`p_k`,
  :math:`w \leftarrow \frac1K\sum_{k\in S} w^k` (repeated indices count twice);
* ``"II"`` (Theorem 3): K indices drawn uniformly without replacement,
  :math:`w \leftarrow \frac NK\sum_{k\in S} p_k w^k`.

Every client computes its local steps every round (the analysis' virtual sequence); under
schemes I/II only the sampled ones enter the average, which gives the same distribution of
:math:`w` as running only the sampled clients. Seed s draws minibatches from
``default_rng([s, 0])`` and client samples from ``default_rng([s, 1])``: a seed's trajectory does
not depend on which other seeds run with it (bit-identical when run alone).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fsnn_theory._validation import check_choice, check_int

__all__ = ["local_sgd_gaps"]


def local_sgd_gaps(problem, partition, *, local_steps: int, rounds: int, etas, seeds: Sequence[int],
                   record_rounds, scheme: str = "full", clients_per_round: int | None = None,
                   weights=None) -> np.ndarray:
    r"""FedAvg (see the module docstring); returns (S, C) gaps :math:`F(w) - F^*_{low}` after the
    rounds ``record_rounds`` (C sorted round numbers in [1, rounds]).

    ``etas``: the step size of every SGD step t = 1..rounds·E (length rounds·E). ``weights``: the
    aggregation weights :math:`p_k` (default the partition's :math:`n_k/n`; the objective is
    always :math:`F = \sum_k (n_k/n) F_k`); a different vector is a negative control.
    """
    check_choice("scheme", scheme, ("full", "I", "II"))
    E = check_int("local_steps", local_steps, low=1)
    R = check_int("rounds", rounds, low=1)
    etas = np.asarray(etas, dtype=np.float64)
    if etas.shape != (R * E,) or not (etas > 0).all():
        raise ValueError(f"etas must hold rounds*E = {R * E} positive step sizes, got shape {etas.shape}")
    rec = np.asarray(record_rounds, dtype=np.int64)
    if rec.ndim != 1 or rec.size == 0 or rec.min() < 1 or rec.max() > R or (np.diff(rec) <= 0).any():
        raise ValueError(f"record_rounds must be increasing round numbers in [1, {R}]")
    seeds = [check_int("seed", s, low=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    N = partition.n_clients
    p = partition.weights if weights is None else np.asarray(weights, dtype=np.float64)
    if p.shape != (N,) or (p < 0).any() or not np.isclose(p.sum(), 1.0, rtol=0.0, atol=1e-12):
        raise ValueError(f"weights must be {N} non-negative numbers summing to 1")
    if scheme == "full":
        K = None
    else:
        K = check_int("clients_per_round", clients_per_round, low=1, high=N)
    model = problem.model
    B = problem.setting.batch_size
    order = np.concatenate(partition.client_indices)
    sizes = np.array([len(i) for i in partition.client_indices])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    Zs, ys = problem.Z[order], problem.y[order]
    S, d = len(seeds), model.n_params
    batch_rngs = [np.random.default_rng([s, 0]) for s in seeds]
    select_rngs = [np.random.default_rng([s, 1]) for s in seeds]
    w = np.broadcast_to(problem.w1, (S, d)).copy()
    sw = np.full((S * N, B), 1.0 / B)
    out = np.empty((S, rec.size))
    j = 0
    for r in range(R):
        u = np.stack([g.random((E, N, B)) for g in batch_rngs], axis=1)  # (E, S, N, B)
        idx = starts[None, None, :, None] + np.floor(u * sizes[None, None, :, None]).astype(np.int64)
        P = np.repeat(w[:, None, :], N, axis=1).reshape(S * N, d)
        for e in range(E):
            ie = idx[e].reshape(S * N, B)
            _, grad = model.batched_loss_and_grad(P, Zs[ie], ys[ie], sw)
            P -= etas[r * E + e] * grad
        P = P.reshape(S, N, d)
        if scheme == "full":
            agg = np.broadcast_to(p, (S, N))
        elif scheme == "I":
            agg = np.stack([np.bincount(g.choice(N, size=K, replace=True, p=p), minlength=N) / K
                            for g in select_rngs])
        else:
            agg = np.zeros((S, N))
            for s, g in enumerate(select_rngs):
                sel = g.choice(N, size=K, replace=False)
                agg[s, sel] = N / K * p[sel]
        w = np.einsum("sn,snd->sd", agg, P)
        if j < rec.size and rec[j] == r + 1:
            out[:, j] = problem.loss(w) - problem.f_star_lower
            j += 1
    return out
