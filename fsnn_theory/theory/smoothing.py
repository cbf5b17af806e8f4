r"""Gaussian smoothing of a bounded loss and federated local SGD on the smoothed objective (Theorem 5).

Pure formulas (no runs). The proof is ``proofs/smoothed_federated_convergence.md``, its sympy
check ``proofs/check_smoothed_federated_convergence.py``, the measured counterpart the experiment
``whole_run_convergence``.

Setting. :math:`F(W)` is any *bounded, measurable* loss of the weights :math:`W\in\mathbb R^d`
with values in an interval of length :math:`M` (the time-to-first-spike cross-entropy with a
readout window is one: :func:`ttfs_cross_entropy_range`; it jumps where spikes appear or vanish,
and that does not matter here). Its Gaussian smoothing is

.. math:: f_\sigma(W) = \mathbb E_{u\sim N(0, I_d)}\, F(W + \sigma u).

Facts used (for unit :math:`v`, :math:`c` the midpoint of the range, :math:`Z\sim N(0,1)`):

* :math:`\nabla f_\sigma(W) = \sigma^{-1}\mathbb E[F(W+\sigma u)\,u]`,
  :math:`\nabla^2 f_\sigma(W) = \sigma^{-2}\mathbb E[F(W+\sigma u)(uu^\top - I)]`
  (differentiate the Gaussian density; the gradient formula is the one Nesterov & Spokoiny 2017 use
  for Gaussian smoothing). Subtracting :math:`c` changes neither (the weights have mean 0), so
  :math:`\|\nabla f_\sigma\| \le \frac M2 \mathbb E|Z|/\sigma = M/(\sigma\sqrt{2\pi})` and
  :math:`\|\nabla^2 f_\sigma\|_2 \le \frac M2\mathbb E|Z^2 - 1|/\sigma^2 = 2\varphi(1) M/\sigma^2`
  with :math:`\varphi` the standard normal density. Both are attained (by
  :math:`F = \frac M2\operatorname{sign}(v^\top u)` and :math:`\frac M2\operatorname{sign}((v^\top u)^2-1)`),
  and neither depends on d or on any continuity of F. Source check: NOT compared verbatim with
  Nesterov–Spokoiny — the stored copies found (the journal abstract and the front matter of CORE
  discussion paper 2011/16) hold no formulas; every constant used here is proved in
  ``proofs/smoothed_federated_convergence.md`` and derived by sympy, so none is taken from them.
  (Their smoothness constant :math:`\sqrt d\,L_0/\mu`, as recalled in the project's notes, needs an
  :math:`L_0`-Lipschitz F, which the TTFS loss is not, Proposition 1; ours needs only boundedness.)
* Two-point oracle (the symmetric Gaussian two-point estimator of zeroth-order methods): with m directions
  :math:`u_j` and one minibatch S of B samples drawn with replacement,
  :math:`g = \frac1m\sum_j \frac{F_S(W+\sigma u_j) - F_S(W-\sigma u_j)}{2\sigma}u_j` is unbiased for
  :math:`\nabla f_{k,\sigma}` (client k's smoothed loss) and
  :math:`\mathbb E\|g - \nabla f_{k,\sigma}\|^2 \le \frac{M^2 d}{4\sigma^2 m} + \frac{M^2}{2\pi\sigma^2 B}`
  (:func:`two_point_oracle_variance`).

Theorem 5 (local SGD / FedAvg on :math:`f = \sum_k p_k f_{k,\sigma}`, full participation,
exact averaging every I steps, constant step :math:`\gamma \le 1/L`, R rounds, T = RI steps):

.. math:: \frac1R\sum_{r=0}^{R-1}\mathbb E\|\nabla f(\bar x_{rI})\|^2 \le
          \frac{4\Delta}{\gamma R (I+1)} + \frac{2I}{I+1}\Big(\frac13 L^2\gamma^2 G^2 (I-1)(2I-1)
          + L\gamma\,\sigma_v^2\sum_k p_k^2\Big),

with :math:`L = 2\varphi(1)M/\sigma^2`, :math:`G^2 = M^2/(2\pi\sigma^2) + \sigma_v^2`,
:math:`\Delta \ge f(\bar x_0) - \inf f`. The proof is self-contained (the virtual-sequence
argument of Stich 2019 and Yu, Yang & Zhu 2019, redone with these constants; Yu et al.'s
Theorem 1 has the same three-term shape with :math:`4\gamma^2I^2G^2L^2` and :math:`L\gamma\sigma^2/N`
for the average over *all* steps; here the drift factor is the exact
:math:`\sum_{j<I} j^2 = (I-1)I(2I-1)/6` and the bound holds at the communication rounds, which is
what a run observes, at the price of a factor 2I/(I+1): 1 for I = 1, 4/3 for I = 2).

References
----------
- Y. Nesterov, V. Spokoiny, "Random gradient-free minimization of convex functions",
  Found. Comput. Math. 17 (2017) 527–566.
- S. U. Stich, "Local SGD converges fast and communicates little", ICLR 2019, arXiv 1805.09767.
- H. Yu, S. Yang, S. Zhu, "Parallel restarted SGD with faster convergence and less communication",
  AAAI 2019, arXiv 1807.06629, Theorem 1.
"""

from __future__ import annotations

import math

import numpy as np

from fsnn_theory._validation import check_int, check_positive

__all__ = [
    "GAUSS_ABS_MEAN",
    "GAUSS_CHI2_ABS_DEV",
    "ttfs_cross_entropy_range",
    "smoothed_gradient_bound",
    "smoothed_smoothness",
    "two_point_oracle_variance",
    "smoothed_local_sgd_bound",
    "smoothed_local_sgd_step_size",
    "hoeffding_upper",
    "rounds_needed",
]

# E|Z| and E|Z^2 - 1| for Z ~ N(0, 1): sqrt(2/pi) and 4 phi(1) (derived by sympy in the proof check).
GAUSS_ABS_MEAN: float = math.sqrt(2.0 / math.pi)
GAUSS_CHI2_ABS_DEV: float = 4.0 * math.exp(-0.5) / math.sqrt(2.0 * math.pi)


def ttfs_cross_entropy_range(n_classes: int, t_max: float, tau_xi: float, t_min: float = 0.0) -> tuple[float, float]:
    r"""Range :math:`[\ell_{lo}, \ell_{hi}]` of the TTFS cross-entropy with readout times in :math:`[t_{min}, t_{max}]`.

    :math:`\ell = \log(1 + \sum_{k\ne y} e^{(t_y - t_k)/\tau_\xi})` (Göltz et al. 2021, Methods) is
    increasing in :math:`t_y` and decreasing in every other :math:`t_k`, so with
    :math:`D = t_{max} - t_{min}`: :math:`\ell_{lo} = \log(1 + (K-1)e^{-D/\tau_\xi})`,
    :math:`\ell_{hi} = \log(1 + (K-1)e^{D/\tau_\xi})`. Readout times are capped at the window
    :math:`t_{max}` (`fsnn_theory.network.readout_times`) and no neuron fires before its first
    input, so :math:`t_{min} = 0` is always valid. Needs the regulariser α = 0.
    """
    K = check_int("n_classes", n_classes, low=2)
    check_positive("t_max", t_max)
    check_positive("tau_xi", tau_xi)
    if not (0.0 <= t_min < t_max):
        raise ValueError(f"t_min must be in [0, t_max) = [0, {t_max}), got {t_min}")
    D = (t_max - t_min) / tau_xi
    return float(np.log1p((K - 1) * math.exp(-D))), float(math.log(K - 1) + D + np.log1p(math.exp(-D) / (K - 1)))


def smoothed_gradient_bound(loss_range: float, sigma: float) -> float:
    r""":math:`\sup_W\|\nabla f_\sigma(W)\| \le M/(\sigma\sqrt{2\pi})` for F with values in an interval of length M. Tight."""
    return check_positive("loss_range", loss_range) * 0.5 * GAUSS_ABS_MEAN / check_positive("sigma", sigma)


def smoothed_smoothness(loss_range: float, sigma: float) -> float:
    r"""L of :math:`f_\sigma`: :math:`\|\nabla^2 f_\sigma\|_2 \le 2\varphi(1) M/\sigma^2` (tight; any bounded F)."""
    return check_positive("loss_range", loss_range) * 0.5 * GAUSS_CHI2_ABS_DEV / check_positive("sigma", sigma) ** 2


def two_point_oracle_variance(loss_range: float, sigma: float, n_params: int, directions: int, batch: int) -> float:
    r"""Upper bound on :math:`\mathbb E\|g - \nabla f_{k,\sigma}\|^2` of the two-point oracle (module docstring).

    :math:`M^2 d/(4\sigma^2 m)` (each direction's term has norm² at most
    :math:`(M/(2\sigma))^2\|u\|^2`, mean of m independent ones) plus :math:`M^2/(2\pi\sigma^2 B)`
    (a minibatch of B samples drawn with replacement, each sample's smoothed gradient bounded by
    :func:`smoothed_gradient_bound`).
    """
    M, s = check_positive("loss_range", loss_range), check_positive("sigma", sigma)
    d = check_int("n_params", n_params, low=1)
    m = check_int("directions", directions, low=1)
    B = check_int("batch", batch, low=1)
    return M**2 * d / (4.0 * s**2 * m) + M**2 / (2.0 * math.pi * s**2 * B)


def smoothed_local_sgd_bound(delta: float, L: float, G2: float, var: float, gamma: float, local_steps: int,
                             rounds, sum_p2: float):
    r"""Theorem 5: bound on :math:`\frac1R\sum_{r<R}\mathbb E\|\nabla f(\bar x_{rI})\|^2` (upper bound).

    .. math:: \frac{4\Delta}{\gamma R (I+1)} + \frac{2I}{I+1}\Big(\frac13 L^2\gamma^2 G^2 (I-1)(2I-1)
              + L\gamma\,\sigma_v^2\sum_k p_k^2\Big).

    Valid for :math:`0 < \gamma \le 1/L` (the caller checks; the formula itself is evaluated for
    any γ so that a negative control can show what it would claim). ``rounds`` may be an array.
    """
    check_positive("delta", delta)
    check_positive("L", L)
    check_positive("G2", G2)
    if not var >= 0:
        raise ValueError(f"var must be >= 0, got {var}")
    check_positive("gamma", gamma)
    I = check_int("local_steps", local_steps, low=1)
    if not 0 < sum_p2 <= 1:
        raise ValueError(f"sum_p2 must be in (0, 1], got {sum_p2}")
    R = np.asarray(rounds, dtype=np.float64)
    if np.any(R < 1):
        raise ValueError("rounds must be >= 1")
    out = 4.0 * delta / (gamma * R * (I + 1)) + (2.0 * I / (I + 1)) * (
        L**2 * gamma**2 * G2 * (I - 1) * (2 * I - 1) / 3.0 + L * gamma * var * sum_p2)
    return float(out) if out.ndim == 0 else out


def smoothed_local_sgd_step_size(delta: float, L: float, G2: float, var: float, local_steps: int, rounds: int,
                                 sum_p2: float) -> float:
    r"""The γ in (0, 1/L] that minimises :func:`smoothed_local_sgd_bound` at horizon R.

    The bound is a/γ + bγ² + cγ, convex in γ > 0; its stationary point solves
    :math:`2b\gamma^3 + c\gamma^2 - a = 0` (one positive root, Descartes), clipped to 1/L.
    """
    I = check_int("local_steps", local_steps, low=1)
    R = check_int("rounds", rounds, low=1)
    a = 4.0 * check_positive("delta", delta) / (R * (I + 1))
    b = (2.0 * I / (I + 1)) * L**2 * G2 * (I - 1) * (2 * I - 1) / 3.0
    c = (2.0 * I / (I + 1)) * L * var * sum_p2
    roots = np.roots([2.0 * b, c, 0.0, -a]) if b > 0 else np.roots([c, 0.0, -a])
    pos = [float(r.real) for r in roots if abs(r.imag) < 1e-12 * max(1.0, abs(r.real)) and r.real > 0]
    return min(1.0 / L, max(pos))


def hoeffding_upper(mean: float, loss_range: float, n: int, failure: float) -> float:
    r"""Upper confidence bound :math:`\bar F + M\sqrt{\log(1/\delta)/(2n)}` (Hoeffding 1963) for a mean of n
    i.i.d. values in an interval of length M; holds with probability ≥ 1 − δ (δ = ``failure``)."""
    n = check_int("n", n, low=1)
    if not 0 < failure < 1:
        raise ValueError(f"failure must be in (0, 1), got {failure}")
    return float(mean + check_positive("loss_range", loss_range) * math.sqrt(math.log(1.0 / failure) / (2.0 * n)))


def rounds_needed(target: float, delta: float, L: float, G2: float, var: float, local_steps: int, sum_p2: float,
                  max_rounds: int = 10**15) -> int | None:
    r"""Fewest rounds R at which Theorem 5 with its best step (:func:`smoothed_local_sgd_step_size`) is ≤ ``target``.

    ``None`` if even R = ``max_rounds`` does not reach it (the floor of the drift and variance
    terms is above the target for every γ). Bisection on R (the optimised bound decreases in R).
    """
    check_positive("target", target)

    def best(R: int) -> float:
        g = smoothed_local_sgd_step_size(delta, L, G2, var, local_steps, R, sum_p2)
        return smoothed_local_sgd_bound(delta, L, G2, var, g, local_steps, R, sum_p2)

    if best(max_rounds) > target:
        return None
    lo, hi = 1, 1
    while best(hi) > target:
        lo, hi = hi, min(hi * 2, max_rounds)
    while lo < hi:
        mid = (lo + hi) // 2
        if best(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return int(hi)
