"""`round_step`: purity, resumability, model protocols, strategy objects, SCAFFOLD's control invariant,
and the clip / schedule shared with `training`."""

from __future__ import annotations

import numpy as np
import pytest

from fsnn_theory.data import yin_yang_dataset
from fsnn_theory.federated import FederatedConfig, LogisticRegressionModel, StepSchedule, iid_partition, run_federated
from fsnn_theory.federated.algorithms import (
    BatchedModel,
    FedAvg,
    FedProx,
    FederatedModel,
    Scaffold,
    SpikingModel,
    initial_state,
    make_algorithm,
    prepare,
    round_step,
)
from fsnn_theory.network import yin_yang_classifier
from fsnn_theory.training import clip_update_norm, inverse_decay


@pytest.fixture(scope="module")
def problem():
    ds = yin_yang_dataset(train_size=120, validation_size=10, test_size=40)
    model = LogisticRegressionModel(4, 3, l2=1e-2)
    # raw Yin-Yang inputs as the design: the convex model needs no spike-time features here
    return model, ds, iid_partition(ds.train.y, 4, seed=2)


def _config(**kw):
    base = dict(rounds=6, local_steps=3, batch_size=8, schedule=StepSchedule("inverse", 0.5, 0.1), seed=5)
    return FederatedConfig(**{**base, **kw})


def _snapshot(state):
    return [None if v is None else np.array(v, copy=True) for v in
            (state.params, state.server_control, state.client_controls, state.uplink_memory, state.control_memory)]


@pytest.mark.parametrize("algorithm, compressor", [("fedavg", "topk:0.3"), ("scaffold", "topk:0.3"),
                                                   ("fedprox", "qsgd:2")])
def test_round_step_is_pure_and_resumable(problem, algorithm, compressor):
    model, ds, part = problem
    cfg = _config(algorithm=algorithm, compressor=compressor, scheme="II", clients_per_round=3, dropout=0.3)
    fed = prepare(model, ds.train, part, cfg)
    state = initial_state(fed)
    for _ in range(3):
        before = _snapshot(state)
        new, _ = round_step(state, fed)
        for a, b in zip(before, _snapshot(state)):  # the input state is left as it was
            if a is not None:
                np.testing.assert_array_equal(a, b)
        again, _ = round_step(state, fed)  # same state -> same next state, bit for bit
        np.testing.assert_array_equal(again.params, new.params)
        state = new
    # three hand-driven rounds + three more == the loop's six rounds (draws keyed by the round)
    for _ in range(3):
        state, _ = round_step(state, fed)
    run = run_federated(model, ds.train, ds.test, part, cfg)
    np.testing.assert_array_equal(state.params, run.params)
    assert state.round == 6


def test_scaffold_keeps_server_control_the_weighted_mean(problem):
    # Karimireddy et al. 2020, Alg. 1 with lossless messages and full participation: c = sum_k p_k c_k
    model, ds, part = problem
    fed = prepare(model, ds.train, part, _config(algorithm="scaffold", compressor="none64", wire_bits=64))
    state = initial_state(fed)
    for _ in range(4):
        state, _ = round_step(state, fed)
        np.testing.assert_allclose(state.server_control, part.weights @ state.client_controls, atol=1e-12)
    assert np.abs(state.client_controls).max() > 0  # the invariant is not 0 == 0


def test_all_dropped_round_changes_nothing_but_the_round(problem):
    model, ds, part = problem
    fed = prepare(model, ds.train, part, _config(dropout=0.999999))
    state = initial_state(fed)
    new, report = round_step(state, fed)
    assert report.reporting == 0 and report.uplink_bits == 0 and report.downlink_bits > 0
    np.testing.assert_array_equal(new.params, state.params)
    assert new.round == 1


def test_model_protocols():
    snn = yin_yang_classifier(4)
    logreg = LogisticRegressionModel(5, 3)
    assert isinstance(snn, FederatedModel) and isinstance(snn, SpikingModel) and not isinstance(snn, BatchedModel)
    assert isinstance(logreg, BatchedModel) and not isinstance(logreg, SpikingModel)
    assert not isinstance(object(), FederatedModel)


def test_strategies_from_config():
    assert make_algorithm(_config()) == FedAvg()
    assert make_algorithm(_config(algorithm="fedprox", prox_mu=0.3)) == FedProx(mu=0.3)
    assert make_algorithm(_config(algorithm="scaffold")).broadcasts == 2


def test_guards_need_a_spiking_model(problem):
    model, ds, part = problem
    with pytest.raises(ValueError, match="max_dw_norm applies to spiking models"):
        prepare(model, ds.train, part, _config(max_dw_norm=0.2))


def test_clip_rows_equals_clip_of_each_row():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((5, 7)) * rng.uniform(0.1, 3.0, (5, 1))
    clipped, over = clip_update_norm(G, 1.5)
    for row, out, o in zip(G, clipped, over):
        one, flag = clip_update_norm(row, 1.5)
        np.testing.assert_allclose(out, one, rtol=1e-15)
        assert flag == o
        assert np.linalg.norm(out) <= 1.5 * (1 + 1e-12)
    assert over.any() and not over.all()  # both branches exercised
    assert clip_update_norm(G, None)[0] is G


def test_inverse_schedule_is_the_training_function():
    sched = StepSchedule("inverse", 2.0, 0.25)
    for t in (0, 1, 7, 40):
        assert sched.step_size(t) == inverse_decay(2.0, t, 0.25) == 2.0 / (1 + 0.25 * t)
