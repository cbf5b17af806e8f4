"""Tests for fsnn_theory.studies.estimate: every estimate against an independent computation.

Hessians against finite differences of the model's own gradient; variances against a direct
Monte-Carlo of minibatch gradients drawn with replacement; optima against scipy's BFGS run here;
the recording wrapper against a bare run (bit-identical histories).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from fsnn_theory.data import Split
from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule, run_federated
from fsnn_theory.federated.logreg import LogisticRegressionModel, smoothness_constant
from fsnn_theory.federated.partition import dirichlet_partition, iid_partition
from fsnn_theory.studies import estimate as est


def toy(n=60, F=4, C=3, l2=0.05, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, F))
    y = rng.integers(0, C, size=n)
    return LogisticRegressionModel(F, C, l2=l2), X, y


def fd_hessian(model, w, X, y, h=1e-5):
    """Central differences of the model's own gradient, one coordinate at a time."""
    d = w.size
    H = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        H[:, j] = (model.loss_and_grad(w + e, X, y)[1] - model.loss_and_grad(w - e, X, y)[1]) / (2 * h)
    return 0.5 * (H + H.T)


# ---------------------------------------------------------------------------------------------
# Exact constants of the convex model
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_logreg_hessian_matches_finite_differences(seed):
    model, X, y = toy(seed=seed)
    w = np.random.default_rng(seed + 10).standard_normal(model.n_params)
    np.testing.assert_allclose(est.logreg_hessian(model, w, X), fd_hessian(model, w, X, y), atol=1e-7, rtol=1e-6)


def test_smoothness_at_point_is_exact_and_below_boehning():
    model, X, y = toy()
    w = np.random.default_rng(3).standard_normal(model.n_params)
    at = est.logreg_smoothness_at(model, w, X)
    lam = np.linalg.eigvalsh(fd_hessian(model, w, X, y))[-1]
    np.testing.assert_allclose(at.value, lam, rtol=1e-6)
    assert at.method == "exact" and not at.guaranteed  # exact at a point, a lower bound on the global L
    bound = est.logreg_smoothness_bound(model, X)
    assert bound.method == "upper bound" and bound.guaranteed
    # Böhning written out independently: lambda + lambda_max(Z^T Z / n) / 2
    Z = np.hstack([X, np.ones((X.shape[0], 1))])
    np.testing.assert_allclose(bound.value, model.l2 + 0.5 * np.linalg.eigvalsh(Z.T @ Z / len(Z))[-1])
    # the upper bound dominates the exact curvature at many points
    for s in range(5):
        w = 3.0 * np.random.default_rng(s).standard_normal(model.n_params)
        assert est.logreg_smoothness_at(model, w, X).value <= bound.value + 1e-12


def test_strong_convexity_is_exactly_lambda():
    """mu = lambda is the best constant: the cross-entropy Hessian is singular at every point."""
    model, X, y = toy(l2=0.07)
    assert est.logreg_strong_convexity(model).value == 0.07
    for s in range(3):
        w = np.random.default_rng(s).standard_normal(model.n_params)
        np.testing.assert_allclose(np.linalg.eigvalsh(fd_hessian(model, w, X, y))[0], 0.07, atol=1e-6)


def test_client_and_component_smoothness_bounds():
    model, X, y = toy(n=80)
    part = iid_partition(y, 4, 0)
    cb = est.logreg_client_smoothness_bound(model, X, part.client_indices)
    Z = model.design(X)
    expect = max(smoothness_constant(Z[i], model.l2) for i in part.client_indices)
    np.testing.assert_allclose(cb.value, expect)
    comp = est.logreg_component_smoothness_bound(model, X)
    # every single-sample Hessian (assembled by finite differences) is below the component bound
    w = np.random.default_rng(0).standard_normal(model.n_params)
    for i in range(0, 80, 20):
        lam = np.linalg.eigvalsh(fd_hessian(model, w, X[i:i + 1], y[i:i + 1]))[-1]
        assert lam <= comp.value + 1e-6


def test_dissimilarity_and_variance_bounds_dominate_measurements():
    model, X, y = toy(n=60)
    part = dirichlet_partition(y, 3, 0.2, 0)
    zb = est.logreg_dissimilarity_bound(model, X)
    vb = est.logreg_variance_bound(model, X, 2)
    Z = np.hstack([X, np.ones((60, 1))])
    np.testing.assert_allclose(zb.value, 2 * np.sqrt(2) * np.sqrt(np.max(np.sum(Z**2, axis=1))))
    np.testing.assert_allclose(vb.value, np.max(np.sum(Z**2, axis=1)))  # 2 max||z||^2 / B with B = 2
    for s in range(6):  # including far-out points where the softmax saturates
        w = (1 + 10 * s) * np.random.default_rng(s).standard_normal(model.n_params)
        z = est.gradient_dissimilarity(model, w, X, y, part.client_indices, part.weights).value
        assert z <= zb.value
        for idx in part.client_indices:
            assert est.minibatch_gradient_variance(model, w, X[idx], y[idx], 2) <= vb.value


def test_power_iteration_matches_exact_eigenvalue():
    model, X, y = toy()
    w = np.random.default_rng(5).standard_normal(model.n_params)
    pi = est.smoothness_power_iteration(model, w, X, y, iters=500, rtol=1e-10)
    exact = np.linalg.eigvalsh(est.logreg_hessian(model, w, X))[-1]
    np.testing.assert_allclose(pi.value, exact, rtol=1e-3)
    assert pi.method == "measured at points" and not pi.guaranteed


# ---------------------------------------------------------------------------------------------
# Gradient moments
# ---------------------------------------------------------------------------------------------


def test_per_sample_gradients_against_single_sample_calls():
    model, X, y = toy(n=12)
    w = np.random.default_rng(1).standard_normal(model.n_params)
    G = est.logreg_per_sample_gradients(model, w, X, y)
    for i in range(12):
        np.testing.assert_allclose(G[i], model.loss_and_grad(w, X[i:i + 1], y[i:i + 1])[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G.mean(axis=0), model.loss_and_grad(w, X, y)[1], rtol=1e-12, atol=1e-14)


def test_minibatch_variance_against_monte_carlo():
    model, X, y = toy(n=40)
    w = np.random.default_rng(2).standard_normal(model.n_params)
    B = 4
    s2 = est.minibatch_gradient_variance(model, w, X, y, B)
    g = model.loss_and_grad(w, X, y)[1]
    rng = np.random.default_rng(123)
    draws = 4000
    dev2 = np.empty(draws)
    for m in range(draws):  # batches drawn with replacement, as the federated loop does
        idx = rng.integers(0, 40, size=B)
        dev2[m] = np.sum((model.loss_and_grad(w, X[idx], y[idx])[1] - g) ** 2)
    se = dev2.std() / np.sqrt(draws)
    assert abs(dev2.mean() - s2) < 4 * se, (dev2.mean(), s2, se)
    np.testing.assert_allclose(est.minibatch_gradient_second_moment(model, w, X, y, B), g @ g + s2, rtol=1e-12)


def test_generic_variance_path_equals_logreg_path():
    """The generic per-sample loop (used for the spiking network) agrees with the closed form."""
    model, X, y = toy(n=15)
    w = np.random.default_rng(4).standard_normal(model.n_params)

    class Plain:  # only the protocol's loss_and_grad: forces the generic per-sample loop
        n_params = model.n_params

        def loss_and_grad(self, p, Xb, yb):
            return model.loss_and_grad(p, Xb, yb)

    np.testing.assert_allclose(est.minibatch_gradient_variance(Plain(), w, X, y, 3),
                               est.minibatch_gradient_variance(model, w, X, y, 3), rtol=1e-10)


def test_client_gradient_moments_against_per_client_calls():
    model, X, y = toy(n=50)
    part = dirichlet_partition(y, 3, 0.5, 0)
    st = est.LogregTrajectoryStats(model, X, y, part.client_indices, part.weights, batch_size=5, local_steps=1)
    P = np.random.default_rng(7).standard_normal((3, model.n_params))
    grad, s2, m2 = est.logreg_client_gradient_moments(model, P, st.Zc, st.Yc, st.mask, st.counts, 5)
    for k, idx in enumerate(part.client_indices):
        g = model.loss_and_grad(P[k], X[idx], y[idx])[1]
        np.testing.assert_allclose(grad[k], g, rtol=1e-12, atol=1e-14)
        per = np.stack([model.loss_and_grad(P[k], X[i:i + 1], y[i:i + 1])[1] for i in idx])
        var = np.mean(np.sum((per - g) ** 2, axis=1)) / 5
        np.testing.assert_allclose(s2[k], var, rtol=1e-9)
        np.testing.assert_allclose(m2[k], g @ g + var, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Optima, Gamma, distance
# ---------------------------------------------------------------------------------------------


def test_solver_certificate_on_a_quadratic():
    A = np.diag([1.0, 4.0, 9.0])
    b = np.array([1.0, -2.0, 0.5])
    xstar = np.linalg.solve(A, b)
    fstar = -0.5 * b @ xstar

    def f(x):
        return 0.5 * x @ A @ x - b @ x, A @ x - b

    opt = est.solve_strongly_convex(f, np.zeros(3), mu=1.0)
    assert opt.value_lower <= fstar <= opt.value
    assert np.linalg.norm(opt.params - xstar) <= opt.dist_bound + 1e-15
    np.testing.assert_allclose(opt.params, xstar, atol=1e-9)


def _bfgs_min(model, X, y):
    res = minimize(lambda w: model.loss_and_grad(w, X, y), np.zeros(model.n_params), jac=True, method="BFGS",
                   options={"gtol": 1e-11, "maxiter": 10000})
    return res.fun


def test_gamma_nonnegative_and_matches_independent_solves():
    model, X, y = toy(n=90)
    part = dirichlet_partition(y, 4, 0.3, 1)
    g = est.heterogeneity_gamma(model, X, y, part.client_indices, part.weights, model.l2)
    lo, hi = g.interval
    assert lo <= hi and lo >= -1e-12 and g.value == hi
    expect = _bfgs_min(model, X, y) - sum(p * _bfgs_min(model, X[i], y[i])
                                          for p, i in zip(part.weights, part.client_indices))
    np.testing.assert_allclose(g.value, expect, atol=1e-8)
    assert expect > 1e-4  # a heterogeneous split really has Gamma > 0


def test_gamma_is_zero_for_one_client():
    model, X, y = toy(n=40)
    g = est.heterogeneity_gamma(model, X, y, [np.arange(40)], [1.0], model.l2)
    np.testing.assert_allclose(g.value, 0.0, atol=1e-10)
    assert g.interval[0] <= 0.0 <= g.interval[1] + 1e-15


def test_client_optima_joint_solve_equals_separate_solves():
    model, X, y = toy(n=60)
    part = iid_partition(y, 3, 2)
    joint = est.client_optima(model, X, y, part.client_indices, model.l2)
    for opt, idx in zip(joint, part.client_indices):
        np.testing.assert_allclose(opt.value, _bfgs_min(model, X[idx], y[idx]), atol=1e-9)
        assert opt.value_lower <= opt.value


def test_initial_distance_interval_contains_truth():
    model, X, y = toy(n=50)
    res = minimize(lambda w: model.loss_and_grad(w, X, y), np.zeros(model.n_params), jac=True, method="BFGS",
                   options={"gtol": 1e-12})
    w1 = np.random.default_rng(0).standard_normal(model.n_params)
    opt = est.model_optimum(model, X, y, model.l2)
    d2 = est.initial_distance2(w1, opt)
    true = np.sum((w1 - res.x) ** 2)
    assert d2.interval[0] - 1e-9 <= true <= d2.interval[1] + 1e-9


def test_gradient_dissimilarity_against_direct_computation():
    model, X, y = toy(n=60)
    part = dirichlet_partition(y, 3, 0.2, 0)
    pts = np.random.default_rng(1).standard_normal((2, model.n_params))
    z = est.gradient_dissimilarity(model, pts, X, y, part.client_indices, part.weights)
    best = 0.0
    for w in pts:
        full = model.loss_and_grad(w, X, y)[1]  # = sum_k p_k grad F_k with p_k = n_k / n
        for idx in part.client_indices:
            best = max(best, np.linalg.norm(model.loss_and_grad(w, X[idx], y[idx])[1] - full))
    np.testing.assert_allclose(z.value, best, rtol=1e-10)
    assert z.method == "measured along trajectory"


# ---------------------------------------------------------------------------------------------
# Recording trajectories
# ---------------------------------------------------------------------------------------------


def _fed_setup(n=80, N=4, E=3, rounds=4, scheme="full", K=None, seed=0):
    model, X, y = toy(n=n)
    Xt, yt = toy(n=20, seed=9)[1:]
    train, test = Split(X, y), Split(Xt, yt)
    part = dirichlet_partition(y, N, 0.5, 0)
    L = est.logreg_client_smoothness_bound(model, X, part.client_indices).value
    cfg = FederatedConfig(rounds=rounds, local_steps=E, batch_size=5, schedule=StepSchedule("li2020", L=L, mu=model.l2),
                          scheme=scheme, clients_per_round=K, compressor="none64", wire_bits=64, seed=seed)
    return model, train, test, part, cfg


@pytest.mark.parametrize("scheme,K", [("full", None), ("I", 3)])
def test_recording_wrapper_is_transparent(scheme, K):
    model, train, test, part, cfg = _fed_setup(scheme=scheme, K=K)
    calls = []
    rec = est.recording_model(model, lambda P, G, Z, y: calls.append((P.copy(), G.copy())))
    a = run_federated(model, train, test, part, cfg)
    b = run_federated(rec, train, test, part, cfg)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.history["train_loss"].to_numpy(), b.history["train_loss"].to_numpy())
    assert len(calls) == cfg.rounds * cfg.local_steps
    # the recorded gradients are the model's minibatch gradients at the recorded iterates
    P, G = calls[1]
    assert np.all(np.isfinite(G)) and P.shape == G.shape


def test_trajectory_stats_bound_what_a_direct_recomputation_sees():
    model, train, test, part, cfg = _fed_setup()
    st = est.LogregTrajectoryStats(model, train.X, train.y, part.client_indices, part.weights, cfg.batch_size,
                                   cfg.local_steps)
    seen = []
    rec = est.recording_model(model, lambda *a: (st.callback(*a), seen.append(a[0].copy())))
    run_federated(rec, train, test, part, cfg)
    assert st.steps == cfg.rounds * cfg.local_steps
    assert len(st.round_models) == cfg.rounds
    # every visited local iterate: exact per-client variance and second moment below the maxima
    for P in seen:
        for k, idx in enumerate(part.client_indices):
            s2 = est.minibatch_gradient_variance(model, P[k], train.X[idx], train.y[idx], cfg.batch_size)
            m2 = est.minibatch_gradient_second_moment(model, P[k], train.X[idx], train.y[idx], cfg.batch_size)
            assert s2 <= st.sigma2_max[k] * (1 + 1e-9) + 1e-15
            assert m2 <= st.G2 * (1 + 1e-9)
    z = est.gradient_dissimilarity(model, np.array(st.round_models), train.X, train.y, part.client_indices,
                                   part.weights)
    np.testing.assert_allclose(st.zeta_max, z.value, rtol=1e-10)


def test_client_lookup_rejects_ambiguous_and_unknown_rows():
    rows = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    look = est.ClientLookup(rows, [np.array([0, 1]), np.array([2])])
    assert look(rows[1]) == 0
    with pytest.raises(ValueError, match="two clients"):
        look(rows[0])
    with pytest.raises(ValueError, match="no client"):
        look(np.array([9.0, 9.0]))


def test_estimate_record_validation():
    with pytest.raises(ValueError, match="method"):
        est.Estimate("L", 1.0, "guessed", False)
    with pytest.raises(ValueError, match="NaN"):
        est.Estimate("L", float("nan"), "exact", True)
    e = est.Estimate("sigma2", [1.0, 2.0], "measured along trajectory", False)
    assert "max 2" in e.describe()
    with pytest.raises(ValueError):
        e.value[0] = 3.0  # frozen
