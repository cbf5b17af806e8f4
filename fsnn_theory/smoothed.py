r"""A one-layer time-to-first-spike classifier trained on its Gaussian-smoothed loss (Theorem 5's oracle).

`SmoothedLayerClassifier` wraps a one-layer `fsnn_theory.network.SNNClassifier` and implements the
federated model protocol. Its ``loss_and_grad`` is the *two-point zeroth-order oracle* of the
smoothed loss :math:`f_\sigma(W) = \mathbb E_u F(W + \sigma u)` (the symmetric Gaussian two-point
estimator of zeroth-order optimisation, e.g. Nesterov & Spokoiny 2017; its unbiasedness and variance
bound are proved in ``proofs/smoothed_federated_convergence.md``, Lemma B):

.. math:: g = \frac1m \sum_{j=1}^m \frac{F_S(W + \sigma u_j) - F_S(W - \sigma u_j)}{2\sigma}\,u_j,
          \qquad u_j \sim N(0, I_d),

unbiased for :math:`\nabla f_{S,\sigma}` for *any* bounded loss (spikes may appear, vanish and
change causal sets: the engine's exact gradient is not used, so its jumps do not bias anything).
All 2m perturbed weight matrices are evaluated in one engine call: a one-layer network shares its
weights over the batch, so the m perturbations are stacked along the output axis
(:math:`n_{in} \times 2mK`).

Randomness: the directions come from ``default_rng(SeedSequence([seed, *words]))`` where the
words hash the parameters and the batch (blake2b): no hidden state, the same call gives the same
directions, and different clients, steps or batches get independent-looking streams. This is a
pseudo-random stand-in for fresh noise, as every simulation's generator is.

``loss`` (used for the history's train and test loss) is the *unsmoothed* loss of the base model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from fsnn_theory._validation import check_int, check_positive
from fsnn_theory.network import SNNClassifier, _first_spike_loss
from fsnn_theory.neurons import first_spike_times

__all__ = ["SmoothedLayerClassifier", "SmoothedEstimate"]


@dataclass(frozen=True)
class SmoothedEstimate:
    """Per-direction two-point terms ``terms`` (m, d), and the range of every per-sample loss seen."""

    terms: np.ndarray
    loss_min: float
    loss_max: float
    mean_loss: float

    @property
    def gradient(self) -> np.ndarray:
        return self.terms.mean(axis=0)

    def squared_norm_unbiased(self) -> float:
        r"""U-statistic :math:`\frac{1}{m(m-1)}\sum_{i\ne j}\langle a_i, a_j\rangle`, unbiased for :math:`\|\mathbb E a\|^2`."""
        m = self.terms.shape[0]
        if m < 2:
            raise ValueError(f"an unbiased squared norm needs >= 2 directions, got {m}")
        s = self.terms.sum(axis=0)
        return float((s @ s - np.einsum("ij,ij->", self.terms, self.terms)) / (m * (m - 1)))


def _seed_words(*arrays: np.ndarray) -> list[int]:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    digest = h.digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


@dataclass(frozen=True)
class SmoothedLayerClassifier:
    r"""Federated model protocol for :math:`f_\sigma` of a one-layer `SNNClassifier` (see module docstring).

    base : one-layer `SNNClassifier` with regulariser α = 0 and ``silent_label_loss`` None (so the
        loss is bounded: `fsnn_theory.theory.smoothing.ttfs_cross_entropy_range`).
    sigma : smoothing scale σ > 0 (weight units).
    directions : m ≥ 1 directions per oracle call.
    seed : stream of the directions (>= 0).
    start : optional initial parameters returned by ``init_params`` (to continue a run).
    loss_cap : optional cap c > 0: every per-sample loss is replaced by min(loss, c) before
        smoothing (a smaller range M for Theorem 5; samples above the cap stop contributing).
    """

    base: SNNClassifier
    sigma: float
    directions: int = 16
    seed: int = 0
    start: tuple[float, ...] | None = None
    loss_cap: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.base, SNNClassifier):
            raise ValueError(f"base must be an SNNClassifier, got {type(self.base).__name__}")
        if self.base.network.n_layers != 1:
            raise ValueError(f"base must have exactly one layer (hidden=()), got layer_sizes {self.base.network.layer_sizes}")
        if self.base.loss_fn.alpha != 0 or self.base.loss_fn.silent_label_loss is not None:
            raise ValueError("base.loss_fn must have alpha = 0 and silent_label_loss = None (a bounded loss)")
        object.__setattr__(self, "sigma", check_positive("sigma", self.sigma))
        object.__setattr__(self, "directions", check_int("directions", self.directions, low=1))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))
        if self.loss_cap is not None:
            object.__setattr__(self, "loss_cap", check_positive("loss_cap", self.loss_cap))
        if self.start is not None:
            start = tuple(float(v) for v in self.start)
            if len(start) != self.base.n_params or not np.all(np.isfinite(start)):
                raise ValueError(f"start must hold {self.base.n_params} finite parameters, got {len(start)}")
            object.__setattr__(self, "start", start)

    # -- protocol attributes
    @property
    def n_params(self) -> int:
        return self.base.n_params

    @property
    def n_classes(self) -> int:
        return self.base.n_classes

    def with_start(self, params) -> "SmoothedLayerClassifier":
        return SmoothedLayerClassifier(self.base, self.sigma, self.directions, self.seed, tuple(np.asarray(params, float)),
                                       self.loss_cap)

    def init_params(self, seed: int) -> np.ndarray:
        if self.start is not None:
            return np.array(self.start, dtype=np.float64)
        return self.base.init_params(seed)

    # -- the smoothed loss
    def estimate(self, params, X, y, directions: int, rng: np.random.Generator) -> SmoothedEstimate:
        """Two-point terms of ``directions`` Gaussian directions from ``rng`` on the batch (X, y)."""
        m = check_int("directions", directions, low=1)
        W = self.base.network.unflatten(params)[0]
        t, yy = self.base._xy(X, y)
        t_in = self.base.network.layer_input(0, t)
        n_in, K = W.shape
        U = rng.standard_normal((m, n_in, K))
        Ws = np.concatenate([W + self.sigma * U, W - self.sigma * U])  # (2m, n_in, K)
        stacked = np.transpose(Ws, (1, 0, 2)).reshape(n_in, 2 * m * K)
        t_out = first_spike_times(self.base.network.models[0], t_in, stacked)  # (B, 2m K)
        b = t_out.shape[0]
        per_sample, _ = _first_spike_loss(t_out.reshape(b * 2 * m, K), np.repeat(yy, 2 * m), self.base.loss_fn)
        if self.loss_cap is not None:
            per_sample = np.minimum(per_sample, self.loss_cap)
        F = per_sample.reshape(b, 2 * m).mean(axis=0)
        coef = (F[:m] - F[m:]) / (2.0 * self.sigma)
        terms = coef[:, None] * U.reshape(m, n_in * K)
        return SmoothedEstimate(terms, float(per_sample.min()), float(per_sample.max()), float(F.mean()))

    # -- protocol methods
    def loss(self, params, X, y) -> float:
        return self.base.loss(params, X, y)

    def loss_and_grad(self, params, X, y) -> tuple[float, np.ndarray]:
        p = np.asarray(params, dtype=np.float64)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, *_seed_words(p, np.asarray(X), np.asarray(y))]))
        est = self.estimate(p, X, y, self.directions, rng)
        return est.mean_loss, est.gradient

    def predict(self, params, X) -> np.ndarray:
        return self.base.predict(params, X)

    def accuracy(self, params, X, y) -> float:
        return self.base.accuracy(params, X, y)

    def synops(self, params, X) -> np.ndarray:
        return self.base.synops(params, X)

    def gradient_support(self, params, X, y) -> np.ndarray:
        # the zeroth-order oracle moves every weight
        return np.ones(self.n_params, dtype=bool)

