"""Training utilities and the `fsnn train` command.

Optimisers against their update rules written out by hand, the schedule against the closed form,
clipping against the norm, weight bumping against the rule of Göltz et al. 2021 applied by hand,
early stopping on a run that cannot improve, determinism (same seed -> identical CSV), learning on
a small problem, and the CLI's outputs and error handling.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fsnn_theory.cli import main
from fsnn_theory.data import Dataset, Split, yin_yang_dataset
from fsnn_theory.network import ForwardPass, yin_yang_classifier
from fsnn_theory.training import (
    HISTORY_COLUMNS,
    AdamState,
    EarlyStopping,
    OptimizerConfig,
    StepDecay,
    TrainingConfig,
    WeightBumping,
    adam_step,
    clip_update_norm,
    evaluate,
    minibatch_order,
    sgd_step,
    step_decay,
    train,
    weight_bumping,
)
from fsnn_theory.studies.setups import default_training_config, load_dataset, make_classifier


def small_yin_yang(n_train=300, n_val=100, n_test=100) -> Dataset:
    return yin_yang_dataset(train_size=n_train, validation_size=n_val, test_size=n_test)


# ------------------------------------------------------------------------------ optimisers


def test_adam_matches_the_update_rule_written_out():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(4, 3))
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-6
    state = AdamState(np.zeros(3), np.zeros(3), 0)
    m = [0.0] * 3
    v = [0.0] * 3
    for k, g in enumerate(grads, start=1):
        delta, state = adam_step(g, state, lr, b1, b2, eps)
        for j in range(3):
            m[j] = b1 * m[j] + (1 - b1) * g[j]
            v[j] = b2 * v[j] + (1 - b2) * g[j] ** 2
            expected = lr * (m[j] / (1 - b1**k)) / (math.sqrt(v[j] / (1 - b2**k)) + eps)
            assert delta[j] == pytest.approx(expected, rel=1e-12)
    assert state.step == 4
    # first Adam step is lr * sign(g) up to eps
    d1, _ = adam_step(np.array([3.0, -0.2]), AdamState(np.zeros(2), np.zeros(2), 0), 0.1, 0.9, 0.999, 1e-12)
    np.testing.assert_allclose(d1, [0.1, -0.1], rtol=1e-9)


def test_sgd_with_momentum_is_heavy_ball():
    g = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([0.0, 1.0])]
    u = np.zeros(2)
    total = np.zeros(2)
    for gk in g:
        delta, u = sgd_step(gk, u, 0.1, 0.9)
        total += delta
    # u3 = g3 + 0.9 g2 + 0.81 g1; deltas sum to 0.1 (u1 + u2 + u3)
    u1 = g[0]
    u2 = 0.9 * u1 + g[1]
    u3 = 0.9 * u2 + g[2]
    np.testing.assert_allclose(total, 0.1 * (u1 + u2 + u3), rtol=1e-14)
    d, _ = sgd_step(np.array([2.0]), np.zeros(1), 0.5, 0.0)
    assert d[0] == 1.0


def test_step_decay_and_clipping():
    assert [step_decay(0.1, e, 3, 0.5) for e in range(7)] == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])
    cfg = TrainingConfig(epochs=5, optimizer=OptimizerConfig("adam", 0.2), schedule=StepDecay(2, 0.9))
    assert [cfg.learning_rate(e) for e in range(5)] == pytest.approx([0.2, 0.2, 0.18, 0.18, 0.162])
    d, clipped = clip_update_norm(np.array([3.0, 4.0]), 1.0)
    assert clipped and np.linalg.norm(d) == pytest.approx(1.0) and d[0] / d[1] == pytest.approx(0.75)
    d, clipped = clip_update_norm(np.array([0.3, 0.4]), 1.0)
    assert not clipped and d.tolist() == [0.3, 0.4]


def test_minibatch_order_is_a_seeded_permutation():
    a = minibatch_order(50, 3, 7)
    np.testing.assert_array_equal(np.sort(a), np.arange(50))
    np.testing.assert_array_equal(a, minibatch_order(50, 3, 7))
    assert not np.array_equal(a, minibatch_order(50, 4, 7))
    assert not np.array_equal(a, minibatch_order(50, 3, 8))


# ------------------------------------------------------------------------------ weight bumping


def test_weight_bumping_raises_weights_into_silent_neurons_and_doubles():
    model = yin_yang_classifier(hidden=4)
    params = model.init_params(0)
    net = model.network
    B = 10
    hidden = np.ones((B, 4))
    hidden[:, 2] = np.inf  # neuron 2 silent in every sample: 25 % > 0.3? no -> hidden fine
    hidden[:5, 1] = np.inf  # neuron 1 silent in half: total 37.5 % > 30 % -> bump hidden layer
    out = np.ones((B, 3))
    fwd = ForwardPass((np.zeros((B, 5)), np.zeros((B, 5))), (hidden, out))
    bump = WeightBumping(value=0.01, max_silent_hidden=0.3, max_silent_output=0.0)
    new, layer, value = weight_bumping(model, params, fwd, bump, bump.value, None)
    assert layer == 0 and value == 0.01
    unit = net.models[0].theta / net.models[0].kernel_max
    diff = net.unflatten(new - params)
    expected0 = np.zeros((5, 4))
    expected0[:, [1, 2]] = 0.01 * unit
    np.testing.assert_allclose(diff[0], expected0, rtol=1e-12, atol=1e-15)
    assert (diff[1] == 0).all()
    # the same layer again in the next batch: the value doubles
    _, layer2, value2 = weight_bumping(model, new, fwd, bump, value, layer)
    assert layer2 == 0 and value2 == 0.02
    # hidden fine, one output silent (limit 0): the output layer is bumped, only that neuron
    hidden_ok = np.ones((B, 4))
    out_silent = np.ones((B, 3))
    out_silent[3, 0] = np.inf
    fwd2 = ForwardPass(fwd.layer_inputs, (hidden_ok, out_silent))
    new2, layer3, value3 = weight_bumping(model, params, fwd2, bump, value2, 0)
    assert layer3 == 1 and value3 == 0.01  # another layer: back to the initial value
    diff2 = net.unflatten(new2 - params)
    assert (diff2[0] == 0).all()
    assert (diff2[1][:, 0] > 0).all() and (diff2[1][:, 1:] == 0).all()
    # nothing silent: no bump, same object back
    fwd3 = ForwardPass(fwd.layer_inputs, (hidden_ok, np.ones((B, 3))))
    same, none_layer, v = weight_bumping(model, params, fwd3, bump, 0.08, 1)
    assert same is params and none_layer is None and v == 0.01


def test_label_rule_bumps_only_silent_label_neurons():
    model = yin_yang_classifier(hidden=4)
    params = model.init_params(0)
    B = 4
    out = np.ones((B, 3))
    out[:, 2] = np.inf  # output 2 silent everywhere, but it is nobody's label
    fwd = ForwardPass((np.zeros((B, 5)), np.zeros((B, 5))), (np.ones((B, 4)), out))
    bump = WeightBumping(value=0.01, output_rule="label")
    labels = np.array([0, 1, 0, 1])
    same, layer, _ = weight_bumping(model, params, fwd, bump, 0.01, None, labels)
    assert layer is None and same is params
    labels[3] = 2  # now one sample's label neuron is silent
    new, layer, _ = weight_bumping(model, params, fwd, bump, 0.01, None, labels)
    diff = model.network.unflatten(new - params)[1]
    assert layer == 1 and (diff[:, 2] > 0).all() and (diff[:, :2] == 0).all()
    with pytest.raises(ValueError, match="needs the batch labels"):
        weight_bumping(model, params, fwd, bump, 0.01, None)
    with pytest.raises(ValueError, match="output_rule must be one of 'any', 'label'"):
        WeightBumping(output_rule="all")


# ------------------------------------------------------------------------------ the loop


def run_history(seed: int, epochs: int = 3) -> pd.DataFrame:
    model = yin_yang_classifier(hidden=10)
    cfg = TrainingConfig(epochs=epochs, batch_size=50, seed=seed, eval_batch=70)
    return train(model, small_yin_yang(), cfg).history


def csv_without_seconds(df: pd.DataFrame) -> bytes:
    from fsnn_theory.files import csv_text

    return csv_text(df.drop(columns=["seconds"])).encode()


def test_training_is_deterministic():
    a, b = run_history(3), run_history(3)
    assert list(a.columns) == list(HISTORY_COLUMNS)
    assert csv_without_seconds(a) == csv_without_seconds(b)
    assert csv_without_seconds(a) != csv_without_seconds(run_history(4))


def test_input_noise_is_seeded_and_reflected_at_zero():
    model = yin_yang_classifier(hidden=10)
    ds = small_yin_yang(150, 50, 50)
    noisy = TrainingConfig(epochs=2, batch_size=50, seed=3, input_noise=0.3, eval_batch=50)
    a, b = train(model, ds, noisy).history, train(model, ds, noisy).history
    assert csv_without_seconds(a) == csv_without_seconds(b)
    plain = train(model, ds, TrainingConfig(epochs=2, batch_size=50, seed=3, eval_batch=50)).history
    assert csv_without_seconds(a) != csv_without_seconds(plain)
    # the jitter enters as |t + noise|: same loss as encoding the shifted times by hand
    X, y = ds.train.X[:4], ds.train.y[:4]
    jitter = np.array([[-5.0, 0.1, 0.0, 0.2]] * 4)
    p = model.init_params(0)
    v_jit, g_jit, _ = model.loss_grad_forward(p, X, y, time_jitter=jitter)
    from fsnn_theory.network import _first_spike_loss, backward, forward

    t = np.abs(model.encode(X) + jitter)
    fwd = forward(model.network, p, t)
    value, d = _first_spike_loss(fwd.output_times, y, model.loss_fn)
    assert v_jit == pytest.approx(value.mean(), rel=1e-14)
    np.testing.assert_allclose(g_jit, backward(model.network, p, fwd, d / 4), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="input_noise"):
        TrainingConfig(input_noise=-0.1)


def test_training_learns_yin_yang_above_chance():
    model = yin_yang_classifier(hidden=20)
    ds = small_yin_yang(600, 200, 200)
    cfg = TrainingConfig(epochs=12, batch_size=50, seed=0, optimizer=OptimizerConfig("adam", 0.02), eval_batch=200)
    result = train(model, ds, cfg)
    h = result.history
    assert h["val_accuracy"].max() > 0.6  # chance is ~1/3
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    assert 1 <= result.best_epoch <= 12
    assert result.best_val_accuracy == h["val_accuracy"].max()
    # the kept parameters are those of the best validation epoch
    assert evaluate(model, result.params, ds.validation).accuracy == pytest.approx(result.best_val_accuracy)
    assert np.isfinite(h.drop(columns=["seconds"]).to_numpy(dtype=float)).all()
    assert ((h["silent_fraction"] >= 0) & (h["silent_fraction"] <= 1)).all()


def test_early_stopping_stops_a_run_that_cannot_improve():
    model = yin_yang_classifier(hidden=5)
    cfg = TrainingConfig(
        epochs=50, batch_size=100, seed=0, optimizer=OptimizerConfig("sgd", 1e-12),
        bumping=None, early_stopping=EarlyStopping(patience=2), eval_batch=100,
    )
    result = train(model, small_yin_yang(200, 100, 100), cfg)
    assert result.stopped_early
    assert len(result.history) == 3  # epoch 1 sets the best, 2 more without a gain
    assert result.best_epoch == 1


def test_bad_training_input_raises():
    model = yin_yang_classifier(hidden=5)
    ds = small_yin_yang(20, 10, 10)
    with pytest.raises(ValueError, match="optimizer must be one of 'adam', 'sgd'"):
        OptimizerConfig("rmsprop")
    with pytest.raises(ValueError, match="epochs"):
        TrainingConfig(epochs=0)
    with pytest.raises(ValueError, match="dataset must be one of 'yin-yang', 'digits'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="model must be one of"):
        make_classifier("yin-yang", model="izhikevich")
    digits_model = make_classifier("digits", hidden=5)
    with pytest.raises(ValueError, match="4 features but the network expects 64"):
        train(digits_model, ds, TrainingConfig(epochs=1))
    bad = Dataset("bad", ds.train, ds.validation, ds.test, 4, (0.0, 1.0), ("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="4 classes but the network has 3"):
        train(model, bad, TrainingConfig(epochs=1))
    with pytest.raises(ValueError, match="NaN"):
        Split(np.array([[0.1, np.nan, 0.2, 0.3]]), np.array([0]))


# ------------------------------------------------------------------------------ CLI


def test_cli_train_writes_history_and_json(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--dataset", "yin-yang", "--epochs", "2", "--hidden", "8", "--seed", "1",
                 "--out", str(out), "--json", "--quiet"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert {"test_accuracy", "epochs", "seconds"} <= set(summary)
    assert summary["epochs"] == 2 and 0 <= summary["test_accuracy"] <= 1
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert history["epoch"].tolist() == [1, 2]
    assert summary["test_accuracy"] == history.loc[history.epoch == summary["best_epoch"], "test_accuracy"].iloc[0]
    params = np.load(out / "params.npy")
    assert params.shape == (make_classifier("yin-yang", hidden=8).n_params,)
    # same seed again: identical CSV apart from the wall-clock column
    out2 = tmp_path / "run2"
    assert main(["train", "--dataset", "yin-yang", "--epochs", "2", "--hidden", "8", "--seed", "1",
                 "--out", str(out2), "--quiet"]) == 0
    a, b = pd.read_csv(out / "history.csv"), pd.read_csv(out2 / "history.csv")
    assert csv_without_seconds(a) == csv_without_seconds(b)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "mnist"], "dataset must be one of 'yin-yang', 'digits'"),
        (["--dataset", "digits", "--model", "hh"], "model must be one of 'nlif', 'lif'"),
        (["--dataset", "digits", "--hidden", "0"], "hidden[0]"),
        (["--dataset", "yin-yang", "--epochs", "0"], "epochs"),
        (["--dataset", "yin-yang", "--optimizer", "lbfgs"], "optimizer must be one of 'adam', 'sgd'"),
        (["--dataset", "yin-yang", "--model", "nlif", "--tau-m", "3"], "tau_m applies to model 'lif' only"),
    ],
)
def test_cli_train_bad_input_exits_2_with_message(argv, message, capsys, tmp_path):
    assert main(["train", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_default_recipe_follows_goltz():
    cfg = default_training_config("yin-yang")
    assert (cfg.epochs, cfg.batch_size, cfg.optimizer.name, cfg.optimizer.learning_rate) == (300, 150, "adam", 0.005)
    assert (cfg.schedule.step_size, cfg.schedule.gamma, cfg.max_dw_norm) == (20, 0.95, 0.2)
