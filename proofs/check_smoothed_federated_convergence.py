r"""Symbolic check of proofs/smoothed_federated_convergence.md (Theorem 5).

Every step produces at least one side of its assertion with sympy (``integrate``, ``diff``,
``summation``, ``solve``, ``expand`` of a derived expression) and compares it with the claim in
``CLAIMS`` (what the proof text and `fsnn_theory.theory.smoothing` state). Run
``python proofs/check_smoothed_federated_convergence.py [OUT_DIR]`` to check and write
``OUT_DIR/smoothed_federated_convergence.tex`` (default ``paper/generated``).

Which step catches which claim (the mutation tests in tests/test_proofs.py alter each):

=====================  ====================================  ==========================================
claim                  step                                  derivation
=====================  ====================================  ==========================================
abs_mean, chi2_dev     step_gaussian_moments                 ``integrate`` of |z| φ and |z²−1| φ
grad_weight, hess_w.   step_gaussian_derivatives             ``diff`` of the Gaussian density in w
G_smooth, L            step_bounds_attained                  ``integrate`` of the smoothing of sign functions
oracle                 step_two_point_oracle_unbiased        ``integrate`` + ``diff`` for a generic cubic F
drift_sum              step_drift                            ``summation`` of j²; ``expand`` of Cauchy–Schwarz
step_condition         step_descent                          ``expand`` of the polarisation; ``solve`` 1−Lγ ≥ 0
average_all, bound     step_assembly                         ``solve`` of the telescoped sum, then the round
                                                             conversion
cubic                  step_step_size                        ``diff`` of the bound in γ
(numeric functions)    step_numeric_match                    the sympy expressions at random points
=====================  ====================================  ==========================================
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fsnn_theory.files import write_text_atomic  # noqa: E402
from fsnn_theory.theory.statements import read_statement, theorem_tex  # noqa: E402
from fsnn_theory.theory import smoothing as SM  # noqa: E402
from fsnn_theory.theory import symbolic as S  # noqa: E402

NAME = "smoothed_federated_convergence"

z, y, w = sp.symbols("z y w", real=True)
sig, M, Lc, G2, V, gam, I, R, Dl, P2, T = sp.symbols("sigma M L G^2 sigma_v^2 gamma I R Delta P_2 T", positive=True)
phi = lambda x: sp.exp(-sp.sympify(x) ** 2 / 2) / sp.sqrt(2 * sp.pi)  # noqa: E731  standard normal density
phi_s = lambda x: phi(x / sig) / sig  # noqa: E731  N(0, sigma^2) density

CLAIMS: dict[str, sp.Expr] = {
    "abs_mean": sp.sqrt(2 / sp.pi),                           # E|Z|
    "chi2_dev": 4 * phi(1),                                   # E|Z^2 - 1|
    "grad_weight": (y - w) / sig**2 * phi_s(y - w),           # d/dw phi_sigma(y - w)
    "hess_weight": ((y - w) ** 2 / sig**4 - 1 / sig**2) * phi_s(y - w),
    "G_smooth": M / (sig * sp.sqrt(2 * sp.pi)),               # sup ||grad f_sigma||
    "L": 2 * phi(1) * M / sig**2,                             # sup ||hess f_sigma||
    "drift_sum": (I - 1) * I * (2 * I - 1) / 6,               # sum_{j<I} j^2
    "step_condition": 1 / Lc,                                 # largest gamma with 1 - L gamma >= 0
    "average_all": 2 * Dl / (gam * T) + Lc**2 * gam**2 * G2 * (I - 1) * (2 * I - 1) / 6 + Lc * gam * V * P2,
    "bound": 4 * Dl / (gam * R * (I + 1))
    + 2 * I / (I + 1) * (Lc**2 * gam**2 * G2 * (I - 1) * (2 * I - 1) / 3 + Lc * gam * V * P2),
    "cubic": 2 * (2 * I / (I + 1) * Lc**2 * G2 * (I - 1) * (2 * I - 1) / 3) * gam**3
    + 2 * I / (I + 1) * Lc * V * P2 * gam**2 - 4 * Dl / (R * (I + 1)),
}

STEPS = S.ProofSteps()
step = STEPS.step


_MOMENTS: dict[int, sp.Expr] = {}


def _gauss_mean(expr: sp.Expr) -> sp.Expr:
    """E over Z ~ N(0, 1) of a polynomial in z: each moment E Z^k integrated once by sympy."""
    poly = sp.Poly(sp.expand(expr), z)
    total = sp.Integer(0)
    for (k,), coeff in poly.terms():
        if k not in _MOMENTS:
            _MOMENTS[k] = sp.integrate(z**k * phi(z), (z, -sp.oo, sp.oo))
        total += coeff * _MOMENTS[k]
    return sp.expand(total)


@step
def step_gaussian_moments():
    """E|Z| and E|Z^2 - 1| integrated (the constants of Lemma A)."""
    abs_mean = 2 * sp.integrate(z * phi(z), (z, 0, sp.oo))
    S.assert_identity(abs_mean, CLAIMS["abs_mean"], "E|Z|")
    # |z^2 - 1| = (1 - z^2) on [0, 1], (z^2 - 1) on [1, oo); even integrand
    dev = 2 * (sp.integrate((1 - z**2) * phi(z), (z, 0, 1)) + sp.integrate((z**2 - 1) * phi(z), (z, 1, sp.oo)))
    S.assert_identity(dev, CLAIMS["chi2_dev"], "E|Z^2 - 1|")
    # the centring: E u = 0 and E(u^2 - 1) = 0, so F may be shifted by its midpoint
    S.assert_identity(_gauss_mean(z), 0, "E Z = 0")
    S.assert_identity(_gauss_mean(z**2 - 1), 0, "E(Z^2 - 1) = 0")
    np.testing.assert_allclose([SM.GAUSS_ABS_MEAN, SM.GAUSS_CHI2_ABS_DEV],
                               [float(CLAIMS["abs_mean"]), float(CLAIMS["chi2_dev"])], rtol=1e-15)


@step
def step_gaussian_derivatives():
    """d/dw and d^2/dw^2 of phi_sigma(y - w): the weights of the gradient and Hessian formulas."""
    dens = phi_s(y - w)
    S.assert_identity(sp.diff(dens, w), CLAIMS["grad_weight"], "d/dw phi_sigma(y - w)")
    S.assert_identity(sp.diff(dens, w, 2), CLAIMS["hess_weight"], "d2/dw2 phi_sigma(y - w)")
    # in u = (y - w)/sigma: sigma^-1 u phi(u) and sigma^-2 (u^2 - 1) phi(u), per unit of dy = sigma du
    u = sp.symbols("u", real=True)
    S.assert_identity(sp.simplify(CLAIMS["grad_weight"].subs(y, w + sig * u) * sig), u * phi(u) / sig, "gradient weight in u")
    S.assert_identity(sp.simplify(CLAIMS["hess_weight"].subs(y, w + sig * u) * sig), (u**2 - 1) * phi(u) / sig**2,
                      "Hessian weight in u")


@step
def step_bounds_attained():
    """The gradient and Hessian bounds equal the smoothing of (M/2) sign(z) and (M/2) sign(z^2 - 1) at 0."""
    # f(w) = E F(w + sigma Z) = int F(y) phi_sigma(y - w) dy; derivatives at w = 0 via the derived weights
    g = sp.integrate(M / 2 * CLAIMS["grad_weight"].subs(w, 0), (y, 0, sp.oo)) \
        - sp.integrate(M / 2 * CLAIMS["grad_weight"].subs(w, 0), (y, -sp.oo, 0))
    S.assert_identity(g, CLAIMS["G_smooth"], "gradient bound attained by (M/2) sign")
    hw = CLAIMS["hess_weight"].subs(w, 0)
    inner = sp.integrate(hw, (y, -sig, sig))
    outer = 2 * sp.integrate(hw, (y, sig, sp.oo))
    S.assert_identity(M / 2 * (outer - inner), CLAIMS["L"], "Hessian bound attained by (M/2) sign(z^2 - 1)")
    # and the general bound (M/2) E|Z|/sigma, (M/2) E|Z^2-1|/sigma^2 is the same expression
    S.assert_identity(M / 2 * CLAIMS["abs_mean"] / sig, CLAIMS["G_smooth"], "G = (M/2) E|Z| / sigma")
    S.assert_identity(M / 2 * CLAIMS["chi2_dev"] / sig**2, CLAIMS["L"], "L = (M/2) E|Z^2 - 1| / sigma^2")


@step
def step_two_point_oracle_unbiased():
    """E[(F(w + s u) - F(w - s u)) u / (2 s)] = d/dw E F(w + s u) for a generic cubic F (Lemma B)."""
    c = sp.symbols("c0:4", real=True)
    F = lambda x: c[0] + c[1] * x + c[2] * x**2 + c[3] * x**3  # noqa: E731
    smoothed = _gauss_mean(F(w + sig * z))
    oracle = _gauss_mean((F(w + sig * z) - F(w - sig * z)) * z / (2 * sig))
    S.assert_identity(oracle, sp.diff(smoothed, w), "two-point oracle is unbiased")
    # E|u|^2 = d (three coordinates), the factor of the variance bound
    S.assert_identity(3 * _gauss_mean(z**2), 3, "E||u||^2 = d")


@step
def step_drift():
    """sum_{j<I} j^2, and ||sum_{s<j} g_s||^2 <= j sum ||g_s||^2 (gap = sum of squares, j = 3)."""
    j = sp.symbols("j", integer=True, nonnegative=True)
    S.assert_identity(sp.summation(j**2, (j, 0, I - 1)), CLAIMS["drift_sum"], "sum_{j<I} j^2")
    a = sp.symbols("a1:4", real=True)
    gap = sp.expand(3 * sum(x**2 for x in a) - sum(a) ** 2)
    squares = sp.expand(sum((a[i] - a[k]) ** 2 for i in range(3) for k in range(i + 1, 3)))
    S.assert_identity(gap, squares, "Cauchy-Schwarz gap is a sum of squares")


@step
def step_descent():
    """-<a, b> = (|a-b|^2 - |a|^2 - |b|^2)/2, and the |b|^2 coefficient is <= 0 iff gamma <= 1/L."""
    a = sp.symbols("a1:3", real=True)
    b = sp.symbols("b1:3", real=True)
    sq = lambda v: sum(x**2 for x in v)  # noqa: E731
    inner = sum(x * yv for x, yv in zip(a, b))
    S.assert_identity(sp.expand(-inner), sp.expand((sq([x - yv for x, yv in zip(a, b)]) - sq(a) - sq(b)) / 2),
                      "polarisation")
    # descent inequality: -gamma<a, b> + (L/2) gamma^2 (|b|^2 + v) with the polarisation gives these |b|^2 terms
    B2 = sp.symbols("B2", positive=True)
    coeff = sp.expand(-gam / 2 * B2 + Lc / 2 * gam**2 * B2).coeff(B2)
    S.assert_identity(coeff, -gam / 2 * (1 - Lc * gam), "coefficient of |b|^2")
    root = sp.solve(sp.Eq(1 - Lc * gam, 0), gam)
    assert len(root) == 1, "one threshold step"
    S.assert_identity(root[0], CLAIMS["step_condition"], "gamma <= 1/L")


@step
def step_assembly():
    """Telescoped sum solved for the average; the round-boundary conversion gives the bound."""
    A, Xi = sp.symbols("A Xi", positive=True)
    # sum over T steps of (gamma/2)|grad|^2 <= Delta + T (gamma L^2/2) Xi_avg + T (L/2) gamma^2 v P2
    avg = sp.solve(sp.Eq(gam / 2 * T * A, Dl + T * gam * Lc**2 / 2 * Xi + T * Lc / 2 * gam**2 * V * P2), A)[0]
    xi_avg = gam**2 * G2 * sp.summation(sp.Symbol("j") ** 2, (sp.Symbol("j"), 0, I - 1)) / I
    average_all = sp.simplify(avg.subs(Xi, xi_avg))
    S.assert_identity(average_all, CLAIMS["average_all"], "average over all steps")
    # per round: a_0 <= 2 a_j + 2 L^2 e_j (j = 1..I-1); adding 2 a_0 to the sum over j gives
    # (I + 1) a_0 <= 2 sum_{j<I} a_j + 2 L^2 sum_j e_j: solve for a_0, with e_j <= gamma^2 j^2 G^2
    a0, Sa = sp.symbols("a_0 S_a", positive=True)  # S_a = sum over the round's steps of a_j
    j = sp.Symbol("j", integer=True, nonnegative=True)
    e_sum = gam**2 * G2 * sp.summation(j**2, (j, 0, I - 1))
    a0_bound = sp.solve(sp.Eq((I + 1) * a0, 2 * Sa + 2 * Lc**2 * e_sum), a0)[0]
    # averaged over R rounds: S_a averages to I times the all-steps average (T = R I)
    bound = sp.simplify(a0_bound.subs(Sa, I * average_all.subs(T, R * I)))
    S.assert_identity(bound, CLAIMS["bound"], "bound at communication rounds")
    # I = 1: no conversion is needed and the bound is the all-steps average itself
    S.assert_identity(CLAIMS["bound"].subs(I, 1), average_all.subs({I: 1, T: R}), "I = 1")
    # monotone in the constants (so upper bounds on L, G^2, sigma_v^2, Delta give a valid bound)
    J = sp.symbols("J", positive=True)  # I - 1 (I = 1 makes the drift term vanish)
    for var in (G2, V, Dl, P2):
        S.assert_nonnegative(sp.diff(CLAIMS["bound"], var).subs(I, J + 1), f"non-decreasing in {var}")


@step
def step_step_size():
    """gamma^2 d/dgamma of the bound is the cubic of smoothed_local_sgd_step_size; one positive root."""
    d = sp.expand(sp.diff(CLAIMS["bound"], gam) * gam**2)
    S.assert_identity(d, sp.expand(CLAIMS["cubic"]), "stationarity cubic")
    S.assert_nonnegative(sp.diff(CLAIMS["bound"], gam, 2).subs(I, sp.Symbol("J", positive=True) + 1), "convex in gamma")


@step
def step_numeric_match():
    """The numpy functions of fsnn_theory.theory.smoothing equal the derived expressions."""
    rng = np.random.default_rng(5)
    for _ in range(5):
        Mn, sn = rng.uniform(0.5, 30), rng.uniform(0.2, 4)
        np.testing.assert_allclose(SM.smoothed_smoothness(Mn, sn), float(CLAIMS["L"].subs({M: Mn, sig: sn})), rtol=1e-13)
        np.testing.assert_allclose(SM.smoothed_gradient_bound(Mn, sn),
                                   float(CLAIMS["G_smooth"].subs({M: Mn, sig: sn})), rtol=1e-13)
        vals = {Dl: rng.uniform(0.1, 10), Lc: rng.uniform(0.1, 5), G2: rng.uniform(0.1, 20), V: rng.uniform(0, 20),
                I: int(rng.integers(1, 6)), R: int(rng.integers(1, 3000)), P2: rng.uniform(0.01, 1)}
        g = SM.smoothed_local_sgd_step_size(vals[Dl], vals[Lc], vals[G2], vals[V], vals[I], vals[R], vals[P2])
        got = SM.smoothed_local_sgd_bound(vals[Dl], vals[Lc], vals[G2], vals[V], g, vals[I], vals[R], vals[P2])
        np.testing.assert_allclose(got, float(CLAIMS["bound"].subs({**vals, gam: g})), rtol=1e-12)
        grid = np.geomspace(g * 1e-3, 1.0 / vals[Lc], 4001)
        on_grid = [float(CLAIMS["bound"].subs({**vals, gam: x})) for x in grid[::400]]
        assert got <= min(on_grid) * (1 + 1e-9), "the step size minimises the bound on (0, 1/L]"


def run_checks() -> list[str]:
    """Run every step; return their names. Raises AssertionError at the first failing step."""
    return STEPS.run()


def latex_summary() -> str:
    L = S.latex
    return "\n".join([
        "% Generated by proofs/check_smoothed_federated_convergence.py after all checks passed. Do not edit.",
        r"\begin{align}",
        rf"L &= {L(CLAIMS['L'])}, \qquad \sup\|\nabla f_\sigma\| \le {L(CLAIMS['G_smooth'])}, \\",
        r"\frac1R\sum_{r<R}\mathbb E\|\nabla f(\bar x_{rI})\|^2 &\le "
        rf"{L(CLAIMS['bound'].subs({G2: sp.Symbol('G^2'), P2: sp.Symbol('P_2')}))},",
        r"\end{align}",
        r"with $P_2=\sum_k p_k^2$, $G^2 = M^2/(2\pi\sigma^2)+\sigma_v^2$ and $0<\gamma\le 1/L$.",
    ]) + "\n"


def main(out_dir=None) -> Path:
    run_checks()
    out = Path(out_dir) if out_dir is not None else ROOT / "paper" / "generated"
    # the statement is the front matter of proofs/<NAME>.md; the display is what this check derived
    text = theorem_tex(read_statement(NAME), latex_summary(), "proofs/check_smoothed_federated_convergence.py")
    return write_text_atomic(text, out / f"{NAME}.tex")


if __name__ == "__main__":
    print(f"{NAME}: {len(STEPS)} steps passed; wrote {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
