r"""Symbolic check of proofs/clock_driven_error.md (Theorem 2: clock-driven first-spike detection).

Steps ``step_*`` re-derive each claim with sympy and assert it (conventions as in
check_spike_time_regularity.py). Run ``python proofs/check_clock_driven_error.py [OUT_DIR]`` to
check and write ``OUT_DIR/clock_driven_error.tex`` (default ``paper/generated``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fsnn_theory.theory import regularity as R  # noqa: E402
from fsnn_theory.files import write_text_atomic  # noqa: E402
from fsnn_theory.theory.statements import read_statement, theorem_tex  # noqa: E402
from fsnn_theory.theory import symbolic as S  # noqa: E402

NAME = "clock_driven_error"

h, sl, D2, D4, ep = S.dt, S.s_min, S.curvature, S.fourth, S.eps
t, al = sp.symbols("t alpha", real=True)
sig = sp.Symbol("sigma", real=True)  # position in the step, (t - alpha)/h
u, lam = sp.symbols("u lambda", nonnegative=True)

# The proof's claims, literally.
CLAIMS: dict[str, sp.Expr] = {
    "omega_linear_max": h**2 / 4,  # max over the step of (t - alpha)(beta - t)
    "omega_hermite_max": h**4 / 16,  # max of (t - alpha)^2 (t - beta)^2
    "linear_remainder_factor": sp.Rational(1, 2),  # e = V2(xi)/2 (t - alpha)(t - beta)
    "hermite_remainder_factor": sp.Rational(1, 24),  # e = V4(xi)/24 (t - alpha)^2 (t - beta)^2
    "eps_linear": D2 * h**2 / 8,
    "eps_hermite": D4 * h**4 / 384,
    "radius": (sl - sp.sqrt(sl**2 - 2 * D2 * ep)) / D2,  # smaller root of s u - D u^2/2 = eps
    "plain_step_limit": 2 * sl / D2,
    "interp_step_limit": sl / D2,
    "linear_leading": D2 * h**2 / (8 * sl),
    "hermite_leading": D4 * h**4 / (384 * sl),
}

# Cubic Hermite basis on [0, 1] (as documented in fsnn_theory.brian.hermite_first_crossing)
H00 = 2 * sig**3 - 3 * sig**2 + 1
H10 = sig**3 - 2 * sig**2 + sig
H01 = -2 * sig**3 + 3 * sig**2
H11 = sig**3 - sig**2

STEPS = S.ProofSteps()
step = STEPS.step


@step
def step_linear_interpolation_error():
    """Linear interpolation error: f - l = (f''/2)(t - alpha)(t - beta); max |.| on the step = h^2/4."""
    c0, c1, c2 = sp.symbols("c0 c1 c2", real=True)
    f = c0 + c1 * t + c2 * t**2
    beta = al + h
    lin = f.subs(t, al) + (f.subs(t, beta) - f.subs(t, al)) * (t - al) / h
    S.assert_identity(f - lin, sp.diff(f, t, 2) / 2 * (t - al) * (t - beta), "f - l for quadratics")
    omega = (t - al) * (beta - t)
    (crit,) = sp.solve(sp.diff(omega, t), t)
    S.assert_identity(crit, al + h / 2, "argmax is the midpoint")
    S.assert_identity(omega.subs(t, crit), CLAIMS["omega_linear_max"], "max (t-alpha)(beta-t)")
    S.assert_identity(sp.Rational(1, 2) * D2 * CLAIMS["omega_linear_max"], CLAIMS["eps_linear"], "eps_linear")
    S.assert_identity(CLAIMS["eps_linear"], S.discretisation_bound_expressions()["eps_linear"], "symbolic module")


@step
def step_linear_remainder_general():
    """Linear interpolation of a general C^2 function V (an undefined sympy function, not a polynomial):
    the Rolle auxiliary g(x) = e(x) - E w(x)/w(t), E = e(t), vanishes at alpha, beta and t, and
    solving g''(xi) = 0 for E gives E = V''(xi) (t - alpha)(t - beta)/2."""
    V = sp.Function("V")
    x, tt, xi, E = sp.symbols("x t_0 xi E", real=True)
    beta = al + h
    lin = V(al) + (V(beta) - V(al)) * (x - al) / h
    e = V(x) - lin
    w = (x - al) * (x - beta)
    g = e - E * w / w.subs(x, tt)
    for point in (al, beta):
        S.assert_identity(g.subs(x, point).doit(), 0, f"g({point}) = 0")
    S.assert_identity(g.subs(x, tt).subs(E, e.subs(x, tt)).doit(), 0, "g(t) = 0 with E = e(t)")
    g2 = sp.diff(g, x, 2)
    (E_sol,) = sp.solve(sp.Eq(g2.subs(x, xi).doit(), 0), E)
    factor = sp.simplify(E_sol / (sp.diff(V(xi), xi, 2) * (tt - al) * (tt - beta)))
    S.assert_identity(factor, CLAIMS["linear_remainder_factor"], "e(t) = V2(xi)/2 (t - alpha)(t - beta)")
    # so |e| <= factor D_2 max (t - alpha)(beta - t): the derived factor gives eps_linear
    S.assert_identity(factor * D2 * CLAIMS["omega_linear_max"], CLAIMS["eps_linear"], "eps_linear = D_2 h^2/8")


@step
def step_hermite_remainder_general():
    """Cubic Hermite of a general C^4 function V: g = e - E w/w(t), w = (x-alpha)^2 (x-beta)^2, has
    double zeros at alpha and beta and a zero at t (five with multiplicity), and solving
    g^(4)(xi) = 0 for E gives E = V^(4)(xi) w(t)/24 (the interpolant is cubic: its 4th derivative is 0)."""
    V = sp.Function("V")
    x, tt, xi, E = sp.symbols("x t_0 xi E", real=True)
    v0, d0, v1, d1 = sp.symbols("v0 vdot0 v1 vdot1", real=True)
    beta = al + h
    p = (v0 * H00 + h * d0 * H10 + v1 * H01 + h * d1 * H11).subs(sig, (x - al) / h)
    data = {v0: V(al), d0: sp.diff(V(x), x).subs(x, al), v1: V(beta), d1: sp.diff(V(x), x).subs(x, beta)}
    e = V(x) - p.subs(data)
    w = ((x - al) * (x - beta)) ** 2
    g = e - E * w / w.subs(x, tt)
    for point in (al, beta):
        S.assert_identity(g.subs(x, point).doit(), 0, f"g({point}) = 0")
        S.assert_identity(sp.diff(g, x).subs(x, point).doit(), 0, f"g'({point}) = 0")
    S.assert_identity(g.subs(x, tt).subs(E, e.subs(x, tt)).doit(), 0, "g(t) = 0 with E = e(t)")
    S.assert_identity(sp.diff(p, x, 4), 0, "the interpolant is cubic")
    g4 = sp.diff(g, x, 4)
    (E_sol,) = sp.solve(sp.Eq(g4.subs(x, xi).doit(), 0), E)
    factor = sp.simplify(E_sol / (sp.diff(V(xi), xi, 4) * w.subs(x, tt)))
    S.assert_identity(factor, CLAIMS["hermite_remainder_factor"], "e(t) = V4(xi)/24 (t - alpha)^2 (t - beta)^2")
    S.assert_identity(factor * D4 * CLAIMS["omega_hermite_max"], CLAIMS["eps_hermite"], "eps_hermite = D_4 h^4/384")


@step
def step_hermite_interpolation_error():
    """Cubic Hermite: interpolation conditions; f - p = (f''''/24)(t-alpha)^2(t-beta)^2; max = h^4/16."""
    v0, d0, v1, d1 = sp.symbols("v0 vdot0 v1 vdot1", real=True)
    p = v0 * H00 + h * d0 * H10 + v1 * H01 + h * d1 * H11
    # p(0) = v0, p(1) = v1, dp/dt = (1/h) dp/dsigma matches the slopes
    for point, value in ((0, v0), (1, v1)):
        S.assert_identity(p.subs(sig, point), value, f"p({point})")
    S.assert_identity(sp.diff(p, sig).subs(sig, 0) / h, d0, "p'(0)")
    S.assert_identity(sp.diff(p, sig).subs(sig, 1) / h, d1, "p'(1)")
    # error for a generic quartic f on [alpha, alpha + h]
    c = sp.symbols("c0:5", real=True)
    f = sum(ci * t**i for i, ci in enumerate(c))
    beta = al + h
    herm = p.subs({v0: f.subs(t, al), d0: sp.diff(f, t).subs(t, al), v1: f.subs(t, beta),
                   d1: sp.diff(f, t).subs(t, beta)}).subs(sig, (t - al) / h)
    S.assert_identity(f - herm, sp.diff(f, t, 4) / 24 * (t - al) ** 2 * (t - beta) ** 2, "f - p for quartics")
    omega = ((t - al) * (t - beta)) ** 2
    crits = sp.solve(sp.diff(omega, t), t)
    values = [sp.simplify(omega.subs(t, r)) for r in crits] + [omega.subs(t, al), omega.subs(t, beta)]
    S.assert_identity(max(values, key=lambda e: e.subs({al: 0, h: 1})), CLAIMS["omega_hermite_max"],
                      "max (t-alpha)^2 (t-beta)^2")
    S.assert_identity(D4 / 24 * CLAIMS["omega_hermite_max"], CLAIMS["eps_hermite"], "eps_hermite")
    S.assert_identity(CLAIMS["eps_hermite"], S.discretisation_bound_expressions()["eps_hermite"], "symbolic module")


@step
def step_root_perturbation():
    """Lemma 2: phi(u) = s u - D u^2/2 is increasing on [0, s/D]; phi(r) = eps; r = 2 eps/(s + sqrt(.))."""
    phi = sl * u - D2 * u**2 / 2
    # phi' = s - D u >= 0 on [0, s/D]: with u = lambda s/D, lambda in [0, 1]
    S.assert_identity(sp.diff(phi, u).subs(u, lam * sl / D2), sl * (1 - lam), "phi' on [0, s/D]")
    r = CLAIMS["radius"]
    S.assert_identity(phi.subs(u, r), ep, "phi(r) = eps")
    # the two forms of r agree (rationalise with q = sqrt(s^2 - 2 D eps) >= 0)
    q = sp.Symbol("q", nonnegative=True)
    eps_q = (sl**2 - q**2) / (2 * D2)
    S.assert_identity(r.subs(ep, eps_q).subs(sp.sqrt(sl**2 - 2 * D2 * eps_q), q),
                      (2 * ep / (sl + q)).subs(ep, eps_q), "r = 2 eps / (s + sqrt(s^2 - 2 D eps))")
    S.assert_identity(S.crossing_radius(ep), (2 * ep / (sl + sp.sqrt(sl**2 - 2 * D2 * ep))), "symbolic module")
    # r <= s/D (it is on the increasing branch): s/D - r = sqrt(...)/D >= 0
    S.assert_identity(sl / D2 - r, sp.sqrt(sl**2 - 2 * D2 * ep) / D2, "s/D - r")
    # eps/s <= r (the leading term is not larger than the bound) and r = eps/s + D eps^2/(2 s^3) + O(eps^3)
    S.assert_identity(sp.series(r, ep, 0, 3).removeO(), ep / sl + D2 * ep**2 / (2 * sl**3), "expansion of r")
    S.assert_identity(2 * ep / (sl + q) - ep / sl, ep * (sl - q) / (sl * (sl + q)), "r - eps/s")
    S.assert_identity((sl - q).subs(ep, eps_q), (2 * D2 * ep / (sl + q)).subs(ep, eps_q), "s - q = 2 D eps/(s + q)")
    S.assert_nonnegative(ep * (2 * D2 * ep / (sl + q)) / (sl * (sl + q)), "r >= eps/s")


@step
def step_plain_scheme():
    """Plain test: V(t* + u) - theta >= u (s - D u/2) >= 0 for 0 <= u <= 2s/D, so t_rec - t* < dt."""
    phi = sl * u - D2 * u**2 / 2
    S.assert_identity(phi, u * (sl - D2 * u / 2), "phi = u (s - D u / 2)")
    S.assert_identity(phi.subs(u, lam * CLAIMS["plain_step_limit"]), 2 * sl**2 / D2 * lam * (1 - lam), "phi on [0, 2s/D]")
    # lambda in [0, 1] written as alpha/(alpha + beta) with alpha, beta >= 0
    a_, b_ = sp.symbols("a_ b_", positive=True)
    S.assert_nonnegative((2 * sl**2 / D2 * lam * (1 - lam)).subs(lam, a_ / (a_ + b_)), "phi >= 0 on [0, 2s/D]")


@step
def step_hypotheses_compatible():
    """dt <= s/D_2 implies 2 D_2 eps_linear <= s^2 (Lemma 2 applies to linear interpolation)."""
    dt_ = lam * CLAIMS["interp_step_limit"]
    slack = sl**2 - 2 * D2 * CLAIMS["eps_linear"].subs(h, dt_)
    S.assert_identity(slack, sl**2 * (1 - lam**2 / 4), "s^2 - 2 D eps at dt = lambda s/D")
    # lambda in [0, 1]: 1 - lambda^2/4 >= 3/4 > 0 (with lambda = 1 - mu, mu in [0, 1])
    mu = sp.Symbol("mu", nonnegative=True)
    S.assert_identity((1 - lam**2 / 4).subs(lam, 1 - mu), sp.Rational(3, 4) + mu / 2 - mu**2 / 4, "slack form")
    S.assert_identity(CLAIMS["plain_step_limit"], 2 * CLAIMS["interp_step_limit"], "step limits")


@step
def step_leading_terms():
    """r(eps_linear) = D_2 dt^2/(8 s) + O(dt^4); r(eps_hermite) = D_4 dt^4/(384 s) + O(dt^8)."""
    B = S.discretisation_bound_expressions()
    S.assert_identity(sp.series(B["linear"], h, 0, 3).removeO(), CLAIMS["linear_leading"], "linear leading term")
    S.assert_identity(sp.series(B["hermite"], h, 0, 5).removeO(), CLAIMS["hermite_leading"], "Hermite leading term")
    S.assert_identity(B["linear_leading"], CLAIMS["linear_leading"], "symbolic module (linear)")
    S.assert_identity(B["hermite_leading"], CLAIMS["hermite_leading"], "symbolic module (Hermite)")


@step
def step_numeric_match():
    """regularity.* evaluate exactly these expressions."""
    B = S.discretisation_bound_expressions()
    rng = np.random.default_rng(1)
    for _ in range(5):
        s_, d2_, d4_ = rng.uniform(0.1, 2), rng.uniform(0.1, 5), rng.uniform(0.1, 20)
        dt_ = rng.uniform(0.01, 1) * s_ / d2_
        vals = {sl: s_, D2: d2_, D4: d4_, h: dt_}
        np.testing.assert_allclose(R.interpolated_crossing_error_bound(dt_, s_, d2_, method="linear").value,
                                   float(B["linear"].subs(vals)), rtol=1e-12)
        np.testing.assert_allclose(R.interpolated_crossing_error_bound(dt_, s_, d2_, d4_, method="hermite").value,
                                   float(B["hermite"].subs(vals)), rtol=1e-12)
        np.testing.assert_allclose(R.clock_driven_error_bound(dt_, s_, d2_).value, dt_, rtol=0)


def run_checks() -> list[str]:
    """Run every step; return their names. Raises AssertionError at the first failing step."""
    return STEPS.run()


def latex_summary() -> str:
    B = S.discretisation_bound_expressions()
    L = S.latex
    return "\n".join([
        "% Generated by proofs/check_clock_driven_error.py after all checks passed. Do not edit.",
        r"\begin{align}",
        r"0 \le t_\mathrm{rec} - t^* &< dt \qquad (dt \le 2 s_{\min}/D_2), \\",
        rf"|t_\mathrm{{lin}} - t^*| &\le r\big({L(B['eps_linear'])}\big) = {L(B['linear_leading'])} + O(dt^4), \\",
        rf"|t_\mathrm{{Hermite}} - t^*| &\le r\big({L(B['eps_hermite'])}\big) = {L(B['hermite_leading'])} + O(dt^8)"
        rf"\qquad \big(2 D_2 \cdot {L(B['eps_hermite'])} \le s_{{\min}}^2\big), \\",
        rf"r(\epsilon) &= {L(S.crossing_radius(S.eps))} \qquad (dt \le s_{{\min}}/D_2).",
        r"\end{align}",
    ]) + "\n"


def main(out_dir=None) -> Path:
    run_checks()
    out = Path(out_dir) if out_dir is not None else ROOT / "paper" / "generated"
    # the statement is the front matter of proofs/<NAME>.md; the display is what this check derived
    text = theorem_tex(read_statement(NAME), latex_summary(), "proofs/check_clock_driven_error.py")
    return write_text_atomic(text, out / f"{NAME}.tex")


if __name__ == "__main__":
    print(f"{NAME}: {len(STEPS)} steps passed; wrote {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
