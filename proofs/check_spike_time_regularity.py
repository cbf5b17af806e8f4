r"""Symbolic check of proofs/spike_time_regularity.md (Lemma 1 and Theorem 1).

Every step of the proof is a function ``step_*`` below; each re-derives its claim with sympy
from the definitions in :mod:`fsnn_theory.theory.symbolic` and asserts it: identities must
simplify to zero, inequalities must reduce to expressions whose sign follows from the symbols'
assumptions (:func:`symbolic.assert_nonnegative`). The claims themselves, as written in the proof,
are the literal expressions in ``CLAIMS``; a step fails if a claim or a derivation is altered
(``tests/test_proofs.py`` mutates both).

Run ``python proofs/check_spike_time_regularity.py [OUT_DIR]``: all steps, then the LaTeX of the
results to ``OUT_DIR/spike_time_regularity.tex`` (default ``paper/generated``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from fsnn_theory.neurons import LIF, NLIF  # noqa: E402
from fsnn_theory.theory import regularity as R  # noqa: E402
from fsnn_theory.files import write_text_atomic  # noqa: E402
from fsnn_theory.theory.statements import read_statement, theorem_tex  # noqa: E402
from fsnn_theory.theory import symbolic as S  # noqa: E402

NAME = "spike_time_regularity"

ts, tm, s = S.tau_s, S.tau_m, S.s
a, b, d, x, u, v, E = sp.symbols("a b d x u v E", positive=True)  # a = 1/tau_m, b = 1/tau_s
ORDERS = (1, 2, 3, 4)

# The proof's claims, literally (Lemma 1 table and Theorem 1).
CLAIMS: dict[str, sp.Expr] = {
    "peak_alpha": ts,
    "peak_double": 2 * ts * sp.log(2),
    "peak_general": tm * ts * sp.log(tm / ts) / (tm - ts),
    "kappa_max_nlif": sp.Integer(1),
    "kappa_max_alpha": sp.exp(-1),
    "kappa_max_double": sp.Rational(1, 4),
    "kappa_max_general": (ts / tm) ** (tm / (tm - ts)),
    # sup |kappa^(k)| = a sum_j a^{k-1-j} b^j with a = 1/tau_m, b = 1/tau_s (LIF); b^k (NLIF)
    **{f"dsup{k}_general": sum((1 / tm) * (1 / tm) ** (k - 1 - j) * (1 / ts) ** j for j in range(k)) for k in ORDERS},
    **{f"dsup{k}_alpha": k / ts**k for k in ORDERS},
    **{f"dsup{k}_double": (2**k - 1) / (2 * ts) ** k for k in ORDERS},
    **{f"dsup{k}_nlif": 1 / ts**k for k in ORDERS},
}

STEPS = S.ProofSteps()
step = STEPS.step


# ------------------------------------------------------------------------------- Lemma 1


@step
def step_kernels_are_the_engines():
    """The symbolic kernels are the engine's kernels; double and alpha are the general one's cases."""
    S.assert_identity(S.kernel("general").subs(tm, 2 * ts), S.kernel("double"), "double = general at tau_m = 2 tau_s")
    S.assert_identity(sp.limit(S.kernel("general"), tm, ts), S.kernel("alpha"), "alpha = limit tau_m -> tau_s")
    grid = np.linspace(0.01, 8.0, 41)
    models = {"nlif": (NLIF(tau_s=1.3), {ts: 1.3}), "alpha": (LIF(tau_m=0.7, tau_s=0.7), {ts: 0.7}),
              "double": (LIF(tau_m=2.4, tau_s=1.2), {ts: 1.2}),
              "general": (LIF(tau_m=3.0, tau_s=1.1), {tm: 3.0, ts: 1.1})}
    for regime, (model, vals) in models.items():
        for order, engine in ((0, model.kernel), (1, model.kernel_derivative), (2, model.kernel_second_derivative)):
            f = sp.lambdify(s, S.kernel_derivative(regime, order).subs(vals), "numpy")
            np.testing.assert_allclose(engine(grid), f(grid) + 0 * grid, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{regime} kernel derivative {order}")


@step
def step_kernel_peak():
    """Peak time: the unique zero of kappa', with kappa increasing before and decreasing after."""
    for regime in ("alpha", "double", "general"):
        S.assert_identity(S.kernel_extrema(regime).peak_time, CLAIMS[f"peak_{regime}"], f"peak time ({regime})")
    # general, written with a = 1/tau_m, b = 1/tau_s: kappa' = c e^{-as} (b e^{-(b-a)s} - a), c = a/(b-a)
    kappa = a / (b - a) * (sp.exp(-a * s) - sp.exp(-b * s))
    bracket = b * sp.exp(-(b - a) * s) - a
    S.assert_identity(sp.diff(kappa, s), a / (b - a) * sp.exp(-a * s) * bracket, "kappa' factorisation")
    # the bracket is strictly monotone (one zero): its derivative is -(b-a) b e^{-(b-a)s}
    S.assert_identity(sp.diff(bracket, s), -(b - a) * b * sp.exp(-(b - a) * s), "bracket derivative")
    # kappa'(0+) = a > 0: increasing first, so the single critical point is the maximum
    S.assert_identity(sp.diff(kappa, s).subs(s, 0), a, "kappa'(0+)")
    # alpha: kappa' = (1 - s/tau) e^{-s/tau}/tau changes sign once, at tau
    S.assert_identity(S.kernel_derivative("alpha", 1), (1 - s / ts) * sp.exp(-s / ts) / ts, "alpha kappa'")
    # nlif: kappa' = e^{-s/tau}/tau > 0, kappa -> 1
    S.assert_identity(S.kernel_derivative("nlif", 1), sp.exp(-s / ts) / ts, "nlif kappa'")


@step
def step_kernel_max():
    """kappa_max per regime; general: kappa(s_p) = (tau_s/tau_m)^(tau_m/(tau_m - tau_s))."""
    for regime in ("nlif", "alpha", "double"):
        S.assert_identity(S.kernel_extrema(regime).kappa_max, CLAIMS[f"kappa_max_{regime}"], f"kappa_max ({regime})")
    # general, with tau_m = q tau_s: e^{-s_p/tau_m} = q^{-1/(q-1)} = q Y, e^{-s_p/tau_s} = Y = q^{-q/(q-1)}
    q, Y = sp.symbols("q Y", positive=True)
    sp_q = CLAIMS["peak_general"].subs(tm, q * ts)
    S.assert_identity(sp.expand_log(-sp_q / (q * ts), force=True), -sp.log(q) / (q - 1), "log e^{-s_p/tau_m}")
    S.assert_identity(sp.expand_log(-sp_q / ts, force=True), -q * sp.log(q) / (q - 1), "log e^{-s_p/tau_s}")
    S.assert_identity(q ** (-1 / (q - 1)) / q ** (-q / (q - 1)), q, "q^{-1/(q-1)} = q q^{-q/(q-1)}")
    kappa_at_peak = (ts / (q * ts - ts)) * (q * Y - Y)  # c (e^{-s_p/tau_m} - e^{-s_p/tau_s})
    S.assert_identity(kappa_at_peak, Y, "kappa(s_p) = Y")
    S.assert_identity(CLAIMS["kappa_max_general"].subs(tm, q * ts), q ** (-q / (q - 1)), "claimed kappa_max")
    # and the derivation in symbolic.kernel_extrema agrees numerically with the claim at a few points
    derived = S.kernel_extrema("general").kappa_max
    for vals in ({tm: 2.0, ts: 1.0}, {tm: 3.0, ts: 1.0}, {tm: 1.0, ts: 2.5}, {tm: 1.01, ts: 1.0}):
        got, want = float(derived.subs(vals)), float(CLAIMS["kappa_max_general"].subs(vals))
        assert abs(got - want) <= 1e-12 * want, f"kappa_max (general) at {vals}: derived {got}, claimed {want}"
    # nonnegativity: kappa = c e^{-bs}(e^{(b-a)s} - 1) with c, (b-a) of equal sign
    S.assert_identity(a / (b - a) * (sp.exp(-a * s) - sp.exp(-b * s)),
                      a / (b - a) * sp.exp(-b * s) * (sp.exp((b - a) * s) - 1), "kappa sign form")


@step
def step_derivative_sup_values():
    """|kappa^(k)(0+)| per regime equals the claimed closed form (k = 1..4)."""
    for regime in S.REGIMES:
        derived = S.kernel_extrema(regime).derivative_sup
        for k in ORDERS:
            S.assert_identity(derived[k - 1], CLAIMS[f"dsup{k}_{regime}"], f"sup|kappa^({k})| ({regime})")
            # the sign pattern used by kernel_extrema, (-1)^{k+1} kappa^(k)(0+) = |kappa^(k)(0+)|,
            # holds because the (identical) claimed form is a sum of positive terms
            S.assert_nonnegative(CLAIMS[f"dsup{k}_{regime}"], f"(-1)^(k+1) kappa^({k})(0+) >= 0 ({regime})")


@step
def step_derivative_sup_is_attained_at_zero():
    r"""|kappa^(k)(s)| <= |kappa^(k)(0+)| for all s >= 0, k = 1..4 (the supremum property)."""
    for k in ORDERS:
        # general LIF with b > a (tau_s < tau_m): kappa^(k) = (-1)^k a/(b-a) (a^k e^{-as} - b^k e^{-bs})
        kappa = a / (b - a) * (sp.exp(-a * s) - sp.exp(-b * s))
        f = b**k * sp.exp(-b * s) - a**k * sp.exp(-a * s)
        S.assert_identity(sp.diff(kappa, s, k), (-1) ** (k + 1) * a / (b - a) * f, f"kappa^({k}) in terms of f")
        # (i) f(0) - f(s) = g(b) - g(a), g(y) = y^k (1 - e^{-ys}) increasing in y:
        g = x**k * (1 - sp.exp(-x * s))
        S.assert_identity(f.subs(s, 0) - f, g.subs(x, b) - g.subs(x, a), f"f(0) - f(s) ({k})")
        dg = sp.diff(g, x)
        S.assert_identity(dg, k * x ** (k - 1) * (1 - sp.exp(-x * s)) + x**k * s * sp.exp(-x * s), f"g' ({k})")
        # with e^{-xs} = 1/(1+v), v >= 0:
        S.assert_nonnegative(k * x ** (k - 1) * (1 - 1 / (1 + v)) + x**k * s / (1 + v), f"g' >= 0 ({k})")
        # (ii) -f has one critical point s1 (a maximum), with e^{-(b-a)s1} = (a/b)^{k+1}
        S.assert_identity(sp.diff(-f, s), sp.exp(-a * s) * (b ** (k + 1) * sp.exp(-(b - a) * s) - a ** (k + 1)),
                          f"(-f)' ({k})")
        # value there: with E = e^{-a s1} <= 1, e^{-b s1} = E (a/b)^{k+1}
        minus_f_s1 = a**k * E - b**k * E * (a / b) ** (k + 1)
        S.assert_identity(minus_f_s1, a**k * E * (1 - a / b), f"-f(s1) ({k})")
        # a^k (1 - a/b) <= b^k - a^k = f(0): with b = a + d, times b, a polynomial with coefficients >= 0
        S.assert_nonnegative(((b**k - a**k) - a**k * (1 - a / b)).subs(b, a + d) * (a + d), f"-f(s1) <= f(0) ({k})")
        # |kappa^(k)(0+)| = a (b^k - a^k)/(b - a) = a sum_j a^{k-1-j} b^j
        S.assert_identity(a / (b - a) * f.subs(s, 0), sum(a * a ** (k - 1 - j) * b**j for j in range(k)),
                          f"|kappa^({k})(0+)| sum form")
        # alpha: kappa^(k) = (-1)^k (s/tau - k) e^{-s/tau}/tau^k; |(y - k) e^{-y}| <= k
        S.assert_identity(S.kernel_derivative("alpha", k), (-1) ** k * (s / ts - k) * sp.exp(-s / ts) / ts**k,
                          f"alpha kappa^({k})")
        S.assert_identity(sp.diff((x - k) * sp.exp(-x), x), (k + 1 - x) * sp.exp(-x), f"alpha extremum ({k})")
        assert bool(sp.exp(-(k + 1)) < k), f"alpha: e^-(k+1) < k ({k})"
        # nlif: |kappa^(k)| = e^{-s/tau}/tau^k <= 1/tau^k
        S.assert_identity(sp.Abs(S.kernel_derivative("nlif", k)), sp.exp(-s / ts) / ts**k, f"nlif |kappa^({k})|")
    # tau_m < tau_s: swapping the time constants rescales the kernel, so sup/value-at-0 is unchanged
    S.assert_identity(S.kernel("general").subs({tm: ts, ts: tm}, simultaneous=True),
                      (tm / ts) * S.kernel("general"), "swap symmetry")


@step
def step_numeric_constants_match():
    """regularity.kernel_constants evaluates exactly the claims of Lemma 1."""
    cases = [(NLIF(tau_s=1.7), "nlif", {ts: 1.7}), (LIF(tau_m=0.8, tau_s=0.8), "alpha", {ts: 0.8}),
             (LIF(tau_m=2.2, tau_s=1.1), "double", {ts: 1.1}), (LIF(tau_m=3.0, tau_s=1.0), "general", {tm: 3.0, ts: 1.0}),
             (LIF(tau_m=1.0, tau_s=2.5), "general", {tm: 1.0, ts: 2.5}), (LIF(tau_m=1.001, tau_s=1.0), "general", {tm: 1.001, ts: 1.0})]
    for model, regime, vals in cases:
        c = R.kernel_constants(model)
        want = [CLAIMS[f"kappa_max_{regime}"]] + [CLAIMS[f"dsup{k}_{regime}"] for k in ORDERS]
        got = [c.kappa_max, c.kappa1_max, c.kappa2_max, c.kappa3_max, c.kappa4_max]
        np.testing.assert_allclose(got, [float(w.subs(vals)) for w in want], rtol=1e-10, err_msg=f"{model}")
        if regime != "nlif":
            np.testing.assert_allclose(c.peak_time, float(CLAIMS[f"peak_{regime}"].subs(vals)), rtol=1e-10)
            np.testing.assert_allclose(c.kappa_max, float(model.kernel(c.peak_time)), rtol=1e-12)


# ------------------------------------------------------------------------------- Theorem 1


@step
def step_implicit_gradients():
    """Differentiating V(t*(w, t_in)) = theta gives the engine's gradient formulas."""
    dv = S.implicit_spike_time_derivatives(3)
    S.assert_identity(dv.grad_w, S.spike_time_gradient_formula(dv), "dt*/dw")
    S.assert_identity(dv.grad_t, S.spike_time_input_gradient_formula(dv), "dt*/dt_in")
    # exact identities (Theorem 1 (e)): shift invariance and homogeneity
    S.assert_identity(sum(dv.grad_t), 1, "sum_j dt*/dt_j = 1")
    S.assert_identity(sum(wi * gi for wi, gi in zip(dv.w, dv.grad_w)), -dv.potential / dv.slope,
                      "sum_j w_j dt*/dw_j = -V(t*)/V'(t*) = -theta/V'")


@step
def step_implicit_hessian():
    """Second derivative of the identity: the engine's Hessian formula and its symmetric form."""
    dv = S.implicit_spike_time_derivatives(3)
    S.assert_identity(dv.hess_w, S.spike_time_hessian_formula(dv), "Hessian of t* in w")
    kap, k = sp.Matrix(dv.K0), sp.Matrix(dv.K1)
    form = (k * kap.T + kap * k.T) / dv.slope**2 - dv.curvature * kap * kap.T / dv.slope**3
    S.assert_identity(dv.hess_w, form, "H = (k kappa^T + kappa k^T)/V'^2 - V'' kappa kappa^T / V'^3")


@step
def step_rank_two_norms():
    """||k kappa^T + kappa k^T|| <= 2 ||k|| ||kappa|| in spectral and Frobenius norm."""
    k = sp.Matrix(sp.symbols("k1:4", real=True))
    q = sp.Matrix(sp.symbols("q1:4", real=True))
    nk, nq = sp.sqrt((k.T * k)[0]), sp.sqrt((q.T * q)[0])
    ip = (k.T * q)[0]
    M = k * q.T + q * k.T
    # eigenvectors nq k +- nk q with eigenvalues <k,q> +- ||k|| ||q|| (the rest of the spectrum is 0)
    for sign in (1, -1):
        vec = nq * k + sign * nk * q
        S.assert_identity(M * vec, (ip + sign * nk * nq) * vec, f"eigenpair ({sign:+d})")
    # Frobenius: ||M||_F^2 = 2 ||k||^2 ||q||^2 + 2 <k,q>^2
    S.assert_identity((M * M).trace(), 2 * nk**2 * nq**2 + 2 * ip**2, "Frobenius norm of M")
    # Cauchy-Schwarz via Lagrange's identity: ||k||^2||q||^2 - <k,q>^2 = sum_{i<j} (k_i q_j - k_j q_i)^2
    lagrange = sum((k[i] * q[j] - k[j] * q[i]) ** 2 for i in range(3) for j in range(i + 1, 3))
    S.assert_identity(nk**2 * nq**2 - ip**2, lagrange, "Lagrange identity")
    # ||kappa kappa^T||_2 = ||kappa kappa^T||_F = ||kappa||^2
    S.assert_identity((q * q.T * q), nq**2 * q, "kappa kappa^T eigenpair")
    S.assert_identity((q * q.T * q * q.T).trace(), nq**4, "Frobenius of kappa kappa^T")


@step
def step_bound_assembly():
    """The bounds of Theorem 1 are the triangle inequality with the Lemma 1 suprema substituted."""
    B = S.regularity_bound_expressions()
    n, sm, W, A = S.n_causal, S.s_min, S.w_max, S.w_l1
    km, k1, k2 = S.kappa_max, S.kappa1_max, S.kappa2_max
    norm_kappa, norm_k, vdd, slope = sp.symbols("norm_kappa norm_k vdd slope", positive=True)
    hess_triangle = 2 * norm_k * norm_kappa / slope**2 + vdd * norm_kappa**2 / slope**3
    sub = {norm_kappa: sp.sqrt(n) * km, norm_k: sp.sqrt(n) * k1, vdd: A * k2, slope: sm}
    S.assert_identity(hess_triangle.subs(sub), B["hessian"], "Hessian bound")
    S.assert_identity((norm_kappa / slope).subs(sub), B["dw_l2"], "||dt/dw||_2 bound")
    S.assert_identity(B["dw_l1"], n * B["dw_entry"], "||dt/dw||_1 bound")
    S.assert_identity(B["dt_l2"], sp.sqrt(n) * B["dt_entry"], "||dt/dt_in||_2 bound")
    S.assert_identity(B["curvature"], A * k2, "|V''| bound")
    # each bound is monotone: non-increasing in s_min, non-decreasing in n, W, A (so it holds on all of M(s_min))
    for key, expr in B.items():
        S.assert_nonnegative(-sp.diff(expr, sm), f"{key}: non-increasing in s_min")
        for var in (W, A, km, k1, k2):
            S.assert_nonnegative(sp.diff(expr, var), f"{key}: non-decreasing in {var}")


@step
def step_numeric_bounds_match():
    """regularity.* evaluate exactly the expressions of symbolic.regularity_bound_expressions."""
    B = S.regularity_bound_expressions()
    rng = np.random.default_rng(0)
    for model in (NLIF(tau_s=1.3), LIF(tau_m=1.0, tau_s=1.0), LIF(tau_m=2.0, tau_s=1.0), LIF(tau_m=3.0, tau_s=0.7)):
        c = R.kernel_constants(model)
        for _ in range(3):
            sm, n, W, tx = rng.uniform(0.05, 2), int(rng.integers(1, 20)), rng.uniform(0.1, 3), rng.uniform(0.2, 2)
            A = n * W
            vals = {S.s_min: sm, S.n_causal: n, S.w_max: W, S.w_l1: A, S.kappa_max: c.kappa_max,
                    S.kappa1_max: c.kappa1_max, S.kappa2_max: c.kappa2_max, S.tau_xi: tx}
            got = {
                "dw_entry": R.spike_time_weight_gradient_bound(model, sm, n, "entry").value,
                "dw_l2": R.spike_time_weight_gradient_bound(model, sm, n, "l2").value,
                "dw_l1": R.spike_time_weight_gradient_bound(model, sm, n, "l1").value,
                "dt_entry": R.spike_time_input_gradient_bound(model, sm, n, w_max=W, norm="entry").value,
                "dt_l2": R.spike_time_input_gradient_bound(model, sm, n, w_max=W, norm="l2").value,
                "dt_l1": R.spike_time_input_gradient_bound(model, sm, n, w_max=W, norm="l1").value,
                "curvature": R.potential_derivative_bound(model, 2, n, w_max=W).value,
                "hessian": R.spike_time_hessian_bound(model, sm, n, w_max=W).value,
                "loss_G": R.ttfs_loss_gradient_bound(model, sm, n, tx).value,
                "loss_L": R.ttfs_loss_smoothness_bound(model, sm, n, tx, w_max=W).value,
            }
            for key, value in got.items():
                np.testing.assert_allclose(value, float(B[key].subs(vals)), rtol=1e-12, err_msg=f"{key} {model}")


def run_checks() -> list[str]:
    """Run every step; return their names. Raises AssertionError at the first failing step."""
    return STEPS.run()


def latex_summary() -> str:
    """The LaTeX written to paper/generated/spike_time_regularity.tex (after the checks pass)."""
    L = S.latex
    B = S.regularity_bound_expressions()
    rows = []
    names = {"nlif": "NLIF", "alpha": r"LIF $\tau_m=\tau_s$", "double": r"LIF $\tau_m=2\tau_s$",
             "general": r"LIF general"}
    for regime in S.REGIMES:
        peak = r"$\infty$" if regime == "nlif" else f"${L(CLAIMS['peak_' + regime])}$"
        cells = [names[regime], peak, f"${L(CLAIMS['kappa_max_' + regime])}$"]
        cells += [f"${L(sp.simplify(CLAIMS[f'dsup{k}_{regime}']))}$" for k in (1, 2, 4)]
        rows.append(" & ".join(cells) + r" \\")
    lines = [
        "% Generated by proofs/check_spike_time_regularity.py after all checks passed. Do not edit.",
        r"\begin{tabular}{llllll}",
        r"model & $s_p$ & $\kappa_{\max}$ & $\kappa'_{\max}$ & $\kappa''_{\max}$ & $\kappa''''_{\max}$ \\ \hline",
        *rows,
        r"\end{tabular}",
        "",
        r"\begin{align}",
        rf"\Big|\frac{{\partial t^*}}{{\partial w_j}}\Big| &\le {L(B['dw_entry'])}, &"
        rf"\|\nabla_w t^*\|_2 &\le {L(B['dw_l2'])}, \\",
        rf"\Big|\frac{{\partial t^*}}{{\partial t_j}}\Big| &\le {L(B['dt_entry'])}, &"
        rf"\|\nabla_{{t_\mathrm{{in}}}} t^*\|_1 &\le {L(B['dt_l1'])}, \\",
        rf"\|\nabla^2_w t^*\|_{{2,F}} &\le {L(B['hessian'])}. \notag",
        r"\end{align}",
    ]
    return "\n".join(lines) + "\n"


def main(out_dir=None) -> Path:
    """Run the checks, then write ``<out_dir>/spike_time_regularity.tex``; return its path."""
    run_checks()
    out = Path(out_dir) if out_dir is not None else ROOT / "paper" / "generated"
    # the statement is the front matter of proofs/<NAME>.md; the display is what this check derived
    text = theorem_tex(read_statement(NAME), latex_summary(), "proofs/check_spike_time_regularity.py")
    return write_text_atomic(text, out / f"{NAME}.tex")


if __name__ == "__main__":
    print(f"{NAME}: {len(STEPS)} steps passed; wrote {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
