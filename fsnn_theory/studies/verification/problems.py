r"""The problems the verification runs on, and their certified constants.

:class:`ConvexSetting` / :func:`convex_problem`: multinomial logistic regression with an L2
penalty on fixed spike-time features of Yin-Yang (`fsnn_theory.federated.logreg`), split over N
clients. Nothing is cached: :func:`convex_problem` builds a frozen record whose arrays are
read-only, and the caller passes it along (one build per ``fsnn verify``).

**The informative regime.** The penalty ``l2`` is chosen large enough that the condition number
:math:`\kappa = L/\mu` is small (about 1.8 with the defaults), and the start :math:`w_1` is far
from the optimum: :math:`w_1 = s\,u` with u a fixed random unit vector and
:math:`s` = ``start_radius``. Then :math:`F(w_1) - F^*` is large compared with the noise and
heterogeneity terms of the bounds, and the bounds fall below the initial gap after a few dozen
steps instead of never (the issue measured 0.138 initial gap against a bound >= 5.1 at w_1 = 0).

**Certified constants** (:func:`certified_logreg_constants`; every one a proven bound, so rows
built on them are ``proven``):

* L: Böhning's bound per client, maximised over clients (`estimate.logreg_client_smoothness_bound`);
  :math:`\mu = \lambda` exactly.
* :math:`\sigma_k^2 \le 2\max_i\|z_i\|^2/B` for every w (`estimate.logreg_variance_bound`).
* G: every stochastic gradient is :math:`g = \lambda w + a` with :math:`\|a\| \le A =
  \sqrt2\max_i\|z_i\|` (softmax residual norm <= sqrt 2). One SGD step with
  :math:`\eta\lambda \le 1` gives :math:`\|w^+\| \le (1-\eta\lambda)\|w\| + \eta A \le
  \max(\|w\|, A/\lambda)`, and averaging (aggregation, minibatch means) cannot leave a ball, so
  every iterate has :math:`\|w\| \le R = \max(\|w_1\|, A/\lambda)` and
  :math:`\|g\| \le G = A + \lambda R` surely (hence :math:`\mathbb E\|g\|^2 \le G^2`).
* :math:`\Gamma` and :math:`\|w_1 - w^*\|^2`: solved with L-BFGS and certified by strong
  convexity (upper ends of the enclosures; `estimate.heterogeneity_gamma`,
  `estimate.initial_distance2`); :math:`F^*` enters measured gaps through its certified lower end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fsnn_theory._validation import check_int, check_positive
from fsnn_theory.studies import estimate as est

__all__ = [
    "ConvexSetting",
    "ConvexProblem",
    "convex_problem",
    "partition_from_spec",
    "LogregConstants",
    "certified_logreg_constants",
]


@dataclass(frozen=True)
class ConvexSetting:
    r"""Sizes of the convex problem: the first ``train_size`` Yin-Yang training samples, ``hidden``
    spike-time features (feature seed ``feature_seed``), penalty ``l2`` (= :math:`\mu`), ``clients``
    clients, minibatch ``batch_size`` (drawn with replacement), start :math:`w_1 = s u` with
    :math:`s` = ``start_radius`` and u a unit vector drawn with ``start_seed``."""

    train_size: int = 1000
    hidden: int = 20
    l2: float = 2.0
    clients: int = 10
    batch_size: int = 8
    start_radius: float = 30.0
    feature_seed: int = 0
    start_seed: int = 0

    def __post_init__(self) -> None:
        check_int("train_size", self.train_size, low=2)
        check_int("hidden", self.hidden, low=1)
        check_positive("l2", self.l2)
        check_int("clients", self.clients, low=1, high=self.train_size)
        check_int("batch_size", self.batch_size, low=1)
        check_positive("start_radius", self.start_radius)
        check_int("feature_seed", self.feature_seed, low=0)
        check_int("start_seed", self.start_seed, low=0)


def _readonly(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64 if np.asarray(a).dtype.kind == "f" else None, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ConvexProblem:
    """Model, design matrix Z (bias column included), labels, start w₁ and certified optimum."""

    setting: ConvexSetting
    model: Any
    X: np.ndarray
    y: np.ndarray
    Z: np.ndarray
    w1: np.ndarray
    optimum: est.Optimum
    mu: float

    @property
    def f_star_lower(self) -> float:
        """Certified lower end of F*: measured gaps use it (never underestimated)."""
        return float(self.optimum.value_lower)

    def loss(self, params) -> np.ndarray:
        """F(w) on all samples for a (d,) or (M, d) array of parameter vectors."""
        P = np.atleast_2d(np.asarray(params, dtype=np.float64))
        n = self.Z.shape[0]
        M = P.shape[0]
        losses = np.empty(M)
        for lo in range(0, M, 64):  # chunks: (chunk, n, F+1) design copies stay small
            Pc = P[lo:lo + 64]
            m = Pc.shape[0]
            sw = np.full((m, n), 1.0 / n)
            loss, _ = self.model.batched_loss_and_grad(Pc, np.broadcast_to(self.Z, (m, *self.Z.shape)),
                                                       np.broadcast_to(self.y, (m, n)), sw)
            losses[lo:lo + m] = loss
        return losses if np.ndim(params) == 2 else losses[:1]

    @property
    def initial_gap(self) -> float:
        """F(w₁) − F* (with F* at its certified lower end: an upper end of the gap)."""
        return float(self.loss(self.w1)[0]) - self.f_star_lower


def convex_problem(setting: ConvexSetting) -> ConvexProblem:
    """Build the data, model, start and certified optimum of ``setting`` (no cache: pass it along)."""
    from fsnn_theory.data import yin_yang_dataset
    from fsnn_theory.studies.setups import convex_model_and_data

    ds = yin_yang_dataset(train_size=setting.train_size, validation_size=10, test_size=10)
    model, fds = convex_model_and_data(ds, setting.hidden, setting.l2, setting.feature_seed)
    X, y = fds.train.X, fds.train.y
    mu = est.logreg_strong_convexity(model).value
    opt = est.model_optimum(model, X, y, mu)
    u = np.random.default_rng(setting.start_seed).standard_normal(model.n_params)
    w1 = setting.start_radius * u / np.linalg.norm(u)
    return ConvexProblem(setting, model, _readonly(X), _readonly(y), _readonly(model.design(X)), _readonly(w1),
                         opt, float(mu))


def partition_from_spec(y, n_clients: int, spec: str, seed: int = 0):
    """A partition by spec (``"iid"``, ``"dirichlet:ALPHA"``, ...), read by the federated layer's
    one parser, `fsnn_theory.federated.partition.parse_partition`."""
    from fsnn_theory.federated.partition import parse_partition

    return parse_partition(spec).make(y, n_clients, seed)


@dataclass(frozen=True, eq=False)
class LogregConstants:
    """Certified constants of one partition of a :class:`ConvexProblem` (see the module docstring)."""

    partition: Any
    L: float
    mu: float
    sigma2: float
    A: float
    R: float
    G: float
    Gamma: float
    w1_dist2: float

    def describe(self) -> str:
        return (f"L={self.L:.4g} (Boehning, max over clients), mu={self.mu:g} (exact), "
                f"sigma_k^2<={self.sigma2:.3g} (2 max||z||^2/B), G<={self.G:.4g} (A+lambda R, R=max(|w1|, A/lambda)), "
                f"Gamma<={self.Gamma:.3g}, |w1-w*|^2<={self.w1_dist2:.4g} (certified)")


def certified_logreg_constants(problem: ConvexProblem, partition) -> LogregConstants:
    """L, μ, σ_k², G, Γ, ‖w₁ − w*‖² of ``partition``, every one a proven bound (module docstring)."""
    model, X, y = problem.model, problem.X, problem.y
    L = est.logreg_client_smoothness_bound(model, X, partition.client_indices).value
    sigma2 = est.logreg_variance_bound(model, X, problem.setting.batch_size).value
    A = math.sqrt(2.0) * float(np.sqrt(np.max(np.sum(problem.Z ** 2, axis=1))))
    lam = problem.mu
    R = max(float(np.linalg.norm(problem.w1)), A / lam)
    Gamma = est.heterogeneity_gamma(model, X, y, partition.client_indices, partition.weights, lam,
                                    global_optimum=problem.optimum).value
    w1_dist2 = est.initial_distance2(problem.w1, problem.optimum).value
    return LogregConstants(partition, float(L), lam, float(sigma2), A, R, A + lam * R, float(Gamma),
                           float(w1_dist2))
