r"""Regularity of first-spike times on the margin set, and the error of clock-driven simulation.

Numeric form of this project's Lemma 1, Theorems 1-4, Corollary 1 and Proposition 1 (statements
and proofs in ``proofs/``, every algebraic step re-derived by ``proofs/check_*.py`` from
:mod:`fsnn_theory.theory.symbolic`).

Setting (the engine's, :mod:`fsnn_theory.neurons`): a neuron with
:math:`V(t) = \sum_i w_i\kappa(t - t_i)` fires first at :math:`t^* = \inf\{t : V(t) \ge
\vartheta\}`. Its *causal set* is :math:`C = \{i : t_i < t^*\}`, :math:`n = |C|`. The
**margin set** is

.. math:: \mathcal M(s_{\min}) = \{(w, t_{in}) : t^* < \infty,\ \dot V(t^{*-}) \ge s_{\min},\
          \dot V(t^{*+}) \ge s_{\min}\},

the one-sided slopes at the crossing (they differ only when an input arrives exactly at
:math:`t^*`; the engine's ``slope_at_threshold`` is the left one). Weight bounds are on the causal
weights: :math:`\|w_C\|_\infty \le W` (``w_max``) and/or :math:`\|w_C\|_1 \le W_1` (``w_l1``);
where both are given the bound uses :math:`A = \min(nW, W_1) \ge \|w_C\|_1`.

The statements are not restated here: each result's statement, assumptions and constants are
the front matter of its proof file (`fsnn_theory.theory.statements`, ``fsnn explain NAME``), its
proof follows in the file and ``proofs/check_NAME.py`` re-derives every step. What implements what:

* Lemma 1 and Theorem 1, ``proofs/spike_time_regularity.md``: :func:`kernel_constants` (kernel
  suprema), :func:`spike_time_weight_gradient_bound`, :func:`spike_time_input_gradient_bound`,
  :func:`potential_derivative_bound`, :func:`spike_time_hessian_bound`, and the lower bounds
  :func:`spike_time_weight_gradient_lower_bound`, :func:`spike_time_input_gradient_lower_bound`.
* Corollary 1, ``proofs/ttfs_loss_smoothness.md``: :func:`ttfs_loss_gradient_bound` (G),
  :func:`ttfs_loss_smoothness_bound` (L).
* Theorem 2, ``proofs/clock_driven_error.md``: :func:`clock_driven_error_bound`,
  :func:`interpolated_crossing_error_bound`, :func:`crossing_radius`, and Corollary 2
  :func:`input_rounding_error_bound`.
* Proposition 1, ``proofs/no_global_lipschitz.md``: the constructions :func:`grazing_example`,
  :func:`inhibitory_cutoff_example`, :func:`late_rescue_example`, :func:`causal_kink_example`.
* Theorem 3, ``proofs/federated_ttfs_convergence.md``: :func:`ttfs_local_sgd_bound`,
  :func:`ttfs_local_sgd_step_size` (Yu et al. 2019's non-convex bound with Corollary 1's G and L).
* Theorem 4, ``proofs/spike_causal_communication.md``: :func:`causal_pair_probability`,
  :func:`spike_causal_density`, :func:`spike_causal_bits_bound`, :func:`spike_causal_bits_to_epsilon`.

Every bound returns a :class:`fsnn_theory.theory.bounds.Bound` (``value`` float or ndarray by
numpy broadcasting, ``kind``, ``theorem``, ``quantity``). A precondition that fails raises
``ValueError`` naming the parameter; no value is returned outside the theorem's hypotheses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fsnn_theory._validation import (
    as_float_array,
    check_choice,
    check_positive,
    nonnegative_array,
    positive_array,
)
from fsnn_theory.neurons import LIF, NLIF, check_neuron_model
from fsnn_theory.theory.bounds import Bound, ceil_log2

__all__ = [
    "KernelConstants",
    "kernel_constants",
    "lif_kernel_derivative_sup",
    "lif_kernel_max",
    "spike_time_weight_gradient_bound",
    "spike_time_weight_gradient_lower_bound",
    "spike_time_input_gradient_bound",
    "spike_time_input_gradient_lower_bound",
    "potential_derivative_bound",
    "spike_time_hessian_bound",
    "ttfs_loss_gradient_bound",
    "ttfs_loss_smoothness_bound",
    "crossing_radius",
    "clock_driven_error_bound",
    "interpolated_crossing_error_bound",
    "input_rounding_error_bound",
    "Discontinuity",
    "grazing_example",
    "late_rescue_example",
    "inhibitory_cutoff_example",
    "CausalKink",
    "causal_kink_example",
    "ttfs_local_sgd_bound",
    "ttfs_local_sgd_step_size",
    "causal_pair_probability",
    "spike_causal_density",
    "spike_causal_bits_bound",
    "support_entropy_bits",
    "spike_causal_bits_to_epsilon",
    "THEOREM_REGULARITY",
    "THEOREM_FEDERATED",
    "THEOREM_COMMUNICATION",
    "COROLLARY_LOSS",
    "THEOREM_DISCRETISATION",
    "PROPOSITION_NO_LIPSCHITZ",
]

THEOREM_REGULARITY = (
    "fsnn_theory, Theorem 1 (spike-time regularity on the margin set), "
    "proofs/spike_time_regularity.md; implicit-function gradients after Bohte et al. 2002"
)
COROLLARY_LOSS = (
    "fsnn_theory, Corollary 1 (smoothness of the time-to-first-spike cross-entropy, one layer), "
    "proofs/ttfs_loss_smoothness.md"
)
THEOREM_DISCRETISATION = (
    "fsnn_theory, Theorem 2 (error of clock-driven first-spike detection), "
    "proofs/clock_driven_error.md"
)
PROPOSITION_NO_LIPSCHITZ = (
    "fsnn_theory, Proposition 1 (no global Lipschitz constant), proofs/no_global_lipschitz.md"
)

GRADIENT_NORMS = ("entry", "l2", "l1")


# --------------------------------------------------------------------------------------------
# Validation of array arguments (scalar helpers live in _validation)
# --------------------------------------------------------------------------------------------


_positive = positive_array
_nonnegative = nonnegative_array


def _count(name: str, x) -> np.ndarray:
    a = as_float_array(name, x)
    if not ((a == np.round(a)) & (a >= 1)).all():
        raise ValueError(f"{name} must be an integer >= 1, got {_first(a[~((a == np.round(a)) & (a >= 1))])}")
    return a


def _first(bad: np.ndarray):
    bad = np.asarray(bad).ravel()
    return bad[0].item() if bad.size else bad


def _value(x: np.ndarray):
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


def _causal_l1(n_causal, w_max, w_l1) -> np.ndarray:
    """A = min(n W, W_1) >= ||w_C||_1 from whichever weight bounds are given."""
    if w_max is None and w_l1 is None:
        raise ValueError("give a weight bound: w_max (>= max |w_i| over causal inputs) and/or w_l1 (>= sum |w_i|)")
    parts = []
    if w_max is not None:
        parts.append(_count("n_causal", n_causal) * _nonnegative("w_max", w_max))
    if w_l1 is not None:
        parts.append(_nonnegative("w_l1", w_l1))
    return parts[0] if len(parts) == 1 else np.minimum(parts[0], parts[1])


# --------------------------------------------------------------------------------------------
# Lemma 1: kernel suprema
# --------------------------------------------------------------------------------------------


def lif_kernel_max(tau_m: float, tau_s: float) -> float:
    r"""Peak of the LIF kernel: :math:`\kappa_{\max} = r^{1/(1-r)}`, :math:`r = \tau_s/\tau_m` (1/e at r = 1).  *tight*

    At :math:`s_p = \frac{\tau_m\tau_s}{\tau_m - \tau_s}\ln\frac{\tau_m}{\tau_s}` (Lemma 1;
    Göltz et al. 2021 for the kernel). Evaluated as :math:`\exp(\ln r/(1-r))` with ``log1p`` so
    that nearby time constants lose no precision.
    """
    tau_m = check_positive("tau_m", tau_m)
    tau_s = check_positive("tau_s", tau_s)
    r = tau_s / tau_m
    if math.isclose(r, 1.0, rel_tol=1e-12):
        return math.exp(-1.0)
    return math.exp(math.log1p(r - 1.0) / (1.0 - r))


def lif_kernel_derivative_sup(tau_m: float, tau_s: float, order: int) -> float:
    r""":math:`\sup_{s>0}|\kappa^{(k)}(s)| = |\kappa^{(k)}(0^+)| = a\sum_{j=0}^{k-1}a^{k-1-j}b^j`, k >= 1.  *tight*

    :math:`a = 1/\tau_m,\ b = 1/\tau_s`; equal to :math:`\frac{\tau_s}{|\tau_m-\tau_s|}
    |\tau_m^{-k} - \tau_s^{-k}|` for :math:`\tau_m \ne \tau_s` and to :math:`k/\tau^k` for the
    alpha kernel (Lemma 1). The sum form has no cancellation.
    """
    tau_m = check_positive("tau_m", tau_m)
    tau_s = check_positive("tau_s", tau_s)
    if order not in (1, 2, 3, 4):
        raise ValueError(f"order must be 1, 2, 3 or 4, got {order!r}")
    a, b = 1.0 / tau_m, 1.0 / tau_s
    return a * sum(a ** (order - 1 - j) * b**j for j in range(order))


@dataclass(frozen=True)
class KernelConstants:
    r"""Suprema of a model's kernel over :math:`s \ge 0` (Lemma 1; all exact, i.e. *tight*).

    Attributes
    ----------
    kappa_max : :math:`\sup\kappa` (1 for NLIF, approached as :math:`s \to \infty`).
    peak_time : argmax of :math:`\kappa` (``inf`` for NLIF).
    kappa1_max, kappa2_max, kappa3_max, kappa4_max : :math:`\sup|\kappa^{(k)}| = |\kappa^{(k)}(0^+)|`.
    """

    kappa_max: float
    peak_time: float
    kappa1_max: float
    kappa2_max: float
    kappa3_max: float
    kappa4_max: float

    def derivative_sup(self, order: int) -> float:
        """:math:`\\sup|\\kappa^{(k)}|` for k = 0 (the peak), 1, 2, 3, 4."""
        if order not in (0, 1, 2, 3, 4):
            raise ValueError(f"order must be 0, 1, 2, 3 or 4, got {order!r}")
        return (self.kappa_max, self.kappa1_max, self.kappa2_max, self.kappa3_max, self.kappa4_max)[order]


def kernel_constants(model) -> KernelConstants:
    r"""Kernel suprema of an engine model (Lemma 1 of ``proofs/spike_time_regularity.md``).  *tight*

    NLIF: :math:`\kappa_{\max} = 1`, :math:`\kappa^{(k)}_{\max} = \tau_s^{-k}`. LIF: see
    :func:`lif_kernel_max`, :func:`lif_kernel_derivative_sup`.

    >>> c = kernel_constants(LIF(tau_m=2.0, tau_s=1.0))
    >>> c.kappa_max, c.kappa1_max, c.kappa2_max
    (0.25, 0.5, 0.75)
    """
    model = check_neuron_model(model)
    if isinstance(model, NLIF):
        b = 1.0 / model.tau_s
        return KernelConstants(1.0, math.inf, b, b**2, b**3, b**4)
    tm, ts = model.tau_m, model.tau_s
    if math.isclose(tm, ts, rel_tol=1e-12):
        peak = ts
    else:
        peak = tm * ts * math.log(tm / ts) / (tm - ts)
    sups = [lif_kernel_derivative_sup(tm, ts, k) for k in (1, 2, 3, 4)]
    return KernelConstants(lif_kernel_max(tm, ts), peak, *sups)


# --------------------------------------------------------------------------------------------
# Theorem 1: spike-time regularity on the margin set
# --------------------------------------------------------------------------------------------


def spike_time_weight_gradient_bound(model, s_min, n_causal=1, norm: str = "l2") -> Bound:
    r"""Bound on :math:`\nabla_w t^*` on :math:`\mathcal M(s_{\min})` (Theorem 1 (a)).  *upper*

    .. math:: 0 \le -\frac{\partial t^*}{\partial w_j} = \frac{\kappa(t^* - t_j)}{\dot V(t^*)}
              \le \frac{\kappa_{\max}}{s_{\min}},\qquad
              \|\nabla_w t^*\|_2 \le \frac{\sqrt n\,\kappa_{\max}}{s_{\min}},\qquad
              \|\nabla_w t^*\|_1 \le \frac{n\,\kappa_{\max}}{s_{\min}}.

    Non-causal entries are 0, so n counts causal inputs (n_in bounds it). Attained in the limit
    where every causal lag equals the kernel's peak time and the slope equals :math:`s_{\min}`.
    ``norm``: ``"entry"`` (largest entry), ``"l2"`` or ``"l1"``.
    """
    model = check_neuron_model(model)
    check_choice("norm", norm, GRADIENT_NORMS)
    s = _positive("s_min", s_min)
    n = _count("n_causal", n_causal)
    factor = {"entry": np.ones_like(n), "l2": np.sqrt(n), "l1": n}[norm]
    value = factor * kernel_constants(model).kappa_max / s
    return Bound(
        value=_value(value), kind="upper", theorem=THEOREM_REGULARITY,
        quantity=f"{norm} norm of d t*/d w on the margin set V'(t*) >= s_min",
    )


def spike_time_weight_gradient_lower_bound(theta, slope, w_l2) -> Bound:
    r"""Lower bound :math:`\|\nabla_w t^*\|_2 \ge \vartheta/(\dot V(t^*)\,\|w_C\|_2)`.  *lower*

    From the exact identity :math:`\sum_j w_j\,\partial t^*/\partial w_j = -\vartheta/\dot V(t^*)`
    (:math:`V(t^*) = \sum_j w_j\kappa_j = \vartheta`) and Cauchy-Schwarz (Theorem 1 (e)). It shows
    that the :math:`1/s_{\min}` rate of the upper bound cannot be improved. ``slope`` is the
    neuron's own :math:`\dot V(t^*) > 0`, ``w_l2`` its :math:`\|w_C\|_2 > 0`.
    """
    th = _positive("theta", theta)
    sl = _positive("slope", slope)
    w2 = _positive("w_l2", w_l2)
    return Bound(
        value=_value(th / (sl * w2)), kind="lower", theorem=THEOREM_REGULARITY,
        quantity="||d t*/d w||_2 at a crossing with slope V'(t*) and causal weights w_C",
    )


def spike_time_input_gradient_bound(model, s_min, n_causal, w_max=None, w_l1=None, norm: str = "l2") -> Bound:
    r"""Bound on :math:`\nabla_{t_{in}} t^*` on :math:`\mathcal M(s_{\min})` (Theorem 1 (b)).  *upper*

    .. math:: \Big|\frac{\partial t^*}{\partial t_j}\Big| = \frac{|w_j\kappa'(t^*-t_j)|}{\dot V(t^*)}
              \le \frac{W\kappa'_{\max}}{s_{\min}},\quad
              \|\nabla_{t_{in}} t^*\|_1 \le \frac{A\,\kappa'_{\max}}{s_{\min}},\quad
              \|\nabla_{t_{in}} t^*\|_2 \le \frac{\min(\sqrt n W, A)\,\kappa'_{\max}}{s_{\min}}.

    ``"entry"`` needs ``w_max``; the norms use whichever of ``w_max``, ``w_l1`` is given.
    """
    model = check_neuron_model(model)
    check_choice("norm", norm, GRADIENT_NORMS)
    s = _positive("s_min", s_min)
    k1 = kernel_constants(model).kappa1_max
    if norm == "entry":
        if w_max is None:
            raise ValueError("norm='entry' needs w_max (>= max |w_i| over causal inputs)")
        weight = _nonnegative("w_max", w_max)
    elif norm == "l1":
        weight = _causal_l1(n_causal, w_max, w_l1)
    else:
        n = _count("n_causal", n_causal)
        a = _causal_l1(n_causal, w_max, w_l1)
        weight = a if w_max is None else np.minimum(np.sqrt(n) * _nonnegative("w_max", w_max), a)
    return Bound(
        value=_value(weight * k1 / s), kind="upper", theorem=THEOREM_REGULARITY,
        quantity=f"{norm} norm of d t*/d t_in on the margin set V'(t*) >= s_min",
    )


def spike_time_input_gradient_lower_bound(n_causal, norm: str = "l1") -> Bound:
    r"""Lower bound from :math:`\sum_{j\in C}\partial t^*/\partial t_j = 1` (Theorem 1 (e)).  *lower*

    Shifting every input by :math:`\delta` shifts the spike by :math:`\delta`. Hence
    :math:`\|\nabla_{t_{in}}t^*\|_1 \ge 1`, :math:`\|\cdot\|_2 \ge 1/\sqrt n`,
    largest entry :math:`\ge 1/n` (equalities when all causal weights are positive and the
    entries are equal).
    """
    check_choice("norm", norm, GRADIENT_NORMS)
    n = _count("n_causal", n_causal)
    value = {"entry": 1.0 / n, "l2": 1.0 / np.sqrt(n), "l1": np.ones_like(n)}[norm]
    return Bound(
        value=_value(value), kind="lower", theorem=THEOREM_REGULARITY,
        quantity=f"{norm} norm of d t*/d t_in at any transversal crossing",
    )


def potential_derivative_bound(model, order: int, n_causal=1, w_max=None, w_l1=None) -> Bound:
    r""":math:`|V^{(k)}(t)| \le \|w_C\|_1\,\kappa^{(k)}_{\max} \le A\,\kappa^{(k)}_{\max}`, k = 1..4.  *upper*

    Between input times, for the inputs that have arrived (Lemma 1 and the triangle inequality).
    With k = 2 this is :math:`D_2 \ge |\ddot V|` of Theorems 1 and 2; k = 4 gives :math:`D_4`.
    """
    model = check_neuron_model(model)
    if order not in (1, 2, 3, 4):
        raise ValueError(f"order must be 1, 2, 3 or 4, got {order!r}")
    a = _causal_l1(n_causal, w_max, w_l1)
    value = a * kernel_constants(model).derivative_sup(order)
    return Bound(
        value=_value(value), kind="upper", theorem=THEOREM_REGULARITY,
        quantity=f"|d^{order} V / dt^{order}| between input times",
    )


def spike_time_hessian_bound(model, s_min, n_causal, w_max=None, w_l1=None) -> Bound:
    r"""Spectral and Frobenius norm of :math:`\nabla^2_w t^*` on :math:`\mathcal M(s_{\min})` (Theorem 1 (c)).  *upper*

    With :math:`\kappa = (\kappa(t^*-t_j))_{j\in C}`, :math:`k = (\kappa'(t^*-t_j))_{j\in C}`,

    .. math:: \nabla^2_w t^* = \frac{k\kappa^\top + \kappa k^\top}{\dot V^2}
              - \frac{\ddot V\,\kappa\kappa^\top}{\dot V^3},\qquad
              \|\nabla^2_w t^*\|_{2},\ \|\nabla^2_w t^*\|_F \le
              \frac{2n\kappa_{\max}\kappa'_{\max}}{s_{\min}^2}
              + \frac{n\kappa_{\max}^2\,A\kappa''_{\max}}{s_{\min}^3},

    using :math:`\|k\kappa^\top + \kappa k^\top\| \le 2\|k\|\|\kappa\|` (both norms),
    :math:`\|\kappa\|_2 \le \sqrt n\kappa_{\max}`, :math:`\|k\|_2 \le \sqrt n\kappa'_{\max}` and
    :math:`|\ddot V| \le A\kappa''_{\max}`.
    """
    model = check_neuron_model(model)
    s = _positive("s_min", s_min)
    n = _count("n_causal", n_causal)
    c = kernel_constants(model)
    d2 = _causal_l1(n_causal, w_max, w_l1) * c.kappa2_max
    value = 2.0 * n * c.kappa_max * c.kappa1_max / s**2 + n * c.kappa_max**2 * d2 / s**3
    return Bound(
        value=_value(value), kind="upper", theorem=THEOREM_REGULARITY,
        quantity="spectral and Frobenius norm of the Hessian of t* in w on the margin set",
    )


# --------------------------------------------------------------------------------------------
# Corollary 1: time-to-first-spike cross-entropy of one layer
# --------------------------------------------------------------------------------------------


def ttfs_loss_gradient_bound(model, s_min, n_causal, tau_xi) -> Bound:
    r"""Gradient bound G of :math:`\ell = -\log\operatorname{softmax}(-t/\tau_\xi)_y` in W.  *upper*

    One layer, weights :math:`W \in \mathbb R^{n_{in}\times K}`, every output neuron in
    :math:`\mathcal M(s_{\min})` with at most n causal inputs:

    .. math:: \|\nabla_W \ell\|_F \le \frac{\sqrt 2}{\tau_\xi}\,\max_k\|\nabla_{w_k} t_k\|_2
              \le G = \frac{\sqrt{2n}\,\kappa_{\max}}{\tau_\xi\,s_{\min}},

    from :math:`\partial\ell/\partial t_k = (\delta_{ky} - p_k)/\tau_\xi` and
    :math:`\|e_y - p\|_2^2 \le 2(1-p_y)^2 \le 2` (Corollary 1). Holds for any mini-batch mean.
    """
    model = check_neuron_model(model)
    s = _positive("s_min", s_min)
    n = _count("n_causal", n_causal)
    tx = _positive("tau_xi", tau_xi)
    value = np.sqrt(2.0 * n) * kernel_constants(model).kappa_max / (tx * s)
    return Bound(
        value=_value(value), kind="upper", theorem=COROLLARY_LOSS,
        quantity="||grad_W loss||_F, time-to-first-spike cross-entropy, one layer, margin set",
    )


def ttfs_loss_smoothness_bound(model, s_min, n_causal, tau_xi, w_max=None, w_l1=None) -> Bound:
    r"""Smoothness constant L of the one-layer time-to-first-spike cross-entropy.  *upper*

    .. math:: \|\nabla^2_W \ell\|_2 \le \frac{\|\operatorname{diag}(p) - pp^\top\|_2}{\tau_\xi^2}
              \max_k\|\nabla t_k\|^2 + \frac{\max_k|\delta_{ky} - p_k|}{\tau_\xi}\max_k\|\nabla^2 t_k\|_2
              \le L = \frac{n\kappa_{\max}^2}{2\tau_\xi^2 s_{\min}^2} + \frac{H}{\tau_\xi},

    H = :func:`spike_time_hessian_bound`; :math:`\lambda_{\max}(\operatorname{diag}(p) - pp^\top)
    \le 1/2`. A bound on the Hessian where the loss is twice differentiable: it is a smoothness
    constant only on convex sets where no sample's causal set changes (Proposition 1 (d)).
    """
    model = check_neuron_model(model)
    s = _positive("s_min", s_min)
    n = _count("n_causal", n_causal)
    tx = _positive("tau_xi", tau_xi)
    c = kernel_constants(model)
    h = spike_time_hessian_bound(model, s, n, w_max=w_max, w_l1=w_l1).value
    value = n * c.kappa_max**2 / (2.0 * tx**2 * s**2) + np.asarray(h) / tx
    return Bound(
        value=_value(value), kind="upper", theorem=COROLLARY_LOSS,
        quantity="||Hessian_W loss||_2, time-to-first-spike cross-entropy, one layer, margin set",
        note="a smoothness constant only on convex sets without causal-set changes",
    )


# --------------------------------------------------------------------------------------------
# Theorem 2: clock-driven simulation
# --------------------------------------------------------------------------------------------


def crossing_radius(epsilon, slope, curvature) -> Bound:
    r"""Lemma 2: roots of an :math:`\varepsilon`-approximation of V lie within :math:`r(\varepsilon)` of :math:`t^*`.  *upper*

    .. math:: r(\varepsilon) = \frac{2\varepsilon}{s + \sqrt{s^2 - 2D\varepsilon}},

    the smaller root of :math:`s u - D u^2/2 = \varepsilon`, on a step of length
    :math:`\le s/D` containing :math:`t^*` where :math:`\dot V(t^*) \ge s` and
    :math:`|\ddot V| \le D` (``curvature``). Requires :math:`2D\varepsilon \le s^2`.
    :math:`r(\varepsilon) = \varepsilon/s + O(\varepsilon^2)`.
    """
    e = _nonnegative("epsilon", epsilon)
    s = _positive("slope", slope)
    d = _nonnegative("curvature", curvature)
    disc = s**2 - 2.0 * d * e
    if not (disc >= 0).all():
        raise ValueError(
            "epsilon must be <= slope^2 / (2 curvature) (Lemma 2 of proofs/clock_driven_error.md), "
            f"got epsilon={_first(np.broadcast_to(e, disc.shape)[disc < 0])}"
        )
    return Bound(
        value=_value(2.0 * e / (s + np.sqrt(disc))), kind="upper", theorem=THEOREM_DISCRETISATION,
        quantity="|root of an epsilon-approximation of V on the crossing step - t*|",
    )


def _step_condition(dt, s, d2, factor: float, what: str) -> None:
    limit = factor * s / np.where(d2 > 0, d2, 1.0)
    bad = (d2 > 0) & (dt > limit)
    if bad.any():
        raise ValueError(
            f"dt must be <= {what} (Theorem 2, proofs/clock_driven_error.md), got "
            f"dt={_first(np.broadcast_to(dt, bad.shape)[bad])} > {_first(np.broadcast_to(limit, bad.shape)[bad])}"
        )


def clock_driven_error_bound(dt, slope, curvature) -> Bound:
    r"""Plain clock-driven threshold test: :math:`0 \le t_{rec} - t^* < dt` (Theorem 2 (i)).  *upper*

    Inputs on the grid :math:`dt\,\mathbb Z`; :math:`t_{rec}` is the first grid time with
    :math:`V \ge \vartheta` (Brian2: exact integration per step, threshold tested after the step).
    Hypothesis: :math:`\dot V(t^*) \ge s` (``slope``) and :math:`|\ddot V| \le D_2`
    (``curvature``) on the crossing step, with :math:`dt \le 2s/D_2`, so that V is still above
    threshold at the next grid time. The inequality is strict and the bound is tight: the
    supremum of the error over crossing phases is dt. Returns ``dt`` (broadcast); the lower end
    0 holds without hypotheses.
    """
    h = _positive("dt", dt)
    s = _positive("slope", slope)
    d2 = _nonnegative("curvature", curvature)
    _step_condition(h, s, d2, 2.0, "2 slope / curvature")
    value = np.broadcast_to(h, np.broadcast(h, s, d2).shape)
    return Bound(
        value=_value(value), kind="upper", theorem=THEOREM_DISCRETISATION,
        quantity="t_rec - t* (in [0, dt), strict at dt)",
        note="tight: the supremum over crossing phases is dt",
    )


def interpolated_crossing_error_bound(dt, slope, curvature, fourth=None, method: str = "linear") -> Bound:
    r"""Crossing error of interpolation inside the crossing step (Theorem 2 (ii), (iii)).  *upper*

    Linear interpolation of V between the two step ends (``fsnn_theory.brian.simulate_first_spikes``
    with ``interpolate="linear"`` or ``True``): :math:`\varepsilon = D_2\,dt^2/8`;
    cubic Hermite interpolation from V and :math:`\dot V` at both ends (``interpolate="cubic"``):
    :math:`\varepsilon = D_4\,dt^4/384` (``fourth`` = :math:`D_4 \ge |V^{(4)}|`). Then

    .. math:: |t_{int} - t^*| \le r(\varepsilon) = \frac{2\varepsilon}{s + \sqrt{s^2 - 2D_2\varepsilon}}
              = \frac{\varepsilon}{s} + O(\varepsilon^2),

    i.e. :math:`\frac{D_2}{8s}dt^2` (linear) and :math:`\frac{D_4}{384 s}dt^4` (Hermite) to
    leading order. Hypotheses: inputs on the grid, :math:`\dot V(t^*) \ge s`,
    :math:`|\ddot V| \le D_2` on the step, :math:`dt \le s/D_2`, :math:`2D_2\varepsilon \le s^2`.
    """
    check_choice("method", method, ("linear", "hermite"))
    h = _positive("dt", dt)
    s = _positive("slope", slope)
    d2 = _nonnegative("curvature", curvature)
    _step_condition(h, s, d2, 1.0, "slope / curvature")
    if method == "linear":
        e = d2 * h**2 / 8.0
    else:
        if fourth is None:
            raise ValueError("method='hermite' needs fourth (>= sup |V''''| on the crossing step)")
        e = _nonnegative("fourth", fourth) * h**4 / 384.0
    r = crossing_radius(e, s, d2)
    return Bound(
        value=r.value, kind="upper", theorem=THEOREM_DISCRETISATION,
        quantity=f"|t_{method} - t*|, interpolated crossing inside the crossing step",
    )


def input_rounding_error_bound(model, s_min, n_causal, dt, w_max=None, w_l1=None) -> Bound:
    r"""Spike-time shift from inputs moved by less than dt (Corollary 2).  *upper*

    Brian2 applies an input at :math:`d_i = dt\lfloor t_i/dt + 10^{-3}\rfloor`, so
    :math:`\|d - t_{in}\|_\infty < dt`. If the segment from :math:`t_{in}` to :math:`d` stays in
    :math:`\mathcal M(s_{\min})`, Theorem 1 (b) gives
    :math:`|t^*(d) - t^*(t_{in})| \le \sup\|\nabla_{t_{in}}t^*\|_1\,\|d - t_{in}\|_\infty
    \le A\kappa'_{\max}\,dt/s_{\min}`.
    """
    h = _positive("dt", dt)
    g = spike_time_input_gradient_bound(model, s_min, n_causal, w_max=w_max, w_l1=w_l1, norm="l1")
    return Bound(
        value=_value(np.asarray(g.value) * h), kind="upper", theorem=THEOREM_DISCRETISATION,
        quantity="|t*(delivered input times) - t*(true input times)|",
        note="requires the segment between the two input-time vectors to stay in the margin set",
    )


# --------------------------------------------------------------------------------------------
# Proposition 1: concrete discontinuities
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discontinuity:
    r"""Two nearby configurations of one neuron whose first-spike times differ a lot.

    ``weights_before`` / ``weights_after`` are (n_in, 1), ``input_times`` (1, n_in); the pair
    differs by ``perturbation`` = :math:`\|w_{before} - w_{after}\|_\infty`. ``description`` says
    what happens. Evaluate with ``model.first_spike_times(input_times, weights)``.
    """

    description: str
    input_times: np.ndarray
    weights_before: np.ndarray
    weights_after: np.ndarray
    perturbation: float


def _pair(desc, times, w_before, w_after) -> Discontinuity:
    t = np.asarray([times], dtype=np.float64)
    wb = np.asarray(w_before, dtype=np.float64)[:, None]
    wa = np.asarray(w_after, dtype=np.float64)[:, None]
    return Discontinuity(desc, t, wb, wa, float(np.max(np.abs(wb - wa))))


def grazing_example(model, delta: float) -> Discontinuity:
    r"""A spike that vanishes: one input at 0, weight :math:`w_c(1 \pm \delta)`, :math:`w_c = \vartheta/\kappa_{\max}`.  (Proposition 1 (a))

    LIF: :math:`w_c\kappa` touches :math:`\vartheta` at the kernel peak; above :math:`w_c` the
    neuron fires near :math:`s_p`, below it never fires: :math:`t^*` jumps from
    :math:`\approx s_p` to :math:`\infty` under a perturbation :math:`2\delta w_c \to 0`.
    The slope at the crossing tends to 0 (:math:`\sim\sqrt\delta`), so the configurations leave
    every :math:`\mathcal M(s_{\min})`. NLIF has no peak (:math:`\kappa < 1`): its spike time
    diverges continuously as :math:`w \downarrow \vartheta` (:math:`t^* = \tau_s\ln\frac{w}{w-\vartheta}`),
    also with an unbounded derivative.
    """
    model = check_neuron_model(model)
    delta = check_positive("delta", delta)
    if delta >= 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    wc = model.theta / kernel_constants(model).kappa_max
    return _pair(
        "single input at the critical weight theta/kappa_max: fires above, silent below",
        [0.0], [wc * (1 + delta)], [wc * (1 - delta)],
    )


def late_rescue_example(model, delta: float, gap: float = 2.0) -> Discontinuity:
    r"""A finite jump between two firing configurations (Proposition 1 (b)), LIF only.

    Input 1 at 0 with weight :math:`w_c(1\pm\delta)` (grazing, as :func:`grazing_example`); input 2
    at :math:`t_2 = s_p + ` ``gap`` :math:`\cdot\tau_m` with weight :math:`w_c`: it alone fires
    the neuron after :math:`t_2`. Above the critical weight the spike is near :math:`s_p`; below,
    it comes after :math:`t_2`: a jump of more than ``gap`` :math:`\cdot\tau_m` for a
    perturbation :math:`2\delta w_c`. Both configurations fire.
    """
    model = check_neuron_model(model)
    if not isinstance(model, LIF):
        raise ValueError("late_rescue_example needs an LIF model (the NLIF kernel has no peak)")
    delta = check_positive("delta", delta)
    gap = check_positive("gap", gap)
    if delta >= 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    c = kernel_constants(model)
    wc = model.theta / c.kappa_max
    t2 = c.peak_time + gap * model.tau_m
    # weight 2 w_c: the second input fires the neuron on its own, whatever is left of the first
    return _pair(
        "grazing first bump; a later excitatory input fires the neuron when the bump misses",
        [0.0, t2], [wc * (1 + delta), 2 * wc], [wc * (1 - delta), 2 * wc],
    )


def inhibitory_cutoff_example(model, delta: float, t_cut: float = 0.5) -> Discontinuity:
    r"""A spike that vanishes although the slope stays large (Proposition 1 (c)).

    Input 1 at 0 with weight :math:`w_1 = w_c(1\pm\delta)`, :math:`w_c = \vartheta/\kappa(t_{cut})`;
    input 2 at :math:`t_{cut}` with weight :math:`-w_c` cancels it afterwards (:math:`V(t) =
    w_c(\kappa(t) - \kappa(t - t_{cut})) + \ldots` stays below :math:`\vartheta` for
    :math:`t \ge t_{cut}`). Above the critical weight the neuron crosses just before
    :math:`t_{cut}` with slope :math:`\approx w_c\kappa'(t_{cut}) > 0`, below it never fires. So
    points of :math:`\mathcal M(s_{\min})` with :math:`s_{\min}` bounded away from 0 lie at
    distance :math:`\to 0` from silent configurations: the margin set has no thickness.
    ``t_cut`` is in units of the model's smallest time constant and must not pass the kernel's
    peak (so that :math:`\kappa(t) \le \kappa(t_{cut})` before the cut).
    """
    model = check_neuron_model(model)
    delta = check_positive("delta", delta)
    t_cut = check_positive("t_cut", t_cut) * min(model.time_constants)
    if delta >= 1:
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    if t_cut >= kernel_constants(model).peak_time:
        raise ValueError(f"t_cut must lie before the kernel's peak time {kernel_constants(model).peak_time:g} ms, got {t_cut!r} ms")
    wc = model.theta / float(model.kernel(t_cut))
    return _pair(
        "excitatory input cut off by an inhibitory input at t_cut: crossing just before t_cut "
        "with a large slope above the critical weight, silent below",
        [0.0, t_cut], [wc * (1 + delta), -wc * (1 + delta)], [wc * (1 - delta), -wc * (1 + delta)],
    )


@dataclass(frozen=True)
class CausalKink:
    r"""Where input 2 enters the causal set: one-sided derivatives of :math:`t^*` in :math:`w_1`.

    ``input_times`` (1, 2); ``weights(w1)`` gives the (2, 1) weight matrix; at ``w1_critical``
    the spike is exactly at the second input time. ``derivative_above`` is the derivative for
    :math:`w_1 \downarrow w_1^\circ` (input 2 not causal), ``derivative_below`` for
    :math:`w_1 \uparrow w_1^\circ` (input 2 causal).
    """

    input_times: np.ndarray
    w1_critical: float
    w2: float
    derivative_above: float
    derivative_below: float

    def weights(self, w1: float) -> np.ndarray:
        return np.array([[float(w1)], [self.w2]])


def causal_kink_example(model, t2: float = 0.5, w2: float = 0.5) -> CausalKink:
    r"""One-sided derivatives of :math:`t^*` in :math:`w_1` where the causal set changes (Proposition 1 (d)).

    Input 1 at 0 (weight :math:`w_1`), input 2 at :math:`t_2` (weight :math:`w_2`). At
    :math:`w_1^\circ = \vartheta/\kappa(t_2)` the spike is exactly at :math:`t_2`; for
    :math:`w_1 > w_1^\circ` it is earlier (input 2 not causal), for :math:`w_1 < w_1^\circ`
    later (input 2 causal). The one-sided derivatives are

    .. math:: \partial_{w_1}t^*\big|_{\downarrow} = -\frac{\kappa(t_2)}{w_1^\circ\kappa'(t_2)},\qquad
              \partial_{w_1}t^*\big|_{\uparrow} = -\frac{\kappa(t_2)}{w_1^\circ\kappa'(t_2) + w_2\kappa'(0^+)},

    different whenever :math:`w_2 \ne 0`: the gradient jumps by a finite amount, so no
    smoothness constant holds across causal-set changes, even inside the margin set.
    ``t2`` is in units of the model's smallest time constant; it must lie on the rising flank.
    """
    model = check_neuron_model(model)
    t2 = check_positive("t2", t2) * min(model.time_constants)
    w2 = float(w2)
    if not math.isfinite(w2):
        raise ValueError(f"w2 must be finite, got {w2!r}")
    k = float(model.kernel(t2))
    k1 = float(model.kernel_derivative(t2))
    kappa1_0 = kernel_constants(model).kappa1_max  # kappa'(0+) is the supremum of |kappa'|
    w1c = model.theta / k
    slope_above = w1c * k1
    slope_below = slope_above + w2 * kappa1_0
    if slope_above <= 0:
        raise ValueError(f"t2 must lie on the rising flank of the kernel (kappa'(t2) > 0), got t2={t2!r} ms")
    if slope_below <= 0:
        raise ValueError(f"w2 must be > {-slope_above / kappa1_0!r} so that both one-sided slopes are positive, got {w2!r}")
    return CausalKink(np.array([[0.0, t2]]), w1c, w2, -k / slope_above, -k / slope_below)


# --------------------------------------------------------------------------------------------
# Theorem 3: federated (local SGD) training of one spiking layer on the margin set
# --------------------------------------------------------------------------------------------

THEOREM_FEDERATED = (
    "fsnn_theory, Theorem 3 (federated time-to-first-spike learning on the margin set), "
    "proofs/federated_ttfs_convergence.md, via Yu, Yang, Zhu, AAAI 2019, arXiv 1807.06629, Theorem 1"
)


def _ttfs_constants(model, s_min, n_causal, tau_xi, batch, w_max, w_l1):
    G = np.asarray(ttfs_loss_gradient_bound(model, s_min, n_causal, tau_xi).value)
    L = np.asarray(ttfs_loss_smoothness_bound(model, s_min, n_causal, tau_xi, w_max=w_max, w_l1=w_l1).value)
    b = _count("batch", batch)
    return G, L, G**2 / b


def ttfs_local_sgd_bound(model, s_min, n_causal, tau_xi, T, gamma, I, N, batch, f0_gap,
                         w_max=None, w_l1=None) -> Bound:
    r"""Non-convex rate of local SGD (FedAvg, IID) for one spiking layer (Theorem 3).  *upper*

    With G and L of Corollary 1 and :math:`\sigma^2 = G^2/B` (a mini-batch mean of B samples whose
    per-sample gradients are bounded by G), Yu, Yang & Zhu (2019, Thm. 1) give, for
    :math:`0 < \gamma \le 1/L`, N workers averaging every I steps, T steps in total,

    .. math:: \frac1T\sum_{t=1}^{T}\mathbb E\|\nabla f(\bar x_{t-1})\|^2 \le
              \frac{2(f(\bar x_0) - f^*)}{\gamma T} + 4\gamma^2 I^2 G^2 L^2 + \frac{L\gamma G^2}{NB}.

    Hypothesis beyond Yu et al.'s (which need L-smoothness everywhere): every local iterate, every
    average and the segments between them stay in a convex set on which, for every sample, all
    outputs are in :math:`\mathcal M(s_{\min})`, no causal set changes, and the causal-weight bounds
    hold (Proposition 1 shows that without it no smoothness constant exists). ``f0_gap``
    :math:`\ge f(\bar x_0) - f^*`; the cross-entropy is :math:`\ge 0`, so :math:`f(\bar x_0)` will do.
    Yu et al.'s constants are as recalled in ``bounds.yu2019_local_sgd_bound`` (not checked
    against the paper's text).
    """
    from fsnn_theory.theory.bounds import yu2019_local_sgd_bound

    G, L, sigma2 = _ttfs_constants(model, s_min, n_causal, tau_xi, batch, w_max, w_l1)
    yb = yu2019_local_sgd_bound(T, gamma, I, L, G, sigma2, N, f0_gap)
    return Bound(
        value=yb.value, kind="upper", theorem=THEOREM_FEDERATED, quantity=yb.quantity,
        note="holds while the iterates stay in the margin set without causal-set changes; " + yb.note,
    )


def ttfs_local_sgd_step_size(model, s_min, n_causal, tau_xi, T, I, N, batch, f0_gap,
                             w_max=None, w_l1=None):
    r"""Step size of Theorem 3: :math:`\gamma = \min\big(1/L,\ \sqrt{2(f_0 - f^*)NB/(LG^2T)}\big)`.

    The second value balances the first and last terms of :func:`ttfs_local_sgd_bound`; with it
    both equal :math:`\sqrt{2(f_0-f^*)LG^2/(NBT)}` and the middle term is
    :math:`8(f_0-f^*)NBI^2L/T`: the rate :math:`O(1/\sqrt{NBT})` of parallel SGD while
    :math:`I = O(T^{1/4}/(NB)^{3/4})`. Returns a float or an ndarray (broadcast).
    """
    G, L, _ = _ttfs_constants(model, s_min, n_causal, tau_xi, batch, w_max, w_l1)
    T = _count("T", T)
    N = _count("N", N)
    b = _count("batch", batch)
    _count("I", I)
    f0 = _positive("f0_gap", f0_gap)
    return _value(np.minimum(1.0 / L, np.sqrt(2.0 * f0 * N * b / (L * G**2 * T))))


# --------------------------------------------------------------------------------------------
# Theorem 4: density and bits of spike-causal sparse updates
# --------------------------------------------------------------------------------------------

THEOREM_COMMUNICATION = (
    "fsnn_theory, Theorem 4 (density and bits of spike-causal updates), "
    "proofs/spike_causal_communication.md"
)


def causal_pair_probability(input_times, output_times) -> np.ndarray:
    r""":math:`q_{ij} = \Pr(t_i < t_j < \infty)`, the empirical causal probability over a sample.  *tight*

    ``input_times`` (m, n_in), ``output_times`` (m, n_out) over m samples of the data (at fixed
    weights). Returns (n_in, n_out): the fraction of samples on which input i is causal for output
    j (``neurons.causal_set`` averaged). Uniform sampling from these m samples has exactly these
    :math:`q_{ij}`.
    """
    from fsnn_theory.neurons import causal_set

    return causal_set(input_times, output_times).mean(axis=0)


def spike_causal_density(q, samples) -> Bound:
    r"""Expected density of a spike-causal update after M sample presentations (Theorem 4 (i)).  *tight*

    An entry :math:`(i, j)` of a client's accumulated update is non-zero iff input i was causal
    for output j on at least one of the M = B·E samples drawn (batch B, E local steps;
    :math:`\partial t_j/\partial w_{ij} = 0` otherwise and, generically, no cancellation). For
    samples drawn independently with :math:`\Pr(i\text{ causal for }j) = q_{ij}`:

    .. math:: \Pr(\Delta w_{ij} \ne 0) = 1 - (1 - q_{ij})^{M},\qquad
              \mathbb E[\text{density}] = \frac1d\sum_{ij}\big(1 - (1 - q_{ij})^M\big).

    Exact under i.i.d. draws (with replacement) and causal sets that do not change during the
    local steps; drawing without replacement from a finite local set only increases it.
    ``q`` any shape (entries in [0, 1]); ``samples`` M >= 1 (broadcast against a leading axis:
    an array of M gives one density per M).
    """
    q = as_float_array("q", q)
    if not ((q >= 0) & (q <= 1)).all():
        raise ValueError("q must lie in [0, 1] (probabilities)")
    m = _count("samples", samples)
    # 1 - (1 - q)^M without cancellation for small q; q = 1 handled separately (log1p(-1) = -inf)
    qq = np.where(q < 1.0, q, 0.0)[None, ...]
    p = -np.expm1(np.log1p(-qq) * np.reshape(m, (-1,) + (1,) * q.ndim))
    p = np.where((q >= 1.0)[None, ...], 1.0, p)
    dens = p.reshape(p.shape[0], -1).mean(axis=1)
    return Bound(value=_value(dens if np.ndim(m) else dens[0]), kind="tight", theorem=THEOREM_COMMUNICATION,
                 quantity="expected fraction of non-zero entries of a spike-causal update")


def spike_causal_bits_bound(d, density) -> Bound:
    r"""Expected bits of one spike-causal message of dimension d (Theorem 4 (ii)).  *upper*

    The message (``federated.compressors.causal_message_bits``) is a flag bit, the cheaper of a
    bitmap (d bits) and an index list (a count of :math:`\lceil\log_2(d+1)\rceil` bits plus
    :math:`\lceil\log_2 d\rceil` bits per index), and 32 bits per non-zero value. With
    :math:`\mathbb E[\mathrm{nnz}] = \rho d` and :math:`\min` concave (Jensen):

    .. math:: \mathbb E[\text{bits}] \le 1 + \min\big(d,\ \lceil\log_2(d+1)\rceil + \rho d\lceil\log_2 d\rceil\big) + 32\rho d.
    """
    d = _count("d", d)
    rho = as_float_array("density", density)
    if not ((rho >= 0) & (rho <= 1)).all():
        raise ValueError("density must lie in [0, 1]")
    index = np.minimum(d, ceil_log2(d + 1) + rho * d * ceil_log2(np.maximum(d, 2)))
    return Bound(value=_value(1.0 + index + 32.0 * rho * d), kind="upper", theorem=THEOREM_COMMUNICATION,
                 quantity="expected bits of one spike-causal message")


def support_entropy_bits(d, density) -> Bound:
    r"""Entropy-coded baseline for the support of a message: :math:`d\,H_2(\rho)` bits (Theorem 4 (iv)).  *lower*

    :math:`H_2(\rho) = -\rho\log_2\rho - (1-\rho)\log_2(1-\rho)`. If the d entries are non-zero
    independently with probability ρ, an ideal entropy coder (arithmetic coding; Shannon 1948)
    needs :math:`d H_2(\rho)` bits on average for the support and no lossless code needs fewer. With
    per-entry probabilities :math:`p_{ij}` of mean ρ, coding the entries separately needs
    :math:`\sum_{ij} H_2(p_{ij}) \le d H_2(\rho)` (H₂ is concave), so :math:`d H_2(\rho)` is the
    baseline the bitmap (d bits) and the index list (:math:`\approx \rho d\lceil\log_2 d\rceil`
    bits) of `spike_causal_bits_bound` are compared with. Values (32 bits per non-zero) are extra.
    """
    d = _count("d", d)
    rho = as_float_array("density", density)
    if not ((rho >= 0) & (rho <= 1)).all():
        raise ValueError("density must lie in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(rho > 0, rho * np.log2(rho), 0.0) + np.where(rho < 1, (1 - rho) * np.log2(1 - rho), 0.0))
    return Bound(value=_value(d * h), kind="lower", theorem=THEOREM_COMMUNICATION,
                 quantity="expected bits of any lossless code of the support (i.i.d. entries)")


def spike_causal_bits_to_epsilon(rounds, clients, bits_per_message) -> float | np.ndarray:
    r"""Uplink bits to reach accuracy :math:`\varepsilon`: rounds × clients × bits per message (Theorem 4 (iii)).

    A spike-causal message is lossless (it carries the exact FedAvg update up to float32 rounding),
    so the number of rounds to :math:`\varepsilon` is that of uncompressed FedAvg (e.g.
    ``bounds.yu2019_rounds_to_epsilon`` or Theorem 3) — unlike QSGD and top-k, whose variance
    or contraction factors increase it. A plain product (not a bound): returns a number.
    """
    r = as_float_array("rounds", rounds)
    c = _count("clients", clients)
    b = _nonnegative("bits_per_message", bits_per_message)
    if not (r >= 0).all():
        raise ValueError("rounds must be >= 0")
    return _value(r * c * b)
