"""Tests for fsnn_theory.theory.bounds.

Every formula is re-derived here independently: exact rational arithmetic (fractions.Fraction)
written out term by term, or hand-worked numbers whose arithmetic is shown in a comment. The
"upper" labels of QSGD and of the k-contraction are checked against an independent simulation
of the quantiser / compressor written in this file. The assertion is chosen from bound.kind.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from fractions import Fraction as Fr

import numpy as np
import pytest

from fsnn_theory.theory import bounds as B


def assert_kind_holds(bound: B.Bound, measured, tol=0.0):
    """PEPit habit: the label decides the assertion (upper: measured <= value, ...)."""
    assert bound.kind in B.BOUND_KINDS
    assert np.all(bound.holds(measured, atol=tol)), (bound.kind, bound.value, measured)


# ----------------------------------------------------------------------------------------
# Li, Huang, Yang, Wang, Zhang (ICLR 2020)
# ----------------------------------------------------------------------------------------


def li_by_hand(T, E, L, mu, sigma2, G, Gamma, w1, p, K=None, N=None, scheme="full"):
    """Theorems 1-3 of Li et al. 2020 in exact rationals, term by term."""
    L, mu, G, Gamma, w1 = map(Fr, (L, mu, G, Gamma, w1))
    p = [Fr(x) for x in p]
    sigma2 = [Fr(x) for x in sigma2]
    N = len(p) if N is None else N
    kappa = L / mu
    gamma = 8 * kappa if 8 * kappa >= E else Fr(E)
    weighted_var = Fr(0)
    for pk, s2 in zip(p, sigma2):
        weighted_var += pk * pk * s2
    Bterm = weighted_var + 6 * L * Gamma + 8 * (E - 1) ** 2 * G * G
    if scheme == "full":
        C = Fr(0)
    elif scheme == "I":
        C = Fr(4, K) * E * E * G * G
    else:
        C = Fr(N - K, N - 1) * Fr(4, K) * E * E * G * G
    return kappa / (gamma + T - 1) * (2 * (Bterm + C) / mu + mu * gamma / 2 * w1)


LI_A = dict(E=2, L=1, mu=Fr(1, 4), sigma2=[1, 3], G=1, Gamma=Fr(1, 2), w1=2, p=[Fr(1, 2), Fr(1, 2)])
LI_B = dict(E=5, L=3, mu=Fr(1, 2), sigma2=[Fr(1, 2), 1, 2, 4], G=2, Gamma=Fr(1, 3), w1=5,
            p=[Fr(1, 4)] * 4)
LI_C = dict(E=10, L=1, mu=1, sigma2=[Fr(1, 10), Fr(7, 10), 2], G=Fr(3, 2), Gamma=0, w1=1,
            p=[Fr(1, 5), Fr(3, 10), Fr(1, 2)])  # 8 kappa = 8 < E = 10: gamma = E


def li_call(params, T, **kw):
    q = dict(params)
    w1 = q.pop("w1")
    to_f = lambda x: [float(v) for v in x] if isinstance(x, list) else float(x)  # noqa: E731
    q = {k: (v if k == "E" else to_f(v)) for k, v in q.items()}
    return B.li2020_fedavg_bound(T=T, w1_dist2=float(w1), **q, **kw)


def test_li2020_hand_worked_number():
    # Set A: kappa = 1/(1/4) = 4, gamma = max(32, 2) = 32,
    # B = (1/4)*1 + (1/4)*3 + 6*1*(1/2) + 8*(2-1)^2*1 = 1 + 3 + 8 = 12,
    # T = 10: kappa/(gamma+T-1) = 4/41; 2B/mu = 96; mu*gamma/2*w1 = (1/4)*16*2 = 8
    # -> 4/41 * 104 = 416/41
    b = li_call(LI_A, 10)
    np.testing.assert_allclose(b.value, 416 / 41, rtol=1e-14)
    assert b.kind == "upper" and b.rigorous and "Theorem 1" in b.theorem


@pytest.mark.parametrize("params", [LI_A, LI_B, LI_C], ids=["A", "B", "C"])
@pytest.mark.parametrize("T_mult", [1, 3, 40])
def test_li2020_full_matches_rational(params, T_mult):
    T = params["E"] * T_mult
    expected = li_by_hand(T, **params)
    np.testing.assert_allclose(li_call(params, T).value, float(expected), rtol=1e-13)


@pytest.mark.parametrize("params", [LI_A, LI_B, LI_C], ids=["A", "B", "C"])
def test_li2020_scheme_I_matches_rational(params):
    N = len(params["p"])
    for K in range(1, N + 1):
        T = 7 * params["E"]
        expected = li_by_hand(T, K=K, scheme="I", **params)
        b = li_call(params, T, K=K, scheme="I")
        np.testing.assert_allclose(b.value, float(expected), rtol=1e-13)
        assert "Theorem 2" in b.theorem


@pytest.mark.parametrize("params", [LI_A, LI_B], ids=["A", "B"])  # balanced p only
def test_li2020_scheme_II_matches_rational(params):
    N = len(params["p"])
    for K in range(1, N + 1):
        T = 4 * params["E"]
        expected = li_by_hand(T, K=K, N=N, scheme="II", **params)
        b = li_call(params, T, K=K, N=N, scheme="II")
        np.testing.assert_allclose(b.value, float(expected), rtol=1e-13)
        assert "Theorem 3" in b.theorem


def test_li2020_vectorised_over_T_and_G():
    T = np.array([2, 4, 10, 100])
    vec = li_call(LI_A, T).value
    loop = [li_call(LI_A, int(t)).value for t in T]
    np.testing.assert_allclose(vec, loop, rtol=1e-15)
    q = dict(LI_A, G=np.array([0.5, 1.0, 2.0]))
    vals = B.li2020_fedavg_bound(T=10, E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0], G=q["G"],
                                 Gamma=0.5, w1_dist2=2.0, p=[0.5, 0.5]).value
    for g, v in zip(q["G"], vals):
        np.testing.assert_allclose(v, float(li_by_hand(10, **dict(LI_A, G=Fr(g)))), rtol=1e-13)


def test_li2020_step_size_matches_rational():
    for t, L, mu, E in [(1, 1, Fr(1, 4), 2), (0, 3, Fr(1, 2), 5), (17, 1, 1, 10)]:
        kappa = Fr(L) / mu
        gamma = max(8 * kappa, Fr(E))
        expected = 2 / (mu * (gamma + t))
        np.testing.assert_allclose(B.li2020_step_size(t, float(L), float(mu), E), float(expected),
                                   rtol=1e-14)


def test_li2020_monotone_in_T_and_problem_constants():
    T = 2 * np.arange(1, 300)
    v = li_call(LI_A, T).value
    assert np.all(np.diff(v) < 0)
    base = li_call(LI_B, 20).value
    for key, bigger in [("G", 3), ("Gamma", 1), ("w1", 6)]:
        assert li_call(dict(LI_B, **{key: bigger}), 20).value > base, key
    sig = list(LI_B["sigma2"])
    sig[2] = 10
    assert li_call(dict(LI_B, sigma2=sig), 20).value > base


def test_li2020_scheme_relations():
    N = len(LI_B["p"])
    full = li_call(LI_B, 20).value
    for K in range(1, N):
        one = li_call(LI_B, 20, K=K, scheme="I").value
        two = li_call(LI_B, 20, K=K, N=N, scheme="II").value
        assert two <= one
        if K >= 2:  # (N-K)/(N-1) < 1
            assert two < one
        assert two > full
    # K = N: uniform sampling without replacement picks everyone -> C = 0 -> Theorem 1
    np.testing.assert_allclose(li_call(LI_B, 20, K=N, N=N, scheme="II").value, full, rtol=1e-15)


def test_li2020_rounds_closed_form_is_smallest():
    eps = np.logspace(-3, 2, 60)
    R = B.li2020_rounds_to_epsilon(eps, E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0], G=1.0, Gamma=0.5,
                                   w1_dist2=2.0, p=[0.5, 0.5])
    assert np.all(np.isfinite(R)) and np.all(R >= 1) and np.all(R == np.round(R))
    at = li_call(LI_A, (2 * R).astype(int)).value
    assert np.all(at <= eps)
    prev_ok = R == 1
    before = li_call(LI_A, (2 * np.maximum(R - 1, 1)).astype(int)).value
    assert np.all(prev_ok | (before > eps))
    # hand: eps = 416/41 is met exactly at T = 10, i.e. 5 rounds
    assert B.li2020_rounds_to_epsilon(416 / 41 * (1 + 1e-12), E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0],
                                      G=1.0, Gamma=0.5, w1_dist2=2.0, p=[0.5, 0.5]) == 5.0


def test_numeric_inversion_agrees_with_li_closed_form():
    kw = dict(E=5, L=3.0, mu=0.5, sigma2=[0.5, 1.0, 2.0, 4.0], G=2.0, Gamma=1 / 3, w1_dist2=5.0,
              p=[0.25] * 4, K=2, N=4, scheme="II")
    eps = np.array([0.05, 0.5, 3.0, 40.0])
    closed = B.li2020_rounds_to_epsilon(eps, **kw)
    numeric = B.rounds_to_epsilon(eps, lambda R: B.li2020_fedavg_bound(T=R * 5, **kw))
    np.testing.assert_array_equal(closed, numeric)


# ----------------------------------------------------------------------------------------
# Field Guide (Wang et al. 2021), Yu et al. 2019, SCAFFOLD
# ----------------------------------------------------------------------------------------


def fg_by_hand(T, tau, eta, L, sigma2, zeta, D, M):
    T, tau, eta, L, sigma2, zeta, D, M = map(Fr, (T, tau, eta, L, sigma2, zeta, D, M))
    return (D * D / (2 * eta * tau * T) + eta * sigma2 / M + 4 * tau * eta**2 * L * sigma2
            + 18 * tau**2 * eta**2 * L * zeta**2)


FG_A = dict(tau=3, eta=Fr(1, 8), L=2, sigma2=Fr(1, 2), zeta=Fr(1, 3), D=2, M=4)  # eta at 1/(4L)
FG_B = dict(tau=10, eta=Fr(1, 100), L=5, sigma2=3, zeta=Fr(1, 2), D=Fr(7, 2), M=16)


def fg_call(params, T):
    return B.field_guide_fedavg_bound(T=T, **{k: float(v) for k, v in params.items()})


def test_field_guide_hand_worked_number():
    # D^2/(2 eta tau T) = 4/(2*(1/8)*3*10) = 8/15; eta sigma2/M = (1/8)(1/2)/4 = 1/64;
    # 4 tau eta^2 L sigma2 = 4*3*(1/64)*2*(1/2) = 12/64; 18 tau^2 eta^2 L zeta^2 = 18*9*(1/64)*2/9
    # = 36/64 -> 8/15 + 49/64 = 1247/960
    np.testing.assert_allclose(fg_call(FG_A, 10).value, 1247 / 960, rtol=1e-14)


@pytest.mark.parametrize("params", [FG_A, FG_B], ids=["A", "B"])
def test_field_guide_matches_rational(params):
    for T in (1, 10, 1000):
        np.testing.assert_allclose(fg_call(params, T).value, float(fg_by_hand(T, **params)),
                                   rtol=1e-13)
    v = fg_call(params, np.arange(1, 100)).value
    assert np.all(np.diff(v) < 0)


def test_field_guide_rounds_and_floor():
    floor = float(fg_by_hand(10**30, **FG_B) - Fr(0))  # D-term negligible at T = 1e30
    kw = {k: float(v) for k, v in FG_B.items()}
    eps = np.array([floor * 0.5, floor * 1.001, floor * 1.5, floor * 10])
    R = B.field_guide_rounds_to_epsilon(eps, **kw)
    assert np.isinf(R[0])
    numeric = B.rounds_to_epsilon(eps[1:], lambda r: B.field_guide_fedavg_bound(T=r, **kw))
    np.testing.assert_array_equal(R[1:], numeric)
    assert np.all(fg_call(FG_B, R[1:].astype(int)).value <= eps[1:])
    bits = B.bits_to_epsilon(eps, functools.partial(B.field_guide_rounds_to_epsilon, **kw),
                             bits_per_round=B.dense_float32_bits(1000), clients=16)
    assert np.isinf(bits[0])
    np.testing.assert_array_equal(bits[1:], R[1:] * 32000 * 16)


def test_rounds_when_the_bound_sits_on_its_floor():
    # D = 0: the Field Guide bound equals its floor for every T -> R = 1 at the floor, inf below
    kw = {k: float(v) for k, v in dict(FG_A, D=0).items()}
    floor = fg_call(dict(FG_A, D=0), 1).value
    R = B.field_guide_rounds_to_epsilon([floor, floor * (1 - 1e-9), floor * 2], **kw)
    np.testing.assert_array_equal(R, [1.0, np.inf, 1.0])


def yu_by_hand(T, gamma, I, L, G, sigma2, N, f0_gap):
    T, gamma, I, L, G, sigma2, N, f0 = map(Fr, (T, gamma, I, L, G, sigma2, N, f0_gap))
    return 2 * f0 / (gamma * T) + 4 * gamma**2 * I**2 * G**2 * L**2 + L * gamma * sigma2 / N


YU_A = dict(gamma=Fr(1, 4), I=4, L=2, G=1, sigma2=2, N=8, f0_gap=3)
# B: floor 4*(1/100)^2*2^2*(1/2)^2*10^2 + 10*(1/100)*(1/3)/3 = 1/25 + 1/90 ~ 0.0511
YU_B = dict(gamma=Fr(1, 100), I=2, L=10, G=Fr(1, 2), sigma2=Fr(1, 3), N=3, f0_gap=Fr(5, 2))


def test_yu2019_hand_and_rational():
    # set A, T = 100: 2*3/((1/4)*100) = 6/25; 4*(1/16)*16*1*4 = 16; 2*(1/4)*2/8 = 1/8 -> 16.365
    kw = {k: float(v) for k, v in YU_A.items()}
    np.testing.assert_allclose(B.yu2019_local_sgd_bound(T=100, **kw).value, 16.365, rtol=1e-14)
    for params in (YU_A, YU_B):
        kw = {k: float(v) for k, v in params.items()}
        for T in (1, 37, 5000):
            np.testing.assert_allclose(B.yu2019_local_sgd_bound(T=T, **kw).value,
                                       float(yu_by_hand(T, **params)), rtol=1e-13)


def test_yu2019_rounds_consistent():
    kw = {k: float(v) for k, v in YU_B.items()}
    eps = np.array([0.2, 0.06, 1e-3])
    R = B.yu2019_rounds_to_epsilon(eps, **kw)
    finite = np.isfinite(R)
    assert finite[0] and finite[1] and not finite[2]
    T = (R[finite] * YU_B["I"]).astype(int)
    assert np.all(B.yu2019_local_sgd_bound(T=T, **kw).value <= eps[finite])
    Tm = np.maximum(T - YU_B["I"], 1)
    assert np.all((R[finite] == 1) | (B.yu2019_local_sgd_bound(T=Tm, **kw).value > eps[finite]))


def scaffold_by_hand(T, eta_l, eta_g, K, S, N, beta, sigma2, f0_gap):
    T, eta_l, eta_g, K, S, N, beta, sigma2, F = map(Fr, (T, eta_l, eta_g, K, S, N, beta, sigma2, f0_gap))
    h = K * eta_l * eta_g
    return 14 * F / (h * T) + 70 * beta * h * sigma2 / (K * S) * (1 + S / eta_g**2)


# A: S = N so (S/N)^(2/3) = 1, limit 1/(24*(1/2)) = 1/12 = h exactly.
SC_A = dict(eta_l=Fr(1, 48), eta_g=2, K=2, S=4, N=4, beta=Fr(1, 2), sigma2=3, f0_gap=7)
# B: S/N = 1/8 so (S/N)^(2/3) = 1/4, limit 1/96 > h = 1/100.
SC_B = dict(eta_l=Fr(1, 100), eta_g=1, K=1, S=2, N=16, beta=1, sigma2=Fr(1, 2), f0_gap=2)


def test_scaffold_hand_and_rational():
    # A, T = 50: 14*7/((1/12)*50) = 23.52; 70*(1/2)*(1/12)*3/(2*4)*(1+4/4) = 420/192 = 2.1875
    kw = {k: float(v) for k, v in SC_A.items()}
    np.testing.assert_allclose(B.scaffold_nonconvex_bound(T=50, **kw).value, 23.52 + 2.1875,
                               rtol=1e-14)
    for params in (SC_A, SC_B):
        kw = {k: float(v) for k, v in params.items()}
        for T in (1, 50, 10**6):
            np.testing.assert_allclose(B.scaffold_nonconvex_bound(T=T, **kw).value,
                                       float(scaffold_by_hand(T, **params)), rtol=1e-13)
        eps = float(scaffold_by_hand(10**9, **params)) * np.array([0.9, 1.5, 30.0])
        R = B.scaffold_rounds_to_epsilon(eps, **kw)
        assert np.isinf(R[0])
        np.testing.assert_array_equal(
            R[1:], B.rounds_to_epsilon(eps[1:], lambda r: B.scaffold_nonconvex_bound(T=r, **kw)))


# ----------------------------------------------------------------------------------------
# QSGD
# ----------------------------------------------------------------------------------------


def test_qsgd_formulas_by_hand():
    # d = 16, s = 2: min(16/4, 4/2) = 2; s(s + sqrt d) = 2*6 = 12
    # d = 16, s = 8: min(16/64, 4/8) = 1/4; 8*(8 + 4) = 96
    np.testing.assert_allclose(B.qsgd_variance_bound(16, 2, v_norm2=3.0).value, 6.0)
    np.testing.assert_allclose(B.qsgd_variance_bound(16, 8).value, 0.25)
    np.testing.assert_allclose(B.qsgd_nonzeros_bound([16, 16], [2, 8]).value, [12.0, 96.0])
    # d = 100, s = 10: nnz = 200, 2(s^2 + d)/nnz = 400/200 = 2, log2 = 1 -> (3 + 1.5)*200 + 32 = 932;
    # with o(1) := 0.5: (3 + 2)*200 + 32 = 1032
    np.testing.assert_allclose(B.qsgd_expected_bits_bound(100, 10).value, 932.0, rtol=1e-15)
    np.testing.assert_allclose(B.qsgd_expected_bits_bound(100, 10, elias_o1=0.5).value, 1032.0)
    # d = 16, s = 2: nnz = 12, ratio 40/12 = 10/3
    expected = (3 + 1.5 * math.log2(10 / 3)) * 12 + 32
    b = B.qsgd_expected_bits_bound(16, 2)
    np.testing.assert_allclose(b.value, expected, rtol=1e-14)
    assert b.kind == "upper" and not b.rigorous  # o(1) dropped: asymptotic form
    np.testing.assert_allclose(B.qsgd_dense_bits_bound([100, 10**6]).value, [312.0, 2.8e6 + 32])


def qsgd_quantise(v, s, n_draws, rng):
    """Independent QSGD quantiser (Alistarh et al. 2017, Sec. 3.1): stochastic rounding of
    |v_i|/||v|| to the grid {0, 1/s, ..., 1}, unbiased."""
    norm = np.sqrt(np.sum(v * v))
    level = np.abs(v) / norm * s
    low = np.floor(level)
    go_up = rng.random((n_draws, v.size)) < (level - low)
    return norm * np.sign(v) * (low + go_up) / s


@pytest.mark.parametrize("s", [1, 2, 5])
@pytest.mark.parametrize("shape", ["flat", "gauss", "spike"])
def test_qsgd_upper_bounds_hold_in_simulation(s, shape):
    d, n = 16, 4000
    rng = np.random.default_rng(2024 + 10 * s + len(shape))
    v = {"flat": np.full(d, -0.7), "gauss": rng.standard_normal(d),
         "spike": np.r_[5.0, 0.3 * rng.standard_normal(d - 1)]}[shape]
    Q = qsgd_quantise(v, s, n, rng)
    # unbiasedness, per coordinate within 5 standard errors
    se = Q.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(Q.mean(axis=0) - v) <= 5 * se + 1e-12)
    err2 = np.sum((Q - v) ** 2, axis=1)
    nnz = np.count_nonzero(Q, axis=1).astype(float)
    var_bound = B.qsgd_variance_bound(d, s, v_norm2=float(v @ v))
    nnz_bound = B.qsgd_nonzeros_bound(d, s)
    assert_kind_holds(var_bound, err2.mean(), tol=4 * err2.std(ddof=1) / np.sqrt(n))
    assert_kind_holds(nnz_bound, nnz.mean(), tol=4 * nnz.std(ddof=1) / np.sqrt(n))


def test_qsgd_variance_bound_is_not_vacuous_here():
    # flat vector, d = 16, s = 1: |v_i|/||v|| = 1/4, each coordinate rounds up w.p. 1/4, so
    # E||Q - v||^2 = 16 * ||v||^2 * (1/4)(3/4) = 3 ||v||^2 vs bound min(16, 4) = 4: ratio 3/4,
    # so a simulation error of a third of the bound would be caught by the test above.
    rng = np.random.default_rng(7)
    v = np.ones(16)
    Q = qsgd_quantise(v, 1, 20000, rng)
    np.testing.assert_allclose(np.mean(np.sum((Q - v) ** 2, axis=1)), 3 * 16, rtol=0.03)
    assert B.qsgd_variance_bound(16, 1, 16.0).value == 64.0


# ----------------------------------------------------------------------------------------
# Top-k / random-k and Mem-SGD
# ----------------------------------------------------------------------------------------


def test_topk_contraction_exact_on_random_vectors():
    rng = np.random.default_rng(11)
    for _ in range(200):
        d = int(rng.integers(1, 60))
        k = int(rng.integers(1, d + 1))
        x = rng.standard_normal(d) * rng.exponential(size=d)
        keep = np.argsort(-np.abs(x), kind="stable")[:k]
        residual = x.copy()
        residual[keep] = 0.0
        b = B.k_contraction_bound(d, k, x_norm2=float(x @ x))
        assert_kind_holds(b, float(residual @ residual), tol=1e-12 * float(x @ x))


def test_k_contraction_tight_cases():
    # equal magnitudes: top-k leaves (d-k) c^2 = (1 - k/d) ||x||^2 exactly
    d, k = 10, 3
    x = np.array([1, -1, 1, 1, -1, 1, -1, -1, 1, 1], dtype=float)
    np.testing.assert_allclose(B.k_contraction_bound(d, k, x @ x).value, 7.0)
    # rand-k (unscaled): the expectation over all C(6,2) index sets equals (1 - k/d) ||x||^2
    x = np.array([3.0, -1.0, 0.5, 2.0, 0.0, -4.0])
    resid = [sum(x[i] ** 2 for i in range(6) if i not in S) for S in itertools.combinations(range(6), 2)]
    np.testing.assert_allclose(np.mean(resid), B.k_contraction_bound(6, 2, x @ x).value, rtol=1e-14)


def test_memsgd_weight_sum_exact():
    for T, a in [(1, 2), (3, 13), (50, Fr(7, 2)), (200, 61)]:
        exact = sum((Fr(a) + t) ** 2 for t in range(T))
        np.testing.assert_allclose(B.memsgd_weight_sum(T, float(a)), float(exact), rtol=1e-13)
        assert float(exact) >= T**3 / 3
    # hand: a = 13, T = 3: 169 + 196 + 225 = 590
    assert B.memsgd_weight_sum(3, 13.0) == 590.0


def memsgd_by_hand(T, a, alpha, d, k, L, mu, G, x0):
    T, a, alpha, d, k, L, mu, G, x0 = map(Fr, (T, a, alpha, d, k, L, mu, G, x0))
    S = sum((a + t) ** 2 for t in range(int(T)))
    return (4 * T * (T + 2 * a) / (mu * S) * G**2 + mu * a**3 / (8 * S) * x0
            + 64 * T * (1 + 2 * L / mu) / (mu * S) * (4 * alpha / (alpha - 4)) * d**2 / k**2 * G**2)


def test_memsgd_bound_hand_and_rational():
    # d = 4, k = 2, alpha = 5: rho = 20/36 = 5/9, rho/(rho+1) = 5/14, a_min = 6*2 + 5/14 -> a = 13.
    # T = 3, S_T = 590, L = 2, mu = 1, G = 1, ||x0 - x*||^2 = 1:
    # 4*3*29/590 + 13^3/(8*590) + 64*3*5*20*4/590 = (2784 + 2197 + 614400)/4720 = 619381/4720
    b = B.stich2018_memsgd_bound(T=3, a=13.0, alpha=5.0, d=4, k=2, L=2.0, mu=1.0, G=1.0, x0_dist2=1.0)
    np.testing.assert_allclose(b.value, 619381 / 4720, rtol=1e-14)
    np.testing.assert_allclose(B.memsgd_min_shift(5.0, 4, 2), 12 + 5 / 14, rtol=1e-15)
    for p in [(7, 13, 5, 4, 2, 2, 1, 1, 1), (1000, 71, 6, 100, 10, Fr(5, 2), Fr(1, 2), 3, 10)]:
        got = B.stich2018_memsgd_bound(*map(float, p)).value
        np.testing.assert_allclose(got, float(memsgd_by_hand(*p)), rtol=1e-12)
    np.testing.assert_allclose(B.memsgd_step_size(4, 0.5, 13.0), 8 / (0.5 * 17), rtol=1e-15)


def test_memsgd_monotone_and_numeric_rounds():
    kw = dict(a=71.0, alpha=6.0, d=100, k=10, L=2.5, mu=0.5, G=3.0, x0_dist2=10.0)
    v = B.stich2018_memsgd_bound(T=np.arange(1, 5000), **kw).value
    assert np.all(np.diff(v) < 0)
    eps = np.array([1.0, 10.0, 100.0])
    R = B.rounds_to_epsilon(eps, lambda T: B.stich2018_memsgd_bound(T=T, **kw))
    at = B.stich2018_memsgd_bound(T=R.astype(int), **kw).value
    before = B.stich2018_memsgd_bound(T=np.maximum(R - 1, 1).astype(int), **kw).value
    assert np.all(at <= eps) and np.all((R == 1) | (before > eps))
    bits = B.bits_to_epsilon(eps, lambda e: B.rounds_to_epsilon(
        e, lambda T: B.stich2018_memsgd_bound(T=T, **kw)), B.topk_bits(100, 10), clients=1)
    np.testing.assert_array_equal(bits, R * 10 * (32 + 7))


# ----------------------------------------------------------------------------------------
# Communication
# ----------------------------------------------------------------------------------------


def test_bit_counts_by_hand():
    assert B.dense_float32_bits(1000) == 32000
    # ceil(log2 1000) = 10 (2^10 = 1024); 1024 -> 10; 1025 -> 11; 1 -> 0
    np.testing.assert_array_equal(B.topk_bits([1000, 1024, 1025, 1], [10, 10, 10, 1]),
                                  [420, 420, 430, 32])
    assert B.randk_shared_seed_bits(10) == 32 * 10 + 64
    assert B.randk_shared_seed_bits(10, seed_bits=0) == 320
    assert B.int8_quantised_bits(1000) == 8032
    d = np.arange(1, 5000)
    exact = np.array([(int(x) - 1).bit_length() for x in d])  # ceil(log2 d), integer arithmetic
    np.testing.assert_array_equal(B.topk_bits(d, 1), 32 + exact)


def test_korhonen_lower_bound_order_only():
    # N = 2, d = 64, eps = 1/4: d/(N eps) = 128, log2 = 7 -> 2*64*7 = 896
    b = B.korhonen2021_communication_lower_bound(2, 64, 0.25)
    assert b.value == 896.0 and b.kind == "lower" and not b.rigorous
    v = B.korhonen2021_communication_lower_bound(10, 1000, [0.01, 0.001]).value
    np.testing.assert_allclose(v, [1e4 * math.log2(1e4), 1e4 * math.log2(1e5)], rtol=1e-14)


def test_bits_to_epsilon_is_rounds_times_bits_times_clients():
    kw = dict(E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0], G=1.0, Gamma=0.5, w1_dist2=2.0, p=[0.5, 0.5])
    eps = np.logspace(-2, 1, 7)
    rounds = functools.partial(B.li2020_rounds_to_epsilon, **kw)
    q = B.qsgd_expected_bits_bound(1024, 4).value
    got = B.bits_to_epsilon(eps, rounds, q, clients=2)
    np.testing.assert_allclose(got, rounds(eps) * q * 2, rtol=1e-15)
    # smaller eps never needs fewer bits
    assert np.all(np.diff(got) <= 0)


# ----------------------------------------------------------------------------------------
# Record and preconditions
# ----------------------------------------------------------------------------------------


def test_bound_record():
    b = B.Bound(value=np.array([1.0, 2.0]), kind="upper", theorem="t", quantity="q")
    with pytest.raises(ValueError):
        b.value[0] = 5.0  # read-only
    with pytest.raises(AttributeError):
        b.kind = "lower"  # frozen
    np.testing.assert_array_equal(b.holds([1.0, 2.5]), [True, False])
    lo = B.Bound(value=1.0, kind="lower", theorem="t", quantity="q")
    assert lo.holds(2.0) and not lo.holds(0.5)
    ti = B.Bound(value=1.0, kind="tight", theorem="t", quantity="q")
    assert ti.holds(1.0 + 1e-10, atol=1e-9) and not ti.holds(1.1, atol=1e-9)
    assert isinstance(B.qsgd_variance_bound(16, 2).value, float)
    with pytest.raises(ValueError, match="kind"):
        B.Bound(value=1.0, kind="approximate", theorem="t", quantity="q")


LI_OK = dict(T=10, E=2, L=1.0, mu=0.25, sigma2=[1.0, 3.0], G=1.0, Gamma=0.5, w1_dist2=2.0, p=[0.5, 0.5])
FG_OK = dict(T=10, tau=3, eta=0.125, L=2.0, sigma2=0.5, zeta=0.3, D=2.0, M=4)
YU_OK = dict(T=10, gamma=0.25, I=4, L=2.0, G=1.0, sigma2=2.0, N=8, f0_gap=3.0)
SC_OK = dict(T=10, eta_l=1 / 48, eta_g=2.0, K=2, S=4, N=4, beta=0.5, sigma2=3.0, f0_gap=7.0)
MS_OK = dict(T=3, a=13.0, alpha=5.0, d=4, k=2, L=2.0, mu=1.0, G=1.0, x0_dist2=1.0)


@pytest.mark.parametrize(
    "fn, kwargs, name",
    [
        (B.li2020_fedavg_bound, dict(LI_OK, T=9), "T"),
        (B.li2020_fedavg_bound, dict(LI_OK, mu=2.0), "mu"),
        (B.li2020_fedavg_bound, dict(LI_OK, p=[0.5, 0.6]), "p"),
        (B.li2020_fedavg_bound, dict(LI_OK, sigma2=[1.0, 2.0, 3.0]), "sigma2"),
        (B.li2020_fedavg_bound, dict(LI_OK, G=-1.0), "G"),
        (B.li2020_fedavg_bound, dict(LI_OK, E=0), "E"),
        (B.li2020_fedavg_bound, dict(LI_OK, scheme="III"), "scheme"),
        (B.li2020_fedavg_bound, dict(LI_OK, scheme="I"), "K"),
        (B.li2020_fedavg_bound, dict(LI_OK, scheme="I", K=3), "K"),
        (B.li2020_fedavg_bound, dict(LI_OK, N=3), "N"),
        (B.li2020_fedavg_bound, dict(LI_OK, p=[0.25, 0.75], scheme="II", K=1), "p"),
        (B.li2020_step_size, dict(t=1, L=1.0, mu=2.0, E=2), "mu"),
        (B.li2020_rounds_to_epsilon, dict({k: v for k, v in LI_OK.items() if k != "T"}, epsilon=0.0),
         "epsilon"),
        (B.field_guide_fedavg_bound, dict(FG_OK, eta=0.13), "eta"),
        (B.field_guide_fedavg_bound, dict(FG_OK, tau=0), "tau"),
        (B.yu2019_local_sgd_bound, dict(YU_OK, gamma=0.6), "gamma"),
        (B.scaffold_nonconvex_bound, dict(SC_OK, eta_l=1 / 40), "eta_l"),
        (B.scaffold_nonconvex_bound, dict(SC_OK, eta_g=0.5), "eta_g"),
        (B.scaffold_nonconvex_bound, dict(SC_OK, S=5), "S"),
        (B.qsgd_variance_bound, dict(d=16, s=0), "s"),
        (B.qsgd_expected_bits_bound, dict(d=16, s=1), "s"),
        (B.qsgd_expected_bits_bound, dict(d=0, s=2), "d"),
        (B.k_contraction_bound, dict(d=4, k=5), "k"),
        (B.stich2018_memsgd_bound, dict(MS_OK, alpha=4.0), "alpha"),
        (B.stich2018_memsgd_bound, dict(MS_OK, a=12.0), "a"),
        (B.korhonen2021_communication_lower_bound, dict(N=2, d=64, epsilon=32.0), "epsilon"),
        (B.topk_bits, dict(d=10, k=11), "k"),
        (B.bits_to_epsilon, dict(epsilon=1.0, rounds_fn=lambda e: e * 0 + 3, bits_per_round=0.0,
                                 clients=1), "bits_per_round"),
        (B.bits_to_epsilon, dict(epsilon=1.0, rounds_fn=lambda e: e * 0 + 3, bits_per_round=8.0,
                                 clients=0), "clients"),
    ],
)
def test_preconditions_raise_naming_the_parameter(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"(^|\W){re.escape(name)}\W"):
        fn(**kwargs)


@pytest.mark.parametrize(
    "fn, kwargs, limit",
    [
        (B.field_guide_fedavg_bound, dict(FG_OK, eta=0.13), "1/(4L) = 0.125"),
        (B.yu2019_local_sgd_bound, dict(YU_OK, gamma=0.6), "1/L = 0.5"),
        (B.stich2018_memsgd_bound, dict(MS_OK, a=12.0), "12.357"),
    ],
)
def test_step_limits_are_named_in_the_message(fn, kwargs, limit):
    with pytest.raises(ValueError, match=re.escape(limit)):
        fn(**kwargs)


def test_preconditions_at_the_limit_are_accepted():
    # the limits are inclusive in the theorems: eta = 1/(4L), gamma = 1/L, h = limit, a = a_min
    B.field_guide_fedavg_bound(**FG_OK)  # eta = 1/8 = 1/(4*2)
    B.yu2019_local_sgd_bound(**dict(YU_OK, gamma=0.5))
    B.scaffold_nonconvex_bound(**SC_OK)  # h = 2*(1/48)*2 = 1/12 = 1/(24*0.5)
    B.stich2018_memsgd_bound(**dict(MS_OK, a=B.memsgd_min_shift(5.0, 4, 2)))


def test_provenance_labels_are_honest():
    # recalled statements and secondary constants are never offered as rigorous values
    yu = B.yu2019_local_sgd_bound(T=10, gamma=0.1, I=2, L=1.0, G=1.0, sigma2=1.0, N=2, f0_gap=1.0)
    assert yu.source_checked == "recalled" and not yu.rigorous
    sc = B.scaffold_nonconvex_bound(T=10, eta_l=0.001, eta_g=1.0, K=2, S=2, N=2, beta=1.0, sigma2=1.0, f0_gap=1.0)
    assert sc.source_checked == "secondary" and not sc.rigorous
    assert B.li2020_fedavg_bound(T=2, E=1, L=1.0, mu=0.5, sigma2=[1.0], G=1.0, Gamma=0.0, w1_dist2=1.0,
                                 p=[1.0]).source_checked == "verbatim"
    # QSGD Corollary 3.3 needs s = sqrt(d): an integer only for a perfect square d
    assert B.qsgd_dense_bits_bound(64).rigorous and not B.qsgd_dense_bits_bound(63).rigorous
    assert not B.qsgd_dense_bits_bound(np.array([64, 63])).rigorous
    with pytest.raises(ValueError, match="source_checked"):
        B.Bound(value=1.0, kind="upper", theorem="t", quantity="q", source_checked="read somewhere")


def test_ef21_by_hand():
    # alpha = 1/4: theta = 1 - sqrt(3)/2, beta = (3/4)/theta, sqrt(beta/theta) = sqrt(3)/2 / theta
    theta = 1 - math.sqrt(3) / 2
    limit = 1 / (2.0 + 3.0 * (math.sqrt(3) / 2) / theta)
    assert B.ef21_step_limit(2.0, 3.0, 0.25) == pytest.approx(limit, rel=1e-14)
    b = B.ef21_bound(T=[10, 20], gamma=limit, L=2.0, L_tilde=3.0, alpha=0.25, f0_gap=5.0, G0=0.3)
    np.testing.assert_allclose(b.value, [2 * 5 / (limit * 10) + 0.3 / (theta * 10),
                                         2 * 5 / (limit * 20) + 0.3 / (theta * 20)], rtol=1e-14)
    assert b.kind == "upper" and b.source_checked == "recalled" and not b.rigorous
    with pytest.raises(ValueError, match="gamma must be <="):
        B.ef21_bound(T=1, gamma=1.01 * limit, L=2.0, L_tilde=3.0, alpha=0.25, f0_gap=1.0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        B.ef21_step_limit(1.0, 1.0, 0.0)


def test_ceil_log2_is_exact_at_and_around_every_power_of_two():
    # independent: Python's exact integer bit_length, ceil(log2 d) = (d - 1).bit_length()
    d = sorted({max(1, (1 << e) + k) for e in range(0, 62) for k in (-1, 0, 1)} | set(range(1, 70)))
    got = B.ceil_log2(np.array(d, dtype=np.int64))
    assert got.tolist() == [(x - 1).bit_length() for x in d]
    # float input holding integers (how Theorem 4 passes d) gives the same answer
    assert B.ceil_log2(np.array([1024.0, 1025.0])).tolist() == [10, 11]
