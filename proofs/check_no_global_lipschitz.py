r"""Check of proofs/no_global_lipschitz.md (Proposition 1: no global Lipschitz constant).

The algebraic steps are re-derived with sympy and asserted (conventions as in
check_spike_time_regularity.py); the last step evaluates the four counterexamples with the
analytic engine for every model (finite spike time versus none, jumps, one-sided derivatives).
Run ``python proofs/check_no_global_lipschitz.py [OUT_DIR]`` to check and write
``OUT_DIR/no_global_lipschitz.tex`` (default ``paper/generated``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fsnn_theory.neurons import LIF, NLIF  # noqa: E402
from fsnn_theory.theory import regularity as R  # noqa: E402
from fsnn_theory.files import write_text_atomic  # noqa: E402
from fsnn_theory.theory.statements import read_statement, theorem_tex  # noqa: E402
from fsnn_theory.theory import symbolic as S  # noqa: E402

NAME = "no_global_lipschitz"

th, ts, s = S.theta, S.tau_s, S.s
a, b, delta, D, v, km, w = sp.symbols("a b delta D v kappa_max w", positive=True)
MODELS = (NLIF(tau_s=1.0), LIF(tau_m=1.0, tau_s=1.0), LIF(tau_m=2.0, tau_s=1.0),
          LIF(tau_m=3.0, tau_s=1.0, theta=0.7), LIF(tau_m=1.0, tau_s=2.5, theta=0.5))

# The proof's claims, literally.
CLAIMS: dict[str, sp.Expr] = {
    # grazing: slope at the crossing <= sqrt(2 D theta delta), D = w sup|kappa''|
    "grazing_slope_sq": 2 * D * th * delta,
    # NLIF single input: t* = tau ln(w/(w - theta)), dt*/dw = -tau theta/(w (w - theta))
    "nlif_t": ts * sp.log(w / (w - th)),
    "nlif_dt_dw": -ts * th / (w * (w - th)),
    # inflection of the LIF kernel at twice the peak time (a = 1/tau_m, b = 1/tau_s)
    "inflection_over_peak": sp.Integer(2),
    # gradient jump at a causal-set change: d_above - d_below = -kappa_1 w_2 kappa'(0+)/(S_above S_below)
    "kink_jump": lambda K01, w1, K11, w2, K12: -K01 * w2 * K12 / ((w1 * K11) * (w1 * K11 + w2 * K12)),
}

STEPS = S.ProofSteps()
step = STEPS.step


@step
def step_grazing():
    """(a) w < w_c: V <= w kappa_max < theta, silent; w > w_c: V(s_p) > theta; the slope -> 0."""
    wc = th / km
    S.assert_identity(th - wc * (1 - delta) * km, th * delta, "theta - V_max below w_c")
    S.assert_identity(wc * (1 + delta) * km - th, th * delta, "V(s_p) - theta above w_c")
    # slope at the crossing: V' decreases at rate <= D from v = V'(t*) to 0 at the peak, so
    # V(s_p) - theta >= int_0^{v/D} (v - D x) dx = v^2/(2D); with V(s_p) - theta = theta delta:
    xx = sp.Symbol("x", nonnegative=True)
    area = sp.integrate(v - D * xx, (xx, 0, v / D))
    S.assert_identity(area, v**2 / (2 * D), "area under the slope")
    # the largest slope compatible with area <= theta delta: solve area = theta delta for v
    roots = [r for r in sp.solve(sp.Eq(area, th * delta), v) if r.is_positive is not False]
    assert len(roots) == 1, f"one positive slope bound, got {roots}"
    S.assert_identity(roots[0] ** 2, CLAIMS["grazing_slope_sq"], "v^2 <= 2 D theta delta")
    # NLIF: no peak; t* = tau ln(w/(w - theta)) diverges with an unbounded derivative
    t_n = CLAIMS["nlif_t"]
    S.assert_identity((1 - sp.exp(-t_n / ts)) * w, th, "NLIF single input: V(t*) = theta")
    S.assert_identity(sp.diff(t_n, w), CLAIMS["nlif_dt_dw"], "NLIF dt*/dw")
    assert sp.limit(CLAIMS["nlif_dt_dw"], w, th, "+") == -sp.oo, "NLIF derivative unbounded as w -> theta+"


@step
def step_late_rescue():
    """(b) a second input of weight 2 w_c at t_2 fires the neuron by t_2 + s_p whatever input 1 does."""
    # for each kernel regime: the peak is solved from kappa' = 0 (symbolic.kernel_extrema), w_c = theta/kappa_max,
    # and V(t_2 + s_p) - theta >= 2 w_c kappa(s_p) - theta (input 1 excitatory) is evaluated there
    for regime in ("alpha", "double"):
        kappa = S.kernel(regime)
        peak = sp.solve(sp.diff(kappa, s), s)
        assert len(peak) == 1, f"{regime}: one peak"
        kmax = sp.simplify(kappa.subs(s, peak[0]))
        S.assert_identity(kmax, S.kernel_extrema(regime).kappa_max, f"{regime}: kappa_max at the solved peak")
        S.assert_identity(2 * (th / kmax) * kappa.subs(s, peak[0]) - th, th, f"{regime}: V(t_2 + s_p) - theta = theta > 0")


@step
def step_inhibitory_cutoff():
    """(c) kappa' is decreasing up to twice the peak time; kappa(t) - kappa(t - c) <= kappa(c)."""
    kappa = a / (b - a) * (sp.exp(-a * s) - sp.exp(-b * s))
    kpp = sp.diff(kappa, s, 2)
    S.assert_identity(kpp, a / (b - a) * sp.exp(-a * s) * (a**2 - b**2 * sp.exp(-(b - a) * s)), "kappa''")
    # kappa'' = 0 at e^{-(b-a)s} = (a/b)^2, kappa' = 0 at e^{-(b-a)s} = a/b: ratio of the times = 2
    s_peak = sp.log(b / a) / (b - a)
    s_infl = sp.log((b / a) ** 2) / (b - a)
    S.assert_identity(sp.diff(kappa, s), a / (b - a) * sp.exp(-a * s) * (b * sp.exp(-(b - a) * s) - a), "kappa'")
    S.assert_identity((b * sp.exp(-(b - a) * s) - a).subs(s, s_peak), 0, "kappa'(s_p) = 0")
    S.assert_identity((a**2 - b**2 * sp.exp(-(b - a) * s)).subs(s, s_infl), 0, "kappa''(s_i) = 0")
    S.assert_identity(sp.expand_log(s_infl / s_peak, force=True), CLAIMS["inflection_over_peak"], "s_i = 2 s_p")
    # NLIF: kappa(t) - kappa(t - c) = e^{-t/tau}(e^{c/tau} - 1), decreasing in t
    c = sp.Symbol("c", positive=True)
    tt = sp.Symbol("t", positive=True)
    kn = S.kernel("nlif")
    S.assert_identity(kn.subs(s, tt) - kn.subs(s, tt - c), sp.exp(-tt / ts) * (sp.exp(c / ts) - 1), "NLIF window")


@step
def step_causal_kink():
    """(d) the gradient in w_1 jumps where input 2 enters the causal set (kappa(0) = 0, kappa'(0+) > 0)."""
    one = S.implicit_spike_time_derivatives(1)
    two = S.implicit_spike_time_derivatives(2)
    # at t* = t_2: input 2 contributes kappa(0) = 0 to V but w_2 kappa'(0+) to the slope
    at_entry = {two.K0[1]: 0}
    above = one.grad_w[0].subs({one.K0[0]: two.K0[0], one.K1[0]: two.K1[0], one.w[0]: two.w[0]})
    below = two.grad_w[0].subs(at_entry)
    jump = CLAIMS["kink_jump"](two.K0[0], two.w[0], two.K1[0], two.w[1], two.K1[1])
    S.assert_identity(above - below, jump, "one-sided derivatives differ")
    # t* itself is continuous there: V(t_2) is the same with or without input 2
    S.assert_identity(two.potential.subs(at_entry), one.potential.subs(
        {one.K0[0]: two.K0[0], one.w[0]: two.w[0]}), "V unchanged at the entry")


@step
def step_engine_witnesses():
    """The four counterexamples evaluated with the analytic engine, for every model."""
    for model in MODELS:
        for delta_ in (1e-2, 1e-4):
            ex = R.inhibitory_cutoff_example(model, delta_)
            before = model.first_spike_times(ex.input_times, ex.weights_before)[0, 0]
            slope = model.slope_at_threshold(ex.input_times, ex.weights_before)[0, 0]
            after = model.first_spike_times(ex.input_times, ex.weights_after)[0, 0]
            t_cut = ex.input_times[0, 1]
            limit = model.theta * float(model.kernel_derivative(t_cut)) / float(model.kernel(t_cut))
            assert np.isfinite(before) and before < t_cut and np.isinf(after), f"{model}: cutoff"
            assert slope >= limit * (1 - delta_), f"{model}: slope {slope} < limit {limit}"
            if isinstance(model, LIF):
                g = R.grazing_example(model, delta_)
                assert np.isfinite(model.first_spike_times(g.input_times, g.weights_before)[0, 0])
                assert np.isinf(model.first_spike_times(g.input_times, g.weights_after)[0, 0])
                lr = R.late_rescue_example(model, delta_)
                t_b = model.first_spike_times(lr.input_times, lr.weights_before)[0, 0]
                t_a = model.first_spike_times(lr.input_times, lr.weights_after)[0, 0]
                assert t_a - t_b >= 2.0 * model.tau_m, f"{model}: late rescue jump {t_a - t_b}"
        k = R.causal_kink_example(model)
        hstep = 1e-7 * k.w1_critical
        f = lambda w1: model.first_spike_times(k.input_times, k.weights(w1))[0, 0]  # noqa: E731
        d_above = (f(k.w1_critical + 2 * hstep) - f(k.w1_critical + hstep)) / hstep
        d_below = (f(k.w1_critical - hstep) - f(k.w1_critical - 2 * hstep)) / hstep
        np.testing.assert_allclose([d_above, d_below], [k.derivative_above, k.derivative_below], rtol=1e-4)
        assert abs(k.derivative_above - k.derivative_below) > 0.05 * abs(k.derivative_above), f"{model}: no kink"


def run_checks() -> list[str]:
    """Run every step; return their names. Raises AssertionError at the first failing step."""
    return STEPS.run()


def latex_summary() -> str:
    rows = []
    for model in MODELS:
        ex = R.inhibitory_cutoff_example(model, 1e-4)
        t_b = model.first_spike_times(ex.input_times, ex.weights_before)[0, 0]
        sl = model.slope_at_threshold(ex.input_times, ex.weights_before)[0, 0]
        k = R.causal_kink_example(model)
        name = "NLIF" if isinstance(model, NLIF) else rf"LIF $\tau_m={model.tau_m:g},\tau_s={model.tau_s:g}$"
        rows.append(f"{name} & {ex.perturbation:.2g} & {t_b:.3f} & $\\infty$ & {sl:.3f} & "
                    f"{k.derivative_above:.4f} & {k.derivative_below:.4f} \\\\")
    return "\n".join([
        "% Generated by proofs/check_no_global_lipschitz.py after all checks passed. Do not edit.",
        r"\begin{tabular}{lrrrrrr}",
        r"model & $\|\Delta w\|_\infty$ & $t^*$ before & $t^*$ after & $\dot V(t^*)$ before & "
        r"$\partial_{w_1}t^*|_\downarrow$ & $\partial_{w_1}t^*|_\uparrow$ \\ \hline",
        *rows,
        r"\end{tabular}",
    ]) + "\n"


def main(out_dir=None) -> Path:
    run_checks()
    out = Path(out_dir) if out_dir is not None else ROOT / "paper" / "generated"
    # the statement is the front matter of proofs/<NAME>.md; the display is what this check derived
    text = theorem_tex(read_statement(NAME), latex_summary(), "proofs/check_no_global_lipschitz.py")
    return write_text_atomic(text, out / f"{NAME}.tex")


if __name__ == "__main__":
    print(f"{NAME}: {len(STEPS)} steps passed; wrote {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
