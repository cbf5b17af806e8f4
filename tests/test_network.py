"""The layered time-to-first-spike network against independent computations.

- the exact backward pass against central finite differences of the forward pass, on random small
  networks (2 and 3 layers, mixed neuron models, bias spikes) at points checked to be
  differentiable (every spike well separated from every input and the readout window edge, every
  slope at threshold bounded away from 0);
- the loss derivative against finite differences in the output times, and against the softmax
  formula written out per sample;
- silent neurons: finite loss, zero gradient, prediction -1, no NaN anywhere;
- spike-causal gradient support, synaptic-event counts and the protocol methods against per-sample
  loops written here;
- bad input: clear ValueErrors naming what is allowed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsnn_theory.network import (
    FirstSpikeLoss,
    LatencyEncoding,
    Network,
    SNNClassifier,
    WeightInit,
    backward,
    dense_macs,
    digits_classifier,
    first_spike_loss,
    forward,
    init_weights,
    predict_from_times,
    spike_causal_support,
    synaptic_events,
    yin_yang_classifier,
)
from fsnn_theory.neurons import LIF, NLIF

NLIF1 = NLIF(tau_s=1.0, theta=1.0)
ALPHA = LIF(tau_m=1.0, tau_s=1.0, theta=1.0)
DOUBLE = LIF(tau_m=2.0, tau_s=1.0, theta=1.0)
GENERAL = LIF(tau_m=3.0, tau_s=1.0, theta=0.8)

ARCHITECTURES = [
    ((3, 5, 3), (DOUBLE, DOUBLE), (0.9, 0.9)),
    ((3, 4, 2), (NLIF1, DOUBLE), (None, 0.5)),
    ((2, 4, 3, 2), (ALPHA, GENERAL, DOUBLE), (0.3, None, 0.7)),
    ((4, 3, 3, 3), (DOUBLE, NLIF1, ALPHA), (0.9, 0.9, None)),
]
ARCH_IDS = ["lif2-lif2", "nlif-lif2", "alpha-general-lif2", "lif2-nlif-alpha"]

# margins that make a point differentiable for a step of 1e-6 in any weight
MIN_SEPARATION = 2e-3  # |t_spike - t_input| for every (input, neuron) pair, ms
MIN_SLOPE = 5e-2  # dV/dt at every threshold crossing


def unit_weights(model):
    return model.theta / float(model.kernel_max)


def well_conditioned(net: Network, params, t_in, t_max) -> bool:
    """Every neuron fires, inside the window, away from every input time, with a clear slope."""
    from fsnn_theory.neurons import slope_at_threshold

    fwd = forward(net, params, t_in)
    weights = net.unflatten(params)
    for l, (ti, to) in enumerate(zip(fwd.layer_inputs, fwd.spike_times)):
        if not np.isfinite(to).all():
            return False
        gap = np.abs(to[:, None, :] - ti[:, :, None])
        if np.nanmin(np.where(np.isfinite(gap), gap, np.inf)) < MIN_SEPARATION:
            return False
        if slope_at_threshold(net.models[l], ti, weights[l]).min() < MIN_SLOPE:
            return False
    return bool(fwd.output_times.max() < t_max - 0.1)


def draw_instance(net: Network, seed: int, batch: int = 4):
    rng = np.random.default_rng(seed)
    t_in = rng.uniform(0.0, 2.0, size=(batch, net.n_inputs))
    parts = []
    for model, (n_in, n_out) in zip(net.models, net.weight_shapes):
        # mostly excitatory, enough summed drive to fire, some inhibition
        parts.append((unit_weights(model) * rng.normal(1.2 / n_in + 0.4, 0.5, size=(n_in, n_out))).ravel())
    params = np.concatenate(parts)
    y = rng.integers(0, net.n_outputs, size=batch)
    return t_in, params, y


def mean_loss(net, params, t_in, y, loss):
    value, _ = first_spike_loss(forward(net, params, t_in).output_times, y, loss)
    return float(value.mean())


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
def test_gradient_matches_central_differences(arch):
    sizes, models, bias = arch
    net = Network(sizes, models, bias)
    loss = FirstSpikeLoss(xi=0.3, alpha=0.02, beta=1.5, tau_s=1.0, t_max=12.0)
    checked = 0
    for seed in range(200):
        t_in, params, y = draw_instance(net, seed)
        if not well_conditioned(net, params, t_in, loss.t_max):
            continue
        fwd = forward(net, params, t_in)
        _, d_out = first_spike_loss(fwd.output_times, y, loss)
        grad = backward(net, params, fwd, d_out / t_in.shape[0])
        h = 1e-6
        fd = np.empty_like(params)
        for k in range(params.size):
            e = np.zeros_like(params)
            e[k] = h
            fd[k] = (mean_loss(net, params + e, t_in, y, loss) - mean_loss(net, params - e, t_in, y, loss)) / (2 * h)
        scale = np.abs(fd).max()
        assert scale > 1e-3  # the loss does depend on the weights here
        np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-4 * scale)
        checked += 1
        if checked == 2:
            break
    assert checked == 2, "no well-conditioned instance found: the test exercises nothing"


def test_classifier_loss_and_grad_matches_differences_of_its_loss():
    model = yin_yang_classifier(hidden=6, model="lif")
    rng = np.random.default_rng(5)
    X = rng.uniform(0.0, 1.0, size=(5, 4))
    y = rng.integers(0, 3, size=5)
    params = model.init_params(3)
    t_in = model.encode(X)
    net = model.network
    # find weights at which the network is well conditioned (all neurons fire, clear margins)
    for seed in range(100):
        params = model.init_params(seed)
        if well_conditioned(net, params, t_in, model.loss_fn.t_max):
            break
    else:
        pytest.fail("no well-conditioned initialisation found")
    value, grad = model.loss_and_grad(params, X, y)
    assert value == pytest.approx(model.loss(params, X, y), rel=1e-15)
    h = 1e-6
    fd = np.array(
        [(model.loss(params + h * e, X, y) - model.loss(params - h * e, X, y)) / (2 * h) for e in np.eye(params.size)]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())


# ------------------------------------------------------------------------------ loss and readout


def test_loss_is_softmax_cross_entropy_plus_regulariser():
    rng = np.random.default_rng(0)
    t = rng.uniform(0.5, 3.0, size=(6, 4))
    y = rng.integers(0, 4, size=6)
    loss = FirstSpikeLoss(xi=0.25, alpha=0.01, beta=2.0, tau_s=0.8, t_max=20.0)
    value, d = first_spike_loss(t, y, loss)
    tau_xi = 0.25 * 0.8
    for b in range(6):
        p = [math.exp(-tk / tau_xi) for tk in t[b]]
        expected = -math.log(p[y[b]] / sum(p)) + 0.01 * (math.exp(t[b, y[b]] / (2.0 * 0.8)) - 1.0)
        assert value[b] == pytest.approx(expected, rel=1e-12)
    # derivative against central differences in the output times
    h = 1e-6
    for b in range(6):
        for k in range(4):
            tp, tm = t.copy(), t.copy()
            tp[b, k] += h
            tm[b, k] -= h
            fd = (first_spike_loss(tp, y, loss)[0][b] - first_spike_loss(tm, y, loss)[0][b]) / (2 * h)
            assert d[b, k] == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_silent_outputs_give_finite_loss_zero_gradient_and_no_prediction():
    loss = FirstSpikeLoss(xi=0.2, alpha=0.005, t_max=10.0)
    t = np.array(
        [
            [np.inf, np.inf, np.inf],  # all silent
            [1.0, np.inf, np.inf],  # label silent, another fires
            [1.0, 2.0, np.inf],  # a wrong output silent
            [11.0, 1.5, 12.0],  # two outputs fire after the readout window
        ]
    )
    y = np.array([0, 1, 0, 0])
    value, d = first_spike_loss(t, y, loss)
    assert np.isfinite(value).all() and np.isfinite(d).all()
    # silent or late outputs have no derivative
    assert (d[~(t < 10.0)] == 0).all()
    # all silent: every output reads t_max, so the softmax is uniform: loss log(3) + regulariser
    assert value[0] == pytest.approx(math.log(3) + 0.005 * math.expm1(10.0), rel=1e-12)
    # silent label: cross-entropy with the label read at t_max
    expected = (10.0 - 1.0) / 0.2 + math.log(1.0 + 2.0 * math.exp(-(10.0 - 1.0) / 0.2)) + 0.005 * math.expm1(10.0)
    assert value[1] == pytest.approx(expected, rel=1e-12)
    assert predict_from_times(t, 10.0).tolist() == [-1, 0, 0, 1]


def test_silent_label_loss_is_a_constant_without_derivative():
    loss = FirstSpikeLoss(xi=0.2, t_max=10.0, silent_label_loss=100.0)
    t = np.array([[1.0, np.inf, 2.0], [1.0, 1.5, 2.0], [12.0, 1.0, 1.5]])
    y = np.array([1, 1, 0])
    value, d = first_spike_loss(t, y, loss)
    assert value[0] == 100.0 and value[2] == 100.0
    assert (d[0] == 0).all() and (d[2] == 0).all()
    plain_value, plain_d = first_spike_loss(t, y, FirstSpikeLoss(xi=0.2, t_max=10.0))
    assert value[1] == plain_value[1] and (d[1] == plain_d[1]).all()


def test_silent_network_is_handled_without_nan():
    model = yin_yang_classifier(hidden=5)
    X = np.random.default_rng(1).uniform(0, 1, size=(7, 4))
    y = np.arange(7) % 3
    params = -np.abs(model.init_params(0))  # all inhibitory: nothing ever fires
    fwd = model.forward(params, X)
    assert all(np.isinf(t).all() for t in fwd.spike_times)
    value, grad = model.loss_and_grad(params, X, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert (grad == 0).all()
    assert (model.predict(params, X) == -1).all()
    assert model.accuracy(params, X, y) == 0.0
    assert not model.gradient_support(params, X, y).any()
    # only the 4 input spikes and the two bias spikes (into hidden and output layer) cause events
    np.testing.assert_array_equal(model.synops(params, X), np.full(7, (4 + 1) * 5 + 1 * 3.0))


# ------------------------------------------------------------------------------ support, synops


def test_gradient_support_is_the_causal_set_and_covers_the_gradient():
    model = yin_yang_classifier(hidden=8)
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, size=(12, 4))
    y = rng.integers(0, 3, size=12)
    params = model.init_params(4)
    params[:5] *= -1  # some inhibition so that the causal sets are not trivial
    support = model.gradient_support(params, X, y)
    _, grad = model.loss_and_grad(params, X, y)
    assert (grad[~support] == 0).all()
    # independent per-sample, per-pair loop
    fwd = model.forward(params, X)
    expected = []
    for t_in, t_out in zip(fwd.layer_inputs, fwd.spike_times):
        mask = np.zeros((t_in.shape[1], t_out.shape[1]), bool)
        for b in range(t_in.shape[0]):
            for i in range(t_in.shape[1]):
                for j in range(t_out.shape[1]):
                    if math.isfinite(t_out[b, j]) and t_in[b, i] < t_out[b, j]:
                        mask[i, j] = True
        expected.append(mask.ravel())
    np.testing.assert_array_equal(support, np.concatenate(expected))
    assert 0 < support.mean() <= 1


def test_synaptic_events_count_spikes_times_fan_out():
    net = Network((3, 4, 2), (DOUBLE, DOUBLE), (0.5, None))
    rng = np.random.default_rng(3)
    t_in = rng.uniform(0, 2, size=(9, 3))
    t_in[0, 1] = np.inf  # a silent input
    params = init_weights(net, WeightInit((0.6, 0.5), (0.3, 0.3)), 0)
    fwd = forward(net, params, t_in)
    syn = synaptic_events(net, fwd)
    for b in range(9):
        n_in = sum(math.isfinite(v) for v in t_in[b]) + 1  # + bias spike
        n_hidden = sum(math.isfinite(v) for v in fwd.spike_times[0][b])
        assert syn[b] == n_in * 4 + n_hidden * 2
    assert dense_macs(net) == 3 * 4 + 4 * 2


def test_init_weights_scale_with_the_kernel_peak():
    for model in (NLIF1, ALPHA, DOUBLE):
        net = Network((200, 300, 3), model, None)
        p = init_weights(net, WeightInit((0.5, 0.2), (0.1, 0.3)), 11)
        w0, w1 = net.unflatten(p)
        unit = model.theta / model.kernel_max
        assert w0.mean() / unit == pytest.approx(0.5, abs=0.005)
        assert w0.std() / unit == pytest.approx(0.1, rel=0.02)
        assert w1.mean() / unit == pytest.approx(0.2, abs=0.03)
    # deterministic
    np.testing.assert_array_equal(init_weights(net, WeightInit(), 3), init_weights(net, WeightInit(), 3))


def test_yin_yang_initialisation_makes_hidden_neurons_fire():
    from fsnn_theory.data import yin_yang_dataset

    ds = yin_yang_dataset(train_size=300, validation_size=10, test_size=10)
    for model_name in ("lif", "nlif"):
        model = yin_yang_classifier(model=model_name)
        fwd = model.forward(model.init_params(0), ds.train.X)
        assert np.isfinite(fwd.spike_times[0]).mean() > 0.8
        assert np.isfinite(fwd.output_times).mean() > 0.8


def test_flatten_unflatten_round_trip():
    net = Network((3, 4, 2), (DOUBLE, NLIF1), (0.9, None))
    p = np.arange(net.n_params, dtype=float)
    w = net.unflatten(p)
    assert [a.shape for a in w] == [(4, 4), (4, 2)]
    np.testing.assert_array_equal(net.flatten(w), p)
    assert w[0][-1, 0] == 12.0  # bias row last, C order


# ------------------------------------------------------------------------------ bad input


def test_bad_architecture_raises_listing_what_is_allowed():
    with pytest.raises(ValueError, match="one neuron model per layer"):
        Network((4, 10, 3), (DOUBLE,) * 3)
    with pytest.raises(ValueError, match="layer_sizes"):
        Network((4,), DOUBLE)
    with pytest.raises(ValueError, match=r"layer_sizes\[1\]"):
        Network((4, 0, 3), DOUBLE)
    with pytest.raises(ValueError, match="nlif, lif"):
        Network((4, 3), ("lif",))
    with pytest.raises(ValueError, match="bias_times"):
        Network((4, 5, 3), DOUBLE, (0.9,))
    with pytest.raises(ValueError, match="bias_times"):
        Network((4, 3), DOUBLE, -1.0)


def test_bad_data_raises_named_errors():
    model = yin_yang_classifier(hidden=4)
    p = model.init_params(0)
    X = np.full((3, 4), 0.5)
    with pytest.raises(ValueError, match="4 features"):
        model.loss(p, np.zeros((3, 5)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"labels in \[0, 2\]"):
        model.loss(p, X, [0, 1, 3])
    with pytest.raises(ValueError, match=r"labels in \[0, 2\]"):
        model.accuracy(p, X, [0, -1, 2])
    with pytest.raises(ValueError, match="at least one sample"):
        model.loss_and_grad(p, np.zeros((0, 4)), [])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(p, np.array([[0.1, np.nan, 0.2, 0.3]]))
    with pytest.raises(ValueError, match="n_params"):
        model.loss(p[:-1], X, [0, 1, 2])
    with pytest.raises(ValueError, match="3 labels"):
        model.loss(p, X, [0, 1])
    with pytest.raises(ValueError, match="X must lie in"):
        model.loss(p, X + 2.0, [0, 1, 2])
    with pytest.raises(ValueError, match="n_inputs = 4"):
        forward(model.network, p, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="xi"):
        FirstSpikeLoss(xi=0.0)
    with pytest.raises(ValueError, match="t_max"):
        FirstSpikeLoss(t_max=math.inf)


def test_digits_preset_shapes_and_encoding():
    model = digits_classifier(hidden=(20, 10))
    assert model.network.layer_sizes == (64, 20, 10, 10)
    assert model.n_params == 65 * 20 + 21 * 10 + 11 * 10
    t = model.encode(np.array([[0.0] * 63 + [1.0]]))
    assert t[0, -1] == pytest.approx(0.15) and t[0, 0] == pytest.approx(2.0)  # ink early
    assert LatencyEncoding().encode([[0.5]])[0, 0] == pytest.approx(0.15 + 0.5 * 1.85)


def test_classifier_protocol_surface():
    model = yin_yang_classifier(hidden=7)
    assert isinstance(model, SNNClassifier)
    assert model.n_classes == 3 and model.n_params == 5 * 7 + 8 * 3
    p = model.init_params(1)
    assert p.shape == (model.n_params,) and p.dtype == np.float64
    X = np.random.default_rng(0).uniform(0, 1, size=(4, 4))
    assert model.predict(p, X).dtype == np.int64
    assert model.synops(p, X).shape == (4,)
    assert model.gradient_support(p, X, [0, 1, 2, 0]).dtype == bool
