r"""Symbolic derivations behind this project's regularity and discretisation theorems.

Everything here is sympy, usable on its own for teaching: every function returns sympy
expressions (or small records of them) that print as LaTeX with :func:`latex`. The numeric
functions in :mod:`fsnn_theory.theory.regularity` are the same formulas in numpy; the proof
scripts ``proofs/check_*.py`` re-derive every step from the objects built here, assert it, and
write the LaTeX the paper ``\input``\ s.

Contents
--------
*Kernels* (Lemma 1 of ``proofs/spike_time_regularity.md``). Every model of the engine is
:math:`V(t) = \sum_i w_i \kappa(t - t_i)` with one of the kernels

=========  ==========================================================  ==========================
regime     :math:`\kappa(s),\ s \ge 0`                                   time constants
=========  ==========================================================  ==========================
nlif       :math:`1 - e^{-s/\tau_s}`                                     :math:`\tau_s`
alpha      :math:`(s/\tau_s)\,e^{-s/\tau_s}` (LIF, :math:`\tau_m = \tau_s`)  :math:`\tau_s`
double     :math:`e^{-s/(2\tau_s)} - e^{-s/\tau_s}` (LIF, :math:`\tau_m = 2\tau_s`)  :math:`\tau_s`
general    :math:`\frac{\tau_s}{\tau_m - \tau_s}(e^{-s/\tau_m} - e^{-s/\tau_s})`     :math:`\tau_m, \tau_s`
=========  ==========================================================  ==========================

:func:`kernel_extrema` derives the supremum of :math:`\kappa` (solving :math:`\kappa' = 0`) and of
:math:`|\kappa^{(k)}|`, k = 1..4 (the one-sided value at :math:`s = 0^+`; that this is the supremum
is Lemma 1, checked in ``proofs/check_spike_time_regularity.py``).

*Implicit derivatives* of the first-spike time (implicit-function theorem on
:math:`V(t^*; w, t_{in}) = \vartheta`; SpikeProp, Bohté, Kok & La Poutré 2002):
:func:`implicit_spike_time_derivatives` differentiates the identity
:math:`\sum_i w_i \kappa(t^*(w, t_{in}) - t_i) - \vartheta \equiv 0` with ``t*`` an undefined
function and an undefined kernel, and solves the resulting linear equations for the first and
second derivatives. :func:`spike_time_gradient_formula` and :func:`spike_time_hessian_formula`
are the closed forms the engine implements (``fsnn_theory.neurons``); the proof script asserts
that they agree.

*Loss*: :func:`ttfs_cross_entropy` is the time-to-first-spike cross-entropy
:math:`\ell = -\log \operatorname{softmax}(-t/\tau_\xi)_y` (Göltz et al. 2021, Methods) with its
derived gradient and Hessian in the output spike times.

*Bounds*: :func:`regularity_bound_expressions` (Theorem 1 and its corollary for the loss) and
:func:`discretisation_bound_expressions` (Theorem 2) are the bounds as sympy expressions of the
problem constants, the exact formulas that :mod:`fsnn_theory.theory.regularity` evaluates.

*Proof-checking helpers*: :func:`is_zero`, :func:`assert_identity`,
:func:`assert_nonnegative` (an expression that is a polynomial with non-negative coefficients in
positive symbols, or that sympy's assumption system proves non-negative).

References
----------
- S. M. Bohté, J. N. Kok, H. La Poutré, "Error-backpropagation in temporally encoded networks of
  spiking neurons", Neurocomputing 48, 2002 (implicit-function gradients of spike times).
- J. Göltz, L. Kriener et al., "Fast and energy-efficient neuromorphic deep learning with
  first-spike times", Nature Machine Intelligence 3, 2021 (LIF kernels, closed forms, loss).
- H. Mostafa, "Supervised learning based on temporal coding in spiking neural networks",
  IEEE TNNLS 29(7), 2018 (non-leaky IF kernel).

Examples
--------
>>> ext = kernel_extrema("double")
>>> ext.kappa_max, ext.derivative_sup[0]
(1/4, 1/(2*tau_s))
>>> latex(ext.peak_time)
'2 \\tau_{s} \\log{\\left(2 \\right)}'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from fsnn_theory._validation import check_choice, check_int

__all__ = [
    "ProofSteps",
    "REGIMES",
    "s",
    "tau_s",
    "tau_m",
    "theta",
    "kernel",
    "kernel_derivative",
    "kernel_time_constants",
    "KernelExtrema",
    "kernel_extrema",
    "ImplicitDerivatives",
    "implicit_spike_time_derivatives",
    "spike_time_gradient_formula",
    "spike_time_input_gradient_formula",
    "spike_time_hessian_formula",
    "TTFSLoss",
    "ttfs_cross_entropy",
    "regularity_bound_expressions",
    "discretisation_bound_expressions",
    "crossing_radius",
    "latex",
    "is_zero",
    "assert_identity",
    "assert_nonnegative",
]

REGIMES: tuple[str, ...] = ("nlif", "alpha", "double", "general")

# The symbols of the theory (positive where the theory assumes it, so sympy can use it).
s = sp.Symbol("s", nonnegative=True)  # lag t - t_i
tau_s = sp.Symbol("tau_s", positive=True)
tau_m = sp.Symbol("tau_m", positive=True)
theta = sp.Symbol("theta", positive=True)
tau_xi = sp.Symbol("tau_xi", positive=True)  # softmax temperature of the loss
s_min = sp.Symbol("s_min", positive=True)  # margin: slope at threshold >= s_min
n_causal = sp.Symbol("n", positive=True, integer=True)  # number of causal inputs
w_max = sp.Symbol("W", positive=True)  # ||w_C||_inf bound
w_l1 = sp.Symbol("A", positive=True)  # ||w_C||_1 bound (A = min(n W, W_1) in the numeric code)
kappa_max = sp.Symbol("kappa_max", positive=True)
kappa1_max = sp.Symbol("kappa1_max", positive=True)  # sup |kappa'|
kappa2_max = sp.Symbol("kappa2_max", positive=True)  # sup |kappa''|
kappa4_max = sp.Symbol("kappa4_max", positive=True)  # sup |kappa''''|
dt = sp.Symbol("dt", positive=True)
curvature = sp.Symbol("D_2", positive=True)  # sup |V''| on the crossing step
fourth = sp.Symbol("D_4", positive=True)  # sup |V''''| on the crossing step
eps = sp.Symbol("epsilon", positive=True)


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


def _check_regime(regime: str) -> str:
    return check_choice("regime", regime, REGIMES)


def kernel(regime: str) -> sp.Expr:
    r"""The kernel :math:`\kappa(s)`, :math:`s \ge 0`, of one regime (see the module table)."""
    _check_regime(regime)
    if regime == "nlif":
        return 1 - sp.exp(-s / tau_s)
    if regime == "alpha":
        return (s / tau_s) * sp.exp(-s / tau_s)
    if regime == "double":
        # tau_s/(tau_m - tau_s) (e^{-s/tau_m} - e^{-s/tau_s}) at tau_m = 2 tau_s: the prefactor is 1
        return sp.exp(-s / (2 * tau_s)) - sp.exp(-s / tau_s)
    return tau_s / (tau_m - tau_s) * (sp.exp(-s / tau_m) - sp.exp(-s / tau_s))


def kernel_time_constants(regime: str) -> tuple[sp.Symbol, ...]:
    """The time-constant symbols the regime's kernel is written in."""
    _check_regime(regime)
    return (tau_m, tau_s) if regime == "general" else (tau_s,)


def kernel_derivative(regime: str, order: int) -> sp.Expr:
    r""":math:`\kappa^{(k)}(s)` for :math:`s > 0`, k = ``order`` >= 0."""
    check_int("order", order, 0)
    return sp.diff(kernel(regime), s, order)


@dataclass(frozen=True)
class KernelExtrema:
    r"""Suprema of a kernel and of its derivatives over :math:`s \ge 0` (sympy expressions).

    Attributes
    ----------
    regime : one of :data:`REGIMES`.
    peak_time : argmax of :math:`\kappa` (``oo`` for nlif, whose supremum is a limit).
    kappa_max : :math:`\sup_{s \ge 0} \kappa(s)`.
    derivative_sup : :math:`(\sup|\kappa'|, \sup|\kappa''|, \sup|\kappa'''|, \sup|\kappa''''|)`,
        each the one-sided value :math:`|\kappa^{(k)}(0^+)|` (Lemma 1).
    """

    regime: str
    peak_time: sp.Expr
    kappa_max: sp.Expr
    derivative_sup: tuple[sp.Expr, ...]


@lru_cache(maxsize=None)
def kernel_extrema(regime: str) -> KernelExtrema:
    r"""Derive :math:`\sup\kappa`, its argmax and :math:`\sup|\kappa^{(k)}|` (k = 1..4).

    Derivation: the peak solves :math:`\kappa'(s) = 0` (nlif has none: :math:`\kappa` increases to
    its limit 1); :math:`\sup|\kappa^{(k)}| = |\kappa^{(k)}(0^+)| = (-1)^{k+1}\kappa^{(k)}(0^+)`
    for k >= 1 (Lemma 1; the sign pattern and the supremum property are asserted by the proof
    script, not here).
    """
    _check_regime(regime)
    k = kernel(regime)
    dk = sp.diff(k, s)
    if regime == "nlif":
        peak = sp.oo
        kmax = sp.limit(k, s, sp.oo)
    else:
        roots = [r for r in sp.solve(sp.Eq(dk, 0), s) if r.is_real is not False]
        if len(roots) != 1:
            raise AssertionError(f"{regime}: expected one critical point of the kernel, got {roots}")
        peak = roots[0]
        kmax = k.subs(s, peak)
        if regime != "general":  # cheap for one time constant; the general form is checked by steps
            peak, kmax = sp.simplify(sp.expand_log(peak, force=True)), sp.simplify(kmax)
    sups = tuple(sp.factor((-1) ** (order + 1) * sp.diff(k, s, order).subs(s, 0)) for order in range(1, 5))
    return KernelExtrema(regime=regime, peak_time=peak, kappa_max=kmax, derivative_sup=sups)


# --------------------------------------------------------------------------------------------
# Implicit derivatives of the first-spike time
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImplicitDerivatives:
    r"""First and second derivatives of :math:`t^*` derived from the implicit identity.

    All entries are rational functions of the weights ``w[i]`` and of the kernel values at the
    lags :math:`t^* - t_i`: ``K0[i]`` = :math:`\kappa`, ``K1[i]`` = :math:`\kappa'`,
    ``K2[i]`` = :math:`\kappa''`.

    Attributes
    ----------
    w, K0, K1, K2 : tuples of symbols, one per causal input.
    grad_w : :math:`\partial t^*/\partial w_j` (sympy Matrix, n x 1).
    grad_t : :math:`\partial t^*/\partial t_j` (n x 1).
    hess_w : :math:`\partial^2 t^*/\partial w_j\partial w_k` (n x n).
    """

    w: tuple[sp.Symbol, ...]
    K0: tuple[sp.Symbol, ...]
    K1: tuple[sp.Symbol, ...]
    K2: tuple[sp.Symbol, ...]
    grad_w: sp.Matrix
    grad_t: sp.Matrix
    hess_w: sp.Matrix

    @property
    def slope(self) -> sp.Expr:
        r""":math:`\dot V(t^*) = \sum_i w_i \kappa'(t^* - t_i)`."""
        return sum(wi * k1 for wi, k1 in zip(self.w, self.K1))

    @property
    def curvature(self) -> sp.Expr:
        r""":math:`\ddot V(t^*) = \sum_i w_i \kappa''(t^* - t_i)`."""
        return sum(wi * k2 for wi, k2 in zip(self.w, self.K2))

    @property
    def potential(self) -> sp.Expr:
        r""":math:`V(t^*) = \sum_i w_i \kappa(t^* - t_i)` (equal to :math:`\vartheta`)."""
        return sum(wi * k0 for wi, k0 in zip(self.w, self.K0))


def _linear_solve(eq: sp.Expr, unknown: sp.Symbol) -> sp.Expr:
    """Solve eq = 0 for an unknown it is affine in (chain-rule equations are)."""
    a = sp.diff(eq, unknown)
    if sp.diff(a, unknown) != 0:
        raise AssertionError(f"equation is not affine in {unknown}")
    return sp.cancel(-eq.subs(unknown, 0) / a)


@lru_cache(maxsize=None)
def implicit_spike_time_derivatives(n_inputs: int = 3) -> ImplicitDerivatives:
    r"""Differentiate :math:`\sum_i w_i\kappa(t^*(w, t_{in}) - t_i) = \vartheta` once and twice.

    ``t*`` is an undefined sympy function of all weights and input times and :math:`\kappa` an
    undefined function, so the result holds for every twice-differentiable kernel. Each
    derivative of the identity is affine in the highest derivative of ``t*`` it contains
    (chain rule); solving it gives the derivative. No implicit-function formula is assumed.
    """
    n = check_int("n_inputs", n_inputs, 1, 6)
    w = sp.symbols(f"w1:{n + 1}", real=True)
    ti = sp.symbols(f"t1:{n + 1}", real=True)
    K = [sp.symbols(f"K{o}_1:{n + 1}", real=True) for o in range(3)]
    kap = sp.Function("kappa")
    T = sp.Function("t")(*w, *ti)
    identity = sum(w[i] * kap(T - ti[i]) for i in range(n)) - theta
    first = {x: sp.Symbol(f"g_{x}") for x in (*w, *ti)}

    def to_symbols(e: sp.Expr) -> sp.Expr:
        # kappa^{(o)}(T - t_i) -> K{o}_i ; derivatives of T -> g_x (first) or h_x_y (second)
        rep = {}
        for a in e.atoms(sp.Subs):
            i = next(j for j in range(n) if a.point[0] == T - ti[j])
            rep[a] = K[a.expr.derivative_count][i]
        e = e.xreplace(rep).xreplace({kap(T - ti[i]): K[0][i] for i in range(n)})
        rep = {}
        for a in e.atoms(sp.Derivative):
            if a.expr == T:
                vs = [v for v, c in a.variable_count for _ in range(c)]
                rep[a] = first[vs[0]] if len(vs) == 1 else sp.Symbol("h_" + "_".join(sorted(map(str, vs))))
        return e.xreplace(rep)

    g = {x: _linear_solve(to_symbols(sp.diff(identity, x)), first[x]) for x in (*w, *ti)}
    hess = sp.zeros(n, n)
    for j in range(n):
        for k in range(j, n):
            eq = to_symbols(sp.diff(identity, w[j], w[k]))
            (h,) = [a for a in eq.free_symbols if a.name.startswith("h_")]
            eq = eq.xreplace({first[x]: g[x] for x in w})
            hess[j, k] = hess[k, j] = _linear_solve(eq, h)
    return ImplicitDerivatives(
        w=tuple(w),
        K0=tuple(K[0]),
        K1=tuple(K[1]),
        K2=tuple(K[2]),
        grad_w=sp.Matrix([g[x] for x in w]),
        grad_t=sp.Matrix([g[x] for x in ti]),
        hess_w=hess,
    )


def spike_time_gradient_formula(d: ImplicitDerivatives) -> sp.Matrix:
    r"""Closed form :math:`\partial t^*/\partial w_j = -\kappa(t^* - t_j)/\dot V(t^*)` (Bohté 2002)."""
    return sp.Matrix([-k0 / d.slope for k0 in d.K0])


def spike_time_input_gradient_formula(d: ImplicitDerivatives) -> sp.Matrix:
    r"""Closed form :math:`\partial t^*/\partial t_j = w_j\kappa'(t^* - t_j)/\dot V(t^*)`."""
    return sp.Matrix([wi * k1 / d.slope for wi, k1 in zip(d.w, d.K1)])


def spike_time_hessian_formula(d: ImplicitDerivatives) -> sp.Matrix:
    r"""Closed form :math:`\nabla^2_w t^* = -(k g^\top + g k^\top + \ddot V g g^\top)/\dot V`.

    :math:`g = \nabla_w t^*`, :math:`k_j = \kappa'(t^* - t_j)` (as in ``neurons.spike_time_hessian``).
    """
    g = spike_time_gradient_formula(d)
    k = sp.Matrix(d.K1)
    return -(k * g.T + g * k.T + d.curvature * g * g.T) / d.slope


# --------------------------------------------------------------------------------------------
# Time-to-first-spike cross-entropy
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TTFSLoss:
    r"""Cross-entropy of :math:`\operatorname{softmax}(-t/\tau_\xi)` for label 0, K classes.

    Attributes
    ----------
    t : output spike-time symbols :math:`t_1..t_K` (label = class 1, i.e. index 0).
    loss : :math:`\ell = t_1/\tau_\xi + \log\sum_k e^{-t_k/\tau_\xi}`.
    probabilities : :math:`p_k = e^{-t_k/\tau_\xi}/\sum_l e^{-t_l/\tau_\xi}`.
    grad, hess : derived by differentiating ``loss``.
    """

    t: tuple[sp.Symbol, ...]
    loss: sp.Expr
    probabilities: tuple[sp.Expr, ...]
    grad: sp.Matrix
    hess: sp.Matrix


@lru_cache(maxsize=None)
def ttfs_cross_entropy(n_classes: int = 3) -> TTFSLoss:
    r"""The loss :math:`\ell(t) = -\log\big(e^{-t_y/\tau_\xi} / \sum_k e^{-t_k/\tau_\xi}\big)`, y = 1.

    Göltz et al. 2021 (Methods, eq. for the time-to-first-spike cross-entropy; their extra
    regulariser is not part of this loss).
    """
    K = check_int("n_classes", n_classes, 2, 8)
    t = sp.symbols(f"t1:{K + 1}", real=True)
    z = sum(sp.exp(-tk / tau_xi) for tk in t)
    loss = -sp.log(sp.exp(-t[0] / tau_xi) / z)
    p = tuple(sp.exp(-tk / tau_xi) / z for tk in t)
    grad = sp.Matrix([sp.diff(loss, tk) for tk in t])
    hess = sp.hessian(loss, t)
    return TTFSLoss(t=tuple(t), loss=loss, probabilities=p, grad=grad, hess=hess)


# --------------------------------------------------------------------------------------------
# The bounds as expressions
# --------------------------------------------------------------------------------------------


def regularity_bound_expressions() -> dict[str, sp.Expr]:
    r"""Theorem 1 and Corollary 1 (``proofs/``) as sympy expressions of the problem constants.

    Symbols: ``s_min`` (margin), ``n`` (causal inputs), ``W`` (:math:`\|w_C\|_\infty` bound),
    ``A`` (:math:`\|w_C\|_1` bound), ``kappa_max``, ``kappa1_max``, ``kappa2_max`` (kernel
    suprema of Lemma 1), ``tau_xi`` (softmax temperature).

    Keys: ``dw_entry``, ``dw_l2``, ``dw_l1`` (:math:`\partial t^*/\partial w`); ``dt_entry``,
    ``dt_l2``, ``dt_l1`` (:math:`\partial t^*/\partial t_{in}`); ``curvature``
    (:math:`|\ddot V(t^*)|`); ``hessian`` (spectral and Frobenius norm of :math:`\nabla^2_w t^*`);
    ``loss_G`` and ``loss_L`` (gradient norm and smoothness of the one-layer loss).
    """
    d2 = w_l1 * kappa2_max
    hess = 2 * n_causal * kappa_max * kappa1_max / s_min**2 + n_causal * kappa_max**2 * d2 / s_min**3
    return {
        "dw_entry": kappa_max / s_min,
        "dw_l2": sp.sqrt(n_causal) * kappa_max / s_min,
        "dw_l1": n_causal * kappa_max / s_min,
        "dt_entry": w_max * kappa1_max / s_min,
        "dt_l2": sp.sqrt(n_causal) * w_max * kappa1_max / s_min,
        "dt_l1": w_l1 * kappa1_max / s_min,
        "curvature": d2,
        "hessian": hess,
        "loss_G": sp.sqrt(2 * n_causal) * kappa_max / (tau_xi * s_min),
        "loss_L": n_causal * kappa_max**2 / (2 * tau_xi**2 * s_min**2) + hess / tau_xi,
    }


def crossing_radius(epsilon: sp.Expr, slope: sp.Expr = s_min, curv: sp.Expr = curvature) -> sp.Expr:
    r"""Root-perturbation radius :math:`r(\varepsilon) = 2\varepsilon/(s + \sqrt{s^2 - 2D\varepsilon})`.

    The smaller root of :math:`s\,u - D u^2/2 = \varepsilon` (Lemma 2 of
    ``proofs/clock_driven_error.md``): if an approximation is within :math:`\varepsilon` of
    :math:`V` on a step where :math:`\dot V(t^*) \ge s` and :math:`|\ddot V| \le D`, its roots
    there are within :math:`r(\varepsilon)` of :math:`t^*`.
    """
    return 2 * epsilon / (slope + sp.sqrt(slope**2 - 2 * curv * epsilon))


def discretisation_bound_expressions() -> dict[str, sp.Expr]:
    r"""Theorem 2 as sympy expressions of ``dt``, ``s_min``, ``D_2``, ``D_4``.

    Keys: ``plain`` (:math:`t_{rec} - t^* < dt`), ``eps_linear`` (:math:`D_2 dt^2/8`, the linear
    interpolant's error on a step), ``eps_hermite`` (:math:`D_4 dt^4/384`, cubic Hermite),
    ``linear`` and ``hermite`` (crossing-time errors :math:`r(\varepsilon)`), and their leading
    terms ``linear_leading`` (:math:`D_2 dt^2/(8 s)`) and ``hermite_leading``.
    """
    e_lin = curvature * dt**2 / 8
    e_her = fourth * dt**4 / 384
    return {
        "plain": dt,
        "eps_linear": e_lin,
        "eps_hermite": e_her,
        "linear": crossing_radius(e_lin),
        "hermite": crossing_radius(e_her),
        "linear_leading": e_lin / s_min,
        "hermite_leading": e_her / s_min,
    }


# --------------------------------------------------------------------------------------------
# LaTeX and proof-checking helpers
# --------------------------------------------------------------------------------------------


# How the theory's symbols print in LaTeX (their sympy names stay plain identifiers).
LATEX_NAMES = {
    kappa_max: r"\kappa_{\max}",
    kappa1_max: r"\kappa'_{\max}",
    kappa2_max: r"\kappa''_{\max}",
    kappa4_max: r"\kappa^{(4)}_{\max}",
    s_min: r"s_{\min}",
    tau_xi: r"\tau_\xi",
    curvature: "D_2",
    fourth: "D_4",
    eps: r"\varepsilon",
    dt: r"\Delta t",
}


class ProofSteps(list):
    """The algebraic steps of one proof, in order.

    A ``proofs/check_*.py`` script registers each step with ``@STEPS.step``; a step asserts its
    identity or inequality with sympy and raises AssertionError naming it if it fails.
    """

    def step(self, fn):
        self.append(fn)
        return fn

    def run(self) -> list[str]:
        """Run every step in order; return their names (raises at the first failing step)."""
        for fn in self:
            fn()
        return [fn.__name__ for fn in self]


def latex(expr) -> str:
    """LaTeX of a sympy expression (``\\log`` for natural logarithms, the theory's symbol names)."""
    return sp.latex(expr, ln_notation=False, symbol_names=LATEX_NAMES)


def _numerically_nonzero(expr: sp.Expr) -> bool:
    """True if ``expr`` is clearly nonzero at a (deterministic) point respecting the assumptions.

    A nonzero value at one point disproves an identity, so a false claim is rejected without
    the (slow) simplification attempts; a zero value proves nothing and falls through to them.
    """
    syms = sorted(expr.free_symbols, key=str)
    for trial in range(2):
        point = {}
        for j, x in enumerate(syms):
            base = 0.61 + 0.37 * ((7 * j + 3 * trial) % 11) / 11
            point[x] = sp.Float(base if (x.is_positive or x.is_nonnegative) else base - 1.3, 30)
        try:
            value = complex(expr.evalf(30, subs=point))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not (_finite(value.real) and _finite(value.imag)) or abs(value.imag) > 1e-20:
            continue
        if abs(value.real) > 1e-12:
            return True
    return False


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def is_zero(expr: sp.Expr) -> bool:
    """True if ``expr`` simplifies to 0 (rational cancellation first, then full simplify).

    A quick numeric evaluation at a point first rejects expressions that are clearly nonzero.
    """
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    if _numerically_nonzero(expr):
        return False
    for attempt in (lambda e: sp.expand(sp.numer(sp.together(e))), sp.cancel,
                    lambda e: sp.simplify(sp.powsimp(e, force=True)),
                    lambda e: sp.simplify(sp.expand_log(sp.powsimp(sp.expand(e), force=True), force=True))):
        try:
            if attempt(expr) == 0:
                return True
        except (TypeError, NotImplementedError, sp.PolynomialError):
            continue
    return False


def assert_identity(lhs, rhs, what: str) -> None:
    """Raise ``AssertionError`` (naming ``what``) unless ``lhs - rhs`` simplifies to zero."""
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        diff = sp.Matrix(lhs) - sp.Matrix(rhs)
        for i in range(diff.rows):
            for j in range(diff.cols):
                if not is_zero(diff[i, j]):  # stop at the first: a failing entry is slow to prove
                    raise AssertionError(f"{what}: entry ({i}, {j}) differs: {diff[i, j]}")
        return
    if not is_zero(lhs - rhs):
        raise AssertionError(f"{what}: {lhs} != {rhs}")


def assert_nonnegative(expr, what: str) -> None:
    """Raise ``AssertionError`` unless ``expr >= 0`` follows from the symbols' assumptions.

    Accepted proofs: sympy's assumption system decides ``expr.is_nonnegative``; or, after
    ``together``, the numerator and denominator are polynomials whose coefficients are all
    non-negative in symbols that are all positive. Anything else fails (no numerical sampling).
    """
    expr = sp.sympify(expr)
    if sp.simplify(expr).is_nonnegative:
        return
    num, den = sp.fraction(sp.together(expr))
    if _positive_coefficients(num) and _positive_coefficients(den):
        return
    if _positive_coefficients(-num) and _positive_coefficients(-den):
        return
    raise AssertionError(f"{what}: cannot show {expr} >= 0 from the assumptions")


def _positive_coefficients(expr: sp.Expr) -> bool:
    expr = sp.expand(expr)
    syms = sorted(expr.free_symbols, key=str)
    if not all(v.is_positive for v in syms):
        return False
    if not syms:
        return bool(expr.is_nonnegative)
    try:
        poly = sp.Poly(expr, *syms)
    except sp.PolynomialError:
        return False
    return all(c.is_nonnegative for c in poly.coeffs())
