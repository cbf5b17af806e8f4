r"""Published convergence and communication bounds, one pure function per result.

Every bound function returns a :class:`Bound`: its ``value`` (a float, or an ndarray when an
argument is an array: numpy broadcasting), its ``kind`` (``"upper"``, ``"lower"`` or
``"tight"``), the theorem it comes from, the quantity it bounds, and whether the value is
*rigorous* for the finite arguments given (``False`` for order bounds with an unspecified
constant, and for asymptotic forms whose vanishing term has been dropped). Experiments hold
``bound.value`` against a measurement; tests and verification tables pick the assertion from
``bound.kind`` (:meth:`Bound.holds`), and only count a failure as a violation when
``bound.rigorous`` is true.

Exact bit counts of concrete encodings and step-size schedules are not bounds: those
functions return plain numbers.

Every precondition of a theorem (a step size above its limit, a shift below its minimum,
unbalanced weights where balance is assumed, ...) raises ``ValueError`` naming the parameter
and the limit; no bound is ever returned outside the theorem's hypotheses.

Provenance (what was checked against which text; details in each docstring):

* Li et al. 2020, Theorems 1-3: read in the paper's main text (ICLR 2020 version).
* Stich, Cordonnier, Jaggi 2018, Definition 2.1, Theorem 2.4, Lemma 3.3: read in the paper text.
* Alistarh et al. 2017, Lemma 3.1, Theorem 3.2, Corollary 3.3: read as quoted (in English,
  verbatim statements) in a third-party study note, not in the paper itself.
* Wang et al. 2021 (Field Guide) Theorem 1 and Karimireddy et al. 2020 (SCAFFOLD): read in
  third-party formal (Lean) statements that cite the equations and pages of the arXiv PDFs.
* Korhonen & Alistarh 2021: the abstract (NeurIPS proceedings page) only.
* Yu, Yang, Zhu 2019: NOT checked against source text (recalled statement).

Each :class:`Bound` carries that provenance as ``source_checked`` (verbatim / secondary /
recalled). Bounds whose statement or explicit constants were not compared with the original
text (Yu et al. 2019, SCAFFOLD's constants) are returned with ``rigorous=False``; so is QSGD
Corollary 3.3 unless d is a perfect square (it needs s = sqrt(d) levels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from fsnn_theory._validation import (
    check_choice,
    check_int,
    nonnegative_array,
    positive_array,
    real_array,
)

__all__ = [
    "BOUND_KINDS",
    "ceil_log2",
    "SOURCE_CHECKED",
    "Bound",
    # FedAvg, strongly convex (Li et al. 2020)
    "li2020_step_size",
    "li2020_fedavg_bound",
    "li2020_rounds_to_epsilon",
    # convex / non-convex local SGD
    "field_guide_fedavg_bound",
    "field_guide_rounds_to_epsilon",
    "yu2019_local_sgd_bound",
    "yu2019_rounds_to_epsilon",
    "scaffold_nonconvex_bound",
    "scaffold_rounds_to_epsilon",
    # compression
    "qsgd_variance_bound",
    "qsgd_nonzeros_bound",
    "qsgd_expected_bits_bound",
    "qsgd_dense_bits_bound",
    "k_contraction_bound",
    "memsgd_step_size",
    "memsgd_weight_sum",
    "memsgd_min_shift",
    "stich2018_memsgd_bound",
    # communication
    "korhonen2021_communication_lower_bound",
    "ef21_step_limit",
    "ef21_bound",
    "dense_float32_bits",
    "topk_bits",
    "randk_shared_seed_bits",
    "int8_quantised_bits",
    "rounds_to_epsilon",
    "bits_to_epsilon",
]

ArrayLike = Union[float, int, np.ndarray]
Number = Union[float, np.ndarray]

BOUND_KINDS = ("upper", "lower", "tight")
SOURCE_CHECKED = ("verbatim", "secondary", "recalled")

_LI2020 = (
    "Li, Huang, Yang, Wang, Zhang, 'On the Convergence of FedAvg on Non-IID Data', "
    "ICLR 2020, arXiv 1907.02189"
)
_FIELD_GUIDE = (
    "Wang et al., 'A Field Guide to Federated Optimization', 2021, arXiv 2107.06917, "
    "Theorem 1 (Sec. 6.1.2, eq. 15)"
)
_YU2019 = (
    "Yu, Yang, Zhu, 'Parallel Restarted SGD with Faster Convergence and Less Communication', "
    "AAAI 2019, arXiv 1807.06629, Theorem 1"
)
_SCAFFOLD = (
    "Karimireddy, Kale, Mohri, Reddi, Stich, Suresh, 'SCAFFOLD: Stochastic Controlled "
    "Averaging for Federated Learning', ICML 2020, arXiv 1910.06378 (v4), Theorem III "
    "(non-convex), explicit constants of Appendix E.2, Lemma 19"
)
_QSGD = (
    "Alistarh, Grubic, Li, Tomioka, Vojnovic, 'QSGD: Communication-Efficient SGD via "
    "Gradient Quantization and Encoding', NeurIPS 2017, arXiv 1610.02132"
)
_MEMSGD = (
    "Stich, Cordonnier, Jaggi, 'Sparsified SGD with Memory', NeurIPS 2018, arXiv 1809.07599"
)
_KORHONEN2021 = (
    "Korhonen, Alistarh, 'Towards Tight Communication Lower Bounds for Distributed "
    "Optimisation', NeurIPS 2021, arXiv 2010.08222"
)


# --------------------------------------------------------------------------------------
# The result record
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: array values make == ambiguous
class Bound:
    r"""A published bound evaluated at given arguments.

    Attributes
    ----------
    value:
        The bound: a float, or a read-only float64 ndarray when an argument was an array.
    kind:
        ``"upper"`` (measured <= value), ``"lower"`` (value <= measured) or ``"tight"``
        (measured == value up to tolerance).
    theorem:
        Authors, venue, year, arXiv id and theorem number.
    quantity:
        What is bounded, in the theorem's notation (e.g. ``"E[F(w_T)] - F*"``).
    rigorous:
        True iff ``value`` is itself a proven bound for the finite arguments given. False for
        order bounds whose constant is unspecified (reported with constant 1) and for
        asymptotic forms whose o(1) term has been replaced by a number; such values are for
        comparing rates and slopes, and a measurement beyond them is not a violation.
    note:
        Anything a reader must know to compare ``value`` with a measurement.
    source_checked:
        How the implemented statement was checked against its source: ``"verbatim"`` (compared
        with the original text; the docstring says where), ``"secondary"`` (read in a
        third-party statement of it), ``"recalled"`` (not compared with any text), or None for
        results that are not published elsewhere (the project's own bounds).
    """

    value: Number
    kind: str
    theorem: str
    quantity: str
    rigorous: bool = True
    note: str = ""
    source_checked: str | None = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, BOUND_KINDS)
        if self.source_checked is not None:
            check_choice("source_checked", self.source_checked, SOURCE_CHECKED)
        v = np.asarray(self.value, dtype=np.float64)
        if np.isnan(v).any():
            raise ValueError("value must not contain NaN")
        if v.ndim == 0:
            object.__setattr__(self, "value", float(v))
        else:
            v = v.copy()
            v.setflags(write=False)  # frozen record: the array must not change either
            object.__setattr__(self, "value", v)

    def holds(self, measured: ArrayLike, *, rtol: float = 0.0, atol: float = 0.0):
        """Whether ``measured`` is consistent with this bound, per ``kind``.

        upper: ``measured <= value + tol``; lower: ``value <= measured + tol``;
        tight: ``|measured - value| <= tol``, with ``tol = atol + rtol * |value|``.
        Returns a bool, or a bool ndarray when ``value`` or ``measured`` is an array.
        """
        m = np.asarray(measured, dtype=np.float64)
        v = np.asarray(self.value, dtype=np.float64)
        tol = atol + rtol * np.abs(v)
        if self.kind == "upper":
            ok = m <= v + tol
        elif self.kind == "lower":
            ok = v <= m + tol
        else:
            ok = np.abs(m - v) <= tol
        return bool(ok) if np.ndim(ok) == 0 else ok


# --------------------------------------------------------------------------------------
# Array validation (the helpers in _validation are scalar; these name the parameter too)
# --------------------------------------------------------------------------------------


_real = real_array
_positive = positive_array
_nonnegative = nonnegative_array


#: Largest integer argument: every integer below 2**53 is exact in float64 (2**53 + 1 would be
#: read as 2**53, so 2**53 itself is refused too), and the bit counts
#: built from it (at most ~2**7 times larger) stay far inside int64; beyond it int64 arithmetic
#: would wrap (2**63 * 32 -> 0; issue 15, defect 10) and floats no longer hold the integer.
MAX_INTEGER = 2**53 - 1


def _integer(name: str, x, low: int) -> np.ndarray:
    """Integer-valued array (ints or integral floats) with every entry in [low, 2**53 - 1], as int64."""
    a = _real(name, x)
    if not (a == np.round(a)).all():
        raise ValueError(f"{name} must be an integer, got {_show(a[a != np.round(a)])}")
    if not (a >= low).all():
        raise ValueError(f"{name} must be an integer >= {low}, got {_show(a[a < low])}")
    _check_max(name, a, low)
    return a.astype(np.int64)


def _check_max(name: str, a: np.ndarray, low: int) -> None:
    if not (a <= MAX_INTEGER).all():
        raise ValueError(f"{name} must be an integer in [{low}, 2**53 - 1] (exact in float64; larger values would "
                         f"overflow the int64 bit counts), got {_show(a[a > MAX_INTEGER])}")


def _bad(x, mask):
    """Entries of ``x`` where ``mask`` holds, after broadcasting both (for messages)."""
    shape = np.broadcast(x, mask).shape
    return _show(np.broadcast_to(x, shape)[np.broadcast_to(mask, shape)])


def _show(bad: np.ndarray):
    bad = np.asarray(bad).ravel()
    return bad[0].item() if bad.size == 1 else f"{bad[:3].tolist()} (and others)"


def _out(x: np.ndarray):
    """0-d -> Python scalar (int or float by dtype), otherwise the array itself."""
    x = np.asarray(x)
    if x.ndim == 0:
        return int(x) if np.issubdtype(x.dtype, np.integer) else float(x)
    return x


# --------------------------------------------------------------------------------------
# FedAvg on non-iid data, strongly convex: Li, Huang, Yang, Wang, Zhang (ICLR 2020)
# --------------------------------------------------------------------------------------


def _li2020_gamma(L: np.ndarray, mu: np.ndarray, E: np.ndarray):
    if not (mu <= L).all():
        raise ValueError(
            "mu must be <= L (a mu-strongly convex, L-smooth function has mu <= L), "
            f"got mu={_bad(mu, mu > L)} with L={_bad(L, mu > L)}"
        )
    kappa = L / mu
    gamma = np.maximum(8.0 * kappa, E)
    return kappa, gamma


def li2020_step_size(t: ArrayLike, L: ArrayLike, mu: ArrayLike, E: ArrayLike) -> Number:
    r"""Learning-rate schedule assumed by Li et al. (2020), Theorems 1-3.

    .. math::  \eta_t = \frac{2}{\mu(\gamma + t)}, \qquad
               \kappa = L/\mu,\quad \gamma = \max\{8\kappa, E\}.

    ``t`` is the global SGD step index. In the paper's statement the initial model is
    :math:`w_1`, so the first local step uses :math:`\eta_1` (index convention inferred
    from the statement; the appendix was not read). Plain numbers, broadcast over arrays.

    Source: Li, Huang, Yang, Wang, Zhang, ICLR 2020, arXiv 1907.02189, Theorem 1 (read in
    the ICLR main text).

    >>> li2020_step_size(1, L=1.0, mu=0.25, E=2)   # kappa=4, gamma=32: 2/(0.25*33)
    0.24242424242424243
    """
    t = _nonnegative("t", t)
    L = _positive("L", L)
    mu = _positive("mu", mu)
    E = _integer("E", E, 1)
    _, gamma = _li2020_gamma(L, mu, E)
    return _out(2.0 / (mu * (gamma + t)))


def _li2020_parts(E, L, mu, sigma2, G, Gamma, w1_dist2, p, K, N, scheme):
    """Validated (kappa, gamma, X) with bound = kappa / (gamma + T - 1) * X."""
    check_choice("scheme", scheme, ("full", "I", "II"))
    E = _integer("E", E, 1)
    L = _positive("L", L)
    mu = _positive("mu", mu)
    G = _nonnegative("G", G)
    Gamma = _nonnegative("Gamma", Gamma)
    w1_dist2 = _nonnegative("w1_dist2", w1_dist2)
    p = _nonnegative("p", p)
    sigma2 = _nonnegative("sigma2", sigma2)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p must be a non-empty 1-d array of client weights, got shape {p.shape}")
    if sigma2.shape != p.shape:
        raise ValueError(
            f"sigma2 must hold one variance bound per client, shape {p.shape}, got {sigma2.shape}"
        )
    n_clients = p.size
    if not math.isclose(float(p.sum()), 1.0, rel_tol=0.0, abs_tol=1e-9 * n_clients):
        raise ValueError(f"p must sum to 1 (client weights p_k), got sum {float(p.sum())!r}")
    if N is None:
        N = n_clients
    N = check_int("N", N, low=1)
    if N != n_clients:
        raise ValueError(f"N must equal len(p) = {n_clients}, got {N}")

    if scheme == "full":
        if K is not None and K != N:
            raise ValueError(f"K must be None or N={N} for scheme 'full', got {K!r}")
        C = 0.0
    else:
        if K is None:
            raise ValueError(f"K must be given (1 <= K <= N) for scheme {scheme!r}")
        K = check_int("K", K, low=1, high=N)
        C = 4.0 / K * E.astype(np.float64) ** 2 * G**2
        if scheme == "II":
            if N < 2:
                raise ValueError(f"N must be >= 2 for scheme 'II' (factor (N-K)/(N-1)), got {N}")
            if not np.allclose(p, 1.0 / N, rtol=0.0, atol=1e-12):
                raise ValueError(
                    "p must be balanced, p_k = 1/N for every k, for scheme 'II' "
                    "(Li et al. 2020, Assumption 6)"
                )
            C = (N - K) / (N - 1) * C

    kappa, gamma = _li2020_gamma(L, mu, E)
    B = float(np.sum(p**2 * sigma2)) + 6.0 * L * Gamma + 8.0 * (E - 1.0) ** 2 * G**2
    X = 2.0 * (B + C) / mu + mu * gamma / 2.0 * w1_dist2
    return E, kappa, gamma, X


def li2020_fedavg_bound(
    T: ArrayLike,
    E: ArrayLike,
    L: ArrayLike,
    mu: ArrayLike,
    sigma2: ArrayLike,
    G: ArrayLike,
    Gamma: ArrayLike,
    w1_dist2: ArrayLike,
    p: ArrayLike,
    K: int | None = None,
    N: int | None = None,
    scheme: str = "full",
) -> Bound:
    r"""FedAvg on non-iid data (strongly convex): Li et al. (2020), Theorems 1, 2, 3.  *upper*

    .. math::
        \mathbb E[F(w_T)] - F^* \le \frac{\kappa}{\gamma + T - 1}
        \left(\frac{2(B + C)}{\mu} + \frac{\mu\gamma}{2}\,\mathbb E\|w_1 - w^*\|^2\right),

    :math:`\kappa = L/\mu`, :math:`\gamma = \max\{8\kappa, E\}`,
    :math:`B = \sum_k p_k^2\sigma_k^2 + 6L\Gamma + 8(E-1)^2G^2`, and

    * ``scheme="full"`` (Theorem 1, full device participation): :math:`C = 0`;
    * ``scheme="I"`` (Theorem 2, Assumption 5): K device indices sampled *with replacement*
      according to :math:`p_k`, aggregation :math:`w \leftarrow \frac1K\sum_{k\in S_t} w^k`;
      :math:`C = \frac4K E^2 G^2`;
    * ``scheme="II"`` (Theorem 3, Assumption 6): K indices sampled uniformly *without
      replacement*, balanced data :math:`p_k = 1/N` (required), aggregation
      :math:`w \leftarrow \frac NK\sum_{k\in S_t} p_k w^k`;
      :math:`C = \frac{N-K}{N-1}\frac4K E^2 G^2`.

    Assumptions (paper's Assumptions 1-4): every :math:`F_k` is L-smooth and
    :math:`\mu`-strongly convex; :math:`\mathbb E\|\nabla F_k(w,\xi) - \nabla F_k(w)\|^2 \le
    \sigma_k^2`; :math:`\mathbb E\|\nabla F_k(w,\xi)\|^2 \le G^2`;
    :math:`F = \sum_k p_k F_k`, :math:`\Gamma = F^* - \sum_k p_k F_k^*`. E local SGD steps
    per round, T the total number of SGD steps (T must be a multiple of E), step sizes
    :math:`\eta_t = 2/(\mu(\gamma+t))` (:func:`li2020_step_size`). The paper also shows
    (Theorem 4) that with a constant step and E > 1 FedAvg does not converge to w*: the
    schedule is part of the hypothesis.

    Parameters
    ----------
    T: total SGD steps (int or int array, each a positive multiple of E).
    E: local steps per round (int >= 1).
    L, mu: smoothness and strong-convexity constants (0 < mu <= L).
    sigma2: per-client variance bounds :math:`\sigma_k^2`, 1-d, same length as ``p``.
    G: bound on the root second moment of stochastic gradients (G >= 0).
    Gamma: heterogeneity :math:`\Gamma >= 0`.
    w1_dist2: :math:`\mathbb E\|w_1 - w^*\|^2` (squared distance, >= 0).
    p: client weights :math:`p_k \ge 0`, summing to 1.
    K: devices per round (schemes I and II; 1 <= K <= N).
    N: number of devices (defaults to ``len(p)``; must equal it).
    scheme: ``"full"``, ``"I"`` or ``"II"``.

    Verification: the statements (the factor :math:`\kappa/(\gamma+T-1)`, the term
    :math:`\frac{\mu\gamma}2\mathbb E\|w_1-w^*\|^2`, B, both C, the schemes and the balance
    requirement of Scheme II) were read in the ICLR 2020 main text, Section 3.2-3.3,
    eqs. (4)-(6). The appendix proofs were not read.

    Source: Li, Huang, Yang, Wang, Zhang, "On the Convergence of FedAvg on Non-IID Data",
    ICLR 2020, arXiv 1907.02189, Theorems 1, 2, 3.

    Examples
    --------
    >>> b = li2020_fedavg_bound(T=10, E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0], G=1.0,
    ...                         Gamma=0.5, w1_dist2=2.0, p=[0.5, 0.5])
    >>> round(b.value, 6), b.kind      # 4/41 * (96 + 8) = 416/41
    (10.146341, 'upper')

    :math:`\kappa = 4`, :math:`\gamma = \max(8\kappa, E) = 32`, so the bound times
    :math:`\gamma + T - 1` is the same constant, 416, for every T (the O(1/T) rate):

    >>> import numpy as np
    >>> T = np.array([10, 20, 1000])
    >>> b = li2020_fedavg_bound(T=T, E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0], G=1.0,
    ...                         Gamma=0.5, w1_dist2=2.0, p=[0.5, 0.5])
    >>> (b.value * (32 + T - 1)).round(9).tolist()
    [416.0, 416.0, 416.0]
    """
    E_, kappa, gamma, X = _li2020_parts(E, L, mu, sigma2, G, Gamma, w1_dist2, p, K, N, scheme)
    T = _integer("T", T, 1)
    if not (T % E_ == 0).all():
        raise ValueError(f"T must be a multiple of E (whole rounds), got T={_show(T[T % E_ != 0])}")
    value = kappa / (gamma + T - 1.0) * X
    theorem = {"full": "Theorem 1", "I": "Theorem 2", "II": "Theorem 3"}[scheme]
    return Bound(
        value=value,
        kind="upper",
        theorem=f"{_LI2020}, {theorem}",
        quantity="E[F(w_T)] - F*",
        note="T counts SGD steps (rounds = T / E); w_1 is the initial model",
        source_checked="verbatim",
    )


def li2020_rounds_to_epsilon(
    epsilon: ArrayLike,
    E: ArrayLike,
    L: ArrayLike,
    mu: ArrayLike,
    sigma2: ArrayLike,
    G: ArrayLike,
    Gamma: ArrayLike,
    w1_dist2: ArrayLike,
    p: ArrayLike,
    K: int | None = None,
    N: int | None = None,
    scheme: str = "full",
) -> Number:
    r"""Communication rounds after which the Li et al. (2020) bound is <= epsilon.

    Closed form: with :math:`X = 2(B+C)/\mu + \frac{\mu\gamma}2\mathbb E\|w_1-w^*\|^2`, the
    bound :math:`\kappa X/(\gamma + T - 1) \le \epsilon` iff
    :math:`T \ge \kappa X/\epsilon - \gamma + 1`; the result is the smallest R >= 1 with
    T = R E satisfying it. The bound tends to 0, so every epsilon > 0 is reachable.
    Returns float64 (integral values), broadcast over ``epsilon`` and the scalar parameters;
    arguments as in :func:`li2020_fedavg_bound`.
    """
    eps = _positive("epsilon", epsilon)
    E_, kappa, gamma, X = _li2020_parts(E, L, mu, sigma2, G, Gamma, w1_dist2, p, K, N, scheme)

    def value(R):
        return kappa / (gamma + R * E_ - 1.0) * X

    with np.errstate(over="ignore"):
        R = np.maximum(1.0, np.ceil((kappa * X / eps - gamma + 1.0) / E_))
    return _out(_settle_rounds(R, value, eps))


def _settle_rounds(R: np.ndarray, value: Callable[[np.ndarray], np.ndarray], eps: np.ndarray):
    """Correct a closed-form ceil against the bound as evaluated in floating point.

    Makes ``value(R) <= eps < value(R - 1)`` exact for the same arithmetic the bound
    functions use (the closed form can be one off after rounding). Infinite R stays.
    """
    R, eps = np.broadcast_arrays(np.asarray(R, dtype=np.float64), eps)
    R = R.copy()
    # beyond 2**52 consecutive integers are no longer distinct floats: leave those as computed
    finite = np.isfinite(R) & (R < 2.0**52)
    for _ in range(64):
        Rf = np.where(finite, R, 1.0)
        up = finite & (np.broadcast_to(value(Rf), R.shape) > eps)
        prev = np.where(Rf > 1, Rf - 1.0, 1.0)  # never evaluate the bound at R = 0
        down = finite & (Rf > 1) & (np.broadcast_to(value(prev), R.shape) <= eps)
        if not (up.any() or down.any()):
            return R
        R = np.where(up, R + 1.0, np.where(down, R - 1.0, R))
    raise RuntimeError("rounds did not settle: the bound is not monotone in T here")


# --------------------------------------------------------------------------------------
# Convex local SGD: A Field Guide to Federated Optimization (Wang et al. 2021), Theorem 1
# --------------------------------------------------------------------------------------


def _field_guide_parts(tau, eta, L, sigma2, zeta, D, M):
    tau = _integer("tau", tau, 1)
    eta = _positive("eta", eta)
    L = _positive("L", L)
    sigma2 = _nonnegative("sigma2", sigma2)
    zeta = _nonnegative("zeta", zeta)
    D = _nonnegative("D", D)
    M = _integer("M", M, 1)
    limit = 1.0 / (4.0 * L)
    if not (eta <= limit).all():
        raise ValueError(
            f"eta must be <= 1/(4L) = {_bad(limit, eta > limit)} (Field Guide Theorem 1), "
            f"got eta={_bad(eta, eta > limit)}"
        )
    A = D**2 / (2.0 * eta * tau)  # coefficient of 1/T
    floor = eta * sigma2 / M + 4.0 * tau * eta**2 * L * sigma2 + 18.0 * tau**2 * eta**2 * L * zeta**2
    return A, floor


def field_guide_fedavg_bound(
    T: ArrayLike,
    tau: ArrayLike,
    eta: ArrayLike,
    L: ArrayLike,
    sigma2: ArrayLike,
    zeta: ArrayLike,
    D: ArrayLike,
    M: ArrayLike,
) -> Bound:
    r"""Local SGD / FedAvg, convex and L-smooth, constant step: Field Guide Theorem 1.  *upper*

    .. math::
        \mathbb E\Big[\frac1{\tau T}\sum_{t=0}^{T-1}\sum_{k=1}^{\tau}
        F(\bar x^{t,k}) - F(x^*)\Big] \le
        \frac{D^2}{2\eta\tau T} + \frac{\eta\sigma^2}{M} + 4\tau\eta^2L\sigma^2
        + 18\tau^2\eta^2L\zeta^2 .

    Assumptions: M clients, all participating with uniform weights, :math:`F = \frac1M
    \sum_i F_i`, each :math:`F_i` convex and L-smooth; unbiased stochastic gradients,
    independent across clients, with variance :math:`\le \sigma^2`; heterogeneity
    :math:`\sup_{i,x}\|\nabla F_i(x) - \nabla F(x)\| \le \zeta`; :math:`D = \|x_0 - x^*\|`;
    T rounds of :math:`\tau` local steps each; constant step :math:`0 < \eta \le 1/(4L)`.
    The bounded quantity is the average over rounds and local steps of the optimality gap
    at the (virtual) averaged iterates :math:`\bar x^{t,k}`, not a last-iterate gap. The
    last three terms do not decay with T: they are the bound's floor for a fixed step.

    Verification: statement and hypotheses read in a third-party Lean formalisation that
    cites arXiv 2107.06917v1, Section 6.1.2, PDF p. 41, Theorem 1, eq. (15); the Field
    Guide's own text was not read.

    Source: Wang et al., "A Field Guide to Federated Optimization", arXiv 2107.06917, 2021,
    Theorem 1.
    """
    A, floor = _field_guide_parts(tau, eta, L, sigma2, zeta, D, M)
    T = _integer("T", T, 1)
    return Bound(
        value=A / T + floor,
        kind="upper",
        theorem=_FIELD_GUIDE,
        quantity="E[(1/(tau T)) sum_{t,k} F(xbar^{t,k}) - F(x*)]",
        source_checked="secondary",
        note="T counts rounds; floor eta*sigma2/M + 4 tau eta^2 L sigma2 + 18 tau^2 eta^2 L zeta^2",
    )


def field_guide_rounds_to_epsilon(
    epsilon: ArrayLike,
    tau: ArrayLike,
    eta: ArrayLike,
    L: ArrayLike,
    sigma2: ArrayLike,
    zeta: ArrayLike,
    D: ArrayLike,
    M: ArrayLike,
) -> Number:
    r"""Smallest number of rounds T with the Field Guide Theorem 1 bound <= epsilon.

    Closed form :math:`T = \lceil D^2 / (2\eta\tau(\epsilon - \text{floor}))\rceil`;
    ``inf`` where epsilon lies below the floor (or at it while D > 0). Float64 output.
    """
    eps = _positive("epsilon", epsilon)
    A, floor = _field_guide_parts(tau, eta, L, sigma2, zeta, D, M)
    return _out(_rounds_inverse_T(eps, A, floor, steps_per_round=1))


def _rounds_inverse_T(eps, A, floor, steps_per_round):
    """Smallest R >= 1 with A / (R s) + floor <= eps; inf where unreachable."""
    eps, A, floor, s = np.broadcast_arrays(eps, A, floor, np.asarray(steps_per_round, dtype=np.float64))
    unreachable = (eps < floor) | ((eps <= floor) & (A > 0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        R = np.ceil(A / (s * (eps - floor)))
    # A = 0: the bound equals its floor for every R, so R = 1 wherever reachable
    R = np.where(unreachable, np.inf, np.where(A > 0, np.maximum(1.0, R), 1.0))

    def value(Rr):
        return A / (Rr * s) + floor

    return _settle_rounds(R, value, eps)


# --------------------------------------------------------------------------------------
# Non-convex local SGD: Yu, Yang, Zhu (AAAI 2019), Theorem 1
# --------------------------------------------------------------------------------------


def _yu2019_parts(gamma, I, L, G, sigma2, N, f0_gap):
    gamma = _positive("gamma", gamma)
    I = _integer("I", I, 1)
    L = _positive("L", L)
    G = _nonnegative("G", G)
    sigma2 = _nonnegative("sigma2", sigma2)
    N = _integer("N", N, 1)
    f0_gap = _nonnegative("f0_gap", f0_gap)
    limit = 1.0 / L
    if not (gamma <= limit).all():
        raise ValueError(
            f"gamma must be <= 1/L = {_bad(limit, gamma > limit)} (Yu et al. 2019, Theorem 1), "
            f"got gamma={_bad(gamma, gamma > limit)}"
        )
    A = 2.0 * f0_gap / gamma
    floor = 4.0 * gamma**2 * I**2 * G**2 * L**2 + L * gamma * sigma2 / N
    return I, A, floor


def yu2019_local_sgd_bound(
    T: ArrayLike,
    gamma: ArrayLike,
    I: ArrayLike,
    L: ArrayLike,
    G: ArrayLike,
    sigma2: ArrayLike,
    N: ArrayLike,
    f0_gap: ArrayLike,
) -> Bound:
    r"""Parallel restarted (local) SGD, non-convex: Yu, Yang, Zhu (2019), Theorem 1.  *upper*

    .. math::
        \frac1T\sum_{t=1}^{T}\mathbb E\|\nabla f(\bar x^{t-1})\|^2 \le
        \frac{2(f(\bar x^0) - f^*)}{\gamma T} + 4\gamma^2 I^2 G^2 L^2
        + \frac{L\gamma\sigma^2}{N}.

    Assumptions (as recalled): f L-smooth, bounded below by f*; stochastic gradients
    unbiased with variance :math:`\le\sigma^2` and second moment :math:`\le G^2`; N workers
    each running SGD with constant step :math:`0 < \gamma \le 1/L`, models averaged every I
    iterations; T iterations in total. The paper's setting has every worker sampling from the
    same distribution (identical local objectives); its heterogeneous-data extension is not
    covered here. ``f0_gap`` is :math:`f(\bar x^0) - f^*`.

    Verification: NOT checked against the paper's text (no copy was found in the search
    corpora); the statement is the one recalled in the project's reference notes.
    Treat constants as unverified: ``rigorous=False``, ``source_checked="recalled"``.

    Source: Yu, Yang, Zhu, "Parallel Restarted SGD with Faster Convergence and Less
    Communication: Demystifying Why Model Averaging Works for Deep Learning", AAAI 2019,
    arXiv 1807.06629, Theorem 1.
    """
    _, A, floor = _yu2019_parts(gamma, I, L, G, sigma2, N, f0_gap)
    T = _integer("T", T, 1)
    return Bound(
        value=A / T + floor,
        kind="upper",
        theorem=_YU2019,
        quantity="(1/T) sum_{t=1}^{T} E||grad f(xbar^{t-1})||^2",
        note="T counts iterations (rounds = T / I); constants not checked against source text",
        rigorous=False,  # recalled statement: the value is not known to be the theorem's bound
        source_checked="recalled",
    )


def yu2019_rounds_to_epsilon(
    epsilon: ArrayLike,
    gamma: ArrayLike,
    I: ArrayLike,
    L: ArrayLike,
    G: ArrayLike,
    sigma2: ArrayLike,
    N: ArrayLike,
    f0_gap: ArrayLike,
) -> Number:
    r"""Smallest number of averaging rounds R (T = R I iterations) with the Yu et al. bound
    <= epsilon; ``inf`` below the floor :math:`4\gamma^2I^2G^2L^2 + L\gamma\sigma^2/N`."""
    eps = _positive("epsilon", epsilon)
    I_, A, floor = _yu2019_parts(gamma, I, L, G, sigma2, N, f0_gap)
    return _out(_rounds_inverse_T(eps, A, floor, steps_per_round=I_))


# --------------------------------------------------------------------------------------
# SCAFFOLD, non-convex (Karimireddy et al. ICML 2020)
# --------------------------------------------------------------------------------------


def _scaffold_parts(eta_l, eta_g, K, S, N, beta, sigma2, f0_gap):
    eta_l = _positive("eta_l", eta_l)
    eta_g = _real("eta_g", eta_g)
    if not (eta_g >= 1).all():
        raise ValueError(f"eta_g must be >= 1 (SCAFFOLD global step), got {_show(eta_g[eta_g < 1])}")
    K = _integer("K", K, 1)
    S = _integer("S", S, 1)
    N = _integer("N", N, 1)
    if not (S <= N).all():
        raise ValueError(f"S must be <= N (clients sampled per round), got S={_bad(S, S > N)}")
    beta = _positive("beta", beta)
    sigma2 = _nonnegative("sigma2", sigma2)
    f0_gap = _nonnegative("f0_gap", f0_gap)
    h = K * eta_l * eta_g
    limit = (S / N) ** (2.0 / 3.0) / (24.0 * beta)
    if not (h <= limit).all():
        raise ValueError(
            "eta_l: the effective step h = K*eta_l*eta_g must be <= (S/N)^(2/3)/(24 beta) = "
            f"{_bad(limit, h > limit)} (SCAFFOLD, Theorem III), got h={_bad(h, h > limit)}"
        )
    A = 14.0 * f0_gap / h
    floor = 70.0 * beta * h * sigma2 / (K * S) * (1.0 + S / eta_g**2)
    return A, floor


def scaffold_nonconvex_bound(
    T: ArrayLike,
    eta_l: ArrayLike,
    eta_g: ArrayLike,
    K: ArrayLike,
    S: ArrayLike,
    N: ArrayLike,
    beta: ArrayLike,
    sigma2: ArrayLike,
    f0_gap: ArrayLike,
) -> Bound:
    r"""SCAFFOLD, non-convex, explicit constants (Karimireddy et al. 2020).  *upper*

    .. math::
        \frac1T\sum_{r=0}^{T-1}\mathbb E\|\nabla f(x^r)\|^2 \le
        \frac{14F}{hT} + \frac{70\beta h\sigma^2}{KS}\Big(1 + \frac{S}{\eta_g^2}\Big),
        \qquad h = K\eta_l\eta_g \le \frac{(S/N)^{2/3}}{24\beta}.

    Assumptions: N clients, :math:`f = \frac1N\sum_i f_i`, every :math:`f_i` has
    :math:`\beta`-Lipschitz gradient, f bounded below by :math:`f_{low}`,
    :math:`F = f(x^0) - f_{low}` (``f0_gap``); stochastic gradients unbiased with variance
    :math:`\le\sigma^2`, independent across clients; T rounds, K local steps, S clients
    sampled uniformly per round, local step :math:`\eta_l`, global step :math:`\eta_g \ge 1`;
    option II control variates, initialised ("warm start") by averaging K stochastic
    gradients at :math:`x^0` on every client. No bounded-heterogeneity assumption.

    Constants' status: the paper's Theorem III states this rate in O-notation; the explicit
    constants 14 and 70 come from its Appendix E.2 (Lemma 19, summed over rounds with the
    warm start). They were read in a third-party Lean formal statement that cites arXiv
    1910.06378v4, Appendix E.2, PDF p. 34 Lemma 19, p. 35 final paragraph, eqs. (26)-(27);
    the project's reference notes (recalled independently) give the same form. The paper's
    own appendix text was not read: treat the constants as checked against one secondary
    source only.

    Source: Karimireddy, Kale, Mohri, Reddi, Stich, Suresh, "SCAFFOLD: Stochastic Controlled
    Averaging for Federated Learning", ICML 2020, arXiv 1910.06378.
    """
    A, floor = _scaffold_parts(eta_l, eta_g, K, S, N, beta, sigma2, f0_gap)
    T = _integer("T", T, 1)
    return Bound(
        value=A / T + floor,
        kind="upper",
        theorem=_SCAFFOLD,
        quantity="(1/T) sum_{r=0}^{T-1} E||grad f(x^r)||^2",
        note="T counts rounds; constants from Appendix E.2 via a secondary formal statement",
        rigorous=False,  # explicit constants checked against a secondary source only
        source_checked="secondary",
    )


def scaffold_rounds_to_epsilon(
    epsilon: ArrayLike,
    eta_l: ArrayLike,
    eta_g: ArrayLike,
    K: ArrayLike,
    S: ArrayLike,
    N: ArrayLike,
    beta: ArrayLike,
    sigma2: ArrayLike,
    f0_gap: ArrayLike,
) -> Number:
    r"""Smallest number of rounds T with the SCAFFOLD bound <= epsilon; ``inf`` below its
    floor :math:`\frac{70\beta h\sigma^2}{KS}(1 + S/\eta_g^2)`."""
    eps = _positive("epsilon", epsilon)
    A, floor = _scaffold_parts(eta_l, eta_g, K, S, N, beta, sigma2, f0_gap)
    return _out(_rounds_inverse_T(eps, A, floor, steps_per_round=1))


# --------------------------------------------------------------------------------------
# QSGD (Alistarh et al. NeurIPS 2017)
# --------------------------------------------------------------------------------------


def qsgd_variance_bound(d: ArrayLike, s: ArrayLike, v_norm2: ArrayLike = 1.0) -> Bound:
    r"""QSGD quantiser variance, Lemma 3.1 (ii).  *upper*

    .. math:: \mathbb E\|Q_s(v) - v\|_2^2 \le \min\!\Big(\frac{d}{s^2}, \frac{\sqrt d}{s}\Big)\|v\|_2^2 .

    :math:`Q_s(v)_i = \|v\|_2\,\mathrm{sgn}(v_i)\,\xi_i(v,s)`, where :math:`\xi_i` rounds
    :math:`|v_i|/\|v\|_2 \in [\ell/s, (\ell+1)/s]` up to :math:`(\ell+1)/s` with probability
    :math:`|v_i|s/\|v\|_2 - \ell` and down to :math:`\ell/s` otherwise (independently);
    :math:`Q_s` is unbiased (Lemma 3.1 (i)). d = dimension (n in the paper), s = number of
    quantisation levels (integer >= 1), ``v_norm2`` = :math:`\|v\|_2^2`.

    Verification: statement read as quoted verbatim in a third-party study note of the paper
    (not in the paper itself). Source: Alistarh et al., "QSGD", NeurIPS 2017,
    arXiv 1610.02132, Lemma 3.1.

    Examples
    --------
    For d = 16: :math:`\min(d/s^2, \sqrt d/s)` = min(16, 4), min(4, 2), min(1/4, 1/2); the bound
    scales with :math:`\|v\|_2^2`.

    >>> from fsnn_theory.theory.bounds import qsgd_variance_bound
    >>> qsgd_variance_bound(d=16, s=[1, 2, 8]).value.tolist()
    [4.0, 2.0, 0.25]
    >>> b = qsgd_variance_bound(d=16, s=2, v_norm2=3.0)
    >>> float(b.value), b.kind
    (6.0, 'upper')
    """
    d = _integer("d", d, 1).astype(np.float64)
    s = _integer("s", s, 1).astype(np.float64)
    v_norm2 = _nonnegative("v_norm2", v_norm2)
    value = np.minimum(d / s**2, np.sqrt(d) / s) * v_norm2
    return Bound(value=value, kind="upper", theorem=f"{_QSGD}, Lemma 3.1 (ii)",
                 quantity="E||Q_s(v) - v||_2^2", source_checked="secondary")


def qsgd_nonzeros_bound(d: ArrayLike, s: ArrayLike) -> Bound:
    r"""Expected number of nonzero coordinates of :math:`Q_s(v)`, Lemma 3.1 (iii).  *upper*

    .. math:: \mathbb E\|Q_s(v)\|_0 \le s(s + \sqrt d).

    Reported as published (no ``min`` with d, although :math:`\|Q_s(v)\|_0 \le d` trivially).
    Verification and source as in :func:`qsgd_variance_bound`.
    """
    d = _integer("d", d, 1).astype(np.float64)
    s = _integer("s", s, 1).astype(np.float64)
    return Bound(value=s * (s + np.sqrt(d)), kind="upper",
                 theorem=f"{_QSGD}, Lemma 3.1 (iii)", quantity="E||Q_s(v)||_0", source_checked="secondary")


def qsgd_expected_bits_bound(d: ArrayLike, s: ArrayLike, elias_o1: ArrayLike = 0.0) -> Bound:
    r"""Expected bits to send :math:`Q_s(v)` with QSGD's Elias encoding, Theorem 3.2.  *upper*

    .. math::
        \mathbb E[\text{bits}] \le \Big(3 + \big(\tfrac32 + o(1)\big)
        \log_2\frac{2(s^2 + d)}{s(s + \sqrt d)}\Big)\, s(s + \sqrt d) + 32,
        \qquad s \ge 2 .

    Encoding: 32 bits for :math:`\|v\|_2`, then for each nonzero coordinate the Elias
    (recursive) code of the gap to it, one sign bit and the Elias code of the integer level
    :math:`s\,\xi_i`. ``log`` is base 2 (the paper's convention).

    The o(1) term: it comes from the Elias code length
    :math:`|\mathrm{Elias}(k)| \le (1 + o(1))\log_2 k + 1` and vanishes only asymptotically;
    the paper gives no finite value. It is replaced by ``elias_o1`` (default 0, i.e. the
    leading-order form). The result is therefore flagged ``rigorous=False``: for finite d the
    true expected length may exceed ``value``; use it for rates and ratios, and use
    :func:`qsgd_dense_bits_bound` (no o(1) term) where a rigorous budget is needed.

    Verification: statement (including the s >= 2 hypothesis) read as quoted verbatim in a
    third-party study note, not in the paper. Source: Alistarh et al., "QSGD",
    NeurIPS 2017, arXiv 1610.02132, Theorem 3.2.
    """
    d = _integer("d", d, 1).astype(np.float64)
    s = _integer("s", s, 2).astype(np.float64)
    o1 = _nonnegative("elias_o1", elias_o1)
    nnz = s * (s + np.sqrt(d))
    value = (3.0 + (1.5 + o1) * np.log2(2.0 * (s**2 + d) / nnz)) * nnz + 32.0
    return Bound(
        value=value,
        kind="upper",
        theorem=f"{_QSGD}, Theorem 3.2",
        quantity="E[bits to communicate Q_s(v)]",
        rigorous=False,
        note="asymptotic: the o(1) term of the Elias code length is replaced by elias_o1",
        source_checked="secondary",
    )


def qsgd_dense_bits_bound(d: ArrayLike) -> Bound:
    r"""Expected bits of QSGD with :math:`s = \sqrt d` (dense encoding), Corollary 3.3.  *upper*

    .. math:: \mathbb E[\text{bits}] \le 2.8\,d + 32 ,

    for the dense variant that codes every level with :math:`\mathrm{Elias}(s\xi_i + 1)` and
    one sign bit, plus 32 bits for the norm; by Lemma 3.1 the variance is then at most
    :math:`\min(d/s^2, \sqrt d/s)\|v\|^2 = \|v\|^2`, so the second moment at most doubles.
    The corollary is stated for :math:`s = \sqrt d`, which needs d to be
    a perfect square for an integer number of levels; d is not restricted here, but the
    result is ``rigorous=False`` unless every d is a perfect square.

    Verification and source as in :func:`qsgd_expected_bits_bound` (Corollary 3.3).
    """
    d_int = _integer("d", d, 1)
    square = np.round(np.sqrt(d_int)).astype(np.int64) ** 2 == d_int
    d = d_int.astype(np.float64)
    # the corollary needs s = sqrt(d) levels: only a perfect square d admits an integer s
    return Bound(value=2.8 * d + 32.0, kind="upper", theorem=f"{_QSGD}, Corollary 3.3",
                 quantity="E[bits to communicate Q_sqrt(d)(v)]", rigorous=bool(square.all()),
                 note="" if square.all() else "d not a perfect square: s = sqrt(d) is not an integer",
                 source_checked="secondary")


# --------------------------------------------------------------------------------------
# Top-k / random-k with error feedback: Mem-SGD (Stich, Cordonnier, Jaggi NeurIPS 2018)
# --------------------------------------------------------------------------------------


def _check_k_d(k, d):
    d = _integer("d", d, 1)
    k = _real("k", k)
    if not ((k > 0) & (k <= d)).all():
        raise ValueError(f"k must satisfy 0 < k <= d, got k={_bad(k, ~((k > 0) & (k <= d)))}")
    return k, d.astype(np.float64)


def k_contraction_bound(d: ArrayLike, k: ArrayLike, x_norm2: ArrayLike = 1.0) -> Bound:
    r"""Contraction of top-k and random-k, Stich et al. (2018) Definition 2.1.  *upper*

    .. math:: \mathbb E\|x - \mathrm{comp}_k(x)\|^2 \le \Big(1 - \frac kd\Big)\|x\|^2 .

    top-k (keep the k largest-magnitude coordinates) satisfies it deterministically; rand-k
    (keep k uniformly random coordinates, unscaled) satisfies it with equality in
    expectation (paper, Appendix A.1). ``x_norm2`` = :math:`\|x\|^2`; 0 < k <= d.

    Verification: Definition 2.1 and 2.2 read in the paper text. Source: Stich, Cordonnier,
    Jaggi, "Sparsified SGD with Memory", NeurIPS 2018, arXiv 1809.07599.
    """
    k, d = _check_k_d(k, d)
    x_norm2 = _nonnegative("x_norm2", x_norm2)
    return Bound(value=(1.0 - k / d) * x_norm2, kind="upper",
                 theorem=f"{_MEMSGD}, Definition 2.1 (k-contraction)",
                 quantity="E||x - comp_k(x)||^2", source_checked="verbatim")


def memsgd_step_size(t: ArrayLike, mu: ArrayLike, a: ArrayLike) -> Number:
    r"""Mem-SGD step size of Theorem 2.4, :math:`\eta_t = 8/(\mu(a + t))`, t = 0, 1, ...

    Plain numbers. Source: Stich, Cordonnier, Jaggi, NeurIPS 2018, arXiv 1809.07599.
    """
    t = _nonnegative("t", t)
    mu = _positive("mu", mu)
    a = _positive("a", a)
    return _out(8.0 / (mu * (a + t)))


def memsgd_weight_sum(T: ArrayLike, a: ArrayLike) -> Number:
    r"""Exact averaging weight sum of Mem-SGD, :math:`S_T = \sum_{t=0}^{T-1}(a+t)^2`.

    .. math:: S_T = \frac T6\,(2T^2 + 6aT - 3T + 6a^2 - 6a + 1) \;\ge\; \frac{T^3}3 .

    Closed form as in the paper's Lemma 3.3 (read in the paper text); it is the exact sum,
    not the :math:`T^3/3` lower bound. Plain numbers.
    """
    T = _integer("T", T, 1).astype(np.float64)
    a = _positive("a", a)
    return _out(T / 6.0 * (2.0 * T**2 + 6.0 * a * T - 3.0 * T + 6.0 * a**2 - 6.0 * a + 1.0))


def memsgd_min_shift(alpha: ArrayLike, d: ArrayLike, k: ArrayLike) -> Number:
    r"""Smallest shift a admitted by Theorem 2.4 for a given alpha > 4:

    .. math:: a_{\min} = (\alpha + 1)\frac dk + \frac{\rho}{\rho + 1},\qquad
              \rho = \frac{4\alpha}{(\alpha - 4)(\alpha + 1)^2}.

    Plain numbers. Source: Stich, Cordonnier, Jaggi, NeurIPS 2018, Theorem 2.4.
    """
    alpha = _real("alpha", alpha)
    if not (alpha > 4).all():
        raise ValueError(
            f"alpha must be > 4 (Stich et al. 2018, Theorem 2.4), got {_show(alpha[alpha <= 4])}"
        )
    k, d = _check_k_d(k, d)
    rho = 4.0 * alpha / ((alpha - 4.0) * (alpha + 1.0) ** 2)
    return _out((alpha + 1.0) * d / k + rho / (rho + 1.0))


def stich2018_memsgd_bound(
    T: ArrayLike,
    a: ArrayLike,
    alpha: ArrayLike,
    d: ArrayLike,
    k: ArrayLike,
    L: ArrayLike,
    mu: ArrayLike,
    G: ArrayLike,
    x0_dist2: ArrayLike,
) -> Bound:
    r"""Mem-SGD (sparsified SGD with error feedback), Stich et al. (2018) Theorem 2.4.  *upper*

    .. math::
        \mathbb E f(\bar x_T) - f^* \le \frac{4T(T + 2a)}{\mu S_T}G^2
        + \frac{\mu a^3}{8 S_T}\|x_0 - x^*\|^2
        + \frac{64T(1 + 2L/\mu)}{\mu S_T}\,\frac{4\alpha}{\alpha - 4}\,\frac{d^2}{k^2}\,G^2,

    with :math:`\bar x_T = \frac1{S_T}\sum_{t=0}^{T-1} w_t x_t`, :math:`w_t = (a+t)^2`,
    :math:`S_T = \sum_{t=0}^{T-1} w_t` computed exactly (:func:`memsgd_weight_sum`).

    Assumptions: every :math:`f_i` L-smooth, :math:`f = \frac1n\sum_i f_i`
    :math:`\mu`-strongly convex; :math:`\mathbb E_i\|\nabla f_i(x_t)\|^2 \le G^2` for
    t < T; :math:`\mathrm{comp}_k` a k-contraction (:func:`k_contraction_bound`), 0 < k <= d;
    step sizes :math:`\eta_t = 8/(\mu(a+t))` (:func:`memsgd_step_size`); shift a > 1 and
    :math:`\alpha > 4` with :math:`(\alpha+1)d/k + \rho/(\rho+1) \le a`,
    :math:`\rho = 4\alpha/((\alpha-4)(\alpha+1)^2)` (:func:`memsgd_min_shift`).
    ``x0_dist2`` = :math:`\|x_0 - x^*\|^2`; T = number of SGD steps (each sends one
    k-sparse update).

    Verification: statement, hypotheses and the closed form of :math:`S_T` (Lemma 3.3) read
    in the paper text. Source: Stich, Cordonnier, Jaggi, "Sparsified SGD with Memory",
    NeurIPS 2018, arXiv 1809.07599, Theorem 2.4.
    """
    T_ = _integer("T", T, 1).astype(np.float64)
    a = _positive("a", a)
    alpha = _real("alpha", alpha)
    if not (alpha > 4).all():
        raise ValueError(
            f"alpha must be > 4 (Stich et al. 2018, Theorem 2.4), got {_show(alpha[alpha <= 4])}"
        )
    k, d = _check_k_d(k, d)
    L = _positive("L", L)
    mu = _positive("mu", mu)
    if not (mu <= L).all():
        raise ValueError("mu must be <= L (f mu-strongly convex with L-smooth components)")
    G = _nonnegative("G", G)
    x0_dist2 = _nonnegative("x0_dist2", x0_dist2)
    a_min = np.asarray(memsgd_min_shift(alpha, d, k), dtype=np.float64)
    a_lim = np.maximum(a_min, 1.0)
    bad = ~((a >= a_min) & (a > 1.0))
    if bad.any():
        raise ValueError(
            "a must be > 1 and >= (alpha+1) d/k + rho/(rho+1) = "
            f"{_bad(a_lim, bad)} (Stich et al. 2018, Theorem 2.4), got a={_bad(a, bad)}"
        )
    S_T = T_ / 6.0 * (2.0 * T_**2 + 6.0 * a * T_ - 3.0 * T_ + 6.0 * a**2 - 6.0 * a + 1.0)
    value = (
        4.0 * T_ * (T_ + 2.0 * a) / (mu * S_T) * G**2
        + mu * a**3 / (8.0 * S_T) * x0_dist2
        + 64.0 * T_ * (1.0 + 2.0 * L / mu) / (mu * S_T) * (4.0 * alpha / (alpha - 4.0)) * d**2 / k**2 * G**2
    )
    return Bound(value=value, kind="upper", theorem=f"{_MEMSGD}, Theorem 2.4",
                 quantity="E[f(xbar_T)] - f*", note="T counts SGD steps; S_T exact",
                 source_checked="verbatim")


# --------------------------------------------------------------------------------------
# Communication
# --------------------------------------------------------------------------------------


def korhonen2021_communication_lower_bound(N: ArrayLike, d: ArrayLike, epsilon: ArrayLike) -> Bound:
    r"""Total-communication lower bound, Korhonen & Alistarh (2021).  *lower*, order bound

    .. math:: \text{bits} = \Omega\!\Big(N d \log\frac{d}{N\epsilon}\Big)

    total bits sent and received by N machines (point-to-point) to find an additive
    :math:`\epsilon`-approximation of :math:`\min_x \sum_{i=1}^N f_i(x)`,
    :math:`f_i: \mathbb R^d \to \mathbb R`, for deterministic and randomised algorithms, with
    no assumption on the algorithm's structure. The hidden constant is not specified: the
    value is reported with constant 1 and :math:`\log_2`, and flagged ``rigorous=False`` —
    compare growth (slopes in N, d, log 1/epsilon), never the value itself. epsilon is in
    the paper's normalisation of the function class (its hard instances are quadratics);
    requires :math:`\epsilon < d/N` so that the logarithm is positive (otherwise the
    statement says nothing).

    Verification: only the abstract (NeurIPS 2021 proceedings page) was read; the theorem
    number, the exact function class and the parameter restrictions were not. The arXiv id
    2010.08222 (first titled "Improved Communication Lower Bounds for Distributed
    Optimisation") is recalled, not verified.

    Source: Korhonen, Alistarh, "Towards Tight Communication Lower Bounds for Distributed
    Optimisation", NeurIPS 2021.
    """
    N = _integer("N", N, 1).astype(np.float64)
    d = _integer("d", d, 1).astype(np.float64)
    eps = _positive("epsilon", epsilon)
    ratio = d / (N * eps)
    if not (ratio > 1).all():
        raise ValueError(
            f"epsilon must be < d/N for Omega(N d log(d/(N epsilon))) to say anything, "
            f"got epsilon={_bad(eps, ratio <= 1)}"
        )
    return Bound(
        value=N * d * np.log2(ratio),
        kind="lower",
        theorem=_KORHONEN2021,
        quantity="total bits communicated to reach additive error epsilon",
        rigorous=False,
        note="order bound: unspecified constant reported as 1 (log base 2)",
        source_checked="verbatim",  # the abstract's statement only (see the docstring)
    )


def dense_float32_bits(d: ArrayLike) -> int | np.ndarray:
    """Bits per message of an uncompressed float32 vector: ``32 d``. Plain numbers."""
    return _out(32 * _integer("d", d, 1))


def topk_bits(d: ArrayLike, k: ArrayLike) -> int | np.ndarray:
    r"""Bits per message of top-k: ``k * (32 + ceil(log2 d))``.

    Encoding: each of the k kept coordinates is sent as a float32 value plus its index in
    :math:`\lceil\log_2 d\rceil` bits (fixed-width). k must be an integer in [1, d].
    """
    d = _integer("d", d, 1)
    k = _integer("k", k, 1)
    if not (k <= d).all():
        raise ValueError(f"k must be <= d, got k={_bad(k, k > d)}")
    return _out(k * (32 + ceil_log2(d)))


def ceil_log2(d) -> np.ndarray:
    """Exact ceil(log2 d) for integer d >= 1 (floating log2 corrected at powers of two): the bits
    of an index into d items. The one definition of the project (compressors and Theorem 4 use it)."""
    try:
        d = np.asarray(d)
    except OverflowError:  # a Python int beyond every numpy integer
        raise ValueError(f"d must be an integer in [1, 2**62], got {d!r}") from None
    # 1 << 63 overflows int64: beyond 2**62 the result would wrap (issue 15, defect 10)
    big = d > 2**62 if d.dtype.kind in "iuf" else np.asarray(d, dtype=object) > 2**62
    if np.any(big):
        raise ValueError(f"d must be an integer in [1, 2**62], got {np.asarray(d, dtype=object)[np.asarray(big, dtype=bool)].ravel()[0]!r}")
    d = d.astype(np.int64)
    e = np.ceil(np.log2(d.astype(np.float64))).astype(np.int64)
    e = np.where((e > 0) & ((np.int64(1) << np.maximum(e - 1, 0)) >= d), e - 1, e)
    e = np.where((np.int64(1) << e) < d, e + 1, e)
    return e


def randk_shared_seed_bits(k: ArrayLike, seed_bits: ArrayLike = 64) -> int | np.ndarray:
    """Bits per message of random-k with a shared seed: ``32 k + seed_bits``.

    Encoding: the k values as float32 in the order of the index set, which the receiver
    regenerates from a ``seed_bits``-bit seed sent with the message (default 64, one numpy
    ``default_rng`` seed word); send 0 if the seed is derived from the round index.
    """
    k = _integer("k", k, 1)
    seed_bits = _integer("seed_bits", seed_bits, 0)
    return _out(32 * k + seed_bits)


def int8_quantised_bits(d: ArrayLike) -> int | np.ndarray:
    """Bits per message of deterministic int8 quantisation: ``8 d + 32``.

    Encoding: one float32 scale (e.g. max |x_i| / 127) and d signed 8-bit integers.
    """
    return _out(8 * _integer("d", d, 1) + 32)


def rounds_to_epsilon(
    epsilon: ArrayLike,
    bound_of_rounds: Callable[[np.ndarray], Union[Bound, np.ndarray]],
    *,
    max_rounds: int = 2**40,
) -> Number:
    """Smallest integer R in [1, max_rounds] with ``bound_of_rounds(R) <= epsilon``.

    Numerical inversion for bounds without a closed form (e.g. Mem-SGD's cubic S_T):
    vectorised integer bisection over ``epsilon``. ``bound_of_rounds`` takes an int64 array
    R (same shape as ``epsilon``) and returns a :class:`Bound` or an array; it must be
    non-increasing in R (the result is meaningless otherwise). Returns float64 (integral
    values), ``inf`` where even ``bound_of_rounds(max_rounds) > epsilon`` (epsilon below the
    bound's floor, or not reached within ``max_rounds``).
    """
    eps = _positive("epsilon", epsilon)
    max_rounds = check_int("max_rounds", max_rounds, low=1)

    def f(R: np.ndarray) -> np.ndarray:
        out = bound_of_rounds(R)
        vals = np.asarray(out.value if isinstance(out, Bound) else out, dtype=np.float64)
        if np.isnan(vals).any():
            raise ValueError("bound_of_rounds returned NaN")
        return np.broadcast_to(vals, R.shape)

    hi = np.full(eps.shape, max_rounds, dtype=np.int64)
    reach = f(hi) <= eps
    lo = np.zeros(eps.shape, dtype=np.int64)  # invariant: f(lo) > eps (R = 0 is "never")
    while True:
        open_ = reach & (hi - lo > 1)
        if not open_.any():
            break
        mid = np.where(open_, (lo + hi) // 2, hi)
        ok = f(mid) <= eps
        hi = np.where(open_ & ok, mid, hi)
        lo = np.where(open_ & ~ok, mid, lo)
    return _out(np.where(reach, hi.astype(np.float64), np.inf))


def bits_to_epsilon(
    epsilon: ArrayLike,
    rounds_fn: Callable[[np.ndarray], ArrayLike],
    bits_per_round: ArrayLike,
    clients: ArrayLike,
) -> Number:
    r"""Uplink bits that a convergence bound certifies to be enough for accuracy epsilon.

    .. math:: \text{bits}(\epsilon) = R(\epsilon)\times\text{bits per round}\times\text{clients},

    with :math:`R(\epsilon)` = ``rounds_fn(epsilon)`` the smallest number of rounds at which
    the bound is <= epsilon: one of the ``*_rounds_to_epsilon`` closed forms (bind the other
    arguments, e.g. ``functools.partial``), or ``lambda e: rounds_to_epsilon(e, f)`` for a
    numerical inversion. ``bits_per_round`` is the size of one client's message (e.g.
    :func:`topk_bits`, or ``qsgd_expected_bits_bound(...).value``), ``clients`` the number
    of clients sending per round. ``inf`` where epsilon is below the bound's floor.
    Float64, broadcast over arrays.
    """
    eps = _positive("epsilon", epsilon)
    R = np.asarray(rounds_fn(eps), dtype=np.float64)
    if np.isnan(R).any() or not (R >= 1).all():
        raise ValueError("rounds_fn must return rounds >= 1 (or inf)")
    bits = _positive("bits_per_round", bits_per_round)
    clients = _integer("clients", clients, 1)
    return _out(R * bits * clients)


# --------------------------------------------------------------------------------------
# EF21: Richtárik, Sokolov, Fatkhullin (NeurIPS 2021)
# --------------------------------------------------------------------------------------

_EF21 = (
    "Richtarik, Sokolov, Fatkhullin, 'EF21: A New, Simpler, Theoretically Better, and "
    "Practically Faster Error Feedback', NeurIPS 2021, arXiv 2106.05203, Theorem 1"
)


def ef21_step_limit(L: ArrayLike, L_tilde: ArrayLike, alpha: ArrayLike) -> Number:
    r"""Largest step EF21's Theorem 1 admits: :math:`\gamma \le 1/(L + \tilde L\sqrt{\beta/\theta})`,
    :math:`\theta = 1 - \sqrt{1-\alpha}`, :math:`\beta = (1-\alpha)/(1-\sqrt{1-\alpha})`.
    Plain numbers; source and provenance as in :func:`ef21_bound`."""
    L = _positive("L", L)
    L_tilde = _nonnegative("L_tilde", L_tilde)
    alpha = _real("alpha", alpha)
    if not ((alpha > 0) & (alpha <= 1)).all():
        raise ValueError(f"alpha must lie in (0, 1] (a contractive compressor), got {_show(alpha)}")
    root = np.sqrt(1.0 - alpha)
    theta = 1.0 - root
    beta = (1.0 - alpha) / theta
    return _out(1.0 / (L + L_tilde * np.sqrt(beta / theta)))


def ef21_bound(T: ArrayLike, gamma: ArrayLike, L: ArrayLike, L_tilde: ArrayLike, alpha: ArrayLike,
               f0_gap: ArrayLike, G0: ArrayLike = 0.0) -> Bound:
    r"""EF21 with a contractive compressor, smooth non-convex: Theorem 1.  *upper*

    .. math::
        \frac1T\sum_{t=0}^{T-1}\mathbb E\|\nabla f(x^t)\|^2 \le
        \frac{2(f(x^0) - f^{\inf})}{\gamma T} + \frac{G^0}{\theta T},
        \qquad 0 < \gamma \le \frac1{L + \tilde L\sqrt{\beta/\theta}},

    (the left side is :math:`\mathbb E\|\nabla f(\hat x^T)\|^2` for :math:`\hat x^T` drawn
    uniformly from :math:`x^0..x^{T-1}`), with :math:`\theta = 1 - \sqrt{1-\alpha}`,
    :math:`\beta = (1-\alpha)/(1-\sqrt{1-\alpha})`, :math:`G^0 = \frac1n\sum_i\|g_i^0 -
    \nabla f_i(x^0)\|^2`. Method (Algorithm 1): :math:`x^{t+1} = x^t - \gamma g^t`; every client
    sends :math:`c_i^t = \mathcal C(\nabla f_i(x^{t+1}) - g_i^t)`, :math:`g_i^{t+1} = g_i^t +
    c_i^t`, :math:`g^{t+1} = \frac1n\sum_i g_i^{t+1}`. Assumptions: :math:`f = \frac1n\sum_i f_i`
    bounded below by :math:`f^{\inf}` and L-smooth, each :math:`f_i` :math:`L_i`-smooth,
    :math:`\tilde L = \sqrt{\frac1n\sum_i L_i^2}`; :math:`\mathcal C` contractive,
    :math:`\mathbb E\|\mathcal C(x) - x\|^2 \le (1-\alpha)\|x\|^2` (top-k: :math:`\alpha = k/d`).

    Verification: RECALLED. The EF21 text (arXiv 2106.05203) could not be read in the search
    corpora (only abstracts of follow-up papers that cite this theorem); the statement above is
    as remembered, so ``rigorous=False`` and ``source_checked="recalled"``.
    """
    limit = np.asarray(ef21_step_limit(L, L_tilde, alpha), dtype=np.float64)
    gamma = _positive("gamma", gamma)
    if not (gamma <= limit * (1 + 1e-12)).all():
        raise ValueError(f"gamma must be <= 1/(L + L_tilde sqrt(beta/theta)) = {_bad(limit, gamma > limit)} "
                         f"(EF21 Theorem 1), got gamma={_bad(gamma, gamma > limit)}")
    alpha = _real("alpha", alpha)
    theta = 1.0 - np.sqrt(1.0 - alpha)
    f0_gap = _nonnegative("f0_gap", f0_gap)
    G0 = _nonnegative("G0", G0)
    T_ = _integer("T", T, 1).astype(np.float64)
    return Bound(value=2.0 * f0_gap / (gamma * T_) + G0 / (theta * T_), kind="upper", theorem=_EF21,
                 quantity="(1/T) sum_{t<T} E||grad f(x^t)||^2", rigorous=False,
                 note="statement recalled, not compared with the paper's text", source_checked="recalled")
