"""Partitions (IID, Dirichlet, shards, power law) and heterogeneity measures; the convex model."""

from __future__ import annotations

import numpy as np
import pytest

from fsnn_theory.data import Split
from fsnn_theory.federated.logreg import LogisticRegressionModel, SpikeTimeFeatures, smoothness_constant
from fsnn_theory.federated.partition import (
    Partition,
    dirichlet_partition,
    gini_coefficient,
    iid_partition,
    label_tv_distances,
    powerlaw_partition,
    shards_partition,
)

Y = np.repeat(np.arange(4), 250)  # 1000 labels, 4 balanced classes


def _is_partition(part: Partition, n: int) -> bool:
    flat = np.concatenate(part.client_indices)
    return flat.size == n and np.array_equal(np.sort(flat), np.arange(n))


def test_iid_partition_sizes_and_low_skew():
    part = iid_partition(Y, 7, seed=0)
    assert _is_partition(part, Y.size)
    assert part.sizes.max() - part.sizes.min() <= 1
    np.testing.assert_allclose(part.weights.sum(), 1.0)
    h = part.heterogeneity()
    assert h["size_gini"] < 0.01 and h["mean_label_tv"] < 0.1


def test_tv_and_gini_hand_computed():
    counts = np.array([[3, 1], [0, 4]])  # global (3/8, 5/8); client 0 (3/4, 1/4), client 1 (0, 1)
    np.testing.assert_allclose(label_tv_distances(counts), [0.5 * (0.375 + 0.375), 0.5 * (0.375 + 0.375)])
    # sizes 1, 3: sum |ni - nj| = 4, 2 N^2 mean = 2*4*2 = 16
    np.testing.assert_allclose(gini_coefficient([1, 3]), 0.25)
    np.testing.assert_allclose(gini_coefficient([5, 0, 0, 0]), 3 / 4)


def test_dirichlet_skew_grows_as_alpha_shrinks_and_is_deterministic():
    tv = {a: dirichlet_partition(Y, 10, a, seed=1).heterogeneity()["mean_label_tv"] for a in (0.1, 1.0, 100.0)}
    assert tv[0.1] > tv[1.0] > tv[100.0]
    p1 = dirichlet_partition(Y, 10, 0.5, seed=3)
    p2 = dirichlet_partition(Y, 10, 0.5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(p1.client_indices, p2.client_indices))
    assert _is_partition(p1, Y.size) and p1.sizes.min() >= 1


def test_shards_at_most_c_classes():
    part = shards_partition(Y, 10, 2, seed=0)  # 20 shards of 50: none straddles a class boundary
    assert _is_partition(part, Y.size)
    assert (np.count_nonzero(part.label_counts, axis=1) <= 2).all()


def test_powerlaw_sizes():
    part = powerlaw_partition(Y, 5, 1.0, seed=0)
    shares = 1.0 / np.arange(1, 6)
    np.testing.assert_allclose(part.sizes, Y.size * shares / shares.sum(), atol=1.0)
    assert part.sizes.sum() == Y.size and part.heterogeneity()["size_gini"] > 0.2


def test_partition_errors_name_the_parameter():
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_partition(Y, 10, 0.0, seed=0)
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_partition(Y, 10, -1.0, seed=0)
    with pytest.raises(ValueError, match="raise alpha, lower n_clients"):
        dirichlet_partition(Y, 400, 0.01, seed=0, max_attempts=3)
    with pytest.raises(ValueError, match="n_clients must be <="):
        iid_partition(Y[:5], 6, seed=0)
    with pytest.raises(ValueError, match="shards_per_client"):
        shards_partition(Y[:10], 6, 2, seed=0)
    with pytest.raises(ValueError, match="exponent"):
        powerlaw_partition(Y[:20], 10, 4.0, seed=0)
    with pytest.raises(ValueError, match="client 1 has no samples"):
        Partition((np.arange(4), np.array([], dtype=np.int64)), Y[:4], 4, "hand")


# --------------------------------------------------------------------------------------------
# The convex model
# --------------------------------------------------------------------------------------------


def _hessian(model: LogisticRegressionModel, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    # Independent construction: (1/n) sum_i kron(z z^T, diag(p) - p p^T) + lambda I, W row-major.
    Z = np.hstack([X, np.ones((X.shape[0], 1))])
    W = params.reshape(Z.shape[1], model.n_classes)
    H = np.zeros((params.size, params.size))
    for z in Z:
        logits = z @ W
        p = np.exp(logits - logits.max())
        p /= p.sum()
        H += np.kron(np.outer(z, z), np.diag(p) - np.outer(p, p))
    return H / Z.shape[0] + model.l2 * np.eye(params.size)


def test_logreg_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.random((20, 4))
    y = rng.integers(0, 3, 20)
    model = LogisticRegressionModel(4, 3, l2=0.05)
    w = rng.standard_normal(model.n_params)
    _, g = model.loss_and_grad(w, X, y)
    h = 1e-6
    fd = np.array([(model.loss(w + h * e, X, y) - model.loss(w - h * e, X, y)) / (2 * h) for e in np.eye(w.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_logreg_smoothness_and_strong_convexity_bound_the_hessian():
    rng = np.random.default_rng(1)
    X = rng.random((30, 3))
    model = LogisticRegressionModel(3, 4, l2=0.01)
    L = model.smoothness(X)
    Z = np.hstack([X, np.ones((30, 1))])
    np.testing.assert_allclose(L, 0.01 + 0.5 * np.linalg.eigvalsh(Z.T @ Z / 30).max())
    for scale in (0.0, 1.0, 5.0):
        eig = np.linalg.eigvalsh(_hessian(model, scale * rng.standard_normal(model.n_params), X))
        assert eig.max() <= L + 1e-12
        assert eig.min() >= model.strong_convexity() - 1e-12
    # per-client constants are the constants of each client's samples
    Lk, muk = model.client_constants(X, [np.arange(10), np.arange(10, 30)])
    np.testing.assert_allclose(Lk, [smoothness_constant(Z[:10], 0.01), smoothness_constant(Z[10:], 0.01)])
    np.testing.assert_allclose(muk, 0.01)


def test_logreg_batched_equals_per_client():
    rng = np.random.default_rng(2)
    model = LogisticRegressionModel(5, 3, l2=0.1)
    P = rng.standard_normal((4, model.n_params))
    X = rng.random((4, 8, 5))
    y = rng.integers(0, 3, (4, 8))
    sw = np.full((4, 8), 1 / 8)
    loss, grad = model.batched_loss_and_grad(P, np.concatenate([X, np.ones((4, 8, 1))], axis=2), y, sw)
    for m in range(4):
        l_m, g_m = model.loss_and_grad(P[m], X[m], y[m])
        np.testing.assert_allclose(loss[m], l_m, rtol=1e-13)
        np.testing.assert_allclose(grad[m], g_m, rtol=1e-12, atol=1e-15)


def test_spike_time_features():
    feat = SpikeTimeFeatures(4, n_hidden=30, seed=2)
    X = np.random.default_rng(3).random((50, 4))
    T = feat.spike_times(X)
    F = feat.transform(X)
    assert F.shape == (50, 30) and (F >= 0).all() and (F <= 1).all()
    np.testing.assert_array_equal(F[np.isinf(T)], 0.0)
    np.testing.assert_allclose(F[np.isfinite(T)], np.exp(-T[np.isfinite(T)]))
    np.testing.assert_array_equal(feat.transform(X), SpikeTimeFeatures(4, n_hidden=30, seed=2).transform(X))
    np.testing.assert_array_equal(feat.synops(X), 5 * 30)  # 4 inputs + bias spike, fan-out 30
    with pytest.raises(ValueError, match="goltz"):
        SpikeTimeFeatures(3)
    assert isinstance(Split(F, np.zeros(50, dtype=np.int64)), Split)
