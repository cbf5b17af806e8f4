r"""The constants that the convergence bounds need, measured on a model and a partition.

Every estimate is an :class:`Estimate` record that says *how* it was obtained, so that a reader of
a verification table knows which constants are exact and which are measurements:

* ``"exact"`` — the true value of the constant (e.g. :math:`\mu = \lambda` for L2-regularised
  logistic regression, or :math:`\lambda_{\max}` of the closed-form Hessian at one point);
* ``"upper bound"`` — a proven bound on the constant (e.g. Böhning's smoothness bound), so a
  theorem evaluated with it is still a valid bound;
* ``"solved to tolerance"`` — an optimum computed numerically (scipy L-BFGS on the exact loss and
  gradient) and *certified* by strong convexity: for a :math:`\mu`-strongly convex F and any w,
  :math:`F(w) - \|\nabla F(w)\|^2/(2\mu) \le F^* \le F(w)` and
  :math:`\|w - w^*\| \le \|\nabla F(w)\|/\mu`; the reported value is the end of that interval
  that keeps an upper bound valid;
* ``"measured along trajectory"`` — the largest value seen at the iterates a run visited
  (variances, gradient norms, dissimilarity, local curvature). Such a value is a lower estimate of
  the supremum the theorem assumes; a bound evaluated with it is only as good as the trajectory
  is representative (``guaranteed=False``);
* ``"measured at points"`` — the same at a few chosen points (e.g. power iteration with
  finite-difference Hessian-vector products for a non-convex model).

Which constant, which theorem (the notation of ``fsnn_theory.theory.bounds``):

=====================  ===================================================================
L                      smoothness: every :math:`F_k` (Li et al. 2020) or every component
                       :math:`f_i` (Stich et al. 2018) has an L-Lipschitz gradient
:math:`\mu`            strong convexity of every :math:`F_k` / of f
:math:`\sigma_k^2`     :math:`\mathbb E\|\nabla F_k(w,\xi) - \nabla F_k(w)\|^2` of the minibatch
                       gradient (batch B drawn i.i.d. with replacement)
G                      :math:`\mathbb E\|\nabla F_k(w,\xi)\|^2 \le G^2` along the iterates
:math:`\Gamma`         :math:`F^* - \sum_k p_k F_k^*` (heterogeneity)
:math:`\zeta`          :math:`\sup_w \max_k \|\nabla F_k(w) - \nabla F(w)\|`
:math:`\|w_1-w^*\|^2`  initial distance
=====================  ===================================================================

For the convex model (`fsnn_theory.federated.logreg.LogisticRegressionModel`, multinomial
logistic regression with penalty :math:`\frac\lambda2\|W\|^2` on the design :math:`z = (\phi, 1)`)
the Hessian is known in closed form,

.. math:: \nabla^2 F(W) = \frac1n\sum_i (z_i z_i^\top) \otimes (\mathrm{diag}\,p_i - p_i p_i^\top)
          + \lambda I ,

so :math:`\lambda_{\max}` at a point is exact (:func:`logreg_hessian`), while the global
smoothness constant :math:`\sup_W \lambda_{\max}` is bounded above with Böhning's inequality
:math:`\mathrm{diag}\,p - pp^\top \preceq \frac12 I` (Böhning 1992):
:math:`L \le \lambda + \frac12\lambda_{\max}(Z^\top Z/n)`
(`fsnn_theory.federated.logreg.smoothness_constant`). The exact value at a point is a *lower*
bound on the global L; Böhning's is an *upper* bound; bounds are evaluated with the upper one.
:math:`\mu = \lambda` is exact: the cross-entropy Hessian is positive semi-definite and always
singular (adding the same vector to every class column leaves the softmax unchanged), so
:math:`\inf_W \lambda_{\min}(\nabla^2 F) = \lambda` exactly.

For the same model, sup-over-w constants also have simple proven bounds, because a softmax residual
:math:`r = \mathrm{softmax} - e_y` has :math:`\|r\| \le \sqrt2`: the gradient dissimilarity
:math:`\zeta \le 2\sqrt2\max_i\|z_i\|` and the minibatch variance
:math:`\sigma_B^2 \le 2\max_i\|z_i\|^2/B` (:func:`logreg_dissimilarity_bound`,
:func:`logreg_variance_bound`). The second moment :math:`\mathbb E\|\nabla F_k(w,\xi)\|^2`
contains :math:`\lambda w` and has no such bound: G is always measured along the iterates
(:class:`LogregTrajectoryStats`, which is also what Li et al.'s Assumptions 3-4 ask for: bounds
at the iterates :math:`w_t^k`).

References
----------
- D. Böhning, "Multinomial logistic regression algorithm", Ann. Inst. Statist. Math. 44, 1992.
- X. Li, K. Huang, W. Yang, S. Wang, Z. Zhang, "On the Convergence of FedAvg on Non-IID Data",
  ICLR 2020, arXiv 1907.02189 (Assumptions 1-4: the constants L, mu, sigma_k, G, Gamma).
- Y. Nesterov, "Lectures on Convex Optimization", 2018, Thm 2.1.10 (the certificate
  :math:`F(w) - F^* \le \|\nabla F(w)\|^2/(2\mu)` and :math:`\|w - w^*\| \le \|\nabla F(w)\|/\mu`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from fsnn_theory._validation import (
    as_float_array,
    check_choice,
    check_int,
    check_positive,
)

__all__ = [
    "ESTIMATE_METHODS",
    "Estimate",
    "Optimum",
    # logistic regression: closed forms
    "logreg_per_sample_gradients",
    "logreg_hessian",
    "logreg_smoothness_at",
    "logreg_smoothness_bound",
    "logreg_client_smoothness_bound",
    "logreg_component_smoothness_bound",
    "logreg_strong_convexity",
    "logreg_dissimilarity_bound",
    "logreg_variance_bound",
    "logreg_client_gradient_moments",
    # generic
    "per_sample_gradients",
    "minibatch_gradient_variance",
    "minibatch_gradient_second_moment",
    "hessian_vector_product_fd",
    "power_iteration_max_eigenvalue",
    "smoothness_power_iteration",
    "solve_strongly_convex",
    "model_optimum",
    "client_optima",
    "heterogeneity_gamma",
    "initial_distance2",
    "gradient_dissimilarity",
    # trajectories
    "RecordingModel",
    "recording_model",
    "ClientLookup",
    "LogregTrajectoryStats",
]

ESTIMATE_METHODS: tuple[str, ...] = (
    "exact",
    "upper bound",
    "solved to tolerance",
    "measured along trajectory",
    "measured at points",
)


@dataclass(frozen=True, eq=False)
class Estimate:
    r"""One constant of a convergence bound and how it was obtained.

    Attributes
    ----------
    name: the constant in the theorems' notation (``"L"``, ``"mu"``, ``"sigma2"``, ``"G"``, ...).
    value: the number to plug into a bound (float, or an ndarray for per-client constants).
    method: one of :data:`ESTIMATE_METHODS` (see the module docstring).
    guaranteed: True iff ``value`` provably satisfies the assumption the bound needs (an exact
        value, a proven upper bound, or a certified solver interval); False for measurements.
    interval: a certified ``(low, high)`` enclosure of the true value where one is known.
    note: what exactly was computed (points, sample sizes, tolerances).
    """

    name: str
    value: Any
    method: str
    guaranteed: bool
    interval: tuple[float, float] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        check_choice("method", self.method, ESTIMATE_METHODS)
        v = np.asarray(self.value, dtype=np.float64)
        if np.isnan(v).any():
            raise ValueError(f"value of estimate {self.name!r} must not contain NaN")
        if v.ndim == 0:
            object.__setattr__(self, "value", float(v))
        else:
            v = v.copy()
            v.setflags(write=False)
            object.__setattr__(self, "value", v)

    def describe(self) -> str:
        """One line: ``name = value (method; note)``."""
        val = f"{self.value:.6g}" if isinstance(self.value, float) else (
            f"max {float(np.max(self.value)):.6g} over {np.size(self.value)}")
        extra = f"; {self.note}" if self.note else ""
        return f"{self.name} = {val} ({self.method}{extra})"


# --------------------------------------------------------------------------------------------
# Logistic regression: exact per-sample gradients and Hessian
# --------------------------------------------------------------------------------------------


def _logreg_check(model) -> None:
    for attr in ("design", "l2", "shape", "n_params", "n_classes"):
        if not hasattr(model, attr):
            raise ValueError(f"model must be a LogisticRegressionModel (missing {attr!r})")


def _softmax_residuals(model, params: np.ndarray, Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """r_i = softmax(z_i^T W) - onehot(y_i), (n, C)."""
    W = params.reshape(model.shape)
    logits = Z @ W
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    prob = e / e.sum(axis=1, keepdims=True)
    prob[np.arange(y.size), y] -= 1.0
    return prob


def _params_labels(model, params, X, y):
    p = as_float_array("params", params, ndim=1)
    if p.size != model.n_params:
        raise ValueError(f"params must have n_params = {model.n_params} entries, got {p.size}")
    Z = model.design(X)
    ya = np.asarray(y)
    if ya.shape != (Z.shape[0],) or not np.issubdtype(ya.dtype, np.integer):
        raise ValueError(f"y must be {Z.shape[0]} integer labels, got shape {ya.shape}")
    if Z.shape[0] == 0:
        raise ValueError("X must hold at least one sample")
    return p, Z, ya.astype(np.int64)


def logreg_per_sample_gradients(model, params, X, y) -> np.ndarray:
    r"""Per-sample gradients :math:`g_i = \mathrm{vec}(z_i r_i^\top) + \lambda w`, shape (n, n_params).

    :math:`r_i = \mathrm{softmax}(W^\top z_i) - e_{y_i}`; row-major flattening of the
    (F+1, C) weight matrix, as in the model. Their mean is the model's ``loss_and_grad`` gradient.
    """
    _logreg_check(model)
    p, Z, ya = _params_labels(model, params, X, y)
    R = _softmax_residuals(model, p, Z, ya)
    G = (Z[:, :, None] * R[:, None, :]).reshape(Z.shape[0], -1)
    return G + model.l2 * p[None, :]


def logreg_hessian(model, params, X) -> np.ndarray:
    r"""Exact Hessian of the mean penalised loss at ``params``, (n_params, n_params).

    .. math:: \nabla^2 F = \frac1n\sum_i (z_i z_i^\top) \otimes (\mathrm{diag}\,p_i - p_i p_i^\top)
              + \lambda I,

    index (j, c) of the row-major (F+1, C) weight matrix at position j C + c. The Hessian does
    not depend on the labels. Cost :math:`O(n F^2 C^2)`: for small models (theory checks).
    """
    _logreg_check(model)
    p = as_float_array("params", params, ndim=1)
    if p.size != model.n_params:
        raise ValueError(f"params must have n_params = {model.n_params} entries, got {p.size}")
    Z = model.design(X)
    n, F1 = Z.shape
    C = model.n_classes
    logits = Z @ p.reshape(model.shape)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    prob = e / e.sum(axis=1, keepdims=True)
    H = np.zeros((F1, C, F1, C))
    for c in range(C):
        for c2 in range(C):
            s = prob[:, c] * ((1.0 if c == c2 else 0.0) - prob[:, c2])  # (diag p - p p^T)_{c c2}
            H[:, c, :, c2] = (Z * s[:, None]).T @ Z / n
    H = H.reshape(F1 * C, F1 * C)
    H[np.diag_indices_from(H)] += model.l2
    return H


def logreg_smoothness_at(model, params, X) -> Estimate:
    r""":math:`\lambda_{\max}(\nabla^2 F(w))` at one point, from the closed-form Hessian.  *exact*

    Exact at this point, hence a *lower* bound on the global smoothness constant
    :math:`\sup_w \lambda_{\max}(\nabla^2 F(w))`; compare with :func:`logreg_smoothness_bound`.
    """
    H = logreg_hessian(model, params, X)
    lam = float(np.linalg.eigvalsh(H)[-1])
    return Estimate("L", lam, "exact", False,
                    note="largest Hessian eigenvalue at one point (a lower bound on the global L)")


def logreg_smoothness_bound(model, X) -> Estimate:
    r"""Global smoothness of F on the samples X, :math:`L \le \lambda + \frac12\lambda_{\max}(Z^\top Z/n)`.  *upper bound*

    Böhning (1992): :math:`\mathrm{diag}\,p - pp^\top \preceq \frac12 I` for every probability
    vector p (`fsnn_theory.federated.logreg.smoothness_constant`).
    """
    from fsnn_theory.federated.logreg import smoothness_constant

    _logreg_check(model)
    L = smoothness_constant(model.design(X), model.l2)
    return Estimate("L", L, "upper bound", True,
                    note="Boehning 1992: lambda + lambda_max(Z^T Z / n) / 2")


def logreg_client_smoothness_bound(model, X, client_indices: Sequence[np.ndarray]) -> Estimate:
    r"""A smoothness constant valid for *every* client objective :math:`F_k`:
    :math:`\max_k [\lambda + \frac12\lambda_{\max}(Z_k^\top Z_k/n_k)]`.  *upper bound*

    Li et al. (2020) assume every :math:`F_k` L-smooth; this is Böhning's bound per client,
    maximised over the clients. ``value`` is the maximum; the per-client values are in ``note``'s
    sense available from ``model.client_constants``.
    """
    from fsnn_theory.federated.logreg import smoothness_constant

    _logreg_check(model)
    Z = model.design(X)
    Lk = np.array([smoothness_constant(Z[np.asarray(idx)], model.l2) for idx in client_indices])
    return Estimate("L", float(Lk.max()), "upper bound", True,
                    note=f"Boehning bound per client, max over {Lk.size} clients (min {Lk.min():.4g})")


def logreg_component_smoothness_bound(model, X) -> Estimate:
    r"""A smoothness constant valid for every single-sample loss (and hence every minibatch loss):
    :math:`\lambda + \frac12\max_i\|z_i\|^2`.  *upper bound*

    The per-sample Hessian :math:`(z z^\top)\otimes(\mathrm{diag}\,p - pp^\top) + \lambda I`
    has :math:`\lambda_{\max} \le \frac12\|z\|^2 + \lambda` (Böhning 1992). Stich et al. (2018,
    Theorem 2.4) assume every component :math:`f_i` L-smooth.
    """
    _logreg_check(model)
    Z = model.design(X)
    return Estimate("L", float(model.l2 + 0.5 * np.max(np.sum(Z * Z, axis=1))), "upper bound", True,
                    note="Boehning 1992 per sample: lambda + max_i ||z_i||^2 / 2")


def _max_design_norm(model, X) -> float:
    Z = model.design(X)
    return float(np.sqrt(np.max(np.sum(Z * Z, axis=1))))


def logreg_dissimilarity_bound(model, X) -> Estimate:
    r"""A bound on :math:`\zeta = \sup_w \max_k \|\nabla F_k(w) - \nabla F(w)\|` valid for every w
    and every partition of X: :math:`2\sqrt2\max_i\|z_i\|`.  *upper bound*

    The penalty gradients cancel; what remains are two means of per-sample terms
    :math:`z_i r_i^\top` with :math:`\|r_i\|^2 = (1 - p_{y_i})^2 + \sum_{c \ne y_i} p_c^2 \le
    2(1 - p_{y_i})^2 \le 2`, so each lies in the ball of radius :math:`\rho = \sqrt2\max_i\|z_i\|`
    and their difference has norm at most :math:`2\rho`.
    """
    _logreg_check(model)
    return Estimate("zeta", 2.0 * math.sqrt(2.0) * _max_design_norm(model, X), "upper bound", True,
                    note="2 sqrt(2) max_i ||z_i||: softmax residuals have norm <= sqrt(2)")


def logreg_variance_bound(model, X, batch_size: int) -> Estimate:
    r"""A bound on the minibatch-gradient variance valid for every w and every subset of X:
    :math:`\sigma_B^2 \le 2\max_i\|z_i\|^2 / B`.  *upper bound*

    Per sample the variance is at most the second moment of the cross-entropy part (the penalty
    is the same for every sample), :math:`\frac1n\sum_i\|z_i r_i^\top\|^2 \le
    \max_i\|z_i\|^2\cdot 2`; B samples drawn with replacement divide it by B.
    """
    _logreg_check(model)
    B = check_int("batch_size", batch_size, low=1)
    return Estimate("sigma2", 2.0 * _max_design_norm(model, X) ** 2 / B, "upper bound", True,
                    note="2 max_i ||z_i||^2 / B (softmax residual norm <= sqrt(2))")


def logreg_strong_convexity(model) -> Estimate:
    r""":math:`\mu = \lambda`.  *exact*

    The penalty gives :math:`\nabla^2 F \succeq \lambda I`, and the cross-entropy Hessian is
    singular at every W (direction :math:`v \otimes \mathbf 1_C`), so no larger constant holds.
    """
    _logreg_check(model)
    return Estimate("mu", float(model.l2), "exact", True,
                    note="mu = lambda: the cross-entropy Hessian always has the null direction v (x) 1_C")


def logreg_client_gradient_moments(model, P, Zc, Yc, mask, counts, batch_size: int, zz=None):
    r"""Exact full gradient, minibatch variance and second moment of M client objectives at M points.

    For client data padded to a common length (``Zc`` (M, n_max, F+1) design rows, ``Yc``
    (M, n_max) labels, ``mask`` (M, n_max) 1 for real rows, ``counts`` (M,) the n_k) and
    parameters ``P`` (M, n_params):

    .. math:: \nabla F_k(w) = \frac1{n_k}\sum_i z_i r_i^\top + \lambda W,\qquad
              \sigma_k^2(w) = \frac1B\Big(\frac1{n_k}\sum_i \|z_i\|^2\|r_i\|^2
              - \Big\|\frac1{n_k}\sum_i z_i r_i^\top\Big\|^2\Big),

    the variance of the mean of B samples drawn i.i.d. uniformly *with replacement* (how the
    federated loop draws minibatches; the :math:`\lambda w` term cancels in the variance), and
    :math:`\mathbb E\|\nabla F_k(w,\xi)\|^2 = \|\nabla F_k(w)\|^2 + \sigma_k^2(w)`.
    ``zz`` (M, n_max): the :math:`\|z_i\|^2`, if precomputed.

    Returns ``(grad (M, n_params), sigma2 (M,), second_moment (M,))``. A variance that comes out
    below zero only by rounding (:math:`> -10^{-12}` times the mean squared per-sample norm) is
    reported as 0; anything more negative raises (it would be a bug).
    """
    M = P.shape[0]
    # class axis in the middle, samples last: reductions over the C classes are then elementwise
    WT = P.reshape(M, *model.shape).transpose(0, 2, 1)
    logits = np.matmul(WT, np.swapaxes(Zc, 1, 2))  # (M, C, n_max)
    logits -= logits.max(axis=1, keepdims=True)
    R = np.exp(logits)
    R /= R.sum(axis=1, keepdims=True)
    m_idx, i_idx = np.indices(Yc.shape, sparse=True)
    R[m_idx, Yc, i_idx] -= 1.0  # r_i = softmax - onehot
    R *= mask[:, None, :]
    inv_n = 1.0 / counts
    GT = np.matmul(R, Zc) * inv_n[:, None, None]  # (M, C, F+1): mean of r_i z_i^T
    if zz is None:
        zz = np.einsum("mij,mij->mi", Zc, Zc)
    sq = (zz * (R * R).sum(axis=1)).sum(axis=1) * inv_n
    var1 = sq - (GT * GT).sum(axis=(1, 2))
    if (var1 < -1e-12 * np.maximum(sq, 1e-300)).any():
        raise ValueError("per-sample gradient variance came out negative beyond rounding (bug)")
    var1 = np.where(var1 < 0.0, 0.0, var1)
    grad = GT.transpose(0, 2, 1).reshape(M, -1) + model.l2 * P
    sigma2 = var1 / batch_size
    return grad, sigma2, (grad * grad).sum(axis=1) + sigma2


# --------------------------------------------------------------------------------------------
# Generic models (flat-parameter protocol)
# --------------------------------------------------------------------------------------------


def per_sample_gradients(model, params, X, y) -> np.ndarray:
    """Gradients of the loss of each sample, (n, n_params).

    Vectorised for the logistic-regression model; for other models one ``loss_and_grad`` call
    per sample (the protocol offers no per-sample gradients).
    """
    if hasattr(model, "l2") and hasattr(model, "design") and hasattr(model, "shape"):
        return logreg_per_sample_gradients(model, params, X, y)
    Xa = np.asarray(X)
    ya = np.asarray(y)
    if Xa.shape[0] == 0:
        raise ValueError("X must hold at least one sample")
    return np.stack([np.asarray(model.loss_and_grad(params, Xa[i:i + 1], ya[i:i + 1])[1], dtype=np.float64)
                     for i in range(Xa.shape[0])])


def _sample_subset(n: int, max_samples: int | None, seed: int) -> np.ndarray:
    if max_samples is None or max_samples >= n:
        return np.arange(n)
    check_int("max_samples", max_samples, low=2)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def minibatch_gradient_variance(model, params, X, y, batch_size: int, *, max_samples: int | None = None,
                                seed: int = 0) -> float:
    r"""Variance of the minibatch gradient, :math:`\mathbb E\|\nabla F(w,\xi) - \nabla F(w)\|^2`.

    For a batch of B indices drawn i.i.d. uniformly with replacement from the n samples,

    .. math:: \sigma_B^2(w) = \frac1B\,\frac1n\sum_{i=1}^n \|g_i(w) - \bar g(w)\|^2

    (exact, from the per-sample gradients :math:`g_i`). With ``max_samples`` = m < n the
    per-sample variance is estimated from a random subset of m samples (``default_rng(seed)``)
    with the unbiased :math:`\frac1{m-1}` normalisation — a measurement, not the exact value.
    """
    B = check_int("batch_size", batch_size, low=1)
    Xa, ya = np.asarray(X), np.asarray(y)
    idx = _sample_subset(Xa.shape[0], max_samples, seed)
    G = per_sample_gradients(model, params, Xa[idx], ya[idx])
    dev = G - G.mean(axis=0)
    m = G.shape[0]
    denom = m if idx.size == Xa.shape[0] else m - 1
    return float(np.einsum("ij,ij->", dev, dev) / denom / B)


def minibatch_gradient_second_moment(model, params, X, y, batch_size: int, *, max_samples: int | None = None,
                                     seed: int = 0) -> float:
    r""":math:`\mathbb E\|\nabla F(w,\xi)\|^2 = \|\nabla F(w)\|^2 + \sigma_B^2(w)` (batch B with replacement).

    The full gradient is always exact (one ``loss_and_grad`` on all samples); the variance as in
    :func:`minibatch_gradient_variance`.
    """
    _, g = model.loss_and_grad(params, X, y)
    g = np.asarray(g, dtype=np.float64)
    return float(g @ g) + minibatch_gradient_variance(model, params, X, y, batch_size,
                                                      max_samples=max_samples, seed=seed)


def hessian_vector_product_fd(grad: Callable[[np.ndarray], np.ndarray], params, v, step: float) -> np.ndarray:
    r"""Central finite difference of the gradient, :math:`\nabla^2 F(w)\,v \approx
    \frac{\nabla F(w + hv) - \nabla F(w - hv)}{2h}`, error :math:`O(h^2)` where F is
    :math:`C^3` around w (``step`` = h > 0)."""
    h = check_positive("step", step)
    w = np.asarray(params, dtype=np.float64)
    return (np.asarray(grad(w + h * v)) - np.asarray(grad(w - h * v))) / (2.0 * h)


def power_iteration_max_eigenvalue(matvec: Callable[[np.ndarray], np.ndarray], dim: int, *, iters: int = 100,
                                   rtol: float = 1e-6, seed: int = 0) -> float:
    r"""Largest-magnitude eigenvalue of a symmetric operator by power iteration.

    Returns the Rayleigh quotient :math:`v^\top A v` of the last unit iterate (its absolute value
    is :math:`\|A\|_2` at convergence), stopping when it changes by less than ``rtol`` relatively
    or after ``iters`` products. Start vector ``default_rng(seed)`` Gaussian.
    """
    dim = check_int("dim", dim, low=1)
    iters = check_int("iters", iters, low=1)
    v = np.random.default_rng(seed).standard_normal(dim)
    v /= np.linalg.norm(v)
    lam = 0.0
    for i in range(iters):
        Av = np.asarray(matvec(v), dtype=np.float64)
        new = float(v @ Av)
        norm = float(np.linalg.norm(Av))
        if norm == 0.0:
            return 0.0
        v = Av / norm
        if i > 0 and abs(new - lam) <= rtol * abs(new):
            return new
        lam = new
    return lam


def smoothness_power_iteration(model, params, X, y, *, iters: int = 60, rtol: float = 1e-4,
                               rel_step: float = 1e-5, seed: int = 0) -> Estimate:
    r"""Local smoothness :math:`\|\nabla^2 F(w)\|_2` at one point by power iteration on
    finite-difference Hessian-vector products.  *measured at points*

    Step :math:`h = ` ``rel_step`` :math:`\cdot (1 + \|w\|)`. For a piecewise-smooth loss (spike
    times: spikes appear or vanish at surfaces in weight space) the value is the curvature of the
    smooth piece at w; it says nothing about the jumps between pieces, where no finite L exists.
    """
    w = as_float_array("params", params, ndim=1)
    h = rel_step * (1.0 + float(np.linalg.norm(w)))

    def grad(u):
        return model.loss_and_grad(u, X, y)[1]

    lam = power_iteration_max_eigenvalue(lambda v: hessian_vector_product_fd(grad, w, v, h), w.size,
                                         iters=iters, rtol=rtol, seed=seed)
    return Estimate("L", abs(lam), "measured at points", False,
                    note=f"power iteration, central finite-difference HVP, h = {h:.3g}")


# --------------------------------------------------------------------------------------------
# Optima and heterogeneity
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Optimum:
    r"""A numerically solved strongly convex problem with its certificate.

    ``params`` the solver's point :math:`\hat w`; ``value`` :math:`F(\hat w) \ge F^*`;
    ``grad_norm`` :math:`\|\nabla F(\hat w)\|`; ``value_lower`` :math:`F(\hat w) -
    \|\nabla F(\hat w)\|^2/(2\mu) \le F^*`; ``dist_bound`` :math:`\|\nabla F(\hat w)\|/\mu \ge
    \|\hat w - w^*\|`; ``iterations`` of the solver.
    """

    params: np.ndarray
    value: float
    grad_norm: float
    value_lower: float
    dist_bound: float
    iterations: int


def solve_strongly_convex(loss_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0, mu: float, *,
                          gtol: float = 1e-11, maxiter: int = 20000) -> Optimum:
    r"""Minimise a :math:`\mu`-strongly convex function with scipy's L-BFGS-B on its exact
    loss and gradient, and certify the result (see :class:`Optimum`).

    ``gtol``: stop when the largest gradient entry is below it (scipy's ``pgtol``); the
    certificate uses the final gradient whatever the solver's exit status.
    """
    from scipy.optimize import minimize

    mu = check_positive("mu", mu)
    x0 = as_float_array("x0", x0, ndim=1)

    def fun(w):
        f, g = loss_and_grad(w)
        return float(f), np.asarray(g, dtype=np.float64)

    res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                   options={"gtol": gtol, "ftol": 0.0, "maxiter": maxiter, "maxfun": 2 * maxiter, "maxcor": 30})
    w = np.asarray(res.x, dtype=np.float64)
    f, g = fun(w)
    gn = float(np.linalg.norm(g))
    return Optimum(w, f, gn, f - gn * gn / (2.0 * mu), gn / mu, int(res.nit))


def model_optimum(model, X, y, mu: float, x0=None, **kw) -> Optimum:
    """:func:`solve_strongly_convex` of ``model.loss_and_grad`` on (X, y), from ``x0`` (default zeros)."""
    start = np.zeros(model.n_params) if x0 is None else x0
    return solve_strongly_convex(lambda w: model.loss_and_grad(w, X, y), start, mu, **kw)


def client_optima(model, X, y, client_indices: Sequence[np.ndarray], mu: float, x0=None, *,
                  gtol: float = 1e-11, maxiter: int = 20000) -> list[Optimum]:
    r"""Every client's problem :math:`\min_w F_k(w)` solved to tolerance and certified.

    For a model with ``batched_loss_and_grad`` and ``design`` (the logistic-regression model) the
    N problems are solved as *one* separable L-BFGS problem
    :math:`\min_{w_1..w_N} \sum_k F_k(w_k)` (one vectorised evaluation per iteration; the
    minimiser of a separable sum is the tuple of the minimisers); otherwise one L-BFGS run per
    client. Each client's certificate uses its own block of the final gradient.
    """
    from scipy.optimize import minimize

    mu = check_positive("mu", mu)
    Xa, ya = np.asarray(X), np.asarray(y)
    d = int(model.n_params)
    start = np.zeros(d) if x0 is None else as_float_array("x0", x0, ndim=1)
    if not (hasattr(model, "batched_loss_and_grad") and hasattr(model, "design")):
        return [model_optimum(model, Xa[np.asarray(i)], ya[np.asarray(i)], mu, x0=start, gtol=gtol, maxiter=maxiter)
                for i in client_indices]
    N = len(client_indices)
    counts = np.array([len(i) for i in client_indices])
    n_max = int(counts.max())
    Z = model.design(Xa)
    Zc = np.zeros((N, n_max, Z.shape[1]))
    Yc = np.zeros((N, n_max), dtype=np.int64)
    Sw = np.zeros((N, n_max))
    for k, idx in enumerate(client_indices):
        idx = np.asarray(idx)
        Zc[k, :idx.size] = Z[idx]
        Yc[k, :idx.size] = ya[idx]
        Sw[k, :idx.size] = 1.0 / idx.size

    def fun(flat):
        loss, grad = model.batched_loss_and_grad(flat.reshape(N, d), Zc, Yc, Sw)
        return float(loss.sum()), grad.ravel()

    res = minimize(fun, np.tile(start, N), jac=True, method="L-BFGS-B",
                   options={"gtol": gtol, "ftol": 0.0, "maxiter": maxiter, "maxfun": 2 * maxiter, "maxcor": 30})
    P = np.asarray(res.x, dtype=np.float64).reshape(N, d)
    loss, grad = model.batched_loss_and_grad(P, Zc, Yc, Sw)
    out = []
    for k in range(N):
        gn = float(np.linalg.norm(grad[k]))
        f = float(loss[k])
        out.append(Optimum(P[k].copy(), f, gn, f - gn * gn / (2.0 * mu), gn / mu, int(res.nit)))
    return out


def heterogeneity_gamma(model, X, y, client_indices: Sequence[np.ndarray], weights, mu: float,
                        global_optimum: Optimum | None = None, **kw) -> Estimate:
    r""":math:`\Gamma = F^* - \sum_k p_k F_k^*` with every problem solved to tolerance.  *solved to tolerance*

    Each client objective :math:`F_k` (its mean loss plus the penalty; :func:`client_optima`)
    and the global :math:`F = \sum_k p_k F_k` (:func:`model_optimum`) are minimised with
    L-BFGS on the exact loss and gradient. Certified enclosure
    :math:`[F^*_{low} - \sum p_k F^*_{k,up},\ F^*_{up} - \sum p_k F^*_{k,low}]`; ``value`` is
    its upper end (what an upper bound needs). :math:`\Gamma \ge 0` always
    (:math:`F^* = \sum p_k F_k(w^*) \ge \sum p_k F_k^*`), and :math:`\Gamma = 0` for one client.
    ``weights`` must be the :math:`p_k = n_k/n` that make :math:`\sum_k p_k F_k` the objective
    on all samples.
    """
    p = as_float_array("weights", weights, ndim=1)
    if p.size != len(client_indices):
        raise ValueError(f"weights must hold one p_k per client ({len(client_indices)}), got {p.size}")
    Xa, ya = np.asarray(X), np.asarray(y)
    glob = global_optimum if global_optimum is not None else model_optimum(model, Xa, ya, mu, **kw)
    opts = client_optima(model, Xa, ya, client_indices, mu, x0=glob.params, **kw)
    lo_sum = float(sum(pk * o.value_lower for pk, o in zip(p, opts)))
    up_sum = float(sum(pk * o.value for pk, o in zip(p, opts)))
    worst = max([o.grad_norm for o in opts] + [glob.grad_norm])
    hi = glob.value - lo_sum
    lo = glob.value_lower - up_sum
    return Estimate("Gamma", hi, "solved to tolerance", True, (lo, hi),
                    note=f"L-BFGS per client and global; certified interval width {hi - lo:.2e} "
                         f"(largest final gradient norm {worst:.1e})")


def initial_distance2(w1, optimum: Optimum) -> Estimate:
    r""":math:`\|w_1 - w^*\|^2 \le (\|w_1 - \hat w\| + \|\nabla F(\hat w)\|/\mu)^2`.  *solved to tolerance*"""
    w1 = as_float_array("w1", w1, ndim=1)
    d = float(np.linalg.norm(w1 - optimum.params))
    lo = max(d - optimum.dist_bound, 0.0) ** 2
    hi = (d + optimum.dist_bound) ** 2
    return Estimate("w1_dist2", hi, "solved to tolerance", True, (lo, hi),
                    note="certified by strong convexity: ||w_hat - w*|| <= ||grad F(w_hat)|| / mu")


def gradient_dissimilarity(model, points, X, y, client_indices: Sequence[np.ndarray], weights) -> Estimate:
    r""":math:`\zeta = \max_{w \in \text{points}} \max_k \|\nabla F_k(w) - \nabla F(w)\|`,
    :math:`\nabla F = \sum_k p_k \nabla F_k`.  *measured along trajectory*

    The theorems (e.g. the Field Guide's Theorem 1) assume the supremum over all w; the maximum
    over the points given is a lower estimate of it.
    """
    P = np.atleast_2d(as_float_array("points", points))
    p = as_float_array("weights", weights, ndim=1)
    Xa, ya = np.asarray(X), np.asarray(y)
    best = 0.0
    for w in P:
        grads = np.stack([np.asarray(model.loss_and_grad(w, Xa[np.asarray(idx)], ya[np.asarray(idx)])[1])
                          for idx in client_indices])
        g = p @ grads
        best = max(best, float(np.max(np.linalg.norm(grads - g[None, :], axis=1))))
    return Estimate("zeta", best, "measured along trajectory", False,
                    note=f"max over {P.shape[0]} points and {len(client_indices)} clients")


# --------------------------------------------------------------------------------------------
# Trajectories: see every local iterate of a federated run without touching the federated loop
# --------------------------------------------------------------------------------------------


class RecordingModel:
    """A model wrapper that reports every *training* gradient evaluation to a callback.

    Build it with :func:`recording_model`. It implements the federated model protocol by
    delegation (every attribute of the wrapped model), and intercepts the calls that the
    federated loop makes for local SGD steps: ``batched_loss_and_grad(P, Z, y, w)`` (batched
    models: all clients' step i at once), ``loss_grad_forward`` (spiking models) and
    ``loss_and_grad`` (other models). For each call it invokes
    ``callback(params (M, d), grads (M, d), batch_X (M, B, ...), batch_y (M, B))`` with the local
    iterates *before* the step and the stochastic gradients computed there (M = 1 for unbatched
    calls). Evaluation calls (``loss``, ``accuracy``, ``synops``) are not reported. The gradients
    returned to the loop are untouched, so the run is bit-identical to one of the bare model.
    """

    def __init__(self, model, callback: Callable[..., None]):
        object.__setattr__(self, "inner", model)
        object.__setattr__(self, "_callback", callback)

    def __getattr__(self, name):
        # only called for attributes not found on the wrapper itself
        return getattr(object.__getattribute__(self, "inner"), name)

    def __setattr__(self, name, value):
        raise AttributeError("RecordingModel is read-only")

    def _report(self, params, grad, X, y) -> None:
        self._callback(np.asarray(params, dtype=np.float64)[None, :], np.asarray(grad, dtype=np.float64)[None, :],
                       np.asarray(X)[None], np.asarray(y)[None])

    def loss_and_grad(self, params, X, y):
        loss, grad = self.inner.loss_and_grad(params, X, y)
        self._report(params, grad, X, y)
        return loss, grad


class _RecordingBatched(RecordingModel):
    def batched_loss_and_grad(self, params, Z, y, sample_weight):
        loss, grad = self.inner.batched_loss_and_grad(params, Z, y, sample_weight)
        self._callback(np.asarray(params, dtype=np.float64), np.asarray(grad, dtype=np.float64), Z, y)
        return loss, grad


class _RecordingSpiking(RecordingModel):
    def loss_grad_forward(self, params, X, y, **kw):
        loss, grad, fwd = self.inner.loss_grad_forward(params, X, y, **kw)
        self._report(params, grad, X, y)
        return loss, grad, fwd


def recording_model(model, callback: Callable[..., None]) -> RecordingModel:
    """Wrap ``model`` in a :class:`RecordingModel` with the same fast paths as the model itself
    (``batched_loss_and_grad`` only if the model has it, ``loss_grad_forward`` likewise), so the
    federated loop takes the same code path as for the bare model."""
    if hasattr(model, "batched_loss_and_grad") and hasattr(model, "loss_grad_forward"):
        raise ValueError("model must not offer both batched_loss_and_grad and loss_grad_forward")
    if hasattr(model, "batched_loss_and_grad"):
        return _RecordingBatched(model, callback)
    if hasattr(model, "loss_grad_forward"):
        return _RecordingSpiking(model, callback)
    return RecordingModel(model, callback)


class ClientLookup:
    """Which client a training batch came from, by exact match of its first row.

    ``rows`` (n, m) are the training inputs as the model's training calls see them (for the
    logistic-regression model: its design rows ``model.design(X)``), ``client_indices`` the
    partition. A row that occurs in two clients' data is ambiguous and raises when looked up.
    """

    def __init__(self, rows: np.ndarray, client_indices: Sequence[np.ndarray]):
        rows = np.ascontiguousarray(np.asarray(rows, dtype=np.float64))
        table: dict[bytes, int] = {}
        for k, idx in enumerate(client_indices):
            for i in np.asarray(idx):
                key = rows[i].tobytes()
                if key in table and table[key] != k:
                    table[key] = -1
                else:
                    table[key] = k
        self._table = table

    def __call__(self, row) -> int:
        k = self._table.get(np.ascontiguousarray(np.asarray(row, dtype=np.float64)).tobytes())
        if k is None:
            raise ValueError("a training batch row belongs to no client of the partition")
        if k < 0:
            raise ValueError("a training batch row occurs in two clients' data: cannot tell the client")
        return k


class LogregTrajectoryStats:
    r"""Exact per-step constants of a federated run of the logistic-regression model.

    Pass :meth:`callback` to :func:`recording_model`. At every local step, for every client k
    that trains, at its local iterate :math:`w` (before the step):

    * :math:`\sigma_k^2(w)` and :math:`\mathbb E\|\nabla F_k(w,\xi)\|^2` exactly
      (:func:`logreg_client_gradient_moments`, batch size B drawn with replacement),
    * the realised :math:`\|\nabla F_k(w,\xi)\|^2` of the batch actually drawn.

    At the start of every round (step index a multiple of ``local_steps``, where every row is the
    broadcast model) the same exact moments for *all* clients, including those not selected this
    round, :math:`\max_k\|\nabla F_k(w) - \nabla F(w)\|` (:math:`\zeta`, with
    :math:`\nabla F = \sum_k p_k\nabla F_k`), and the model itself (``round_models``). With
    ``keep_average=True`` also the virtual average :math:`\bar w_t = \sum_k p_k w_t^k` at every
    step (full participation only).

    Maxima are kept per client (``sigma2_max``, ``second_moment_max``) and overall
    (``realised_max``, ``zeta_max``); :attr:`G2` combines them. The client of each batch is found
    from its first row (:class:`ClientLookup`), not from the loop's internals.
    """

    def __init__(self, model, X, y, client_indices: Sequence[np.ndarray], weights, batch_size: int,
                 local_steps: int, *, keep_average: bool = False):
        _logreg_check(model)
        self.model = model
        self.B = check_int("batch_size", batch_size, low=1)
        self.E = check_int("local_steps", local_steps, low=1)
        self.p = as_float_array("weights", weights, ndim=1)
        Z = model.design(X)
        ya = np.asarray(y, dtype=np.int64)
        N = len(client_indices)
        counts = np.array([len(i) for i in client_indices], dtype=np.float64)
        n_max = int(counts.max())
        self.Zc = np.zeros((N, n_max, Z.shape[1]))
        self.Yc = np.zeros((N, n_max), dtype=np.int64)
        self.mask = np.zeros((N, n_max))
        for k, idx in enumerate(client_indices):
            idx = np.asarray(idx)
            self.Zc[k, :idx.size] = Z[idx]
            self.Yc[k, :idx.size] = ya[idx]
            self.mask[k, :idx.size] = 1.0
        self.counts = counts
        self.zz = np.einsum("mij,mij->mi", self.Zc, self.Zc)
        self.lookup = ClientLookup(Z, client_indices)
        self.N = N
        self.sigma2_max = np.zeros(N)
        self.second_moment_max = np.zeros(N)
        self.realised_max = 0.0
        self.zeta_max = 0.0
        self.steps = 0
        self.keep_average = keep_average
        self.averages: list[np.ndarray] = []
        self.round_models: list[np.ndarray] = []

    def _all_clients(self, w: np.ndarray):
        P = np.repeat(w[None, :], self.N, axis=0)
        return logreg_client_gradient_moments(self.model, P, self.Zc, self.Yc, self.mask, self.counts, self.B,
                                              self.zz)

    def callback(self, P, G, Z, y) -> None:
        P = np.asarray(P, dtype=np.float64)
        ks = np.array([self.lookup(Z[m][0]) for m in range(P.shape[0])])
        if np.unique(ks).size != ks.size:
            raise ValueError("two rows of one batched step belong to the same client")
        if self.steps % self.E == 0:
            # round start: every row is the broadcast model; evaluate *all* clients there (covers
            # the clients that do not train this round, and gives zeta)
            if not np.all(P == P[0]):
                raise ValueError("round start: the clients' iterates differ (unexpected step order)")
            self.round_models.append(P[0].copy())
            grads, s2, m2 = self._all_clients(P[0])
            np.maximum(self.sigma2_max, s2, out=self.sigma2_max)
            np.maximum(self.second_moment_max, m2, out=self.second_moment_max)
            g = self.p @ grads
            self.zeta_max = max(self.zeta_max, float(np.max(np.linalg.norm(grads - g[None, :], axis=1))))
        elif ks.size == self.N and np.array_equal(ks, np.arange(self.N)):
            _, s2, m2 = logreg_client_gradient_moments(self.model, P, self.Zc, self.Yc, self.mask, self.counts, self.B,
                                                       self.zz)
            np.maximum(self.sigma2_max, s2, out=self.sigma2_max)
            np.maximum(self.second_moment_max, m2, out=self.second_moment_max)
        else:
            _, s2, m2 = logreg_client_gradient_moments(self.model, P, self.Zc[ks], self.Yc[ks], self.mask[ks],
                                                       self.counts[ks], self.B, self.zz[ks])
            np.maximum.at(self.sigma2_max, ks, s2)
            np.maximum.at(self.second_moment_max, ks, m2)
        self.realised_max = max(self.realised_max, float(np.max(np.einsum("mi,mi->m", G, G))))
        if self.keep_average:
            if ks.size != self.N:
                raise ValueError("keep_average needs full participation (every client trains every step)")
            self.averages.append(self.p @ P[np.argsort(ks)])
        self.steps += 1

    @property
    def G2(self) -> float:
        r""":math:`G^2` = max over steps and clients of max(exact :math:`\mathbb E\|g\|^2`, realised :math:`\|g\|^2`)."""
        return float(max(np.max(self.second_moment_max), self.realised_max))
