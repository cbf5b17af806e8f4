"""Theorem 1, Corollary 1, Proposition 1 and Theorem 2 (fsnn_theory.theory.regularity) against
independent computations.

Independent references used here:
- kernel suprema: dense grids of the kernel derivatives written as sums of exponentials
  (a different formula from the library's closed forms) and a grid argmax;
- gradient bounds: the engine's gradients; Hessian bounds: central finite differences of the
  engine's gradients (not the engine's Hessian);
- loss derivatives: finite differences of the loss computed from first-spike times only;
- clock-driven errors: grid scans of the exact potential, a hand-computed NLIF case, convergence
  orders, and (slow) Brian2 itself via fsnn_theory.brian.
Every upper bound is checked as ``measured <= bound`` (PEPit-style: the label picks the test).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsnn_theory.neurons import LIF, NLIF, spike_time_gradients
from fsnn_theory.theory import regularity as R

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

MODELS = [
    NLIF(tau_s=1.0, theta=1.0),
    LIF(tau_m=1.0, tau_s=1.0, theta=1.0),
    LIF(tau_m=2.0, tau_s=1.0, theta=1.0),
    LIF(tau_m=3.0, tau_s=1.0, theta=0.7),
    LIF(tau_m=1.0, tau_s=2.5, theta=0.5),
]
IDS = ["nlif", "lif-alpha", "lif-double", "lif-3to1", "lif-1to2.5"]
RTOL = 1e-9


def kernel_derivative_grid(model, s, order):
    """kappa^(k)(s) from the sum of exponentials (or the alpha formula), independent of the library."""
    if isinstance(model, NLIF):
        return -((-1.0 / model.tau_s) ** order) * np.exp(-s / model.tau_s)
    tm, ts = model.tau_m, model.tau_s
    if tm == ts:
        # d^k/ds^k (s/t) e^{-s/t} = (-1)^k (s/t - k) e^{-s/t} / t^k  (Leibniz)
        return (-1.0) ** order * (s / ts - order) * np.exp(-s / ts) / ts**order
    c = ts / (tm - ts)
    return c * ((-1.0 / tm) ** order * np.exp(-s / tm) - (-1.0 / ts) ** order * np.exp(-s / ts))


# --------------------------------------------------------------------------- Lemma 1


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_kernel_constants_are_the_suprema(model):
    c = R.kernel_constants(model)
    s = np.concatenate([np.geomspace(1e-9, 1e-2, 200), np.linspace(1e-2, 60.0, 200001)])
    k = model.kernel(s)
    assert k.max() <= c.kappa_max * (1 + 1e-12)
    if isinstance(model, LIF):
        np.testing.assert_allclose(k.max(), c.kappa_max, rtol=1e-7)  # grid step 3e-4
        np.testing.assert_allclose(s[np.argmax(k)], c.peak_time, atol=1e-3)
    else:
        assert c.peak_time == math.inf and k[-1] > 1 - 1e-12
    for order in (1, 2, 3, 4):
        vals = np.abs(kernel_derivative_grid(model, s, order))
        assert vals.max() <= c.derivative_sup(order) * (1 + 1e-12)
        np.testing.assert_allclose(vals[0], c.derivative_sup(order), rtol=1e-6)  # attained at 0+
    # the library's own kernel derivatives agree with the independent formula
    np.testing.assert_allclose(model.kernel_derivative(s[::97]), kernel_derivative_grid(model, s[::97], 1), rtol=1e-9, atol=1e-15)


def test_kernel_constants_by_hand():
    c = R.kernel_constants(LIF(tau_m=2.0, tau_s=1.0))
    np.testing.assert_allclose([c.kappa_max, c.peak_time, c.kappa1_max, c.kappa2_max, c.kappa4_max],
                               [0.25, 2 * math.log(2), 1 / 2, 3 / 4, 15 / 16], rtol=1e-14)
    c = R.kernel_constants(LIF(tau_m=1.5, tau_s=1.5))
    np.testing.assert_allclose([c.kappa_max, c.kappa1_max, c.kappa2_max, c.kappa4_max],
                               [math.exp(-1), 1 / 1.5, 2 / 1.5**2, 4 / 1.5**4], rtol=1e-14)
    # nearby time constants: continuous in tau_m (no cancellation)
    near = R.kernel_constants(LIF(tau_m=1.0 + 1e-9, tau_s=1.0))
    np.testing.assert_allclose(near.kappa_max, math.exp(-1), rtol=1e-8)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: R.spike_time_weight_gradient_bound(LIF(), 0.0), "s_min"),
        (lambda: R.spike_time_weight_gradient_bound(LIF(), 0.1, 0), "n_causal"),
        (lambda: R.spike_time_weight_gradient_bound(LIF(), 0.1, 2.5), "n_causal"),
        (lambda: R.spike_time_weight_gradient_bound(LIF(), 0.1, 2, norm="max"), "norm"),
        (lambda: R.spike_time_weight_gradient_bound("lif", 0.1), "model"),
        (lambda: R.spike_time_hessian_bound(LIF(), 0.1, 3), "weight bound"),
        (lambda: R.spike_time_input_gradient_bound(LIF(), 0.1, 3, w_l1=1.0, norm="entry"), "w_max"),
        (lambda: R.spike_time_hessian_bound(LIF(), np.nan, 3, w_max=1.0), "NaN"),
        (lambda: R.potential_derivative_bound(LIF(), 5, 3, w_max=1.0), "order"),
        (lambda: R.ttfs_loss_gradient_bound(LIF(), 0.1, 3, 0.0), "tau_xi"),
        (lambda: R.clock_driven_error_bound(1.0, 0.1, 1.0), "dt"),
        (lambda: R.interpolated_crossing_error_bound(0.01, 0.1, 1.0, method="hermite"), "fourth"),
        (lambda: R.interpolated_crossing_error_bound(0.2, 0.1, 1.0), "dt"),
        (lambda: R.crossing_radius(1.0, 0.1, 1.0), "epsilon"),
        (lambda: R.grazing_example(LIF(), 1.5), "delta"),
        (lambda: R.late_rescue_example(NLIF(), 0.1), "LIF"),
        (lambda: R.inhibitory_cutoff_example(LIF(1.0, 1.0), 0.1, t_cut=1.0), "t_cut"),
        (lambda: R.causal_kink_example(LIF(1.0, 1.0), t2=3.0), "rising flank"),
        (lambda: R.causal_kink_example(LIF(2.0, 1.0), w2=-100.0), "w2"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bounds_broadcast_and_carry_their_label():
    m = LIF(tau_m=2.0, tau_s=1.0)
    b = R.spike_time_hessian_bound(m, np.array([0.1, 0.2]), np.array([[3], [4]]), w_max=1.0)
    assert b.kind == "upper" and b.value.shape == (2, 2)
    assert R.spike_time_weight_gradient_lower_bound(1.0, 0.5, 2.0).kind == "lower"
    assert R.clock_driven_error_bound(0.01, 1.0, 1.0).kind == "upper"
    # the minimum of the two weight bounds is used: A = min(n W, W_1)
    np.testing.assert_allclose(R.potential_derivative_bound(m, 2, 4, w_max=1.0, w_l1=2.0).value, 2.0 * 0.75)
    np.testing.assert_allclose(R.potential_derivative_bound(m, 2, 4, w_max=0.1, w_l1=2.0).value, 0.4 * 0.75)
    # monotone in s_min: the bound at s_min covers every slope >= s_min
    vals = R.spike_time_hessian_bound(m, np.array([0.1, 0.2, 0.4]), 5, w_max=1.0).value
    assert np.all(np.diff(vals) < 0)


# --------------------------------------------------------------------------- Theorem 1


def random_layer(model, rng, patterns=30, n_in=5, n_out=40):
    tau = max(model.time_constants)
    t_in = rng.uniform(0, 2 * tau, size=(patterns, n_in))
    scale = model.theta / (R.kernel_constants(model).kappa_max * n_in)
    return t_in, rng.normal(2.5 * scale, 3 * scale, size=(n_in, n_out))


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_gradient_bounds_hold_on_the_margin_set(model):
    rng = np.random.default_rng(11)
    t_in, w = random_layer(model, rng)
    t_star = model.first_spike_times(t_in, w)
    slope = model.slope_at_threshold(t_in, w)
    g_w, g_t = spike_time_gradients(model, t_in, w)
    s_min = 0.05
    fires = np.isfinite(t_star) & (slope >= s_min)
    assert fires.sum() > 200  # enough samples on the margin set
    causal = fires[:, None, :] & (t_in[:, :, None] < t_star[:, None, :])
    n = causal.sum(axis=1)[fires]
    w_c = np.where(causal, w[None], 0.0)
    w_inf, w_l1 = np.abs(w_c).max(axis=1)[fires], np.abs(w_c).sum(axis=1)[fires]
    gw, gt = np.moveaxis(g_w, 1, 2)[fires], np.moveaxis(g_t, 1, 2)[fires]  # (samples, n_in)
    for s_used in (s_min, slope[fires]):  # class margin and each sample's own slope
        assert R.spike_time_weight_gradient_bound(model, s_used, n, "entry").holds(np.abs(gw).max(1), rtol=RTOL).all()
        assert R.spike_time_weight_gradient_bound(model, s_used, n, "l2").holds(np.linalg.norm(gw, axis=1), rtol=RTOL).all()
        assert R.spike_time_weight_gradient_bound(model, s_used, n, "l1").holds(np.abs(gw).sum(1), rtol=RTOL).all()
        b = R.spike_time_input_gradient_bound(model, s_used, n, w_max=w_inf, norm="entry")
        assert b.holds(np.abs(gt).max(1), rtol=RTOL).all()
        b = R.spike_time_input_gradient_bound(model, s_used, n, w_max=w_inf, w_l1=w_l1, norm="l2")
        assert b.holds(np.linalg.norm(gt, axis=1), rtol=RTOL).all()
        b = R.spike_time_input_gradient_bound(model, s_used, n, w_l1=w_l1, norm="l1")
        assert b.holds(np.abs(gt).sum(1), rtol=RTOL).all()
    # exact identities and lower bounds (Theorem 1 (e))
    np.testing.assert_allclose(gt.sum(axis=1), 1.0, atol=1e-9)
    wf = np.moveaxis(w_c, 1, 2)[fires]
    np.testing.assert_allclose((wf * gw).sum(axis=1), -model.theta / slope[fires], rtol=1e-9)
    lower = R.spike_time_weight_gradient_lower_bound(model.theta, slope[fires], np.linalg.norm(wf, axis=1))
    assert lower.holds(np.linalg.norm(gw, axis=1), rtol=RTOL).all()
    assert R.spike_time_input_gradient_lower_bound(n, "l1").holds(np.abs(gt).sum(1), rtol=RTOL).all()


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_hessian_bound_against_finite_differences(model):
    rng = np.random.default_rng(12)
    t_in, w = random_layer(model, rng, patterns=1, n_in=4, n_out=60)
    t_star = model.first_spike_times(t_in, w)[0]
    slope = model.slope_at_threshold(t_in, w)[0]
    keep = np.isfinite(t_star) & (slope > 0.05)
    w = w[:, keep][:, :12]
    t_star, slope = t_star[keep][:12], slope[keep][:12]
    n_in = w.shape[0]
    eps = 1e-6
    hess = np.zeros((w.shape[1], n_in, n_in))
    for i in range(n_in):  # central differences of the engine's gradient, one weight at a time
        up, dn = w.copy(), w.copy()
        up[i] += eps
        dn[i] -= eps
        hess[:, :, i] = ((spike_time_gradients(model, t_in, up)[0] - spike_time_gradients(model, t_in, dn)[0])[0] / (2 * eps)).T
    hess = 0.5 * (hess + hess.transpose(0, 2, 1))
    causal = t_in[0][:, None] < t_star[None, :]
    n = causal.sum(axis=0)
    w_c = np.where(causal, w, 0.0)
    b = R.spike_time_hessian_bound(model, slope, n, w_max=np.abs(w_c).max(0), w_l1=np.abs(w_c).sum(0))
    assert b.holds(np.abs(np.linalg.eigvalsh(hess)).max(-1) * (1 - 1e-4), rtol=RTOL).all()
    assert b.holds(np.sqrt((hess**2).sum(axis=(1, 2))) * (1 - 1e-4), rtol=RTOL).all()


@pytest.mark.parametrize("model", MODELS[1:], ids=IDS[1:])
def test_entry_gradient_bound_is_attained(model):
    """Crossing at the kernel peak of input 1 with slope s: |dt*/dw_1| = kappa_max / s exactly."""
    c = R.kernel_constants(model)
    sp_, s = c.peak_time, 0.3
    t2 = 0.5 * sp_
    w2 = s / float(model.kernel_derivative(sp_ - t2))
    w1 = (model.theta - w2 * float(model.kernel(sp_ - t2))) / c.kappa_max
    assert w1 > 0 and w2 > 0  # V increasing on [0, s_p]: the crossing at s_p is the first
    t_in, w = np.array([[0.0, t2]]), np.array([[w1], [w2]])
    np.testing.assert_allclose(model.first_spike_times(t_in, w)[0, 0], sp_, rtol=1e-9)
    np.testing.assert_allclose(model.slope_at_threshold(t_in, w)[0, 0], s, rtol=1e-7)
    g = spike_time_gradients(model, t_in, w)[0][0, 0, 0]
    bound = R.spike_time_weight_gradient_bound(model, s, 2, "entry").value
    np.testing.assert_allclose(abs(g), bound, rtol=1e-6)


# --------------------------------------------------------------------------- Corollary 1


def loss_of(model, t_in, w, labels, tau_xi):
    t = model.first_spike_times(t_in, w)
    z = -t / tau_xi
    return -(z[np.arange(len(labels)), labels] - np.log(np.exp(z).sum(axis=1)))


@pytest.mark.parametrize("model", MODELS[:3], ids=IDS[:3])
def test_loss_derivatives_and_bounds(model):
    from experiments.regularity_check import loss_derivatives

    rng = np.random.default_rng(13)
    t_in, w = random_layer(model, rng, patterns=40, n_in=4, n_out=3)
    labels = rng.integers(0, 3, size=(40, 1))
    tau_xi = 0.5
    d = loss_derivatives(model, t_in, w, labels, tau_xi, 3)
    ok = np.flatnonzero(d["ok"][:, 0])
    assert ok.size >= 3
    eps = 1e-5
    for b in ok[:3]:  # finite differences of the loss from spike times alone
        f = lambda ww: loss_of(model, t_in[b : b + 1], ww.reshape(w.shape), labels[b], tau_xi)[0]  # noqa: E731
        x0 = w.ravel()
        grad = np.array([(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in np.eye(x0.size)])
        np.testing.assert_allclose(np.linalg.norm(grad), d["grad"][b, 0], rtol=1e-5)
        h = 1e-4
        hess = np.array([[(f(x0 + h * (ei + ej)) - f(x0 + h * (ei - ej)) - f(x0 - h * (ei - ej)) + f(x0 - h * (ei + ej)))
                          / (4 * h * h) for ej in np.eye(x0.size)] for ei in np.eye(x0.size)])
        np.testing.assert_allclose(np.abs(np.linalg.eigvalsh(hess)).max(), d["hess"][b, 0], rtol=2e-3)
    sel = d["ok"] & (d["slope"] > 0)
    G = R.ttfs_loss_gradient_bound(model, d["slope"][sel], np.maximum(d["n_causal"][sel], 1), tau_xi)
    L = R.ttfs_loss_smoothness_bound(model, d["slope"][sel], np.maximum(d["n_causal"][sel], 1), tau_xi,
                                     w_max=d["w_inf"][sel], w_l1=d["w_l1"][sel])
    assert G.holds(d["grad"][sel], rtol=RTOL).all() and L.holds(d["hess"][sel], rtol=RTOL).all()


def test_softmax_hessian_norm_is_at_most_one_half():
    rng = np.random.default_rng(14)
    z = rng.normal(0, 3, size=(2000, 5))
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    m = p[:, :, None] * np.eye(5) - p[:, :, None] * p[:, None, :]
    top = np.linalg.eigvalsh(m)[:, -1]
    assert top.max() <= 0.5 + 1e-12
    np.testing.assert_allclose(np.linalg.eigvalsh(np.diag([0.5, 0.5]) - 0.25)[-1], 0.5)  # attained


# --------------------------------------------------------------------------- Proposition 1


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_spike_vanishes_under_small_perturbations(model):
    for delta in (1e-3, 1e-6):
        ex = R.inhibitory_cutoff_example(model, delta)
        before = model.first_spike_times(ex.input_times, ex.weights_before)[0, 0]
        after = model.first_spike_times(ex.input_times, ex.weights_after)[0, 0]
        slope = model.slope_at_threshold(ex.input_times, ex.weights_before)[0, 0]
        assert np.isfinite(before) and np.isinf(after) and ex.perturbation < 3 * delta * ex.weights_before[0, 0]
        assert slope > 0.2 * model.theta / max(model.time_constants)  # the margin does not shrink with delta
        if isinstance(model, LIF):
            g = R.grazing_example(model, delta)
            assert np.isfinite(model.first_spike_times(g.input_times, g.weights_before)[0, 0])
            assert np.isinf(model.first_spike_times(g.input_times, g.weights_after)[0, 0])
            lr = R.late_rescue_example(model, delta, gap=2.0)
            jump = (model.first_spike_times(lr.input_times, lr.weights_after)
                    - model.first_spike_times(lr.input_times, lr.weights_before))[0, 0]
            assert jump > 2.0 * model.tau_m  # a finite jump; the Lipschitz quotient is >= jump / perturbation


def test_nlif_spike_time_diverges_continuously():
    m = NLIF(tau_s=1.0, theta=1.0)
    w = 1.0 + np.geomspace(1e-2, 1e-8, 4)
    t = m.first_spike_times(np.zeros((1, 1)), w[None, :])[0]
    np.testing.assert_allclose(t, np.log(w / (w - 1.0)), rtol=1e-9)  # hand formula, unbounded


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_gradient_jumps_where_the_causal_set_changes(model):
    k = R.causal_kink_example(model, t2=0.5, w2=0.5)
    f = lambda w1: model.first_spike_times(k.input_times, k.weights(w1))[0, 0]  # noqa: E731
    h = 1e-7 * k.w1_critical
    above = (f(k.w1_critical + 2 * h) - f(k.w1_critical + h)) / h
    below = (f(k.w1_critical - h) - f(k.w1_critical - 2 * h)) / h
    np.testing.assert_allclose([above, below], [k.derivative_above, k.derivative_below], rtol=1e-4)
    assert abs(above - below) > 0.05 * abs(above)
    np.testing.assert_allclose(f(k.w1_critical), k.input_times[0, 1], rtol=1e-9)  # t* itself is continuous


# --------------------------------------------------------------------------- Theorem 2


def test_crossing_radius_by_hand():
    # s = 1, D = 1, eps = 3/8: smaller root of u - u^2/2 = 3/8 is u = 1/2
    np.testing.assert_allclose(R.crossing_radius(0.375, 1.0, 1.0).value, 0.5)
    np.testing.assert_allclose(R.crossing_radius(1e-8, 2.0, 5.0).value, 1e-8 / 2.0, rtol=1e-7)


def test_nlif_plain_scheme_by_hand():
    """One input at 0: t* = tau ln(w/(w-theta)); the plain time is the next grid point."""
    from experiments.regularity_check import grid_crossings

    m = NLIF(tau_s=1.0, theta=1.0)
    w = np.array([[1.3, 2.0, 5.0]])
    t_star = np.log(w / (w - 1.0))[0]
    for dt in (2.0**-4, 2.0**-6):
        plain, lin, herm = grid_crossings(m, np.zeros((1, 1)), w, dt, 4.0)
        np.testing.assert_allclose(plain[0], np.ceil(t_star / dt) * dt)
        d2 = w[0] * R.kernel_constants(m).kappa2_max
        slope = (w[0] - 1.0) / m.tau_s  # V' = w e^{-t/tau}/tau = (w - theta)/tau at t*
        assert R.interpolated_crossing_error_bound(dt, slope, d2).holds(np.abs(lin[0] - t_star)).all()
        assert R.interpolated_crossing_error_bound(dt, slope, d2, w[0], "hermite").holds(np.abs(herm[0] - t_star)).all()


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_interpolation_orders(model):
    """Halving dt divides the linear error by ~4 and the Hermite error by ~16 (Theorem 2 orders)."""
    from experiments.regularity_check import grid_crossings

    rng = np.random.default_rng(15)
    t_in = 0.125 * rng.integers(0, 16, size=(12, 4)).astype(float)
    _, w = random_layer(model, rng, 1, 4, 3)
    t_star = model.first_spike_times(t_in, w)
    ok = np.isfinite(t_star) & (model.slope_at_threshold(t_in, w) > 0.1)
    errs = []
    for dt in (2.0**-6, 2.0**-7):
        _, lin, herm = grid_crossings(model, t_in, w, dt, 10.0)
        errs.append((np.abs(lin - t_star)[ok].max(), np.abs(herm - t_star)[ok].max()))
    assert 2.5 < errs[0][0] / errs[1][0] < 6.0
    assert 8.0 < errs[0][1] / errs[1][1] < 32.0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyparsing, inside Brian2's parser
def test_brian2_errors_obey_theorem_2():
    """Brian2 itself (fsnn_theory.brian): plain in [0, dt), linear and cubic within their bounds."""
    from fsnn_theory.brian import simulate_first_spikes

    model = LIF(tau_m=2.0, tau_s=1.0)
    rng = np.random.default_rng(16)
    t_in = 0.125 * rng.integers(0, 16, size=(30, 5)).astype(float)
    _, w = random_layer(model, rng, 1, 5, 3)
    t_star = model.first_spike_times(t_in, w)
    slope = model.slope_at_threshold(t_in, w)
    causal = t_in[:, :, None] < t_star[:, None, :]
    a = np.abs(np.where(causal, w[None], 0.0)).sum(axis=1)
    c = R.kernel_constants(model)
    dt = 2.0**-5
    ok = np.isfinite(t_star) & (slope > 0) & (dt <= slope / (a * c.kappa2_max)) & (t_star < 10)
    assert ok.sum() > 30
    d2, d4 = (a * c.kappa2_max)[ok], (a * c.kappa4_max)[ok]
    plain = simulate_first_spikes(model, t_in, w, dt, 12.0, interpolate="none")
    err = (plain - t_star)[ok]
    assert (err >= -1e-9).all() and (err < dt).all()
    assert err.max() > 0.5 * dt  # first order: the whole step is used
    # Brian2 integrates in float64 seconds: allow rounding of the state (1e-10 ms) on top of the bounds
    lin = simulate_first_spikes(model, t_in, w, dt, 12.0, interpolate="linear")
    bound = R.interpolated_crossing_error_bound(dt, slope[ok], d2, method="linear")
    assert bound.holds(np.abs(lin - t_star)[ok], atol=1e-10).all()
    herm = simulate_first_spikes(model, t_in, w, dt, 12.0, interpolate="cubic")
    bound = R.interpolated_crossing_error_bound(dt, slope[ok], d2, d4, method="hermite")
    assert bound.holds(np.abs(herm - t_star)[ok], atol=1e-10).all()


# --------------------------------------------------------------------------- the experiment


def test_regularity_check_experiment_small_config():
    import experiments
    from experiments import regularity_check as E

    assert experiments.get("regularity_check") is E
    cfg = E.config("quick")
    cfg.update(patterns=12, columns=20, loss_layers=8, disc_patterns=10, disc_columns=4, disc_dt=[2.0**-4, 2.0**-5])
    cfg["models"] = {k: cfg["models"][k] for k in ("nlif", "lif_double")}
    a = pd_concat([E._model_rows(k, cfg) for k in cfg["models"]])
    b = pd_concat([E._model_rows(k, cfg) for k in cfg["models"]])
    assert a.equals(b)  # deterministic
    assert a["violations"].sum() == 0 and (a["samples"] > 0).all()
    upper = a[(a["kind"] == "upper")]
    assert (upper["min_slack"] >= 1 - 1e-9).all()


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- Theorems 3 and 4


def test_local_sgd_bound_by_hand():
    m = LIF(tau_m=2.0, tau_s=1.0)
    s, n, tx, W = 0.5, 4, 0.5, 1.0
    G = math.sqrt(2 * n) * 0.25 / (tx * s)  # kappa_max = 1/4
    H = 2 * n * 0.25 * 0.5 / s**2 + n * 0.25**2 * (n * W) * 0.75 / s**3
    L = n * 0.25**2 / (2 * tx**2 * s**2) + H / tx
    np.testing.assert_allclose(R.ttfs_loss_smoothness_bound(m, s, n, tx, w_max=W).value, L)
    T, I, N, B, f0 = 500, 5, 4, 8, 1.2
    gamma = R.ttfs_local_sgd_step_size(m, s, n, tx, T, I, N, B, f0, w_max=W)
    np.testing.assert_allclose(gamma, min(1 / L, math.sqrt(2 * f0 * N * B / (L * G**2 * T))))
    want = 2 * f0 / (gamma * T) + 4 * gamma**2 * I**2 * G**2 * L**2 + L * gamma * G**2 / (N * B)
    np.testing.assert_allclose(R.ttfs_local_sgd_bound(m, s, n, tx, T, gamma, I, N, B, f0, w_max=W).value, want)
    with pytest.raises(ValueError, match="gamma"):
        R.ttfs_local_sgd_bound(m, s, n, tx, T, 2 / L, I, N, B, f0, w_max=W)


def test_spike_causal_density_against_bernoulli_draws():
    rng = np.random.default_rng(21)
    q = np.array([[0.0, 0.02, 0.3], [0.7, 1.0, 0.05]])
    for m in (1, 4, 25):
        draws = rng.random((20000, m) + q.shape) < q  # i.i.d. causal indicators
        measured = draws.any(axis=1).mean()
        pred = R.spike_causal_density(q, m).value
        np.testing.assert_allclose(measured, pred, atol=4 * math.sqrt(0.25 / (20000 * q.size)))
    np.testing.assert_allclose(R.spike_causal_density(q, [1, 2]).value, [q.mean(), (1 - (1 - q) ** 2).mean()])
    np.testing.assert_allclose(R.spike_causal_density(1e-12, 1000).value, 1e-9, rtol=1e-6)  # no cancellation
    with pytest.raises(ValueError, match="q"):
        R.spike_causal_density([1.5], 3)
    with pytest.raises(ValueError, match="samples"):
        R.spike_causal_density([0.5], 0)


def test_bits_bound_matches_the_compressor_for_a_fixed_support():
    from fsnn_theory.federated.compressors import causal_message_bits

    for d, nnz in ((600, 0), (600, 7), (600, 300), (1000, 1000), (2, 1)):
        np.testing.assert_allclose(R.spike_causal_bits_bound(d, nnz / d).value, causal_message_bits(d, nnz))
    assert R.spike_causal_bits_to_epsilon(100, 10, 1000.0) == 1e6


def test_causal_pair_probability_by_hand():
    t_in = np.array([[0.0, 1.0], [2.0, 0.5]])
    t_out = np.array([[1.5], [np.inf]])
    np.testing.assert_allclose(R.causal_pair_probability(t_in, t_out), [[0.5], [0.5]])


def test_spike_causal_density_experiment_small():
    from experiments import spike_causal_density as E

    cfg = E.config("quick")
    cfg.update(pool=300, hidden=30, presentations=[1, 5, 50], draws=60)
    rng = np.random.default_rng(cfg["seed"])
    for layer, t_in, t_out in E._layers(cfg, rng):
        for row in E._rows(layer, t_in, t_out, cfg, rng):
            tol = 5 * row["measured_se"] + 3 * row["resolution"]
            assert abs(row["measured_density"] - row["predicted_density"]) <= tol, row
            assert row["measured_bits"] <= row["dense_bits"] + row["d"] + 1


def test_federated_check_experiment_small():
    from experiments import federated_ttfs_check as E

    cfg = E.config("quick")
    cfg.update(pool=60, steps=10, seeds=1)
    row = E.local_sgd(cfg, 5, 0)
    assert row["margin_held"] and row["measured"] <= row["bound"]
    assert row["gamma"] > 0


def test_fsnn_explain(capsys):
    from fsnn_theory.cli import main

    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    for name in ("spike_time_regularity", "clock_driven_error", "no_global_lipschitz", "spike_causal_communication"):
        assert name in out
    assert main(["explain", "spike_time_regularity", "--set", "model=nlif", "s_min=0.2", "n=5", "W=0.5"]) == 0
    out = capsys.readouterr().out
    assert "Statement:" in out and "Assumptions:" in out
    row = next(line for line in out.splitlines() if line.startswith("|dt*/dw| (l2)"))
    np.testing.assert_allclose(float(row.split()[-1]), math.sqrt(5) * 1.0 / 0.2, rtol=1e-5)  # sqrt(n) kappa_max / s_min
    assert main(["explain", "clock_driven_error", "--set", "bogus=1"]) == 2
    assert main(["explain", "no_such_theorem"]) == 2
    assert main(["explain", "clock_driven_error", "--set", "dt=1"]) == 2  # outside the hypotheses
    capsys.readouterr()
    for name in ("ttfs_loss_smoothness", "no_global_lipschitz", "federated_ttfs_convergence", "spike_causal_communication"):
        assert main(["explain", name, "--latex"]) == 0


def test_support_entropy_bits_is_the_mean_code_length_of_iid_supports():
    """d H2(rho) = E[-log2 P(mask)] for i.i.d. Bernoulli masks (Monte Carlo), and it is below the bitmap."""
    rng = np.random.default_rng(0)
    d, rho = 200, 0.07
    masks = rng.random((20000, d)) < rho
    k = masks.sum(axis=1)
    code_length = -(k * np.log2(rho) + (d - k) * np.log2(1 - rho))
    want = R.support_entropy_bits(d, rho)
    assert want.kind == "lower"
    np.testing.assert_allclose(want.value, code_length.mean(), rtol=0.01)
    assert want.value < d and R.support_entropy_bits(d, 0.5).value == pytest.approx(d)
    with pytest.raises(ValueError, match="density"):
        R.support_entropy_bits(d, 1.5)


def test_fsnn_explain_every_theorem_runs_on_its_own_defaults(capsys):
    """Issue 15, defect 1: `fsnn explain clock_driven_error` failed with its own defaults (D2, D4)."""
    from fsnn_theory.cli import main
    from fsnn_theory.cli.explain import THEOREMS

    assert "clock_driven_error" in THEOREMS
    for name in THEOREMS:
        assert main(["explain", name]) == 0, name
        out = capsys.readouterr().out
        assert "Statement:" in out, name
