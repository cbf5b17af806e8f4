"""Theorem 5's formulas (fsnn_theory.theory.smoothing), the two-point oracle model, and the experiment.

Independent derivations: the loss range against the network's own loss at extreme spike times;
the smoothing constants against closed-form smoothings of step functions (scipy's normal cdf,
finite differences); the oracle against the engine's exact spike-time gradient; the step size
against a brute-force grid; the experiment's hypothesis flag against a step outside γ ≤ 1/L.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fsnn_theory.data import yin_yang_dataset
from fsnn_theory.network import _first_spike_loss, yin_yang_classifier
from fsnn_theory.smoothed import SmoothedLayerClassifier
from fsnn_theory.theory import smoothing as sm


def test_loss_range_is_attained_by_extreme_spike_times():
    base = yin_yang_classifier(hidden=(), alpha=0.0, xi=0.25, t_max=3.0)
    lo, hi = sm.ttfs_cross_entropy_range(3, 3.0, 0.25)
    # label last, others at 0 -> largest; label first, others at the window edge -> smallest
    t = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, np.inf]])
    value, _ = _first_spike_loss(t, np.array([0, 0]), base.loss_fn)
    np.testing.assert_allclose(value, [hi, lo], rtol=1e-10)
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 5, size=(2000, 3))
    t[rng.random(t.shape) < 0.2] = np.inf
    value, _ = _first_spike_loss(t, rng.integers(0, 3, 2000), base.loss_fn)
    assert value.min() >= lo and value.max() <= hi


def test_gradient_bound_is_attained_by_a_step_function():
    # F = (M/2) sign(x): f_sigma(w) = (M/2)(2 Phi(w/sigma) - 1), f'(0) = M phi(0)/sigma
    M, s, h = 3.0, 0.7, 1e-5
    f = lambda w: M / 2 * (2 * stats.norm.cdf(w / s) - 1)  # noqa: E731
    np.testing.assert_allclose((f(h) - f(-h)) / (2 * h), sm.smoothed_gradient_bound(M, s), rtol=1e-8)


def test_smoothness_bound_is_attained_by_a_two_sided_step():
    # F = (M/2) sign(x^2 - sigma^2): f(w) = (M/2)(1 - 2 P(|w + sigma Z| < sigma))
    M, s, h = 2.0, 1.3, 1e-3
    f = lambda w: M / 2 * (1 - 2 * (stats.norm.cdf((s - w) / s) - stats.norm.cdf((-s - w) / s)))  # noqa: E731
    second = (f(h) - 2 * f(0.0) + f(-h)) / h**2
    np.testing.assert_allclose(second, sm.smoothed_smoothness(M, s), rtol=1e-5)
    # and no bounded F exceeds it: a random bounded F in 1-D, Hessian by quadrature
    rng = np.random.default_rng(1)
    y = np.linspace(-12, 12, 48001)
    F = np.where(rng.random(y.size // 400 + 1)[np.arange(y.size) // 400] < 0.5, 0.0, M)
    hess = np.trapezoid(F * ((y / s) ** 2 - 1) / s**2 * stats.norm.pdf(y, scale=s), y)
    assert abs(hess) <= sm.smoothed_smoothness(M, s) * (1 + 1e-6)


def _setup(sigma=0.02, n=64, seed=0):
    base = yin_yang_classifier(hidden=(), alpha=0.0, xi=0.5, t_max=3.0)
    ds = yin_yang_dataset(train_size=n, validation_size=10, test_size=10)
    return base, SmoothedLayerClassifier(base, sigma, directions=8, seed=seed), ds.train


def test_two_point_oracle_matches_the_exact_gradient_for_small_sigma():
    base, model, train = _setup()
    w = base.init_params(3)
    _, exact = base.loss_and_grad(w, train.X, train.y)
    est = model.estimate(w, train.X, train.y, 40000, np.random.default_rng(2))
    # ZO error ~ |grad| sqrt(d/m) ~ 2 % of |grad| here; smoothing bias O(sigma^2)
    np.testing.assert_allclose(est.gradient, exact, atol=0.08 * np.linalg.norm(exact))
    # the unbiased squared norm agrees with |exact|^2 too
    np.testing.assert_allclose(est.squared_norm_unbiased(), exact @ exact, rtol=0.1)


def test_oracle_variance_bound_holds():
    base, model, train = _setup(sigma=1.0)
    lo, hi = sm.ttfs_cross_entropy_range(3, 3.0, 0.5)
    w = np.random.default_rng(4).normal(0, 1, model.n_params)
    est = model.estimate(w, train.X, train.y, 4000, np.random.default_rng(5))
    per_direction = np.mean(np.sum((est.terms - est.gradient) ** 2, axis=1))
    assert per_direction <= sm.two_point_oracle_variance(hi - lo, 1.0, model.n_params, 1, 10**9)
    assert lo <= est.loss_min and est.loss_max <= hi


def test_oracle_is_deterministic_and_depends_on_the_batch():
    _, model, train = _setup(sigma=0.5)
    w = model.init_params(0)
    a = model.loss_and_grad(w, train.X, train.y)[1]
    b = model.loss_and_grad(w, train.X, train.y)[1]
    c = model.loss_and_grad(w, train.X[1:], train.y[1:])[1]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_step_size_minimises_the_bound():
    args = dict(delta=5.0, L=1.6, G2=9.0, var=3.0, local_steps=2, sum_p2=0.1)
    for R in (10, 400, 10**5):
        g = sm.smoothed_local_sgd_step_size(rounds=R, **args)
        grid = np.geomspace(1e-6, 1 / args["L"], 20001)
        values = np.array([sm.smoothed_local_sgd_bound(args["delta"], args["L"], args["G2"], args["var"], x, 2, R, 0.1)
                           for x in grid])
        best = sm.smoothed_local_sgd_bound(args["delta"], args["L"], args["G2"], args["var"], g, 2, R, 0.1)
        assert best <= values.min() * (1 + 1e-9)
        assert 0 < g <= 1 / args["L"]


def test_rounds_needed_is_the_first_round_below_the_target():
    args = dict(delta=5.0, L=1.6, G2=9.0, var=3.0, local_steps=2, sum_p2=0.1)

    def best(R):
        g = sm.smoothed_local_sgd_step_size(rounds=R, **args)
        return sm.smoothed_local_sgd_bound(args["delta"], args["L"], args["G2"], args["var"], g, 2, R, 0.1)

    R = sm.rounds_needed(0.5, **args)
    assert best(R) <= 0.5 < best(R - 1)
    # a target below the floor of the terms that do not decay is never reached
    assert sm.rounds_needed(1e-12, max_rounds=10**6, **args) is None


def test_hoeffding_upper_covers_the_mean():
    rng = np.random.default_rng(0)
    misses = 0
    for _ in range(2000):
        x = rng.uniform(0, 2.0, 50)
        misses += sm.hoeffding_upper(x.mean(), 2.0, 50, 0.05) < 1.0
    assert misses / 2000 <= 0.05


@pytest.mark.parametrize("call, name", [
    (lambda: sm.smoothed_smoothness(1.0, 0.0), "sigma"),
    (lambda: sm.smoothed_gradient_bound(-1.0, 1.0), "loss_range"),
    (lambda: sm.two_point_oracle_variance(1.0, 1.0, 15, 0, 8), "directions"),
    (lambda: sm.ttfs_cross_entropy_range(1, 3.0, 0.5), "n_classes"),
    (lambda: sm.ttfs_cross_entropy_range(3, 3.0, 0.5, t_min=3.0), "t_min"),
    (lambda: sm.smoothed_local_sgd_bound(1.0, 1.0, 1.0, 1.0, 0.1, 2, 0, 0.1), "rounds"),
    (lambda: sm.hoeffding_upper(0.0, 1.0, 10, 1.5), "failure"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrapper_rejects_an_unbounded_or_deep_base():
    with pytest.raises(ValueError, match="one layer"):
        SmoothedLayerClassifier(yin_yang_classifier(hidden=4, alpha=0.0), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        SmoothedLayerClassifier(yin_yang_classifier(hidden=(), alpha=0.005), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        SmoothedLayerClassifier(yin_yang_classifier(hidden=(), alpha=0.0), 0.0)


# --------------------------------------------------------------------------- the experiment


def _small(**over):
    from experiments import whole_run_convergence as W

    cfg = W.config("quick")
    cfg.update(rounds=6, train_size=60, test_size=20, delta_directions=200, eval_directions=8, **over)
    return W, cfg


def test_experiment_rows_and_hypothesis_flag():
    W, cfg = _small()
    data = W.run_seed(cfg, 0)
    for col in ("seed", "round", "measured", "bound", "hypothesis_holds"):
        assert col in data.columns
    assert list(data["round"]) == list(range(1, 7))
    assert data["hypothesis_holds"].all()
    assert (data["gamma_L"] <= 1).all()
    # the bound is the theorem's formula with this run's constants (recomputed here)
    c = W.constants(cfg, 15, 0.1)
    g, d = data["gamma"].iloc[0], data["delta"].iloc[0]
    I = cfg["local_steps"]
    want = [4 * d / (g * r * (I + 1)) + 2 * I / (I + 1) * (c["L"] ** 2 * g**2 * c["G2"] * (I - 1) * (2 * I - 1) / 3
                                                             + c["L"] * g * c["var"] * 0.1)
            for r in data["round"]]
    np.testing.assert_allclose(data["bound"], want, rtol=1e-12)
    # same seed, same rows
    again = W.run_seed(cfg, 0)
    assert data.equals(again)


def test_negative_control_step_above_one_over_L_flips_the_hypothesis():
    W, cfg = _small()
    ok = W.run_seed(cfg, 0)
    factor = 1.25 / float(ok["gamma_L"].iloc[0])  # gamma L = 1.25: outside gamma <= 1/L by 25 %
    W, bad_cfg = _small(step_factor=factor)
    bad = W.run_seed(bad_cfg, 0)
    np.testing.assert_allclose(bad["gamma_L"], 1.25)
    assert not bad["hypothesis_holds"].any()
    # the same run with gamma L = 1 is inside the theorem again (the flag is computed, not set)
    W, edge_cfg = _small(step_factor=1.0 / float(ok["gamma_L"].iloc[0]))
    edge = W.run_seed(edge_cfg, 0)
    assert np.allclose(edge["gamma_L"], 1.0) and edge["hypothesis_holds"].all()


def test_seed_interval_flags_a_violation():
    import pandas as pd

    W, _ = _small()
    rows = [{"seed": s, "round": 1, "measured": 1.0 + 0.01 * s, "bound": 0.5} for s in range(3)]
    rows += [{"seed": s, "round": 2, "measured": 0.1 + 0.01 * s, "bound": 0.5} for s in range(3)]
    ci = W.seed_mean_interval(pd.DataFrame(rows))
    assert list(ci["violation"]) == [True, False]


# --------------------------------------------------------------------------- population margin


def test_population_margin_against_finite_difference_slopes():
    from fsnn_theory.network import forward
    from fsnn_theory.neurons import potential
    from fsnn_theory.studies.margin import clopper_pearson_upper, population_margin

    clf = yin_yang_classifier(hidden=6)
    p = clf.init_params(1)
    ds = yin_yang_dataset(train_size=10, validation_size=10, test_size=80)
    t = clf.encode(ds.test.X)
    df = population_margin(clf.network, p, t, [0.05, 0.5])
    fwd = forward(clf.network, p, t)
    for l, (model, t_in, t_out, w) in enumerate(zip(clf.network.models, fwd.layer_inputs, fwd.spike_times,
                                                    clf.network.unflatten(p))):
        h = 1e-6  # left difference quotient of V at the spike (the slope of the rising flank)
        v1 = potential(model, np.where(np.isfinite(t_out), t_out, 0.0), t_in, w)
        v0 = potential(model, np.where(np.isfinite(t_out), t_out - h, 0.0), t_in, w)
        slope = np.where(np.isfinite(t_out), (v1 - v0) / h, np.inf)
        for s in (0.05, 0.5):
            row = df[(df["layer"] == l + 1) & (df["s_min"] == s)].iloc[0]
            want = int(((slope < s) & np.isfinite(t_out)).any(axis=1).sum())
            assert abs(row["below"] - want) <= 1  # a slope within 1e-5 of s may round either way
    # Clopper-Pearson: exact binomial tail at the bound equals 1 - confidence
    up = clopper_pearson_upper(3, 100, 0.95)
    np.testing.assert_allclose(stats.binom.cdf(3, 100, up), 0.05, rtol=1e-8)
    assert clopper_pearson_upper(100, 100) == 1.0
