"""Property-based checks of the LIF spike-time engine against an independent 50-digit reference.

The reference (:func:`ref_first_spike`) shares no code or formula arrangement with the engine: it
sums the textbook kernel definition (Göltz et al. 2021, Methods)

    kappa(s) = tau_s / (tau_m - tau_s) (e^{-s/tau_m} - e^{-s/tau_s}),   kappa(s) = (s/tau) e^{-s/tau} if equal,

in mpmath at 50 significant digits (cancellation for |tau_m - tau_s| >= 1e-14 tau_s costs at most 14
of them), writes V on each causal interval as alpha e^{-s/tau_m} - beta e^{-s/tau_s}, locates the
single critical point from V' = 0 in closed form, and bisects the first rising crossing to 1e-40
relative. Gradients then follow from the implicit-function theorem at that time, also in mpmath.

What is compared (issue 16), over tau_m/tau_s in [0.01, 100] including tau_m < tau_s and
|tau_m - tau_s| down to 1e-14 tau_s, lags up to 1e4 max(tau), weights 1e-12 .. 1e200 of either
sign, ties and inputs exactly at the crossing:

- fire / no-fire must agree, except where a peak of V on the way is within 1e-9 theta of theta, or
  where the engine's answer is exact for weights perturbed by 16 n eps relative while the
  reference's is not (huge weights of both signs cancelling; see :func:`backward_stable`);
- t* within 1e-9 relative or 1e-12 ms absolute;
- dt*/dw and dt*/dt_in within 1e-7 of the gradient's size where the slope at threshold is at least
  1e-6 theta / min(tau).

Two allowances follow from float64 itself, not from the engine, and are stated where they are
used: the rounding of V (|error| ~ eps * sum_i |w_i kappa_i|, which exceeds 1e-9 theta only when
huge weights of both signs cancel) widens the "within 1e-9 theta" band and the time tolerance by
that amount (divided by the slope for the time); and a gradient is checked only where the spike is
representable as later than the last causal input.

The default run draws a bounded number of examples with a fixed seed (``derandomize=True``); the
slow-marked variant draws many more, from another fixed seed (edit the ``@seed`` to explore).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from fsnn_theory.neurons import LIF, make_model

DPS = 50
EPS = np.finfo(float).eps

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


# ------------------------------------------------------------------------ 50-digit reference


class Ref:
    """V(t) = sum_i w_i kappa(t - t_i) and its derivatives in mpmath, textbook kernel."""

    def __init__(self, tau_m, tau_s, theta, times, weights):
        self.tm, self.ts, self.theta = mp.mpf(tau_m), mp.mpf(tau_s), mp.mpf(theta)
        self.alpha = tau_m == tau_s
        pairs = sorted((float(t), float(w)) for t, w in zip(times, weights) if math.isfinite(t))
        self.t = [mp.mpf(t) for t, _ in pairs]
        self.w = [mp.mpf(w) for _, w in pairs]
        if not self.alpha:
            self.c = self.ts / (self.tm - self.ts)

    def kappa(self, s, n=0):
        """n-th derivative of the kernel at lag s (0 for s <= 0)."""
        if s <= 0:
            return mp.mpf(0)
        if self.alpha:
            tau = self.ts
            e = mp.exp(-s / tau)
            return [s / tau * e, (1 - s / tau) * e / tau, (s / tau - 2) * e / tau**2][n]
        tm, ts = self.tm, self.ts
        return self.c * ((-1 / tm) ** n * mp.exp(-s / tm) - (-1 / ts) ** n * mp.exp(-s / ts))

    def v(self, t, n=0):
        """n-th derivative of V at t; for n >= 1 the right derivative (inputs at t included, with
        kappa'(0+) = 1/tau_m, kappa''(0+) = -(1/tau_m)(1/tau_m + 1/tau_s))."""
        total = mp.fsum(w * self.kappa(t - ti, n) for ti, w in zip(self.t, self.w))
        if n >= 1:
            at = mp.fsum(w for ti, w in zip(self.t, self.w) if ti == t)
            if at != 0:
                k0 = [None, 1 / self.tm, -(1 / self.tm) * (1 / self.tm + 1 / self.ts)][n]
                total += at * k0
        return total

    def abs_sum(self, t):
        """sum_i |w_i kappa(t - t_i)|: the scale of float64 rounding in V(t)."""
        return mp.fsum(abs(w * self.kappa(t - ti)) for ti, w in zip(self.t, self.w))

    def interval(self, k):
        """V on [t_k, t_{k+1}] as a function of local time s: (v(s), critical point or None)."""
        tk = self.t[k]
        if self.alpha:
            tau = self.ts
            a = mp.fsum(w * mp.exp(-(tk - ti) / tau) for ti, w in zip(self.t[: k + 1], self.w))
            b = mp.fsum(w * (tk - ti) * mp.exp(-(tk - ti) / tau) for ti, w in zip(self.t[: k + 1], self.w))
            f = lambda s: mp.exp(-s / tau) * (a * s + b) / tau  # noqa: E731
            s_e = tau - b / a if a != 0 else None
        else:
            al = self.c * mp.fsum(w * mp.exp(-(tk - ti) / self.tm) for ti, w in zip(self.t[: k + 1], self.w))
            be = self.c * mp.fsum(w * mp.exp(-(tk - ti) / self.ts) for ti, w in zip(self.t[: k + 1], self.w))
            f = lambda s: al * mp.exp(-s / self.tm) - be * mp.exp(-s / self.ts)  # noqa: E731
            # V' = -al/tm e^{-s/tm} + be/ts e^{-s/ts} = 0
            arg = (al * self.ts) / (be * self.tm) if be != 0 else mp.mpf(-1)
            s_e = mp.log(arg) / (1 / self.tm - 1 / self.ts) if arg > 0 else None
        return f, s_e


def ref_dps(tau_m, tau_s, theta, weights):
    """Working digits: DPS plus what the textbook form loses to cancellation, i.e. the digits of
    tau_s/|tau_m - tau_s| and of max|w|/theta (a crossing at lag s ~ theta tau / |w| after an input
    makes e^{-s/tau_m} - e^{-s/tau_s} ~ s |1/tau_m - 1/tau_s| small against 1)."""
    extra = 0.0
    if tau_m != tau_s:
        extra += max(0.0, math.log10(tau_s / abs(tau_m - tau_s)))
    big = max((abs(w) for w in weights), default=0.0) / theta
    if big > 1:
        extra += math.log10(big)
    return DPS + int(extra) + 5


def ref_first_spike(ref: Ref):
    """(t* or inf, list of (peak value, abs-sum scale at the peak) of every interval up to t*)."""
    theta = ref.theta
    peaks = []
    n = len(ref.t)
    for k in range(n):
        g = ref.t[k + 1] - ref.t[k] if k + 1 < n else mp.inf
        if g == 0:
            continue
        f, s_e = ref.interval(k)
        cands = [mp.mpf(0)]
        if s_e is not None and 0 < s_e < g:
            cands.append(s_e)
        if g != mp.inf:
            cands.append(g)
        vals = [f(s) for s in cands]
        i_max = max(range(len(cands)), key=lambda i: vals[i])
        hi, v_hi = cands[i_max], vals[i_max]
        # a peak of V: the interior maximum, or the interval's end if V does not rise after it
        # (right derivative, which includes the inputs arriving there)
        if 0 < hi < g and hi != g:
            peaks.append((v_hi, ref.abs_sum(ref.t[k] + hi)))
        elif hi == g and ref.v(ref.t[k] + g, 1) <= 0:
            peaks.append((v_hi, ref.abs_sum(ref.t[k] + hi)))
        if v_hi < theta:
            continue
        # the crossing itself must stand out of float64 rounding: V's excursion above theta on this
        # interval larger than eps * sum_i |w_i kappa_i| (else huge weights cancel: undecidable)
        if v_hi - theta <= 8 * EPS * ref.abs_sum(ref.t[k] + hi):
            peaks.append((theta, mp.mpf(0)))  # counts as a peak at theta: undecidable
        lo = s_e if (s_e is not None and 0 < s_e < hi) else mp.mpf(0)
        if f(lo) >= theta:
            return ref.t[k] + lo, peaks
        if lo == 0 and ref.t[k] == 0:  # t* may be many decades below hi: exponential search first
            while hi > mp.mpf(10) ** -320 and f(hi * mp.mpf(2) ** -32) >= theta:
                hi *= mp.mpf(2) ** -32
            lo = hi * mp.mpf(2) ** -32
        for _ in range(3000):  # V is increasing on [lo, hi]; 1e-40 relative to t*
            mid = (lo + hi) / 2
            if f(mid) >= theta:
                hi = mid
            else:
                lo = mid
            if hi - lo <= mp.mpf(10) ** (-40) * (abs(ref.t[k]) + hi):
                break
        return ref.t[k] + hi, peaks
    return mp.inf, peaks


# ------------------------------------------------------------------------ the comparison


def backward_stable(tau_m, tau_s, theta, times, weights, t_an) -> bool:
    """Is the engine's answer exact for weights perturbed by at most r = 16 n eps relative?

    Only asked where engine and reference disagree on fire / no fire. With kappa >= 0, the weights
    w + r|w| give a potential V+ >= V and w - r|w| one V- <= V everywhere, so their first-spike
    times bracket those of every weight vector within relative r: t+ <= t <= t-. When huge weights
    of both signs cancel (e.g. +1e19, -1, -1e19 at one time), sum_i |w_i kappa_i| exceeds theta by
    many orders and no float64 summation order resolves V; such a case counts as decided by the
    rounding of the weights (backward stability), not as an engine error. Ordinary cases never
    reach this test.
    """
    r = 16 * max(len(times), 1) * EPS
    ts = []
    for sign in (1, -1):
        wp = [w + sign * r * abs(w) for w in weights]
        with mp.workdps(ref_dps(tau_m, tau_s, theta, wp)):
            ts.append(ref_first_spike(Ref(tau_m, tau_s, theta, times, wp))[0])
    t_plus, t_minus = ts
    if t_plus == mp.inf and t_minus == mp.inf:
        return False  # the decision is robust: disagreement is an error
    if math.isinf(t_an):
        return t_minus == mp.inf
    return t_plus <= mp.mpf(t_an) * (1 + 1e-9) + mp.mpf(1e-12) and (
        t_minus == mp.inf or mp.mpf(t_an) <= t_minus * (1 + 1e-9) + mp.mpf(1e-12))


def check_case(tau_m, tau_s, theta, times, weights, check_gradients=True):
    """Engine vs reference for one sample and one output neuron (asserts; returns a label)."""
    model = LIF(tau_m=tau_m, tau_s=tau_s, theta=theta)
    t_in = np.asarray(times, float)[None, :]
    w = np.asarray(weights, float)[:, None]
    with mp.workdps(ref_dps(tau_m, tau_s, theta, weights)):
        ref = Ref(tau_m, tau_s, theta, times, weights)
        t_ref, peaks = ref_first_spike(ref)
        t_an = float(model.first_spike_times(t_in, w)[0, 0])
        assert not math.isnan(t_an)
        # a peak within 1e-9 theta of theta (widened by the float64 rounding of V) is undecidable
        grazing = any(abs(v - ref.theta) <= 1e-9 * ref.theta + 8 * EPS * s for v, s in peaks)
        if grazing:
            return "grazing"
        if math.isinf(t_an) != (t_ref == mp.inf) and backward_stable(tau_m, tau_s, theta, times, weights, t_an):
            return "cancelling"
        if t_ref == mp.inf:
            assert math.isinf(t_an), f"engine fires at {t_an}, reference never fires"
            return "silent"
        assert math.isfinite(t_an), f"engine never fires, reference fires at {t_ref}"
        slope = ref.v(t_ref, 1)
        # float64 places the crossing no better than the rounding error of V over the slope
        cond = 8 * EPS * ref.abs_sum(t_ref) / slope if slope > 0 else mp.mpf(0)
        err = abs(mp.mpf(t_an) - t_ref)
        tol = max(1e-9 * abs(t_ref), mp.mpf(1e-12)) + cond
        assert err <= tol, f"t* {t_an} vs reference {mp.nstr(t_ref, 20)} (err {mp.nstr(err, 3)}, tol {mp.nstr(tol, 3)})"
        if not check_gradients or slope < 1e-6 * ref.theta / min(tau_m, tau_s):
            return "fires"
        # representable: the computed spike must be later than the last causal input, and the
        # causal set the same on both sides of the error
        causal_t = [ti for ti in ref.t if ti < t_ref]
        gap = t_ref - max(causal_t)
        if gap <= 64 * (err + EPS * abs(t_ref)) or any(abs(ti - t_ref) <= 64 * (err + EPS * abs(t_ref)) for ti in ref.t):
            return "fires"
        g_w, g_t = model.spike_time_gradients(t_in, w)
        vdd = ref.v(t_ref, 2)
        rw, rt, dw_dt, dt_dt = [], [], [], []
        for i in range(len(times)):
            ti = mp.mpf(times[i]) if math.isfinite(times[i]) else None
            if ti is None or ti >= t_ref:
                rw.append(mp.mpf(0)), rt.append(mp.mpf(0)), dw_dt.append(mp.mpf(0)), dt_dt.append(mp.mpf(0))
                continue
            k0, k1, k2 = (ref.kappa(t_ref - ti, n) for n in range(3))
            wi = mp.mpf(weights[i])
            rw.append(-k0 / slope)
            rt.append(wi * k1 / slope)
            # derivatives of the two gradients in t* (how a time error of err moves them)
            dw_dt.append(abs(-k1 / slope + k0 * vdd / slope**2))
            dt_dt.append(abs(wi * k2 / slope - wi * k1 * vdd / slope**2))
        for got, want, sens, name in ((g_w[0, :, 0], rw, dw_dt, "dt/dw"), (g_t[0, :, 0], rt, dt_dt, "dt/dt_in")):
            scale = max(abs(x) for x in want)
            for i in range(len(times)):
                d = abs(mp.mpf(float(got[i])) - want[i])
                # + the spacing of float64 subnormals: a gradient below 2.2e-308 has few bits
                assert d <= 1e-7 * scale + 4 * sens[i] * (err + EPS * abs(t_ref)) + 1e-320, (
                    f"{name}[{i}] {got[i]} vs {mp.nstr(want[i], 17)} (scale {mp.nstr(scale, 3)})"
                )
        return "fires+grad"


# ------------------------------------------------------------------------ strategies


@st.composite
def lif_cases(draw):
    tau_s = 10.0 ** draw(st.floats(-1.0, 1.0))
    kind = draw(st.sampled_from(["ratio", "ratio", "special", "near"]))
    if kind == "ratio":
        ratio = 10.0 ** draw(st.floats(-2.0, 2.0))
    elif kind == "special":
        ratio = draw(st.sampled_from([1.0, 2.0, 0.5]))
    else:  # |tau_m - tau_s| from 1e-14 tau_s to 1e-3 tau_s, either side
        ratio = 1.0 + draw(st.sampled_from([-1.0, 1.0])) * 10.0 ** draw(st.floats(-14.0, -3.0))
    tau_m = tau_s * ratio
    tau_max = max(tau_m, tau_s)
    theta = 10.0 ** draw(st.floats(-1.0, 1.0))
    n = draw(st.integers(1, 5))
    times = []
    for _ in range(n):
        how = draw(st.sampled_from(["near", "near", "near", "far", "tie", "never"]))
        if how == "near" or (how == "tie" and not times):
            times.append(draw(st.floats(0.0, 5.0)) * tau_max)
        elif how == "far":  # lags up to 1e4 max(tau)
            times.append(10.0 ** draw(st.floats(0.0, 4.0)) * tau_max)
        elif how == "tie":
            times.append(draw(st.sampled_from(times)))
        else:
            times.append(math.inf)
    peak = LIF(tau_m=tau_m, tau_s=tau_s).kernel_max
    wkind = draw(st.sampled_from(["moderate", "moderate", "extreme", "scaled"]))
    if wkind == "extreme":  # each weight 1e-12 .. 1e200 of either sign
        weights = [
            draw(st.sampled_from([-1.0, 1.0])) * 10.0 ** draw(st.floats(-12.0, 200.0)) for _ in range(n)
        ]
    else:
        weights = [draw(st.floats(-1.5, 3.5)) * theta / peak for _ in range(n)]
        if wkind == "scaled":  # a common factor up to 1e200: threshold crossed right after an input
            f = 10.0 ** draw(st.floats(-12.0, 200.0))
            weights = [x * f for x in weights]
    return tau_m, tau_s, theta, times, weights


def _run(case, draw_sign):
    tau_m, tau_s, theta, times, weights = case
    event(check_case(tau_m, tau_s, theta, times, weights))
    # the same inputs plus one arriving exactly at the engine's spike time
    model = LIF(tau_m=tau_m, tau_s=tau_s, theta=theta)
    t = float(model.first_spike_times(np.asarray(times, float)[None, :], np.asarray(weights, float)[:, None])[0, 0])
    if math.isfinite(t):
        extra = draw_sign * abs(weights[0])
        event("at crossing: " + check_case(tau_m, tau_s, theta, times + [t], weights + [extra]))


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=300, derandomize=True, **SETTINGS)
@given(case=lif_cases(), draw_sign=st.sampled_from([-1.0, 1.0]))
def test_lif_matches_50_digit_reference(case, draw_sign):
    _run(case, draw_sign)


@pytest.mark.slow
@seed(20261206)  # many more examples than the default run, from another fixed seed: CI stays reproducible
@settings(max_examples=5000, derandomize=False, **SETTINGS)
@given(case=lif_cases(), draw_sign=st.sampled_from([-1.0, 1.0]))
def test_lif_matches_50_digit_reference_long(case, draw_sign):
    _run(case, draw_sign)


# ------------------------------------------------------------------------ the three defects of issue 16


def test_defect1_no_overflow_when_tau_m_below_tau_s():
    """tau_m < tau_s at lags beyond 709 tau_m tau_s / (tau_s - tau_m): finite values equal to the
    50-digit kernel (which underflows to 0 in float64 there), gradients and Hessian finite."""
    model = make_model("lif", tau_m=0.5, tau_s=1.0)
    s = np.array([1.0, 10.0, 700.0, 800.0, 1000.0])
    with mp.workdps(DPS):
        ref = Ref(0.5, 1.0, 1.0, [0.0], [1.0])
        for n, fn in enumerate([model.kernel, model.kernel_derivative, model.kernel_second_derivative]):
            got = fn(s)
            want = [float(ref.kappa(mp.mpf(x), n)) for x in s]
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=0.0)
    t_in = np.array([[0.0, 1000.0]])
    w = np.array([[1.0], [1.0]])
    v = model.potential(np.array([[1000.0]]), t_in, w)
    assert np.isfinite(v).all()
    w = np.array([[0.5], [5.0]])
    g_w, g_t = model.spike_time_gradients(t_in, w)
    h = model.spike_time_hessian(t_in, w)
    assert np.isfinite(g_w).all() and np.isfinite(g_t).all() and np.isfinite(h).all()
    assert g_w[0, 0, 0] == 0.0  # the input 1000 ms earlier has decayed to nothing
    assert check_case(0.5, 1.0, 1.0, [0.0, 1000.0], [0.5, 5.0]) == "fires+grad"


@pytest.mark.parametrize("delta", [1e-12, -1e-12, 1e-9, 1e-14])
def test_defect2_nearly_equal_time_constants(delta):
    """tau_m = tau_s (1 + delta): the 50-digit reference, not a result off by eps/delta."""
    times, weights = [0.0, 0.3, 1.1], [2.0, 1.5, -0.7]
    assert check_case(1.0 + delta, 1.0, 1.0, times, weights) == "fires+grad"
    model = LIF(tau_m=1.0 + delta, tau_s=1.0)
    t_in = np.asarray(times)[None, :]
    w = np.asarray(weights)[:, None]
    t = float(model.first_spike_times(t_in, w)[0, 0])
    with mp.workdps(DPS):
        ref = Ref(1.0 + delta, 1.0, 1.0, times, weights)
        assert abs(ref.v(mp.mpf(t)) - 1) <= 1e-13
        for n, fn in enumerate([model.kernel, model.kernel_derivative, model.kernel_second_derivative]):
            s = np.array([0.1, 1.0, 2.0, 7.0])
            want = [float(ref.kappa(mp.mpf(x), n)) for x in s]
            np.testing.assert_allclose(fn(s), want, rtol=1e-12, atol=1e-15)
        # Hessian against the 50-digit implicit-function formula
        h = model.spike_time_hessian(t_in, w)[0, :, :, 0]
        tr = mp.mpf(t)
        vd, vdd = ref.v(tr, 1), ref.v(tr, 2)
        g = [-ref.kappa(tr - mp.mpf(ti)) / vd for ti in times]
        k = [ref.kappa(tr - mp.mpf(ti), 1) for ti in times]
        want = np.array([[float(-(k[i] * g[j] + g[i] * k[j] + vdd * g[i] * g[j]) / vd) for j in range(3)] for i in range(3)])
        np.testing.assert_allclose(h, want, rtol=1e-8, atol=1e-10)


def test_defect2_continuous_with_the_alpha_case():
    """Moving tau_m across tau_s changes t* by about its true sensitivity, never by eps/delta."""
    t_in = np.array([[0.0, 0.3, 1.1]])
    w = np.array([[2.0], [1.5], [-0.7]])
    t_alpha = float(LIF(1.0, 1.0).first_spike_times(t_in, w)[0, 0])
    for delta in [1e-14, 1e-13, 1e-12, 1e-11, 1e-10]:
        for sgn in (1, -1):
            t = float(LIF(1.0 + sgn * delta, 1.0).first_spike_times(t_in, w)[0, 0])
            assert abs(t - t_alpha) <= 10 * delta * abs(t_alpha) + 1e-12 * abs(t_alpha)


@pytest.mark.parametrize("tau_m,tau_s", [(2.0, 1.0), (1.0, 1.0), (3.0, 1.0), (0.5, 1.0)])
@pytest.mark.parametrize("w0", [1e155, 1e200, 1e300, -1e200])
def test_defect3_huge_weights_still_fire(tau_m, tau_s, w0):
    """A weight of 1e155 and beyond: the neuron fires right after the input (or never, for an
    inhibitory one), as the reference says; no overflow into a wrong 'never fires'."""
    times, weights = [0.5, 2.0], [w0, 1.0]
    got = float(LIF(tau_m=tau_m, tau_s=tau_s).first_spike_times(np.array([times]), np.array(weights)[:, None])[0, 0])
    if w0 > 0:
        assert 0.5 <= got <= 0.5 + 1e-12
    assert check_case(tau_m, tau_s, 1.0, times, weights) in ("fires", "fires+grad", "silent")


def test_batch_of_extreme_columns_matches_single_columns():
    """Per-column rescaling: a batch with ordinary and huge columns equals its columns one by one."""
    rng = np.random.default_rng(3)
    t_in = rng.uniform(0, 4, (20, 4))
    w = rng.normal(1.0, 1.0, (4, 5))
    w[:, 1] *= 1e180
    w[:, 3] *= 1e-10
    for model in (LIF(2.0, 1.0), LIF(1.0, 1.0), LIF(0.3, 1.0), make_model("nlif")):
        together = model.first_spike_times(t_in, w)
        for j in range(w.shape[1]):
            np.testing.assert_array_equal(together[:, j], model.first_spike_times(t_in, w[:, j : j + 1])[:, 0])


def test_training_with_tiny_tau_m_has_no_nan():
    """`fsnn train --tau-m 0.001` died with 'params must not contain NaN': gradients of the
    general ratio tau_m << tau_s at long lags are finite and match the reference."""
    assert check_case(0.001, 1.0, 1.0, [0.0, 0.2, 800.0, 800.0005], [1.0, 0.5, 2.0, 3.0]) in ("fires", "fires+grad")
    model = LIF(tau_m=0.001, tau_s=1.0)
    rng = np.random.default_rng(0)
    t_in = rng.uniform(0, 2000, (50, 6))
    w = rng.normal(2.0, 1.0, (6, 4))
    g_w, g_t = model.spike_time_gradients(t_in, w)
    assert np.isfinite(g_w).all() and np.isfinite(g_t).all()


# ------------------------------------------------------------------------ compiled vs numpy path


@pytest.mark.skipif(getattr(__import__("fsnn_theory.neurons").neurons, "_compiled_double", None) is None,
                    reason="numba not installed: only the numpy path exists")
@pytest.mark.parametrize("silent", [False, True])
@pytest.mark.parametrize("n_in,n_out", [(5, 120), (121, 3), (40, 40)])
def test_compiled_double_path_is_bit_identical_to_numpy(monkeypatch, n_in, n_out, silent):
    """The numba kernel is the numpy reference fused: same operations in the same order, so the
    spike times are identical bit for bit (and therefore deterministic run to run)."""
    from fsnn_theory import neurons

    rng = np.random.default_rng(n_in * 7 + n_out + silent)
    t_in = rng.uniform(0, 3, (300, n_in))
    t_in[:, 0] = t_in[:, 1]  # ties
    if silent:
        t_in[rng.random(t_in.shape) < 0.2] = np.inf
    w = rng.normal(1.0, 2.0, (n_in, n_out)) * (5.0 / n_in) ** 0.5 * 2.0
    w[:, ::4] = -np.abs(w[:, ::4])  # never fire
    model = LIF(2.0, 1.0)
    compiled = model.first_spike_times(t_in, w)
    again = model.first_spike_times(t_in, w)
    monkeypatch.setattr(neurons, "_compiled_double", None)
    reference = model.first_spike_times(t_in, w)
    assert 0.05 < np.isfinite(reference).mean() < 0.98  # both spikes and silence are exercised
    assert compiled.tobytes() == reference.tobytes()
    assert again.tobytes() == compiled.tobytes()


@pytest.mark.skipif(getattr(__import__("fsnn_theory.neurons").neurons, "_compiled_grad_pass1", None) is None,
                    reason="numba not installed: only the numpy path exists")
@pytest.mark.parametrize("n_in,n_out", [(5, 120), (121, 3)])
def test_compiled_double_gradients_are_bit_identical_to_numpy(monkeypatch, n_in, n_out):
    from fsnn_theory import neurons

    rng = np.random.default_rng(n_in + n_out)
    t_in = rng.uniform(0, 3, (200, n_in))
    t_in[rng.random(t_in.shape) < 0.1] = np.inf
    w = rng.normal(1.0, 2.0, (n_in, n_out)) * (5.0 / n_in) ** 0.5 * 2.0
    w[:, ::4] = -np.abs(w[:, ::4])
    model = LIF(2.0, 1.0)
    compiled = model.spike_time_gradients(t_in, w)
    monkeypatch.setattr(neurons, "_compiled_grad_pass1", None)
    monkeypatch.setattr(neurons, "_compiled_grad_pass2", None)
    reference = model.spike_time_gradients(t_in, w)
    assert np.abs(reference[0]).max() > 0
    for got, want in zip(compiled, reference):
        assert got.tobytes() == want.tobytes()


# ------------------------------------------------------------------------ Brian2 sample (slow)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
# Not |tau_m - tau_s| << tau_s: Brian2's own linear integrator then loses about eps tau_s/|tau_m - tau_s|
# (5.9e-5 ms off at 1 - 1e-9, measured); there the 50-digit reference above is the check.
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.9, 1.0, 2.0, 3.0, 10.0])
def test_engine_matches_brian2_sample(ratio):
    """A sample across the ratio range, lags <= 20 ms, against Brian2 at dt = 1 us with cubic-Hermite
    crossing (error O(dt^4) at the delivered inputs; see fsnn_theory.brian), compared at the delivered
    input times. Grazing crossings (engine slope < 1e-3 theta/ms) are left out."""
    from fsnn_theory.brian import delivered_input_times, simulate_first_spikes

    dt = 1e-3
    model = LIF(tau_m=ratio, tau_s=1.0, theta=1.0)
    rng = np.random.default_rng(int(ratio * 1000))
    times = rng.uniform(0.0, 20.0, (12, 4))
    times[:, 1] = times[:, 0] + rng.uniform(0, 2, 12)  # close pairs as well as long lags
    times[rng.random(times.shape) < 0.1] = np.inf
    w = rng.normal(1.2, 1.0, (4, 5)) / model.kernel_max
    delivered = delivered_input_times(times, dt)
    brian = simulate_first_spikes(model, times, w, dt, 25.0, interpolate="cubic")
    engine = model.first_spike_times(delivered, w)
    slope = model.slope_at_threshold(delivered, w)
    clear = (slope > 1e-3) | np.isinf(engine)
    assert clear.mean() > 0.5
    assert (np.isfinite(engine) & clear).sum() >= 5  # spikes are exercised
    both = clear & np.isfinite(engine) & (engine < 24.0)
    np.testing.assert_array_equal(np.isfinite(brian[clear & (engine < 24.0)]), np.isfinite(engine[clear & (engine < 24.0)]))
    np.testing.assert_allclose(brian[both], engine[both], rtol=0, atol=1e-6)
