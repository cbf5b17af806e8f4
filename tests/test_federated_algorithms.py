"""FedAvg / FedProx / SCAFFOLD: exact reduction to SGD, aggregation schemes, dropouts, determinism, accounting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from fsnn_theory.data import Split, yin_yang_dataset
from fsnn_theory.files import csv_text
from fsnn_theory.federated import (
    FederatedConfig,
    LogisticRegressionModel,
    Partition,
    StepSchedule,
    centralised_sgd,
    dirichlet_partition,
    iid_partition,
    run_federated,
)


def _rng(seed, *key):
    # The documented stream derivation, written out independently of the library helper.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass(frozen=True)
class Quadratic:
    """Toy protocol model: rows of X are (h, x); loss = mean_i h_i/2 ||w - x_i||^2."""

    dim: int = 3
    n_classes: int = 2

    @property
    def n_params(self) -> int:
        return self.dim

    def init_params(self, seed):
        return np.zeros(self.dim)

    def loss_and_grad(self, w, X, y):
        h, x = X[:, 0], X[:, 1:]
        r = w[None, :] - x
        return float(np.mean(0.5 * h * (r**2).sum(1))), (h[:, None] * r).mean(0)

    def loss(self, w, X, y):
        return self.loss_and_grad(w, X, y)[0]

    def predict(self, w, X):
        return np.zeros(X.shape[0], dtype=np.int64)

    def accuracy(self, w, X, y):
        return float(np.mean(y == 0))

    def synops(self, w, X):
        return np.full(X.shape[0], 1.0)

    def gradient_support(self, w, X, y):
        return np.ones(self.dim, dtype=bool)


def _quadratic_clients(sizes, seed=0):
    rng = np.random.default_rng(seed)
    N = len(sizes)
    h = rng.uniform(0.5, 2.0, N)
    b = rng.standard_normal((N, 3))
    X = np.concatenate([np.tile(np.r_[h[k], b[k]], (n, 1)) for k, n in enumerate(sizes)])
    y = np.zeros(X.shape[0], dtype=np.int64)
    bounds = np.cumsum([0, *sizes])
    part = Partition(tuple(np.arange(bounds[k], bounds[k + 1]) for k in range(N)), y, 2, "hand")
    return Split(X, y), part, h, b


def _one_step(h, b, w, eta):
    return w[None, :] - eta * h[:, None] * (w[None, :] - b)


LOSSLESS = dict(compressor="none64", wire_bits=64)


def test_full_participation_with_dropouts_renormalises_over_survivors():
    sizes = [3, 5, 2, 7, 4, 6]
    train, part, h, b = _quadratic_clients(sizes)
    p = np.array(sizes) / sum(sizes)
    cfg = FederatedConfig(rounds=1, local_steps=1, schedule=StepSchedule("constant", 0.3), dropout=0.5, seed=11,
                          **LOSSLESS)
    run = run_federated(Quadratic(), train, train, part, cfg)
    keep = _rng(11, 1, 0, 0).random(6) >= 0.5
    assert 0 < keep.sum() < 6  # the seed exercises a partial round
    y = _one_step(h, b, np.zeros(3), 0.3)
    np.testing.assert_allclose(run.params, (p[keep, None] * y[keep]).sum(0) / p[keep].sum(), rtol=1e-13)
    assert run.history["reporting"].iloc[-1] == keep.sum() and run.history["participants"].iloc[-1] == 6


def test_scheme_II_aggregates_p_k_N_over_K_and_scheme_I_averages_draws():
    sizes = [3, 5, 2, 7, 4, 6]
    train, part, h, b = _quadratic_clients(sizes)
    p = np.array(sizes) / sum(sizes)
    y = _one_step(h, b, np.zeros(3), 0.3)
    cfg = FederatedConfig(rounds=1, local_steps=1, schedule=StepSchedule("constant", 0.3), scheme="II",
                          clients_per_round=3, seed=5, **LOSSLESS)
    run = run_federated(Quadratic(), train, train, part, cfg)
    sel = _rng(5, 0, 0, 0).choice(6, size=3, replace=False)
    np.testing.assert_allclose(run.params, (p[sel, None] * 6 / 3 * y[sel]).sum(0), rtol=1e-13)
    cfg = FederatedConfig(rounds=1, local_steps=1, schedule=StepSchedule("constant", 0.3), scheme="I",
                          clients_per_round=4, seed=5, **LOSSLESS)
    run = run_federated(Quadratic(), train, train, part, cfg)
    draws = _rng(5, 0, 0, 0).choice(6, size=4, replace=True, p=p)
    np.testing.assert_allclose(run.params, y[draws].mean(0), rtol=1e-13)
    # a client drawn twice trains once and sends one message
    assert run.history["uplink_bits"].iloc[-1] == 64 * 3 * np.unique(draws).size


def test_all_dropped_leaves_the_model_unchanged():
    train, part, h, b = _quadratic_clients([2, 2, 2])
    cfg = FederatedConfig(rounds=1, local_steps=1, dropout=0.95, seed=0, **LOSSLESS)
    assert (_rng(0, 1, 0, 0).random(3) >= 0.95).sum() == 0
    run = run_federated(Quadratic(), train, train, part, cfg)
    np.testing.assert_array_equal(run.params, np.zeros(3))
    assert run.history["uplink_bits"].iloc[-1] == 0 and run.history["downlink_bits"].iloc[-1] == 3 * 64 * 3


def test_scaffold_removes_client_drift_fedavg_does_not():
    train, part, h, b = _quadratic_clients([4, 4, 4, 4], seed=2)
    w_star = (h[:, None] * b).sum(0) / h.sum()  # minimiser of sum_k (h_k/2) ||w - b_k||^2 (equal p_k)
    common = dict(rounds=150, local_steps=10, schedule=StepSchedule("constant", 0.2), eval_every=150, **LOSSLESS)
    scaffold = run_federated(Quadratic(), train, train, part, FederatedConfig(algorithm="scaffold", **common))
    fedavg = run_federated(Quadratic(), train, train, part, FederatedConfig(algorithm="fedavg", **common))
    assert np.linalg.norm(scaffold.params - w_star) < 1e-8
    assert np.linalg.norm(fedavg.params - w_star) > 1e-3
    # FedProx with a huge mu keeps the local model at the server model: no progress in a round
    prox = run_federated(Quadratic(), train, train, part,
                         FederatedConfig(rounds=1, local_steps=3, algorithm="fedprox", prox_mu=1e9,
                                         schedule=StepSchedule("constant", 1e-9), **LOSSLESS))
    assert np.linalg.norm(prox.params) < 1e-6


@pytest.fixture(scope="module")
def yy_small():
    return yin_yang_dataset(train_size=120, validation_size=10, test_size=40)


def _sgd_by_hand(model, X, y, steps, B, schedule, seed):
    w = model.init_params(seed)
    for t in range(steps):
        idx = _rng(seed, 2, t, 0).integers(0, X.shape[0], size=(1, B))[0]
        w = w - schedule.step_size(t) * model.loss_and_grad(w, X[idx], y[idx])[1]
    return w


def test_fedavg_one_client_one_step_is_sgd_exactly_logreg(yy_small):
    model = LogisticRegressionModel(4, 3, l2=0.01)
    train = yy_small.train
    one = Partition((np.arange(train.n_samples),), train.y, 3, "one")
    sched = StepSchedule("inverse", 0.8, decay=0.1)
    cfg = FederatedConfig(rounds=25, local_steps=1, batch_size=8, schedule=sched, seed=3, **LOSSLESS)
    run = run_federated(model, train, yy_small.test, one, cfg)
    np.testing.assert_array_equal(run.params, _sgd_by_hand(model, train.X, train.y, 25, 8, sched, 3))
    central = centralised_sgd(model, train, yy_small.test, steps=25, batch_size=8, schedule=sched, seed=3,
                              eval_every_steps=1)
    np.testing.assert_array_equal(central.params, run.params)


def test_fedavg_one_client_one_step_is_sgd_exactly_snn(yy_small):
    from fsnn_theory.network import yin_yang_classifier

    model = yin_yang_classifier(hidden=8)
    train = yy_small.train
    one = Partition((np.arange(train.n_samples),), train.y, 3, "one")
    sched = StepSchedule("constant", 0.5)
    cfg = FederatedConfig(rounds=6, local_steps=1, batch_size=10, schedule=sched, seed=1, eval_every=3, **LOSSLESS)
    run = run_federated(model, train, yy_small.test, one, cfg)
    np.testing.assert_array_equal(run.params, _sgd_by_hand(model, train.X, train.y, 6, 10, sched, 1))


def test_same_seed_same_csv_different_seed_differs(yy_small):
    model = LogisticRegressionModel(4, 3, l2=0.01)
    part = dirichlet_partition(yy_small.train.y, 5, 0.5, seed=0)

    def history(seed, compressor):
        cfg = FederatedConfig(rounds=4, local_steps=3, batch_size=6, algorithm="scaffold", scheme="I",
                              clients_per_round=3, dropout=0.3, compressor=compressor, seed=seed,
                              schedule=StepSchedule("constant", 0.5))
        return csv_text(run_federated(model, yy_small.train, yy_small.test, part, cfg).history)

    for comp in ("qsgd:2", "randk:0.3", "topk:0.2"):
        assert history(7, comp) == history(7, comp)
        assert history(7, comp) != history(8, comp)


def test_bit_and_event_accounting(yy_small):
    model = LogisticRegressionModel(4, 3, l2=0.01)
    d = model.n_params
    part = iid_partition(yy_small.train.y, 4, seed=0)
    for algo, vectors in (("fedavg", 1), ("scaffold", 2)):
        cfg = FederatedConfig(rounds=2, local_steps=3, batch_size=5, algorithm=algo, seed=0)
        hist = run_federated(model, yy_small.train, yy_small.test, part, cfg).history
        last = hist.iloc[-1]
        assert last["uplink_bits"] == 4 * vectors * 32 * d
        assert last["downlink_bits"] == 4 * vectors * 32 * d
        assert last["samples"] == 4 * 3 * 5
        # dense model: forward MACs (5 samples x d per step) doubled for the backward pass
        assert last["synops"] == 2 * 4 * 3 * 5 * d
        np.testing.assert_allclose(last["energy_train_j"], last["synops"] * 4.6e-12)
        assert hist["cum_uplink_bits"].iloc[-1] == hist["uplink_bits"].sum()
    topk = FederatedConfig(rounds=1, local_steps=1, batch_size=5, compressor="topk:0.1", seed=0)
    k = int(np.ceil(0.1 * d))
    hist = run_federated(model, yy_small.train, yy_small.test, part, topk).history
    assert hist["uplink_bits"].iloc[-1] == 4 * k * (32 + int(np.ceil(np.log2(d))))


def test_causal_updates_lose_nothing_for_fedavg_snn(yy_small):
    from fsnn_theory.network import yin_yang_classifier

    model = yin_yang_classifier(hidden=8)
    X, y = yy_small.train.X[:1], yy_small.train.y[:1]  # one sample: a batch's union is nearly dense
    w = model.init_params(0)
    _, g = model.loss_and_grad(w, X, y)
    support = model.gradient_support(w, X, y)
    assert not support.all()
    np.testing.assert_array_equal(g[~support], 0.0)
    part = iid_partition(yy_small.train.y, 3, seed=0)
    runs = {c: run_federated(model, yy_small.train, yy_small.test, part,
                             FederatedConfig(rounds=3, local_steps=1, batch_size=1, compressor=c, seed=0,
                                             schedule=StepSchedule("constant", 0.5)))
            for c in ("none", "causal")}
    np.testing.assert_array_equal(runs["none"].params, runs["causal"].params)
    h_none, h_causal = runs["none"].history, runs["causal"].history
    assert (h_causal["uplink_bits"].iloc[1:] < h_none["uplink_bits"].iloc[1:]).all()
    assert (h_causal["update_density"].iloc[1:] < 1).all()


def test_bad_configurations_are_rejected(yy_small):
    model = LogisticRegressionModel(4, 3)
    part = iid_partition(yy_small.train.y, 4, seed=0)
    with pytest.raises(ValueError, match=r"clients_per_round K must be <= the number of clients N = 4"):
        run_federated(model, yy_small.train, yy_small.test, part,
                      FederatedConfig(rounds=1, scheme="II", clients_per_round=5))
    with pytest.raises(ValueError, match=r"algorithm must be one of 'fedavg', 'fedprox', 'scaffold'"):
        FederatedConfig(rounds=1, algorithm="fedsgd")
    with pytest.raises(ValueError, match=r"scheme must be one of 'full', 'I', 'II'"):
        FederatedConfig(rounds=1, scheme="III", clients_per_round=2)
    with pytest.raises(ValueError, match=r"clients_per_round must be None for scheme 'full'"):
        FederatedConfig(rounds=1, clients_per_round=2)
    with pytest.raises(ValueError, match=r"dropout must lie in \[0.0, 1.0\)"):
        FederatedConfig(rounds=1, dropout=1.0)
    with pytest.raises(ValueError, match=r"unknown compressor"):
        FederatedConfig(rounds=1, compressor="zip")
    with pytest.raises(ValueError, match=r"exactly one of local_steps"):
        FederatedConfig(rounds=1, local_epochs=2)
    with pytest.raises(ValueError, match=r"schedule 'li2020' needs L and mu"):
        StepSchedule("li2020")


def test_local_epochs_and_li2020_schedule(yy_small):
    model = LogisticRegressionModel(4, 3, l2=0.05)
    part = iid_partition(yy_small.train.y, 3, seed=0)
    L = model.smoothness(yy_small.train.X)
    sched = StepSchedule("li2020", L=L, mu=0.05)
    # eta_t = 2 / (mu (gamma + t + 1)), gamma = max(8 L / mu, E)
    gamma = max(8 * L / 0.05, 2)
    np.testing.assert_allclose(sched.step_size(4, 2), 2 / (0.05 * (gamma + 5)))
    cfg = FederatedConfig(rounds=2, local_steps=None, local_epochs=1, batch_size=16, schedule=sched, seed=0)
    hist = run_federated(model, yy_small.train, yy_small.test, part, cfg).history
    assert hist["samples"].iloc[-1] == yy_small.train.n_samples  # one epoch per client and round
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]


def test_run_spec_presets():
    from fsnn_theory.studies.presets import run_spec, spec_history

    small = {"model": "logreg", "train_size": 60, "test_size": 20, "hidden": 10, "clients": 3, "rounds": 2,
             "local_steps": 2, "batch_size": 4, "eval_every": 1}
    central = spec_history({**small, "partition": "central", "local_steps": 6}, "central")
    assert list(central["round"]) == [0, 1, 2] and (central["label"] == "central").all()
    assert central["cum_samples"].iloc[-1] == 2 * 6 * 4  # same samples as 3 clients x 2 steps x 2 rounds
    with pytest.raises(ValueError, match="unknown run-spec keys"):
        run_spec({**small, "learning_rate": 0.1})
