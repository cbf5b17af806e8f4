r"""Analytic spike-time engine: exact first-spike times and their gradients.

Every model here is a current-based neuron driven by input spikes, with a membrane potential

.. math::  V(t) = \sum_{i:\, t_i \le t} w_i\, \kappa(t - t_i),
           \qquad t^* = \inf\{t : V(t) \ge \vartheta\}\ (t^* = \infty \text{ if none}),

times in ms, potentials unitless, threshold :math:`\vartheta > 0`, weights of any sign and
``np.inf`` for an input that never spikes. The models and their kernels:

================  ==========================================================  ======================
model             kernel :math:`\kappa(s),\ s \ge 0`                            first-spike time
================  ==========================================================  ======================
``NLIF``          :math:`1 - e^{-s/\tau_s}`                                      closed form (log)
``LIF`` τm = τs   :math:`(s/\tau) e^{-s/\tau}` (alpha kernel)                    closed form (Lambert W)
``LIF`` τm = 2τs  :math:`e^{-s/\tau_m} - e^{-s/\tau_s}`                          closed form (quadratic)
``LIF`` other     :math:`\frac{\tau_s}{\tau_m-\tau_s}(e^{-s/\tau_m}-e^{-s/\tau_s})`  bracketed root
================  ==========================================================  ======================

How the first crossing is found (all models). Sort each sample's inputs, so that on the causal
interval :math:`[t_k, t_{k+1}]` the potential is a sum of at most two exponentials in the local
time :math:`s = t - t_k`, with coefficients that a recurrence carries from one interval to the next
(everything stays in the local frame, so no :math:`e^{t/\tau}` can overflow). On each interval the
crossing test and the crossing itself are closed forms; the first interval whose crossing lies inside
it holds :math:`t^*`. Intervals are closed on both ends because :math:`V` is continuous
(:math:`\kappa(0) = 0`), so a crossing exactly at an input time is found on the interval before it.

Numerical range. The closed forms for τm = τs and τm = 2τs are used only where the
ratio holds exactly; every other ratio, including :math:`|\tau_m - \tau_s|` down to 1e-14·τs and τm < τs, goes to
the general search, written in a form without cancellation or overflow (:func:`lif_kernel`,
:func:`lif_kernel_derivative`, :func:`_first_spike_times_general`). Columns with a weight above
2^32 are rescaled by a power of two with the threshold (exact), and columns with a weight above
1e4·θ are solved by the general search, whose rounding is relative to the potential itself. The
τm = 2τs search and gradients also have compiled (numba) kernels that repeat the numpy path's
operations in the same order: the results are bit-identical to it (tests/test_neurons_properties.py).

Gradients follow from the implicit-function theorem on :math:`V(t^*; w, t_{in}) = \vartheta`
(SpikeProp, Bohté, Kok & La Poutré 2002; exact form as in Göltz et al. 2021)::

    dt*/dw_j = -kappa(t* - t_j) / Vdot(t*),      dt*/dt_j = w_j kappa'(t* - t_j) / Vdot(t*),

zero for non-causal inputs (t_j >= t*) and silent neurons.

References
----------
- H. Mostafa, "Supervised learning based on temporal coding in spiking neural networks",
  IEEE TNNLS 29(7), 2018 (non-leaky IF, closed-form spike times).
- J. Göltz, L. Kriener, et al., "Fast and energy-efficient neuromorphic deep learning with
  first-spike times", Nature Machine Intelligence 3, 2021 (LIF closed forms for τm = τs and τm = 2τs).
- S. M. Bohté, J. N. Kok, H. La Poutré, "Error-backpropagation in temporally encoded networks of
  spiking neurons", Neurocomputing 48, 2002 (implicit-function gradients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np
from scipy.optimize.elementwise import find_root

from fsnn_theory._validation import as_float_array, check_choice, check_positive

__all__ = [
    "NLIF",
    "LIF",
    "NeuronModel",
    "make_model",
    "MODEL_NAMES",
    "first_spike_times",
    "spike_time_gradients",
    "spike_time_gradients_at",
    "spike_time_hessian",
    "potential",
    "potential_derivative",
    "slope_at_threshold",
    "causal_set",
    "check_neuron_model",
]

MODEL_NAMES = ("nlif", "lif")

# Relative slack when deciding whether an interval's crossing lies inside the interval: the closed
# forms are accurate to a few ulps, so a crossing exactly at an input time may land just outside
# both neighbouring intervals without it.
_BOUNDARY_RTOL = 1e-11


# --------------------------------------------------------------------------------------------
# Kernels: pure functions of the lag s = t - t_i (zero for s < 0, the input has not arrived yet)
# --------------------------------------------------------------------------------------------


def nlif_kernel(s, tau_s: float) -> np.ndarray:
    r"""Non-leaky IF kernel :math:`\kappa(s) = 1 - e^{-s/\tau_s}` for :math:`s \ge 0`, else 0.

    Integrate-and-fire membrane with an exponentially decaying synaptic current (Mostafa 2018).
    """
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        k = -np.expm1(-s / tau_s)
    return np.where(s > 0, k, 0.0)


def nlif_kernel_derivative(s, tau_s: float, order: int = 1) -> np.ndarray:
    r""":math:`\kappa^{(n)}(s) = -(-1/\tau_s)^n e^{-s/\tau_s}` for :math:`s > 0` (n = 1, 2), else 0."""
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d = -((-1.0 / tau_s) ** order) * np.exp(-s / tau_s)
    return np.where(s > 0, d, 0.0)


def lif_kernel(s, tau_m: float, tau_s: float) -> np.ndarray:
    r"""Current-based LIF kernel (PSP of a unit weight), zero for :math:`s \le 0`.

    .. math:: \kappa(s) = \frac{\tau_s}{\tau_m - \tau_s}\left(e^{-s/\tau_m} - e^{-s/\tau_s}\right),
              \qquad \kappa(s) = \frac{s}{\tau} e^{-s/\tau} \ \text{if}\ \tau_m = \tau_s = \tau.

    Solution of :math:`\tau_m \dot V = -V + I,\ \tau_s \dot I = -I` after :math:`I \mathrel{+}= 1`
    (Göltz et al. 2021, Methods). Evaluated with the slower exponential factored out,

    .. math:: \kappa(s) = \frac{\tau_s}{|\tau_m-\tau_s|}\, e^{-s/\tau_L}\,
              \bigl(-\mathrm{expm1}(-s\,d)\bigr),\qquad \tau_L = \max(\tau_m,\tau_s),\
              d = \frac{|\tau_m-\tau_s|}{\tau_m\tau_s} \ge 0,

    (an algebraic rearrangement of the definition): no factor exceeds 1 in size, so nothing
    overflows at long lags for either ordering of the time constants, and ``expm1`` keeps full
    relative precision for nearby time constants.
    """
    s = np.asarray(s, dtype=np.float64)
    pos = (s > 0) & np.isfinite(s)
    sp = np.where(pos, s, 0.0)
    if tau_m == tau_s:
        k = (sp / tau_s) * np.exp(-sp / tau_s)
    elif tau_m > tau_s:
        c = tau_s / (tau_m - tau_s)
        r = (tau_m - tau_s) / (tau_m * tau_s)
        k = -c * np.exp(-sp / tau_m) * np.expm1(-sp * r)
    else:  # tau_m < tau_s: the same with the roles of the two exponentials swapped
        c = tau_s / (tau_s - tau_m)
        r = (tau_s - tau_m) / (tau_m * tau_s)
        k = -c * np.exp(-sp / tau_s) * np.expm1(-sp * r)
    return np.where(pos, k, 0.0)


def _phi(x: np.ndarray) -> np.ndarray:
    r""":math:`\varphi(x) = (1 - e^{-x})/x = -\mathrm{expm1}(-x)/x` for :math:`x \ge 0`, :math:`\varphi(0) = 1`.

    Full relative precision for every :math:`x \ge 0` (``expm1``, Kahan's argument); decreasing
    from 1 to 0, never overflows.
    """
    x = np.asarray(x, dtype=np.float64)
    xs = np.where(x > 0, x, 1.0)
    return np.where(x > 0, -np.expm1(-xs) / xs, 1.0)


def _lif_split(tau_m: float, tau_s: float) -> tuple[float, float, float]:
    r"""(:math:`\tau_L, \tau_S, d`): longer and shorter time constant and
    :math:`d = |\tau_m - \tau_s|/(\tau_m\tau_s) = 1/\tau_S - 1/\tau_L \ge 0` (exact difference first)."""
    tau_l, tau_sh = max(tau_m, tau_s), min(tau_m, tau_s)
    return tau_l, tau_sh, abs(tau_m - tau_s) / (tau_m * tau_s)


def lif_kernel_derivative(s, tau_m: float, tau_s: float, order: int = 1) -> np.ndarray:
    r"""First or second derivative of :func:`lif_kernel` in s (zero for :math:`s \le 0`).

    .. math:: \kappa^{(n)}(s) = \frac{\tau_s}{\tau_m-\tau_s}\left((-1/\tau_m)^n e^{-s/\tau_m}
              - (-1/\tau_s)^n e^{-s/\tau_s}\right);\quad
              \text{alpha: } \kappa' = \tfrac{1}{\tau}(1 - s/\tau)e^{-s/\tau},\
              \kappa'' = \tfrac{1}{\tau^2}(s/\tau - 2)e^{-s/\tau}.

    The difference form above loses :math:`\epsilon\,\tau_s/|\tau_m-\tau_s|` to cancellation, so it
    is used only for :math:`\tau_m \ge 2\tau_s` (factor :math:`\le 1`). Otherwise the kernel is
    written :math:`\kappa(s) = (s/\tau_m)\,e^{-s/\tau_L}\,\varphi(sd)` with
    :math:`\varphi(x) = (1-e^{-x})/x` (:func:`_lif_split`, :func:`_phi`), whose derivatives

    .. math:: \kappa' = \tfrac{1}{\tau_m} e^{-s/\tau_L}\bigl(e^{-sd} - \tfrac{s}{\tau_L}\varphi(sd)\bigr),
              \qquad
              \kappa'' = \tfrac{1}{\tau_m} e^{-s/\tau_L}\bigl(\tfrac{s}{\tau_L^2}\varphi(sd)
                         - (\tfrac{1}{\tau_L} + \tfrac{1}{\tau_S}) e^{-sd}\bigr)

    (differentiate using :math:`\tfrac{d}{ds}[s\varphi(sd)] = e^{-sd}` and :math:`d + 1/\tau_L =
    1/\tau_S`) are continuous in :math:`d` through :math:`d = 0` (the alpha formulas) and never overflow.
    """
    s = np.asarray(s, dtype=np.float64)
    pos = (s > 0) & np.isfinite(s)
    sp = np.where(pos, s, 0.0)
    if tau_m == tau_s:
        tau = tau_s
        e = np.exp(-sp / tau)
        d = (1.0 - sp / tau) * e / tau if order == 1 else (sp / tau - 2.0) * e / tau**2
    elif tau_m >= 2.0 * tau_s:
        c = tau_s / (tau_m - tau_s)
        d = c * ((-1.0 / tau_m) ** order * np.exp(-sp / tau_m) - (-1.0 / tau_s) ** order * np.exp(-sp / tau_s))
    else:
        tau_l, tau_sh, dd = _lif_split(tau_m, tau_s)
        el = np.exp(-sp / tau_l)
        ed = np.exp(-sp * dd)
        sph = (sp / tau_l) * _phi(sp * dd)
        if order == 1:
            d = el * (ed - sph) / tau_m
        else:
            d = el * (sph / tau_l - (1.0 / tau_l + 1.0 / tau_sh) * ed) / tau_m
    return np.where(pos, d, 0.0)


def _is_alpha(tau_m: float, tau_s: float) -> bool:
    return math.isclose(tau_m, tau_s, rel_tol=1e-12)


def _is_double(tau_m: float, tau_s: float) -> bool:
    return math.isclose(tau_m, 2.0 * tau_s, rel_tol=1e-12)


def _engine_regime(model) -> str:
    """The formula family the engine computes with: ``model.regime``, except that the closed forms
    for τm = τs and τm = 2τs are used only where the ratio holds exactly in float64. A ratio within
    the 1e-12 of ``regime`` but not exact goes to the general (stable) search, so results are
    those of the actual time constants (a relative change of about 1e-12, not a rounding artefact).
    """
    regime = model.regime
    if regime == "alpha" and model.tau_m != model.tau_s:
        return "general"
    if regime == "double" and model.tau_m != 2.0 * model.tau_s:
        return "general"
    return regime


# --------------------------------------------------------------------------------------------
# Parameter records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NLIF:
    r"""Non-leaky integrate-and-fire neuron with exponential synaptic current (Mostafa 2018).

    :math:`\tau_s \dot I = -I,\ \dot V = I/\tau_s`, input spike: :math:`I \mathrel{+}= w`;
    kernel :math:`\kappa(s) = 1 - e^{-s/\tau_s}`, peak 1 as :math:`s \to \infty`.

    Parameters
    ----------
    tau_s : synaptic time constant in ms, > 0.
    theta : firing threshold, > 0.
    """

    tau_s: float = 1.0
    theta: float = 1.0
    name: ClassVar[str] = "nlif"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_s", check_positive("tau_s", self.tau_s))
        object.__setattr__(self, "theta", check_positive("theta", self.theta))

    @property
    def regime(self) -> str:
        return "nlif"

    @property
    def time_constants(self) -> tuple[float, ...]:
        return (self.tau_s,)

    @property
    def kernel_max(self) -> float:
        """Supremum of the kernel, 1 (approached as s → ∞)."""
        return 1.0

    @property
    def kernel_peak_time(self) -> float:
        return math.inf

    def kernel(self, s) -> np.ndarray:
        return nlif_kernel(s, self.tau_s)

    def kernel_derivative(self, s) -> np.ndarray:
        return nlif_kernel_derivative(s, self.tau_s, 1)

    def kernel_second_derivative(self, s) -> np.ndarray:
        return nlif_kernel_derivative(s, self.tau_s, 2)

    # thin wrappers over the pure functions below
    def first_spike_times(self, input_times, weights) -> np.ndarray:
        return first_spike_times(self, input_times, weights)

    def spike_time_gradients(self, input_times, weights):
        return spike_time_gradients(self, input_times, weights)

    def spike_time_hessian(self, input_times, weights) -> np.ndarray:
        return spike_time_hessian(self, input_times, weights)

    def potential(self, t, input_times, weights) -> np.ndarray:
        return potential(self, t, input_times, weights)

    def slope_at_threshold(self, input_times, weights) -> np.ndarray:
        return slope_at_threshold(self, input_times, weights)


@dataclass(frozen=True)
class LIF:
    r"""Current-based leaky integrate-and-fire neuron (Göltz et al. 2021).

    :math:`\tau_m \dot V = -V + I,\ \tau_s \dot I = -I`, input spike: :math:`I \mathrel{+}= w`.
    Closed-form first-spike times for :math:`\tau_m = \tau_s` (Lambert W) and
    :math:`\tau_m = 2\tau_s` (quadratic in :math:`e^{-t/\tau_m}`); bracketed root finding otherwise.

    Parameters
    ----------
    tau_m : membrane time constant in ms, > 0.
    tau_s : synaptic time constant in ms, > 0.
    theta : firing threshold, > 0.
    """

    tau_m: float = 2.0
    tau_s: float = 1.0
    theta: float = 1.0
    name: ClassVar[str] = "lif"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_m", check_positive("tau_m", self.tau_m))
        object.__setattr__(self, "tau_s", check_positive("tau_s", self.tau_s))
        object.__setattr__(self, "theta", check_positive("theta", self.theta))

    @property
    def regime(self) -> str:
        """``"alpha"`` (τm = τs), ``"double"`` (τm = 2τs) or ``"general"``."""
        if _is_alpha(self.tau_m, self.tau_s):
            return "alpha"
        if _is_double(self.tau_m, self.tau_s):
            return "double"
        return "general"

    @property
    def time_constants(self) -> tuple[float, ...]:
        return (self.tau_m, self.tau_s)

    @property
    def kernel_peak_time(self) -> float:
        r""":math:`s_{peak} = \frac{\tau_m\tau_s}{\tau_m-\tau_s}\ln(\tau_m/\tau_s)` (τ if τm = τs)."""
        if _is_alpha(self.tau_m, self.tau_s):
            return self.tau_s
        return self.tau_m * self.tau_s * math.log(self.tau_m / self.tau_s) / (self.tau_m - self.tau_s)

    @property
    def kernel_max(self) -> float:
        """Peak value of the kernel: 1/e for τm = τs, 1/4 for τm = 2τs."""
        return float(self.kernel(self.kernel_peak_time))

    def kernel(self, s) -> np.ndarray:
        return lif_kernel(s, self.tau_m, self.tau_s)

    def kernel_derivative(self, s) -> np.ndarray:
        return lif_kernel_derivative(s, self.tau_m, self.tau_s, 1)

    def kernel_second_derivative(self, s) -> np.ndarray:
        return lif_kernel_derivative(s, self.tau_m, self.tau_s, 2)

    def first_spike_times(self, input_times, weights) -> np.ndarray:
        return first_spike_times(self, input_times, weights)

    def spike_time_gradients(self, input_times, weights):
        return spike_time_gradients(self, input_times, weights)

    def spike_time_hessian(self, input_times, weights) -> np.ndarray:
        return spike_time_hessian(self, input_times, weights)

    def potential(self, t, input_times, weights) -> np.ndarray:
        return potential(self, t, input_times, weights)

    def slope_at_threshold(self, input_times, weights) -> np.ndarray:
        return slope_at_threshold(self, input_times, weights)


NeuronModel = Union[NLIF, LIF]


def make_model(name: str, **params) -> NeuronModel:
    """Build a model from its name (``"nlif"`` or ``"lif"``) and parameters."""
    check_choice("model", name, MODEL_NAMES)
    cls = NLIF if name == "nlif" else LIF
    try:
        return cls(**params)
    except TypeError as exc:  # unknown parameter name
        allowed = ("tau_s", "theta") if cls is NLIF else ("tau_m", "tau_s", "theta")
        raise ValueError(f"model {name!r} takes parameters {allowed}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Validation of (input_times, weights)
# --------------------------------------------------------------------------------------------


def check_neuron_model(model, name: str = "model") -> NeuronModel:
    """``model`` if it is an `NLIF` or `LIF` record, else ``ValueError`` naming ``name``."""
    if not isinstance(model, (NLIF, LIF)):
        raise ValueError(f"{name} must be an NLIF or LIF record (models: {', '.join(MODEL_NAMES)}), "
                         f"got {type(model).__name__}")
    return model


def _check_inputs(input_times, weights) -> tuple[np.ndarray, np.ndarray]:
    t_in = as_float_array("input_times", input_times, ndim=2, allow_inf=True)
    w = as_float_array("weights", weights, ndim=2)
    if t_in.shape[1] != w.shape[0]:
        raise ValueError(
            f"input_times has {t_in.shape[1]} inputs per sample (shape {t_in.shape}) but weights "
            f"has {w.shape[0]} rows (shape {w.shape}); weights must be (n_in, n_out)"
        )
    return t_in, w


# --------------------------------------------------------------------------------------------
# First-spike times
# --------------------------------------------------------------------------------------------


def first_spike_times(model: NeuronModel, input_times, weights) -> np.ndarray:
    r"""Exact first-spike time of every output neuron for every sample.

    Parameters
    ----------
    model : ``NLIF`` or ``LIF`` record.
    input_times : (batch, n_in) input spike times in ms; ``np.inf`` for an input that never spikes.
    weights : (n_in, n_out) synaptic weights of any sign.

    Returns
    -------
    (batch, n_out) first-spike times in ms, ``np.inf`` where the neuron never reaches threshold.

    Notes
    -----
    Closed forms on the causal interval :math:`[t_k, t_{k+1}]`, local time :math:`s = t - t_k`
    (Mostafa 2018 for NLIF; Göltz et al. 2021 for LIF):

    - NLIF: :math:`V = A - B e^{-s/\tau_s}`, :math:`s^* = \tau_s \ln(B/(A-\vartheta))`
      if :math:`B > 0,\ A > \vartheta`.
    - LIF τm = τs = τ: :math:`V = e^{-s/\tau}(a s + c)/\tau`,
      :math:`s^* = -c/a - \tau W_0(z)`, :math:`z = -(\vartheta/a) e^{-c/(a\tau)}`, if
      :math:`a > 0,\ z \ge -1/e` (principal branch = rising flank).
    - LIF τm = 2τs: with :math:`x = e^{-s/\tau_m}`, :math:`V = a_2 x - a_1 x^2`; the first crossing
      is the larger root :math:`x_+ = (a_2 + \sqrt{a_2^2 - 4 a_1\vartheta})/(2a_1)`,
      :math:`s^* = -\tau_m \ln x_+`, if :math:`a_1 > 0,\ a_2 > 0`, discriminant :math:`\ge 0`.
    - LIF other ratios: :math:`V` is a difference of two exponentials with at most one extremum on
      the interval, so the interval's maximum is known in closed form; where it reaches
      :math:`\vartheta`, the crossing is bracketed on a monotone piece and refined by
      Chandrupatla's method (``scipy.optimize.elementwise.find_root``).

    Examples
    --------
    One NLIF input at t = 0 with weight w: :math:`V(t) = w(1 - e^{-t/\tau_s})` reaches
    :math:`\vartheta` at :math:`t^* = \tau_s \ln(w/(w - \vartheta))` if :math:`w > \vartheta`, never otherwise.

    >>> import math
    >>> from fsnn_theory.neurons import NLIF, first_spike_times
    >>> t = first_spike_times(NLIF(tau_s=1.0, theta=1.0), [[0.0]], [[2.0, 0.5]])
    >>> t.shape, math.isclose(t[0, 0], math.log(2.0), rel_tol=1e-12), float(t[0, 1])
    ((1, 2), True, inf)
    """
    model = check_neuron_model(model)
    t_in, w = _check_inputs(input_times, weights)
    return _first_spike_times(model, t_in, w)


# Work arrays of one batch chunk hold about this many float64 entries (bounded memory for any batch).
_CHUNK_ENTRIES = 1 << 21
# Largest input-time span, in units of the shortest time constant, for which the running-sum form
# of the interval coefficients stays far from overflow (exp(600) ~ 1e260).
_MAX_SPAN_FOR_CUMSUM = 600.0


def _cumsum_axis1(x: np.ndarray) -> np.ndarray:
    """In-place running sum along axis 1 of a (B, n, m) array (returns ``x``).

    ``np.cumsum`` along a short middle axis is slow (no vectorised inner loop); for few intervals
    a loop of whole-slice additions is several times faster and gives the same sums in the same order.
    """
    n = x.shape[1]
    if n > 32:
        return np.cumsum(x, axis=1, out=x)
    for k in range(1, n):
        np.add(x[:, k], x[:, k - 1], out=x[:, k])
    return x


def _first_true_axis1(ok: np.ndarray) -> np.ndarray:
    """Index of the first True along axis 1 of a (B, n, m) bool array (0 where none), shape (B, 1, m)."""
    n = ok.shape[1]
    if n > 32:
        return np.argmax(ok, axis=1)[:, None, :]
    # argmax over a short strided axis is slow; scan backwards keeping the earliest hit
    k = np.zeros((ok.shape[0], 1, ok.shape[2]), dtype=np.intp)
    for i in range(n - 1, 0, -1):
        np.copyto(k[:, 0], i, where=ok[:, i])
    np.copyto(k[:, 0], 0, where=ok[:, 0])
    return k


class _Intervals:
    r"""Causal intervals of a batch chunk and the coefficients of V on each of them.

    Interval k starts at the k-th smallest input time :math:`t_{(k)}` and ends at the next one.
    For a decay constant :math:`	au` the coefficient of interval k is
    :math:`\sum_{i \le k} w_{(i)} e^{-(t_{(k)} - t_{(i)})/	au}`; the *lagged* coefficient carries an
    extra factor :math:`(t_{(k)} - t_{(i)})` (alpha kernel). Both are running sums taken relative to
    the sample's first input time; for input windows longer than ``_MAX_SPAN_FOR_CUMSUM`` time
    constants a pairwise form whose exponents are never positive replaces them.
    """

    def __init__(self, t_in: np.ndarray, w: np.ndarray, tau_min: float):
        # stable sort is fastest for a few inputs, introsort for many; ties only change the order
        # of summation inside an interval of length 0
        order = np.argsort(t_in, axis=1, kind="stable" if t_in.shape[1] <= 16 else "quicksort")
        self.starts = np.take_along_axis(t_in, order, axis=1)
        self.finite = np.isfinite(self.starts)
        self.all_finite = bool(self.finite.all())
        self._gaps = None
        self.live = self.finite[:, :, None]
        self.order = order
        self._ws = None
        t_ref = np.where(self.finite[:, :1], self.starts[:, :1], 0.0)
        self.rel = self.starts - t_ref if self.all_finite else np.where(self.finite, self.starts - t_ref, 0.0)  # >= 0
        self.pairwise = bool(self.rel.max(initial=0.0) > _MAX_SPAN_FOR_CUMSUM * tau_min)
        self.t_in, self.w = t_in, w
        self._exps: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def gaps(self) -> np.ndarray:
        """(B, n, 1) interval lengths t_(k+1) - t_(k); inf for the last and for silent intervals."""
        if self._gaps is None:
            gaps = np.full_like(self.starts, np.inf)
            with np.errstate(invalid="ignore"):
                gaps[:, :-1] = self.starts[:, 1:] - self.starts[:, :-1]
            if not self.all_finite:
                gaps[~self.finite] = np.inf
            self._gaps = gaps[:, :, None]
        return self._gaps

    @property
    def ws(self) -> np.ndarray:
        """(B, n, m) weights in time order, 0 for inputs that never spike (gathered on first use)."""
        if self._ws is None:
            self._ws = self.w[self.order]
            if not self.all_finite:
                self._ws *= self.live  # silent inputs weigh nothing
        return self._ws

    def exps(self, tau: float) -> tuple[np.ndarray, np.ndarray]:
        r"""(B, n) factors :math:`e^{\pm r_k/\tau}` of the running sums (0 for silent inputs), cached.

        One exponential per time constant: :math:`e^{-r/\tau} = 1/e^{r/\tau}`, and for
        :math:`\tau = \tau'/2` of a cached :math:`\tau'` the factors are squares (both to an ulp or two).
        """
        hit = self._exps.get(tau)
        if hit is not None:
            return hit
        half_of = self._exps.get(2.0 * tau)
        if half_of is not None:
            up, down = half_of[0] * half_of[0], half_of[1] * half_of[1]
        else:
            up = np.exp(self.rel * (1.0 / tau))
            if self.all_finite:
                down = 1.0 / up
            else:
                up *= self.finite
                down = np.divide(1.0, up, out=np.zeros_like(up), where=self.finite)
        self._exps[tau] = (up, down)
        return up, down

    def gap_decay(self, tau: float) -> np.ndarray:
        r"""(B, n) :math:`e^{-g_k/\tau}` of every interval length :math:`g_k` (0 for the open last one)."""
        if self.pairwise or tau not in self._exps:
            return np.exp(-self.gaps[:, :, 0] / tau)
        up, down = self._exps[tau]
        out = np.zeros_like(up)
        np.multiply(up[:, :-1], down[:, 1:], out=out[:, :-1])  # e^{-(r_{k+1} - r_k)/tau}; 0 if k+1 silent
        return out

    def count(self) -> np.ndarray:
        """Summed weight of the inputs that arrived by each interval start."""
        return _cumsum_axis1(self.ws.copy())

    def decayed(self, tau: float, lagged: bool = False, *, frame: str = "local") -> np.ndarray:
        r"""Coefficients of every interval for decay constant ``tau``.

        ``frame="local"``: :math:`\sum_{i \le k} w_{(i)} e^{-(t_{(k)} - t_{(i)})/\tau}`;
        ``frame="sample"``: the same without the factor :math:`e^{-r_k/\tau}`, i.e. relative to the
        sample's first input (multiply by ``exps(tau)[1]`` to get the local one; cumsum form only).
        """
        if self.pairwise:
            if frame != "local":
                raise ValueError("the pairwise form has local coefficients only")
            return self._pairwise(tau, lagged)
        up, down = self.exps(tau)
        up = up[:, :, None]
        down = down[:, :, None]
        plain = _cumsum_axis1(self.ws * up)
        if frame == "sample" and not lagged:
            return plain
        plain *= down
        if not lagged:
            return plain
        rel = self.rel[:, :, None]
        lag_sum = _cumsum_axis1(self.ws * (rel * up))
        lag_sum *= down
        return rel * plain - lag_sum

    def potential_at_starts(self, kernel) -> np.ndarray:
        r"""(B, n, m) :math:`V(t_{(k)}) = \sum_i w_i \kappa(t_{(k)} - t_i)` from the (B, n, n) kernel matrix
        (``kernel`` must be 0 for lags :math:`\le 0`; an input that never spikes has lag :math:`-\infty`)."""
        with np.errstate(invalid="ignore"):
            lag = self.starts[:, :, None] - self.t_in[:, None, :]
        lag = np.where(np.isnan(lag), -np.inf, lag)  # inf - inf: a silent interval start
        k = kernel(lag)
        # plain products summed input by input (no fused multiply-add as in a BLAS product), so
        # that equal and opposite contributions cancel exactly
        out = k[:, :, 0, None] * self.w[0]
        for i in range(1, k.shape[2]):
            out += k[:, :, i, None] * self.w[i]
        return out

    def _pairwise(self, tau: float, lagged: bool) -> np.ndarray:
        # (B, k, i) matrix of decays, one matrix product with the weights
        lag = self.starts[:, :, None] - self.t_in[:, None, :]
        with np.errstate(invalid="ignore"):
            incl = lag >= 0  # False for later inputs and those that never spike
        lag = np.where(incl, lag, 0.0)
        m = np.exp(lag * (-1.0 / tau))
        if lagged:
            m *= lag
        m *= incl
        b, n, _ = m.shape
        return (m.reshape(b * n, n) @ self.w).reshape(b, n, self.w.shape[1])


def _lambertw0(z: np.ndarray) -> np.ndarray:
    r"""Principal branch :math:`W_0(z)` for real :math:`z \in [-1/e, 0]`, vectorised.

    Initial guess from the branch-point series :math:`W = -1 + p - p^2/3 + 11p^3/72`,
    :math:`p = \sqrt{2(ez + 1)}` (Corless et al., "On the Lambert W function", Adv. Comput. Math.
    5, 1996, eq. 4.22) near :math:`-1/e`, and :math:`W pprox z/(1+z)` near 0; then Halley's
    iteration (Corless et al. eq. 5.9) to machine precision. ``scipy.special.lambertw`` gives the same
    values but works in complex arithmetic and is slow at the branch point.
    """
    z = np.asarray(z, dtype=np.float64)
    p = np.sqrt(np.maximum(2.0 * (math.e * z + 1.0), 0.0))
    near = z < -0.25
    w = np.where(near, -1.0 + p - p * p / 3.0 + (11.0 / 72.0) * p**3, z / (1.0 + z))
    for _ in range(6):
        ew = np.exp(w)
        f = w * ew - z
        wp1 = w + 1.0
        live = np.abs(wp1) > 1e-7  # at the branch point the series guess is already exact
        wp1 = np.where(live, wp1, 1.0)
        denom = ew * wp1 - (w + 2.0) * f / (2.0 * wp1)
        step = np.where(live & (denom != 0), f / np.where(denom != 0, denom, 1.0), 0.0)
        w = w - step
    return np.maximum(w, -1.0)


def _needs_pairwise(t_in: np.ndarray, tau_min: float) -> bool:
    """True if some sample's input times span more than ``_MAX_SPAN_FOR_CUMSUM`` time constants."""
    finite = np.isfinite(t_in)
    if not finite.any():
        return False
    hi = np.where(finite, t_in, -np.inf).max(axis=1)
    lo = np.where(finite, t_in, np.inf).min(axis=1)
    with np.errstate(invalid="ignore"):
        span = np.where(np.isfinite(hi), hi - lo, 0.0)
    return bool(span.max() > _MAX_SPAN_FOR_CUMSUM * tau_min)


# Columns whose largest |weight| exceeds this are rescaled (see _scaled_weights).
_MAX_UNSCALED_WEIGHT = 2.0**32


def _scaled_weights(w: np.ndarray, theta: float):
    r"""Weights and threshold rescaled per output neuron so that no running sum can overflow.

    :math:`t^*` is invariant under :math:`(w_{\cdot j}, \vartheta) \to (\sigma_j w_{\cdot j},
    \sigma_j\vartheta)` (V is linear in the weights). For a column whose largest :math:`|w|`
    exceeds :math:`2^{32}`, :math:`\sigma_j` is the power of two bringing it into :math:`[1/2, 1)`
    (exact in binary floating point); with the running-sum factors bounded by
    :math:`e^{600}` this keeps every intermediate below the float64 range for weights up to
    its limit. Other columns are left untouched (bit-identical results); ``theta`` is then the
    scalar, else a (n_out,) array.
    """
    big = np.abs(w).max(axis=0, initial=0.0) > _MAX_UNSCALED_WEIGHT
    if not big.any():
        return w, theta
    _, expo = np.frexp(np.abs(w).max(axis=0, initial=0.0))
    sigma = np.where(big, np.ldexp(1.0, -expo), 1.0)
    return w * sigma, theta * sigma


def _first_spike_times(model: NeuronModel, t_in: np.ndarray, w: np.ndarray) -> np.ndarray:
    batch, n_in = t_in.shape
    n_out = w.shape[1]
    if batch == 0 or n_in == 0 or n_out == 0:
        return np.full((batch, n_out), np.inf)
    # the running-sum form works on (B, n_in, n_out) arrays, the pairwise form on (B, n_in, n_in)
    if batch * n_in * max(n_in, n_out) <= _CHUNK_ENTRIES:
        width = n_out  # one chunk whichever form is used: skip the span test here
    else:
        pairwise = _engine_regime(model) == "general" or _needs_pairwise(t_in, min(model.time_constants))
        width = max(n_in, n_out) if pairwise else n_out
    chunk = max(1, _CHUNK_ENTRIES // (n_in * width))
    if batch > chunk:
        return np.concatenate([_first_spike_times(model, t_in[i : i + chunk], w) for i in range(0, batch, chunk)])
    t = _first_spike_times_closed(model, t_in, w)
    if _engine_regime(model) in ("alpha", "double"):
        _recheck_delicate(model, t_in, w, t)
    return t


# Columns with a weight above this times theta are recomputed by the stable search.
_DELICATE_WEIGHT = 1e4


def _recheck_delicate(model: LIF, t_in: np.ndarray, w: np.ndarray, t: np.ndarray) -> None:
    r"""Replace, in place, closed-form results whose rounding is not bounded by :math:`10^{-12}\vartheta`.

    The closed forms work with interval coefficients such as :math:`a = \sum_i w_i e^{-l_i/\tau}`,
    whose rounding error (about :math:`\epsilon \sum_i |w_i|`) exceeds the potential's own scale
    :math:`\sum_i |w_i \kappa(l_i)|` right after an input (:math:`\kappa(0) = 0`). With
    :math:`|w| \le 10^4\vartheta` that error stays below :math:`10^4\epsilon\vartheta \approx
    2\cdot 10^{-12}\vartheta` (inside the :math:`10^{-9}\vartheta` band where fire/no-fire is
    undecidable anyway, and a spike-time error far below :math:`10^{-9}` relative); columns with a
    larger weight are solved again by :func:`_first_spike_times_general`, whose :math:`(A, V_0)` form
    is accurate to :math:`\epsilon\sum_i|w_i\kappa|` for any weight (and covers :math:`\tau_m = \tau_s`,
    :math:`d = 0`). Ordinary weights therefore keep the closed form's results bit for bit.
    """
    big_col = np.abs(w).max(axis=0, initial=0.0) > _DELICATE_WEIGHT * model.theta
    if not big_col.any():
        return
    tau_min = min(model.time_constants)
    for j in np.nonzero(big_col)[0]:
        wj, theta = _scaled_weights(w[:, j : j + 1], model.theta)
        iv = _Intervals(t_in, wj, tau_min)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t[:, j] = _first_spike_times_general(model, iv, theta)[:, 0]


def _first_spike_times_closed(model: NeuronModel, t_in: np.ndarray, w: np.ndarray) -> np.ndarray:
    w, theta = _scaled_weights(w, model.theta)
    iv = _Intervals(t_in, w, min(model.time_constants))
    regime = _engine_regime(model)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if regime == "general":
            return _first_spike_times_general(model, iv, theta)
        if regime == "alpha":
            tau = model.tau_s
            a = iv.decayed(tau)
            c = iv.decayed(tau, lagged=True)
            log_negz = np.log(theta / a) - c / (a * tau)
            ok = (a > 0) & (log_negz <= -1.0)
            w0 = _lambertw0(-np.exp(np.where(ok, log_negz, -2.0)))
            s_star = -c / a - tau * w0
            # the crossing must lie in its own interval (closed, with a few ulps of slack)
            starts = iv.starts[:, :, None]
            tol = _BOUNDARY_RTOL * (tau + np.abs(np.where(iv.live, starts, 0.0)))
            ok &= iv.live & (s_star >= -tol) & (s_star <= iv.gaps + tol)
            # intervals are ordered in time, so the first valid one holds the earliest candidate
            t_cand = np.where(ok, starts + np.clip(s_star, 0.0, iv.gaps), np.inf)
            return t_cand.min(axis=1)
        # nlif and tau_m = 2 tau_s: the crossing is x* = exp(-s*/tau) in closed form without a
        # logarithm, so the in-interval test runs on x for every interval and the logarithm is
        # taken only for the interval that holds the first crossing.
        # Coefficients in the sample frame (relative to the first input, not to the interval start)
        # save a pass per array; the root X* then equals x* e^{-r_k/tau}, and the in-interval
        # test scales its bounds instead (see _select_first_crossing). Not for the pairwise form.
        frame = "local" if iv.pairwise else "sample"
        if regime == "nlif":
            tau = model.tau_s
            big_a = iv.count()
            big_b = iv.decayed(tau, frame=frame)
            ok = (big_b > 0) & (big_a > theta)
            x_star = (big_a - theta) / big_b  # s* = tau ln(B / (A - theta))
        else:  # "double": tau_m = 2 tau_s, V = a2 x - a1 x^2 with x = exp(-s / tau_m)
            tau = model.tau_m
            if frame == "sample" and _compiled_double is not None:
                return _double_compiled(iv, tau, model.tau_s, theta)
            a2 = iv.decayed(tau, frame=frame)
            a1 = iv.decayed(model.tau_s, frame=frame)
            # larger root x+ = (a2 + sqrt(a2^2 - 4 theta a1)) / (2 a1), in place. A crossing needs
            # a1 > 0, a2 > 0 and a real root; every other case gives NaN (no real root, 0/0) or
            # x+ < 0 or +inf (a1 <= 0), which the in-interval test x+ in [x_lo, x_hi] rejects.
            x_star = a1 * (-4.0 * theta)
            x_star += a2 * a2
            np.sqrt(x_star, out=x_star)
            x_star += a2
            a1 *= 2.0
            x_star /= a1
            ok = None
        scale = None if frame == "local" else iv.exps(tau)[1]
        return _select_first_crossing(iv, ok, x_star, tau, scale)


def _crossing_bounds(iv: "_Intervals", tau: float, scale: np.ndarray | None):
    """(B, n) bounds x_lo, x_hi of the in-interval test of :func:`_select_first_crossing`."""
    starts = iv.starts
    # slack/tau ~ 1e-11, so e^{+-slack/tau} = 1 +- slack/tau to far below the slack's own precision
    slack = _BOUNDARY_RTOL * (1.0 + np.abs(np.where(iv.finite, starts, 0.0)) / tau)
    x_hi = 1.0 + slack
    x_lo = iv.gap_decay(tau) * (1.0 - slack)  # 0 for the last (open) interval
    if scale is not None:
        x_hi *= scale
        x_lo *= scale
    return x_lo, x_hi


def _crossing_time(iv: "_Intervals", k: np.ndarray, fires: np.ndarray, x_k: np.ndarray, tau: float, scale):
    """t* = t_(k) - tau ln x*_k (clipped to its interval) from the selected interval k (B, m)."""
    n = iv.starts.shape[1]
    row = np.arange(k.shape[0])[:, None] * n + k  # flat index of (b, k) in (B, n) arrays
    if scale is not None:
        x_k = x_k / np.where(fires, scale.ravel()[row], 1.0)
    gap_k = iv.gaps.ravel()[row]
    start_k = iv.starts.ravel()[row]
    s_star = np.clip(-tau * np.log(np.where(fires, x_k, 1.0)), 0.0, gap_k)
    return np.where(fires, start_k + s_star, np.inf)


def _double_compiled(iv: "_Intervals", tau_m: float, tau_s: float, theta) -> np.ndarray:
    r"""τm = 2τs in the sample frame: the numpy path of :func:`_first_spike_times_closed` and
    :func:`_select_first_crossing` fused into one compiled loop (``numba``).

    The same operations on the same operands in the same order (running sums left to right, the
    root :math:`x_+` as ``((a1 * (-4 theta) + a2 * a2) ** 0.5 + a2) / (2 a1)``, the same bounds,
    which with the exponentials and the logarithm are computed by numpy here), so the results are
    bit-identical to the numpy reference (tested); what is saved are the (B, n, m) temporaries and
    the intervals after the first crossing.
    """
    up_m, scale = iv.exps(tau_m)
    up_s = iv.exps(tau_s)[0]
    m4theta = np.broadcast_to(np.asarray(-4.0 * np.asarray(theta, dtype=np.float64)), (iv.w.shape[1],)).copy()
    fires, x_k, gap_k, start_k = _compiled_double(
        iv.order, iv.starts, up_m, up_s, scale, iv.finite, iv.all_finite, np.ascontiguousarray(iv.w), m4theta,
        tau_m, _BOUNDARY_RTOL,
    )
    # as _crossing_time, with x_k = 1 where silent
    s_star = np.clip(-tau_m * np.log(x_k), 0.0, gap_k)
    return np.where(fires, start_k + s_star, np.inf)


def _double_loop(order, starts, up_m, up_s, down_m, finite, all_finite, w, m4theta, tau, rtol):
    """Compiled kernel of :func:`_double_compiled` (plain Python here; compiled by numba below).

    Per sample, the running sums of all neurons advance together interval by interval (inner loop
    over neurons, contiguous rows of ``w``), and the sample is left once every neuron has its first
    crossing. A negative discriminant is skipped (numpy's square root would give NaN there, which
    fails the in-interval test just the same). The bounds are those of :func:`_crossing_bounds`
    (same operations, same order: ``gap_decay`` is ``up[k] * down[k+1]`` in the sample frame).
    Returns (fires, x*_k / scale_k (1 where silent), interval length, interval start), each (B, m).
    """
    b_n, n = order.shape
    m = w.shape[1]
    fires = np.zeros((b_n, m), dtype=np.bool_)
    x_out = np.ones((b_n, m), dtype=np.float64)
    gap_out = np.zeros((b_n, m), dtype=np.float64)
    start_out = np.zeros((b_n, m), dtype=np.float64)
    a2 = np.zeros(m)
    a1 = np.zeros(m)
    for b in range(b_n):
        n_done = 0
        for k in range(n):
            i = order[b, k]
            live = finite[b, k]
            u2 = up_m[b, k]
            u1 = up_s[b, k]
            gate = 1.0 if live else 0.0
            if k == 0:
                for j in range(m):
                    wk = w[i, j]
                    if not all_finite:
                        wk = wk * gate
                    a2[j] = wk * u2
                    a1[j] = wk * u1
            else:
                for j in range(m):
                    wk = w[i, j]
                    if not all_finite:
                        wk = wk * gate
                    a2[j] = wk * u2 + a2[j]
                    a1[j] = wk * u1 + a1[j]
            if not live:
                continue
            bounds = False  # formed on first use: most intervals have no real root at all
            start = sc = hi = lo = gap = 0.0
            for j in range(m):
                if fires[b, j]:
                    continue
                d = a1[j] * m4theta[j]
                d = d + a2[j] * a2[j]
                if not d >= 0.0:
                    continue
                if not bounds:
                    bounds = True
                    start = starts[b, k]
                    slack = rtol * (1.0 + abs(start) / tau)
                    sc = down_m[b, k]
                    hi = (1.0 + slack) * sc
                    if k + 1 < n:
                        gd = up_m[b, k] * down_m[b, k + 1]
                        gap = starts[b, k + 1] - start if finite[b, k + 1] else np.inf
                    else:
                        gd = 0.0
                        gap = np.inf
                    lo = (gd * (1.0 - slack)) * sc
                xs = np.sqrt(d)
                xs = xs + a2[j]
                xs = xs / (a1[j] * 2.0)
                if xs <= hi and xs >= lo:
                    fires[b, j] = True
                    x_out[b, j] = xs / sc
                    gap_out[b, j] = gap
                    start_out[b, j] = start
                    n_done += 1
            if n_done == m:
                break
    return fires, x_out, gap_out, start_out


try:  # optional at import: without numba the numpy path below is used (same results)
    import numba as _numba

    _compiled_double = _numba.njit(cache=True, fastmath=False, error_model="numpy")(_double_loop)
except ImportError:  # pragma: no cover
    _compiled_double = None


def _select_first_crossing(
    iv: "_Intervals", ok: np.ndarray | None, x_star: np.ndarray, tau: float, scale: np.ndarray | None = None
) -> np.ndarray:
    r"""Earliest crossing :math:`t_{(k)} - \tau\ln x^*_k` over the intervals whose crossing lies inside.

    :math:`s^* \in [-\epsilon, g_k + \epsilon]` (closed interval of length :math:`g_k`, a few ulps of
    slack :math:`\epsilon`) is tested as :math:`x^* \in [e^{-(g_k+\epsilon)/\tau}, e^{\epsilon/\tau}]`;
    intervals are ordered in time, so the first valid one holds the earliest crossing. If ``scale``
    (B, n) is given, ``x_star`` holds :math:`x^*_k\,\mathrm{scale}_k` (sample-frame roots) and the
    bounds are scaled alike (``scale`` > 0 on live intervals).
    """
    x_lo, x_hi = _crossing_bounds(iv, tau, scale)
    x_hi = x_hi[:, :, None]
    x_lo = x_lo[:, :, None]
    inside = x_star <= x_hi
    inside &= x_star >= x_lo
    ok = inside if ok is None else (ok & inside)
    if not iv.all_finite:
        ok &= iv.live
    k = _first_true_axis1(ok)[:, 0]  # (B, m): first valid interval
    b_n, n, m = ok.shape
    row = np.arange(b_n)[:, None] * n + k  # flat index of (b, k) in (B, n) arrays
    flat = row * m + np.arange(m)  # flat index of (b, k, j) in (B, n, m) arrays
    return _crossing_time(iv, k, ok.ravel()[flat], x_star.ravel()[flat], tau, scale)


def _first_spike_times_general(model: LIF, iv: _Intervals, theta) -> np.ndarray:
    r"""Any τm ≠ τs: bracket the first crossing on a monotone piece and refine it.

    With :math:`\tau_L, \tau_S, d` of :func:`_lif_split` and :math:`\varphi` of :func:`_phi`, the
    kernel is :math:`\kappa(u) = (u/\tau_m) e^{-u/\tau_L}\varphi(ud)`, and splitting
    :math:`e^{-(s+l)/\tau_L}(1-e^{-(s+l)d}) = e^{-s/\tau_L}e^{-l/\tau_L}[(1-e^{-sd}) + e^{-sd}(1-e^{-ld})]`
    gives on interval k (local time s, lags :math:`l_i = t_{(k)} - t_i \ge 0`)

    .. math:: V(s) = e^{-s/\tau_L}\Bigl[A\,\tfrac{s}{\tau_m}\varphi(sd) + V_0\, e^{-sd}\Bigr],\qquad
              A = \sum_i w_i e^{-l_i/\tau_L},\quad V_0 = V(t_{(k)}) = \sum_i w_i \kappa(l_i).

    Unlike the textbook form :math:`c(a_m e^{-s/\tau_m} - a_s e^{-s/\tau_s})` with
    :math:`c = \tau_s/(\tau_m-\tau_s)`, nothing cancels as :math:`\tau_m \to \tau_s` (it becomes the
    alpha form :math:`e^{-s/\tau}(As/\tau + V_0)` at :math:`d = 0`) and no factor exceeds 1, for
    either ordering of the time constants. :math:`V` has at most one critical point; setting
    :math:`V' = 0` with :math:`y = e^{-sd}`, :math:`P = A - V_0\tau_m/\tau_S`:
    :math:`y = A/(A + \tau_L d P)`, i.e.

    .. math:: s_e = \frac{\tau_L P}{A}\,\psi\!\Bigl(\frac{\tau_L d P}{A}\Bigr),\qquad
              \psi(u) = \frac{\ln(1+u)}{u}\ (\psi(0) = 1),

    again without a division by :math:`d`. The interval's maximum is at 0, :math:`s_e` or its end;
    on the stretch from the preceding minimum (or 0) to that maximum :math:`V` is increasing, so it
    holds exactly one crossing when the maximum reaches :math:`\vartheta`. The root is refined by
    Chandrupatla's method (``scipy.optimize.elementwise.find_root``) to full precision.
    """
    tau_m = model.tau_m
    tau_l, tau_sh, dd = _lif_split(model.tau_m, model.tau_s)
    big_a = iv.decayed(tau_l)
    v0 = iv.potential_at_starts(lambda s: lif_kernel(s, model.tau_m, model.tau_s))
    gap3 = np.broadcast_to(iv.gaps, big_a.shape)
    starts = iv.starts

    def v_local(s, a_, v0_):
        return np.exp(-s / tau_l) * (a_ * ((s / tau_m) * _phi(s * dd)) + v0_ * np.exp(-s * dd))

    p = big_a - v0 * (tau_m / tau_sh)
    q = p / big_a  # P/A; inf or NaN where A = 0 (then V = V0 e^{-s/tau_S} is monotone)
    u = (tau_l * dd) * q
    with np.errstate(divide="ignore", invalid="ignore"):
        us = np.where(np.isfinite(u) & (u > -1.0) & (u != 0.0), u, 1.0)
        psi = np.where(us == 1.0, math.log(2.0), np.log1p(us) / us)
        psi = np.where(u == 0.0, 1.0, psi)
    s_e = tau_l * q * psi
    interior = np.isfinite(u) & (u > -1.0) & (s_e > 0) & (s_e < gap3) & np.isfinite(s_e)
    s_e = np.where(interior, s_e, 0.0)
    v_e = np.where(interior, v_local(s_e, big_a, v0), -np.inf)
    finite_end = np.isfinite(gap3)
    v_end = np.where(finite_end, v_local(np.where(finite_end, gap3, 0.0), big_a, v0), -np.inf)
    # The critical point is a maximum where A > 0 and a minimum where A < 0 (the sign of V'' there
    # is that of -(dP + A/tau_L), and P has the sign of A): decided by signs, not by comparing
    # nearly equal rounded values. Maximum of V: s_e if it is one, else 0 or the end.
    is_max = interior & (big_a > 0)
    end_or_0 = np.where(finite_end & (v_end > v0), np.where(finite_end, gap3, 0.0), 0.0)
    hi = np.where(is_max, s_e, end_or_0)
    v_hi = np.maximum(np.maximum(v_e, v_end), v0)
    # start from the minimum if V dips first
    lo = np.where(interior & ~is_max & (hi > 0), s_e, 0.0)
    # slack of a few ulps: a crossing exactly at the next input time must not fall between intervals
    ok = iv.live & ((v_hi >= theta) | (v_end >= theta * (1.0 - _BOUNDARY_RTOL)))

    fires = ok.any(axis=1)
    k = np.argmax(ok, axis=1)
    pick = lambda arr: np.take_along_axis(arr, k[:, None, :], axis=1)[:, 0]  # noqa: E731
    a_k, v0_k, lo_k, hi_k = pick(big_a), pick(v0), pick(lo), pick(hi)
    theta_k = np.broadcast_to(theta, a_k.shape)
    t_k = starts[np.arange(starts.shape[0])[:, None], k]
    s_star = np.zeros_like(a_k)
    idx = np.nonzero(fires)
    if idx[0].size:
        a_f, v0_f, lo_f, hi_f, th_f = a_k[idx], v0_k[idx], lo_k[idx], hi_k[idx], theta_k[idx]
        f = lambda s, a_, v0_, th_: v_local(s, a_, v0_) - th_  # noqa: E731
        f_lo = f(lo_f, a_f, v0_f, th_f)
        f_hi = f(hi_f, a_f, v0_f, th_f)
        need = (hi_f > lo_f) & (f_lo < 0) & (f_hi > 0)
        root = np.where(f_lo >= 0, lo_f, hi_f)
        if need.any():
            res = find_root(
                f,
                (lo_f[need], hi_f[need]),
                args=(a_f[need], v0_f[need], th_f[need]),
                tolerances=dict(xatol=1e-300, xrtol=4 * np.finfo(float).eps, fatol=0.0, frtol=0.0),
            )
            root[need] = res.x
        s_star[idx] = root
    return np.where(fires, t_k + s_star, np.inf)


# --------------------------------------------------------------------------------------------
# Potential, slope, gradients
# --------------------------------------------------------------------------------------------


def _kernel_fns(model: NeuronModel):
    return model.kernel, model.kernel_derivative, model.kernel_second_derivative


def _lags(t, t_in: np.ndarray) -> np.ndarray:
    """Lags s = t - t_i, shape (..., batch, n_in, n_out); -inf where the input never spikes."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        s = t[..., :, None, :] - t_in[:, :, None]
    return np.where(np.isinf(t_in)[:, :, None], -np.inf, s)


def potential(model: NeuronModel, t, input_times, weights) -> np.ndarray:
    r"""Membrane potential :math:`V(t) = \sum_i w_i \kappa(t - t_i)`.

    ``t`` broadcasts to ``(..., batch, n_out)`` (e.g. ``t_grid[:, None, None]`` for a trace);
    returns an array of that broadcast shape.
    """
    model = check_neuron_model(model)
    t_in, w = _check_inputs(input_times, weights)
    t = _check_times("t", t, t_in.shape[0], w.shape[1])
    return _kernel_sum(model.kernel, t, t_in, w)


def potential_derivative(model: NeuronModel, t, input_times, weights, order: int = 1) -> np.ndarray:
    r"""Time derivative :math:`V^{(n)}(t) = \sum_i w_i \kappa^{(n)}(t - t_i)`, n = 1 or 2.

    Kernels are one-sided: an input arriving exactly at ``t`` does not yet contribute.
    """
    model = check_neuron_model(model)
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    t_in, w = _check_inputs(input_times, weights)
    t = _check_times("t", t, t_in.shape[0], w.shape[1])
    fn = model.kernel_derivative if order == 1 else model.kernel_second_derivative
    return _kernel_sum(fn, t, t_in, w)


def _check_times(name, t, batch, n_out) -> np.ndarray:
    t = as_float_array(name, t, allow_inf=True)
    try:
        np.broadcast_shapes(t.shape, (batch, n_out))
    except ValueError:
        raise ValueError(f"{name} must broadcast to (..., batch, n_out) = (..., {batch}, {n_out}), got shape {t.shape}") from None
    if t.ndim < 2:
        t = np.broadcast_to(t, (batch, n_out))
    return t


def _kernel_sum(fn, t, t_in, w) -> np.ndarray:
    s = _lags(t, t_in)
    return (fn(s) * w).sum(axis=-2)


def slope_at_threshold(model: NeuronModel, input_times, weights) -> np.ndarray:
    r"""Slope :math:`\dot V(t^*)` at each output spike (left derivative); 0 where silent.

    Every spike-time gradient carries the factor :math:`1/\dot V(t^*)`, so this is the quantity
    that decides how well-conditioned a spike time is (the margin in the regularity theory).
    """
    model = check_neuron_model(model)
    t_in, w = _check_inputs(input_times, weights)
    t_star = _first_spike_times(model, t_in, w)
    return _slope(model, t_star, t_in, w)


def _slope(model, t_star, t_in, w) -> np.ndarray:
    fires = np.isfinite(t_star)
    s = _lags(np.where(fires, t_star, 0.0), t_in)
    vdot = (model.kernel_derivative(s) * w).sum(axis=-2)
    return np.where(fires, vdot, 0.0)


def causal_set(input_times, t_star) -> np.ndarray:
    """Boolean (batch, n_in, n_out): input i arrived strictly before output j's spike (t_i < t*_j)."""
    t_in = as_float_array("input_times", input_times, ndim=2, allow_inf=True)
    t_star = as_float_array("t_star", t_star, ndim=2, allow_inf=True)
    if t_star.shape[0] != t_in.shape[0]:
        raise ValueError(f"t_star has batch {t_star.shape[0]} but input_times has batch {t_in.shape[0]}")
    return np.isfinite(t_star)[:, None, :] & (t_in[:, :, None] < t_star[:, None, :])


def spike_time_gradients(model: NeuronModel, input_times, weights) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact derivatives of the first-spike times, by the implicit-function theorem.

    .. math:: \frac{\partial t^*}{\partial w_j} = -\frac{\kappa(t^* - t_j)}{\dot V(t^*)},\qquad
              \frac{\partial t^*}{\partial t_j} = \frac{w_j\,\kappa'(t^* - t_j)}{\dot V(t^*)}

    (Bohté et al. 2002; Göltz et al. 2021.) Zero for non-causal inputs (:math:`t_j \ge t^*`),
    for silent neurons, and where the crossing is tangential (:math:`\dot V(t^*) \le 0`, a
    non-differentiable point where the spike appears or vanishes).

    Returns
    -------
    (d_weights, d_input_times), each (batch, n_in, n_out).

    Examples
    --------
    With :math:`t^*(w) = \ln(w/(w-1))` (NLIF, one input at 0, :math:`\tau_s = \vartheta = 1`):
    :math:`dt^*/dw = -1/(w(w-1)) = -1/2` at w = 2; shifting the input shifts the spike, so
    :math:`dt^*/dt_1 = 1`.

    >>> from fsnn_theory.neurons import NLIF, spike_time_gradients
    >>> g_w, g_t = spike_time_gradients(NLIF(tau_s=1.0, theta=1.0), [[0.0]], [[2.0]])
    >>> g_w.shape, round(float(g_w[0, 0, 0]), 12), round(float(g_t[0, 0, 0]), 12)
    ((1, 1, 1), -0.5, 1.0)

    With several causal inputs the input-time derivatives still sum to 1 (Theorem 1 (e)):

    >>> _, g_t = spike_time_gradients(NLIF(), [[0.0, 0.5]], [[1.0], [1.0]])
    >>> round(float(g_t[0, :, 0].sum()), 12)
    1.0
    """
    model = check_neuron_model(model)
    t_in, w = _check_inputs(input_times, weights)
    t_star = _first_spike_times(model, t_in, w)
    g_w, g_t, _, _ = _gradients(model, t_star, t_in, w)
    return g_w, g_t


def spike_time_gradients_at(model: NeuronModel, input_times, weights, t_star) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spike_time_gradients` at spike times already computed by :func:`first_spike_times`.

    A network's backward pass reuses its forward pass this way instead of solving for ``t_star``
    again. ``t_star`` (batch, n_out) must be the first-spike times of these inputs and weights.
    """
    model = check_neuron_model(model)
    t_in, w = _check_inputs(input_times, weights)
    t_star = as_float_array("t_star", t_star, ndim=2, allow_inf=True)
    if t_star.shape != (t_in.shape[0], w.shape[1]):
        raise ValueError(f"t_star must have shape (batch, n_out) = {(t_in.shape[0], w.shape[1])}, got {t_star.shape}")
    g_w, g_t, _, _ = _gradients(model, t_star, t_in, w)
    return g_w, g_t


def _kernel_and_derivative(model: NeuronModel, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\kappa(s)` and :math:`\kappa'(s)` for lags :math:`s \ge 0` from one shared exponential.

    The caller zeroes :math:`\kappa'` where the input is not causal (passed as :math:`s = 0`, where
    :math:`\kappa(0) = 0` already). Same formulas as the kernel functions above:
    nlif :math:`\kappa = -\mathrm{expm1}(-s/\tau_s)`, :math:`\kappa' = e^{-s/\tau_s}/\tau_s`;
    alpha :math:`\kappa = (s/\tau)e^{-s/\tau}`, :math:`\kappa' = (1 - s/\tau)e^{-s/\tau}/\tau`;
    :math:`\tau_m = 2\tau_s` with :math:`x = e^{-s/\tau_m}` (so :math:`e^{-s/\tau_s} = x^2`):
    :math:`\kappa = -c\,x\,\mathrm{expm1}(-s/\tau_m)`, :math:`\kappa' = c\,(x^2/\tau_s - x/\tau_m)`,
    :math:`c = \tau_s/(\tau_m - \tau_s)`.
    """
    regime = _engine_regime(model)
    if regime == "nlif":
        em = np.expm1(s * (-1.0 / model.tau_s))
        return -em, (em + 1.0) * (1.0 / model.tau_s)
    if regime == "alpha":
        u = s * (1.0 / model.tau_s)
        e = np.exp(-u)
        return u * e, (1.0 - u) * e * (1.0 / model.tau_s)
    if regime == "double":
        tau_m, tau_s = model.tau_m, model.tau_s
        c = tau_s / (tau_m - tau_s)
        em = np.expm1(s * (-1.0 / tau_m))
        x = em + 1.0
        kap = (-c) * x * em
        dkap = x * (x * (c / tau_s) - (c / tau_m))
        return kap, dkap
    return model.kernel(s), model.kernel_derivative(s)


def _gradients(model, t_star, t_in, w, want_k: bool = False):
    """Shared by gradients and Hessian: (d_w, d_t, kappa'(lags) on the causal set or None, Vdot).

    ``kappa'`` masked to good crossings is returned only with ``want_k`` (the Hessian needs it).
    """
    fires = np.isfinite(t_star)
    # the product form of _gradients_double loses relative precision in kappa for lags << tau_m,
    # which matter only if a spike can follow its first input that closely: weights > 1e4 theta
    if (_engine_regime(model) == "double" and not want_k
            and not np.abs(w).max(initial=0.0) > _DELICATE_WEIGHT * model.theta):
        fast = _gradients_double(model, t_star, fires, t_in, w)
        if fast is not None:
            return fast
    # lags t* - t_i; a silent neuron (t* -> -inf here) or a silent input gives -inf, never NaN
    with np.errstate(invalid="ignore"):
        s = np.where(fires, t_star, -np.inf)[:, None, :] - t_in[:, :, None]
    causal = s > 0
    np.maximum(s, 0.0, out=s)  # non-causal lags -> 0, where kappa(0) = 0
    kap, dkap = _kernel_and_derivative(model, s)
    dkap *= causal
    vdot = _vdot(dkap, w)
    good = fires & (vdot > 0)
    inv = np.where(good, 1.0 / np.where(good, vdot, 1.0), 0.0)[:, None, :]
    g_w = kap * inv
    np.negative(g_w, out=g_w)
    g_t = dkap * inv
    g_t *= w
    k = dkap * good[:, None, :] if want_k else None
    return g_w, g_t, k, np.where(good, vdot, 0.0)


def _vdot(dkap: np.ndarray, w: np.ndarray) -> np.ndarray:
    r""":math:`\dot V_{bj} = \sum_i w_{ij}\kappa'_{bij}`; many inputs and few outputs take a batched
    matrix product (numpy reduces a long middle axis with a short last axis slowly)."""
    if w.shape[0] > 32 and w.shape[1] < 16:
        return np.matmul(dkap.transpose(0, 2, 1)[:, :, None, :], w.T[None, :, :, None])[:, :, 0, 0]
    return np.einsum("bio,io->bo", dkap, w)


def _gradients_double(model: LIF, t_star: np.ndarray, fires: np.ndarray, t_in: np.ndarray, w: np.ndarray):
    r"""`_gradients` for :math:`\tau_m = 2\tau_s` (the training hot path) without an exponential per pair.

    With :math:`x = e^{-(t^* - t_i)/\tau_m}` on causal pairs (0 elsewhere), :math:`e^{-s/\tau_s} = x^2`
    and :math:`c = \tau_s/(\tau_m-\tau_s)`: :math:`\kappa = c\,x(1-x)`,
    :math:`\kappa' = c\,x\,(x/\tau_s - 1/\tau_m)`. The exponential factorises,
    :math:`x = e^{(t_i - t_0)/\tau_m}\,e^{-(t^* - t_0)/\tau_m}` with :math:`t_0` the sample's earliest
    input, so only (batch, n) and (batch, m) exponentials are evaluated. :math:`1 - x` is formed
    from the rounded product: for lags :math:`s \ll \tau_m` its relative error grows like
    :math:`\epsilon\,\tau_m/s` (an absolute error below :math:`10^{-15} c` in :math:`\kappa`).
    Returns None (caller falls back to the general path) if a sample's times span more than
    ``_MAX_SPAN_FOR_CUMSUM`` time constants, where the factors could overflow.
    """
    tau_m, tau_s = model.tau_m, model.tau_s
    finite_in = np.isfinite(t_in)
    t0 = np.where(finite_in, t_in, np.inf).min(axis=1, keepdims=True)
    t0 = np.where(np.isfinite(t0), t0, 0.0)
    rel_in = np.where(finite_in, t_in - t0, 0.0)
    rel_out = np.where(fires, t_star - t0, 0.0)
    if max(rel_in.max(initial=0.0), rel_out.max(initial=0.0)) > _MAX_SPAN_FOR_CUMSUM * tau_s:
        return None
    c = tau_s / (tau_m - tau_s)
    up = np.exp(rel_in * (1.0 / tau_m))
    up *= finite_in
    down = np.exp(rel_out * (-1.0 / tau_m))
    down *= fires
    if _compiled_grad_pass1 is not None:
        # the same element-wise operations fused into two compiled passes (bit-identical; the sum
        # over inputs stays numpy's, whose order of summation a loop would not reproduce)
        x, dkap = _compiled_grad_pass1(up, down, t_in, t_star, c / tau_s, c / tau_m)
    else:
        x = up[:, :, None] * down[:, None, :]
        x *= t_in[:, :, None] < t_star[:, None, :]  # causal pairs only (t_i < t*)
        dkap = x * (c / tau_s)
        dkap -= c / tau_m
        dkap *= x
    vdot = _vdot(dkap, w)
    good = fires & (vdot > 0)
    inv = np.where(good, 1.0 / np.where(good, vdot, 1.0), 0.0)[:, None, :]
    if _compiled_grad_pass2 is not None:
        _compiled_grad_pass2(x, dkap, inv[:, 0, :], np.ascontiguousarray(w), c)
        return x, dkap, None, np.where(good, vdot, 0.0)
    g_t = dkap
    g_t *= inv
    g_t *= w
    g_w = x - 1.0  # -kappa / Vdot = c x (x - 1) / Vdot
    g_w *= x
    g_w *= c * inv
    return g_w, g_t, None, np.where(good, vdot, 0.0)


def _grad_pass1(up, down, t_in, t_star, c_s, c_m):
    """x = up_i down_j on causal pairs (t_i < t*_j), kappa' = (x c/tau_s - c/tau_m) x (see above)."""
    b_n, n = up.shape
    m = down.shape[1]
    x = np.empty((b_n, n, m))
    dkap = np.empty((b_n, n, m))
    for b in range(b_n):
        for i in range(n):
            ui = up[b, i]
            ti = t_in[b, i]
            for j in range(m):
                xv = ui * down[b, j]
                xv = xv * (1.0 if ti < t_star[b, j] else 0.0)
                x[b, i, j] = xv
                d = xv * c_s
                d = d - c_m
                dkap[b, i, j] = d * xv
    return x, dkap


def _grad_pass2(x, dkap, inv, w, c):
    """In place: dkap -> dt*/dt_i = kappa' inv w, x -> dt*/dw = (x - 1) x (c inv)."""
    b_n, n, m = x.shape
    for b in range(b_n):
        for i in range(n):
            for j in range(m):
                dkap[b, i, j] = (dkap[b, i, j] * inv[b, j]) * w[i, j]
                xv = x[b, i, j]
                x[b, i, j] = ((xv - 1.0) * xv) * (c * inv[b, j])


try:  # optional at import, as _compiled_double
    import numba as _numba

    _compiled_grad_pass1 = _numba.njit(cache=True, error_model="numpy")(_grad_pass1)
    _compiled_grad_pass2 = _numba.njit(cache=True, error_model="numpy")(_grad_pass2)
except ImportError:  # pragma: no cover
    _compiled_grad_pass1 = _compiled_grad_pass2 = None


def spike_time_hessian(model: NeuronModel, input_times, weights) -> np.ndarray:
    r"""Hessian of the first-spike time in the weights, shape (batch, n_in, n_in, n_out).

    Differentiating :math:`V(t^*(w); w) = \vartheta` twice, with :math:`V` linear in :math:`w`,
    :math:`g = \nabla_w t^*` and :math:`k_j = \kappa'(t^* - t_j)`:

    .. math:: \nabla^2_w t^* = -\frac{k g^\top + g k^\top + \ddot V(t^*)\, g g^\top}{\dot V(t^*)}.

    Zero for silent neurons and tangential crossings (as the gradient).

    Examples
    --------
    For :math:`t^*(w) = \ln(w/(w-1))` (NLIF, one input at 0, :math:`\tau_s = \vartheta = 1`),
    :math:`d^2t^*/dw^2 = 1/(w-1)^2 - 1/w^2 = 3/4` at w = 2:

    >>> from fsnn_theory.neurons import NLIF, spike_time_hessian
    >>> H = spike_time_hessian(NLIF(tau_s=1.0, theta=1.0), [[0.0]], [[2.0]])
    >>> H.shape, round(float(H[0, 0, 0, 0]), 12)
    ((1, 1, 1, 1), 0.75)
    """
    model = check_neuron_model(model)
    t_in, w = _check_inputs(input_times, weights)
    t_star = _first_spike_times(model, t_in, w)
    g, _, k, vdot = _gradients(model, t_star, t_in, w, want_k=True)
    fires = np.isfinite(t_star)
    s = _lags(np.where(fires, t_star, 0.0), t_in)
    causal = fires[:, None, :] & (s > 0)
    vddot = (np.where(causal, model.kernel_second_derivative(s), 0.0) * w).sum(axis=1)
    good = vdot > 0
    inv = np.where(good, 1.0 / np.where(good, vdot, 1.0), 0.0)
    kg = np.einsum("bio,bjo->bijo", k, g)
    gg = np.einsum("bio,bjo->bijo", g, g)
    return -(kg + kg.transpose(0, 2, 1, 3) + vddot[:, None, None, :] * gg) * inv[:, None, None, :]
