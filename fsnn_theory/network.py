r"""Layered time-to-first-spike networks: forward pass = spike times, backward pass = exact gradient.

A network is a stack of fully connected layers of current-based neurons (any model of
`fsnn_theory.neurons`, one per layer). Every neuron fires at most once; what a layer passes on is
its neurons' first-spike times, ``np.inf`` for a neuron that stays silent. Layer :math:`l` may
receive one extra *bias spike* at a fixed time (Göltz et al. 2021 use one at :math:`0.9\,\tau_s` in
the input and in the hidden layer); its weights are learned like every other weight.

Forward (per layer, closed form, `fsnn_theory.neurons.first_spike_times`):

.. math:: t^{(l)} = T_l\big(t^{(l-1)} \oplus t^{bias}_l;\ W_l\big),

Backward: the chain rule through spike times, with the implicit-function derivatives of each
layer at the spike times of the forward pass (`fsnn_theory.neurons.spike_time_gradients_at`;
SpikeProp, Bohté et al. 2002; exact form of Göltz et al. 2021):

.. math:: \frac{\partial L}{\partial W^{(l)}_{ij}} = \sum_b \delta^{(l)}_{bj}
              \frac{\partial t^{(l)}_{bj}}{\partial W^{(l)}_{ij}},\qquad
          \delta^{(l-1)}_{bi} = \sum_j \delta^{(l)}_{bj} \frac{\partial t^{(l)}_{bj}}{\partial t^{(l-1)}_{bi}},

with :math:`\delta^{(L)} = \partial L/\partial t^{(L)}`. A silent neuron, a non-causal input
(:math:`t_i \ge t_j`) and a tangential threshold crossing carry zero derivative, so the gradient is
exact wherever the loss is differentiable (no input, hidden or output spike appears, disappears
or changes its causal set under a small change of the weights).

Loss (Göltz et al. 2021, Methods): cross-entropy of :math:`\mathrm{softmax}(-t^{(L)}/\tau_\xi)`
plus the optional regulariser :math:`\alpha\,[\exp(t_{label}/(\beta\tau_s)) - 1]` that pushes the
label neuron to fire early (their code omits the constant :math:`-1`, which changes no gradient).

**Silent outputs and the readout window.** The output layer is read during a window
:math:`[0, t_{max})`. An output that fires at :math:`t \ge t_{max}` or never (:math:`t = \infty`) is
read as *no spike*: it enters the loss with the time :math:`t_{max}` and zero derivative, it never
wins the prediction, and a sample whose outputs all miss the window is predicted as ``-1`` (always
wrong). So loss, gradient and accuracy are finite and NaN-free for any spike pattern. As the
window grows the loss tends to the softmax limit (silent non-label outputs get probability 0); a
silent label neuron costs the cross-entropy with its time read as :math:`t_{max}` (about
:math:`(t_{max} - \min_k t_k)/\tau_\xi`) instead of :math:`+\infty`, or a constant if
``FirstSpikeLoss.silent_label_loss`` is set (Göltz et al.'s code: 100).

Energy accounting (Horowitz, ISSCC 2014): one synaptic event per spike per outgoing synapse,
``synops = sum over spikes of fan-out`` (input spikes and every layer's bias spike included;
output spikes have no fan-out). At 0.9 pJ per event against 4.6 pJ per multiply-accumulate of a
dense ANN of the same shape (`dense_macs`).

`SNNClassifier` packages a network, its latency encoding, its loss and its initialisation behind
the flat-parameter model protocol shared with the federated layer (``init_params``, ``loss``,
``loss_and_grad``, ``predict``, ``accuracy``, ``synops``, ``gradient_support``).

References
----------
- J. Göltz, L. Kriener, A. Baumbach, S. Billaudelle, O. Breitwieser, B. Cramer, D. Dold,
  Á. F. Kungl, W. Senn, J. Schemmel, K. Meier, M. A. Petrovici, "Fast and energy-efficient
  neuromorphic deep learning with first-spike times", Nature Machine Intelligence 3, 823–835
  (2021), arXiv 1912.11443.
- S. M. Bohté, J. N. Kok, H. La Poutré, "Error-backpropagation in temporally encoded networks of
  spiking neurons", Neurocomputing 48 (2002).
- H. Mostafa, "Supervised learning based on temporal coding in spiking neural networks",
  IEEE TNNLS 29(7) (2018).
- M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from fsnn_theory import neurons
from fsnn_theory._validation import (
    as_float_array,
    check_in_range,
    check_int,
    check_nonnegative,
    check_positive,
)
from fsnn_theory.data import latency_encode
from fsnn_theory.neurons import LIF, NLIF, NeuronModel, check_neuron_model, make_model

__all__ = [
    "Network",
    "ForwardPass",
    "FirstSpikeLoss",
    "LatencyEncoding",
    "WeightInit",
    "SNNClassifier",
    "forward",
    "backward",
    "first_spike_loss",
    "readout_times",
    "predict_from_times",
    "synaptic_events",
    "synaptic_events_until_decision",
    "spike_causal_support",
    "init_weights",
    "make_layer_models",
    "yin_yang_classifier",
    "digits_classifier",
    "ENERGY_PER_SYNOP_PJ",
    "ENERGY_PER_MAC_PJ",
    "dense_macs",
]

# Horowitz, ISSCC 2014 (45 nm, 32-bit float): an accumulate (synaptic event) vs a multiply-accumulate.
ENERGY_PER_SYNOP_PJ = 0.9
ENERGY_PER_MAC_PJ = 4.6


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    r"""Architecture of a layered time-to-first-spike network (no weights: those are ``params``).

    Parameters
    ----------
    layer_sizes : ``(n_inputs, n_hidden_1, ..., n_outputs)``, at least two entries, each >= 1
        (bias inputs not counted).
    models : one neuron model (``NLIF`` / ``LIF`` record) per layer of weights, i.e.
        ``len(layer_sizes) - 1`` of them; a single record is used for every layer.
    bias_times : per layer of weights, the time (ms, >= 0) of one bias spike fed into that layer,
        or ``None`` for no bias input; a single value (or ``None``) is used for every layer.

    Layer ``l`` has weights of shape ``(layer_sizes[l] + has_bias_l, layer_sizes[l + 1])``, the bias
    row last. The flat parameter vector is the concatenation of these matrices in C order.
    """

    layer_sizes: tuple[int, ...]
    models: tuple[NeuronModel, ...]
    bias_times: tuple[float | None, ...] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        sizes = tuple(self.layer_sizes) if not isinstance(self.layer_sizes, (int, np.integer)) else (self.layer_sizes,)
        if len(sizes) < 2:
            raise ValueError(
                f"layer_sizes must list at least (n_inputs, n_outputs), got {self.layer_sizes!r}"
            )
        sizes = tuple(check_int(f"layer_sizes[{i}]", s, low=1) for i, s in enumerate(sizes))
        n_layers = len(sizes) - 1
        models = self.models
        if isinstance(models, (NLIF, LIF)):
            models = (models,) * n_layers
        models = tuple(models)
        if len(models) != n_layers:
            raise ValueError(
                f"models must hold one neuron model per layer of weights ({n_layers} for "
                f"layer_sizes {sizes}), got {len(models)}"
            )
        models = tuple(check_neuron_model(m, f"models[{i}]") for i, m in enumerate(models))
        bias = self.bias_times
        if bias is None or isinstance(bias, (int, float, np.floating, np.integer)):
            bias = (bias,) * n_layers
        bias = tuple(bias)
        if len(bias) != n_layers:
            raise ValueError(
                f"bias_times must hold one entry (a time in ms or None) per layer of weights "
                f"({n_layers}), got {len(bias)}"
            )
        bias = tuple(None if b is None else check_nonnegative(f"bias_times[{i}]", b) for i, b in enumerate(bias))
        object.__setattr__(self, "layer_sizes", sizes)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "bias_times", bias)

    @property
    def n_layers(self) -> int:
        """Number of layers of weights (= number of spiking layers)."""
        return len(self.layer_sizes) - 1

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    @property
    def weight_shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(
            (self.layer_sizes[l] + (self.bias_times[l] is not None), self.layer_sizes[l + 1])
            for l in range(self.n_layers)
        )

    @property
    def n_params(self) -> int:
        return int(sum(a * b for a, b in self.weight_shapes))

    @property
    def param_offsets(self) -> tuple[int, ...]:
        """Start of each layer's block in the flat vector, plus the total at the end."""
        out = [0]
        for a, b in self.weight_shapes:
            out.append(out[-1] + a * b)
        return tuple(out)

    def unflatten(self, params) -> list[np.ndarray]:
        """Views of the flat vector as the per-layer weight matrices (no copy for float64 input)."""
        p = self.check_params(params)
        off = self.param_offsets
        return [p[off[l] : off[l + 1]].reshape(shape) for l, shape in enumerate(self.weight_shapes)]

    def flatten(self, weights: Sequence[np.ndarray]) -> np.ndarray:
        """Concatenate per-layer weight matrices (shapes `weight_shapes`) into a flat vector."""
        if len(weights) != self.n_layers:
            raise ValueError(f"weights must hold {self.n_layers} matrices, got {len(weights)}")
        parts = []
        for l, (w, shape) in enumerate(zip(weights, self.weight_shapes)):
            w = as_float_array(f"weights[{l}]", w, ndim=2)
            if w.shape != shape:
                raise ValueError(f"weights[{l}] must have shape {shape}, got {w.shape}")
            parts.append(w.ravel())
        return np.concatenate(parts)

    def check_params(self, params) -> np.ndarray:
        p = as_float_array("params", params, ndim=1)
        if p.shape[0] != self.n_params:
            raise ValueError(
                f"params must be a flat vector of n_params = {self.n_params} weights for layer_sizes "
                f"{self.layer_sizes} (bias inputs {self.bias_times}), got length {p.shape[0]}"
            )
        return p

    def check_input_times(self, input_times) -> np.ndarray:
        t = as_float_array("input_times", input_times, ndim=2, allow_inf=True)
        if t.shape[1] != self.n_inputs:
            raise ValueError(
                f"input_times must have n_inputs = {self.n_inputs} columns (layer_sizes "
                f"{self.layer_sizes}), got shape {t.shape}"
            )
        return t

    def layer_input(self, l: int, times: np.ndarray) -> np.ndarray:
        """Times fed into layer ``l``: the previous layer's spikes plus the bias spike (if any)."""
        b = self.bias_times[l]
        if b is None:
            return times
        out = np.empty((times.shape[0], times.shape[1] + 1))
        out[:, :-1] = times
        out[:, -1] = b
        return out


class ForwardPass(NamedTuple):
    """Everything the backward pass needs.

    ``layer_inputs[l]``: (batch, n_in_l [+1 bias]) spike times fed into layer ``l``;
    ``spike_times[l]``: (batch, n_out_l) first-spike times of layer ``l`` (``inf`` = silent);
    ``spike_times[-1]`` are the output neurons.
    """

    layer_inputs: tuple[np.ndarray, ...]
    spike_times: tuple[np.ndarray, ...]

    @property
    def output_times(self) -> np.ndarray:
        return self.spike_times[-1]


def forward(network: Network, params, input_times) -> ForwardPass:
    r"""Spike times of every layer for a batch of input spike times (batch, n_inputs), ``inf`` = silent.

    Examples
    --------
    A 2-2-1 NLIF network (:math:`\tau_s = \vartheta = 1`, no bias), every weight 2, both inputs at
    t = 0: each hidden neuron sees :math:`V = 4(1 - e^{-t})` and fires at :math:`\ln(4/3)`; the
    output neuron sees the same two-spike volley, so it fires :math:`\ln(4/3)` later.

    >>> import math
    >>> import numpy as np
    >>> from fsnn_theory.network import Network, forward
    >>> from fsnn_theory.neurons import NLIF
    >>> net = Network((2, 2, 1), NLIF(tau_s=1.0, theta=1.0), bias_times=None)
    >>> net.weight_shapes, net.n_params
    (((2, 2), (2, 1)), 6)
    >>> fwd = forward(net, np.full(net.n_params, 2.0), [[0.0, 0.0], [np.inf, np.inf]])
    >>> [round(float(t), 12) for t in fwd.spike_times[0][0]] == [round(math.log(4 / 3), 12)] * 2
    True
    >>> round(float(fwd.output_times[0, 0]), 12) == round(2 * math.log(4 / 3), 12)
    True
    >>> fwd.output_times[1].tolist()  # silent inputs: silent network
    [inf]
    """
    weights = network.unflatten(params)
    t = network.check_input_times(input_times)
    return _forward(network, weights, t)


def _forward(network: Network, weights: list[np.ndarray], t: np.ndarray) -> ForwardPass:
    ins, outs = [], []
    for l, (model, w) in enumerate(zip(network.models, weights)):
        t_in = network.layer_input(l, t)
        # inputs and weights were validated on entry (check_input_times, unflatten) or are spike
        # times of the layer below: the engine's internal entry point skips re-validating them
        t = neurons._first_spike_times(model, t_in, w)
        ins.append(t_in)
        outs.append(t)
    return ForwardPass(tuple(ins), tuple(outs))


def backward(
    network: Network,
    params,
    fwd: ForwardPass,
    d_output,
    *,
    max_dw_norm: float | None = None,
) -> np.ndarray:
    r"""Gradient of a loss with respect to the flat parameters, given :math:`\partial L/\partial t^{(L)}`.

    ``d_output`` (batch, n_outputs) is :math:`\partial L/\partial t^{(L)}_{bj}` of the loss being
    differentiated (for a batch-mean loss it already carries the 1/batch factor). Exact chain rule
    through the spike times of ``fwd`` (see the module docstring); entries of ``d_output`` on silent
    outputs are ignored (their spike-time derivatives are zero).

    ``max_dw_norm``: optional guard of Göltz et al. 2021 (their ``max_dw_norm``) against the
    :math:`1/\dot V(t^*)` blow-up of grazing crossings: a (sample, neuron) pair whose largest
    weight-gradient entry :math:`\max_i |\partial L_b/\partial W_{ij}|` exceeds it contributes no
    weight gradient (its error is still propagated to earlier layers). ``None`` = exact gradient.
    Measured on the loss as given, so for a batch mean the threshold scales with 1/batch exactly as
    in their code.
    """
    weights = network.unflatten(params)
    delta = as_float_array("d_output", d_output, ndim=2)
    B = fwd.output_times.shape[0]
    if delta.shape != (B, network.n_outputs):
        raise ValueError(f"d_output must have shape (batch, n_outputs) = {(B, network.n_outputs)}, got {delta.shape}")
    if max_dw_norm is not None:
        max_dw_norm = check_positive("max_dw_norm", max_dw_norm)
    return _backward(network, weights, fwd, delta, max_dw_norm)


def _many_inputs_few_outputs(x: np.ndarray) -> bool:
    # numpy reduces a long middle axis with a short last axis slowly; such layers (e.g. 121 -> 3)
    # take a transposed route below (same sums, different order of evaluation)
    return x.shape[1] > 32 and x.shape[2] < 16


def _weight_gradient(d_w: np.ndarray, delta: np.ndarray) -> np.ndarray:
    r""":math:`G_{ij} = \sum_b \partial t_{bj}/\partial W_{ij}\ \delta_{bj}` for (B, n_in, n_out) and (B, n_out)."""
    if _many_inputs_few_outputs(d_w):
        return np.matmul(d_w.transpose(2, 1, 0), delta.T[:, :, None])[:, :, 0].T
    return np.einsum("bio,bo->io", d_w, delta)


def _largest_over_inputs(x: np.ndarray) -> np.ndarray:
    """max_i |x[b, i, j]|, shape (B, n_out)."""
    if _many_inputs_few_outputs(x):
        return np.abs(np.ascontiguousarray(x.transpose(0, 2, 1))).max(axis=2)
    return np.abs(x).max(axis=1)


def _backward(network, weights, fwd: ForwardPass, delta: np.ndarray, max_dw_norm) -> np.ndarray:
    grads: list[np.ndarray] = [None] * network.n_layers  # type: ignore[list-item]
    for l in range(network.n_layers - 1, -1, -1):
        t_in, t_out, w = fwd.layer_inputs[l], fwd.spike_times[l], weights[l]
        d_w, d_t, _, _ = neurons._gradients(network.models[l], t_out, t_in, w)  # = spike_time_gradients_at
        # silent outputs: derivative 0, and their delta may be anything finite or not; drop it
        delta = np.where(np.isfinite(t_out), delta, 0.0)
        delta_w = delta
        if max_dw_norm is not None:
            # per (sample, neuron): largest weight-gradient entry |dt/dW_ij| |delta| above the cap
            jumps = _largest_over_inputs(d_w) * np.abs(delta) > max_dw_norm
            delta_w = np.where(jumps, 0.0, delta)
        grads[l] = _weight_gradient(d_w, delta_w)
        if l > 0:
            delta = np.matmul(d_t, delta[:, :, None])[:, :, 0]  # (B, n_in)
            delta = delta[:, : network.layer_sizes[l]]  # the bias spike is not a learned time
    return np.concatenate([g.ravel() for g in grads])


# --------------------------------------------------------------------------------------------
# Loss and readout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstSpikeLoss:
    r"""Cross-entropy on first-spike times with the regulariser of Göltz et al. 2021.

    Per sample with label :math:`y` and readout times :math:`\tilde t_k = \min(t_k, t_{max})`
    (see `readout_times`):

    .. math:: \ell = -\log \frac{e^{-\tilde t_y/\tau_\xi}}{\sum_k e^{-\tilde t_k/\tau_\xi}}
                     + \alpha\left[\exp\!\left(\frac{\tilde t_y}{\beta\tau_s}\right) - 1\right],
              \qquad \tau_\xi = \xi\,\tau_s.

    Parameters (Göltz et al. 2021 Yin-Yang values in brackets)
    ----------
    xi : softmax temperature in units of ``tau_s``, > 0 [0.2].
    alpha : regulariser strength, >= 0 (0 = plain cross-entropy) [0.005].
    beta : regulariser time scale in units of ``tau_s``, > 0 [1].
    tau_s : time unit of ``xi`` and ``beta`` in ms, > 0 [1].
    t_max : readout window in ms, > 0: outputs at or after it count as silent [10].
    silent_label_loss : ``None`` (default) or a constant >= 0. If given, a sample whose label
        neuron does not fire inside the window costs this constant and contributes no derivative
        (Göltz et al.'s code uses 100); if ``None`` it costs the cross-entropy with the label read
        at :math:`t_{max}` (continuous as the label spike crosses the window edge), whose
        derivative pushes the other outputs later.
    """

    xi: float = 0.2
    alpha: float = 0.0
    beta: float = 1.0
    tau_s: float = 1.0
    t_max: float = 10.0
    silent_label_loss: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "xi", check_positive("xi", self.xi))
        object.__setattr__(self, "alpha", check_nonnegative("alpha", self.alpha))
        object.__setattr__(self, "beta", check_positive("beta", self.beta))
        object.__setattr__(self, "tau_s", check_positive("tau_s", self.tau_s))
        object.__setattr__(self, "t_max", check_positive("t_max", self.t_max))
        if self.silent_label_loss is not None:
            object.__setattr__(self, "silent_label_loss", check_nonnegative("silent_label_loss", self.silent_label_loss))
        if self.alpha > 0 and self.t_max / (self.beta * self.tau_s) > 700.0:
            raise ValueError(
                f"t_max / (beta * tau_s) must be <= 700 when alpha > 0 (exp would overflow), got "
                f"t_max={self.t_max}, beta={self.beta}, tau_s={self.tau_s}"
            )

    @property
    def tau_xi(self) -> float:
        return self.xi * self.tau_s


def readout_times(t_out: np.ndarray, t_max: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Output times as the loss sees them: :math:`\tilde t = t` inside the window, :math:`t_{max}` else.

    Returns ``(t_tilde, in_window)``; ``in_window`` is False for silent outputs and for spikes at
    :math:`t \ge t_{max}`, where :math:`\partial\tilde t/\partial t = 0`.
    """
    with np.errstate(invalid="ignore"):
        inside = t_out < t_max
    return np.where(inside, t_out, t_max), inside


def first_spike_loss(t_out, labels, loss: FirstSpikeLoss) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-sample loss :math:`\ell_b` and its derivative :math:`\partial \ell_b/\partial t_{bk}`.

    See `FirstSpikeLoss` for the formula. With :math:`p = \mathrm{softmax}(-\tilde t/\tau_\xi)`:

    .. math:: \frac{\partial \ell}{\partial t_k} = \frac{[k = y] - p_k}{\tau_\xi}
              + [k = y]\,\frac{\alpha}{\beta\tau_s} e^{\tilde t_y/(\beta\tau_s)}

    inside the readout window and 0 outside it (Göltz et al. 2021, Methods). The log-sum-exp is
    shifted by its maximum, so every value is finite for any spike pattern (silent included).

    Returns ``(loss (batch,), d_t (batch, n_outputs))``.
    """
    t_out = as_float_array("t_out", t_out, ndim=2, allow_inf=True)
    y = np.asarray(labels)
    if y.shape != (t_out.shape[0],):
        raise ValueError(f"labels must have shape (batch,) = ({t_out.shape[0]},), got {y.shape}")
    return _first_spike_loss(t_out, y.astype(np.int64), loss)


def _first_spike_loss(t_out: np.ndarray, y: np.ndarray, loss: FirstSpikeLoss):
    t, inside = readout_times(t_out, loss.t_max)
    rows = np.arange(t.shape[0])
    z = t * (-1.0 / loss.tau_xi)
    z_max = z.max(axis=1, keepdims=True)
    e = np.exp(z - z_max)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    ce = -(z[rows, y] - z_max[:, 0] - np.log(s[:, 0]))
    d = -p / loss.tau_xi
    d[rows, y] += 1.0 / loss.tau_xi
    value = ce
    if loss.alpha > 0:
        tb = loss.beta * loss.tau_s
        t_y = t[rows, y]
        value = ce + loss.alpha * np.expm1(t_y / tb)
        d[rows, y] += (loss.alpha / tb) * np.exp(t_y / tb)
    d = np.where(inside, d, 0.0)
    if loss.silent_label_loss is not None:
        lost = ~inside[rows, y]
        if lost.any():
            value = np.where(lost, loss.silent_label_loss, value)
            d[lost] = 0.0
    return value, d


def predict_from_times(t_out, t_max: float = math.inf) -> np.ndarray:
    """Class of the earliest output spike inside the readout window; ``-1`` if no output fired in it.

    Ties (equal earliest times) go to the lowest index (``argmin``).
    """
    t_out = as_float_array("t_out", t_out, ndim=2, allow_inf=True)
    t = np.where(t_out < t_max, t_out, np.inf)
    pred = np.argmin(t, axis=1)
    return np.where(np.isfinite(t.min(axis=1)), pred, -1).astype(np.int64)


def synaptic_events(network: Network, fwd: ForwardPass) -> np.ndarray:
    r"""Synaptic events per sample: :math:`\sum_l \#\{\text{spikes into layer } l\} \cdot n_{l+1}`.

    Every spike (input, bias and hidden; the output layer has no fan-out) is delivered once to each
    neuron of the next layer. Returns float64 (batch,).
    """
    total = np.zeros(fwd.output_times.shape[0])
    for l, t_in in enumerate(fwd.layer_inputs):
        total += np.isfinite(t_in).sum(axis=1) * network.layer_sizes[l + 1]
    return total


def synaptic_events_until_decision(network: Network, fwd: ForwardPass, t_max: float = math.inf) -> np.ndarray:
    r"""Synaptic events per sample caused by spikes *before the decision* (the earliest output spike).

    A time-to-first-spike classifier has decided when its first output neuron fires (inside the
    readout window ``t_max``); an event-driven system can stop there. Counts, like
    `synaptic_events`, spikes times fan-out, but only spikes strictly earlier than the decision
    time (all spikes if no output fires in the window). Returns float64 (batch,).
    """
    t_out = fwd.output_times
    decision = np.where(t_out < t_max, t_out, np.inf).min(axis=1)[:, None]
    total = np.zeros(t_out.shape[0])
    for l, t_in in enumerate(fwd.layer_inputs):
        total += (t_in < decision).sum(axis=1) * network.layer_sizes[l + 1]
    return total


def dense_macs(network: Network) -> int:
    r"""Multiply-accumulates of one inference of a dense ANN of the same shape: :math:`\sum_l n_l n_{l+1}`.

    Bias terms are not counted (one addition per neuron, not a multiply-accumulate), which favours
    the ANN slightly in an energy comparison.
    """
    s = network.layer_sizes
    return int(sum(a * b for a, b in zip(s[:-1], s[1:])))


def spike_causal_support(network: Network, fwd: ForwardPass) -> np.ndarray:
    r"""Flat bool mask: weight :math:`W_{ij}` of layer l has a causal spike pair in the batch.

    True iff for some sample input ``i`` of the layer spiked strictly before neuron ``j``'s spike
    and ``j`` spiked (:math:`t_i < t_j < \infty`). Outside this set every spike-time derivative
    :math:`\partial t_j/\partial W_{ij}` vanishes, so the batch gradient of any loss of the
    spike times is zero there (spike-causal sparsity).
    """
    parts = []
    for t_in, t_out in zip(fwd.layer_inputs, fwd.spike_times):
        parts.append(neurons.causal_set(t_in, t_out).any(axis=0).ravel())
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------
# Encoding and initialisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyEncoding:
    r"""Latency code of raw features: :math:`t = t_{early} + r\,(t_{late} - t_{early})` (ms).

    :math:`s = (x - x_{min})/(x_{max} - x_{min})`, :math:`r = 1 - s` if ``larger_is_earlier`` else
    :math:`r = s`; features below ``silent_below`` never spike. See `fsnn_theory.data.latency_encode`.
    Bias spikes are not part of the encoding: the `Network` adds them per layer.
    """

    t_early: float = 0.15
    t_late: float = 2.0
    x_min: float = 0.0
    x_max: float = 1.0
    larger_is_earlier: bool = True
    silent_below: float | None = None

    def __post_init__(self) -> None:
        # one encoding of a 1x1 dummy validates every field with the encoder's own checks
        latency_encode(
            [[self.x_min]], self.t_early, self.t_late, self.x_min, self.x_max,
            larger_is_earlier=self.larger_is_earlier, silent_below=self.silent_below,
        )

    def encode(self, X) -> np.ndarray:
        return latency_encode(
            X, self.t_early, self.t_late, self.x_min, self.x_max,
            larger_is_earlier=self.larger_is_earlier, silent_below=self.silent_below,
        )


@dataclass(frozen=True)
class WeightInit:
    r"""Normal initial weights, per layer :math:`W^{(l)} \sim (\vartheta_l/\kappa^{max}_l)\,\mathcal N(\mu_l, \sigma_l^2)`.

    ``means`` and ``stds`` are in units of :math:`\vartheta/\kappa_{max}`: a weight of 1 unit alone
    lifts the membrane exactly to threshold at the kernel's peak, so the same numbers make neurons
    fire for every kernel. Göltz et al. 2021 (alpha kernel, :math:`\kappa_{max} = 1/e`,
    :math:`\vartheta = 1`) draw Yin-Yang weights from N(1.5, 0.8) and N(0.5, 0.8), i.e.
    ``means = (1.5/e, 0.5/e)``, ``stds = (0.8/e, 0.8/e)`` here. A single value applies to every layer.
    """

    means: tuple[float, ...] = (0.55, 0.18)
    stds: tuple[float, ...] = (0.29, 0.29)

    def __post_init__(self) -> None:
        means = (self.means,) if isinstance(self.means, (int, float)) else tuple(self.means)
        stds = (self.stds,) if isinstance(self.stds, (int, float)) else tuple(self.stds)
        means = tuple(check_in_range(f"means[{i}]", m, -np.inf, np.inf, low_open=True, high_open=True) for i, m in enumerate(means))
        stds = tuple(check_nonnegative(f"stds[{i}]", s) for i, s in enumerate(stds))
        if not means or not stds:
            raise ValueError("means and stds must not be empty")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)

    def for_layers(self, n_layers: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        def expand(name, vals):
            if len(vals) == 1:
                return vals * n_layers
            if len(vals) != n_layers:
                raise ValueError(f"WeightInit.{name} must hold 1 or {n_layers} values (one per layer), got {len(vals)}")
            return vals

        return expand("means", self.means), expand("stds", self.stds)


def _kernel_peak(model: NeuronModel) -> float:
    return float(model.kernel_max)


def init_weights(network: Network, init: WeightInit, seed: int) -> np.ndarray:
    """Flat initial parameters: layer by layer, ``default_rng(seed).normal`` scaled as in `WeightInit`."""
    seed = check_int("seed", seed, low=0)
    means, stds = init.for_layers(network.n_layers)
    rng = np.random.default_rng(seed)
    parts = []
    for model, shape, mu, sd in zip(network.models, network.weight_shapes, means, stds):
        unit = model.theta / _kernel_peak(model)
        parts.append((unit * rng.normal(mu, sd, size=shape)).ravel())
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------
# The classifier (flat-parameter model protocol)
# --------------------------------------------------------------------------------------------


def _check_labels(y, n: int, n_classes: int) -> np.ndarray:
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or y_arr.shape[0] != n:
        raise ValueError(f"y must be a 1-d array of {n} labels (one per row of X), got shape {y_arr.shape}")
    if y_arr.size and not np.issubdtype(y_arr.dtype, np.integer):
        if np.issubdtype(y_arr.dtype, np.floating) and np.all(np.isfinite(y_arr)) and np.all(y_arr == np.round(y_arr)):
            y_arr = y_arr.astype(np.int64)
        else:
            raise ValueError(f"y must hold integer class labels in [0, {n_classes - 1}], got dtype {y_arr.dtype}")
    y_arr = y_arr.astype(np.int64)
    if y_arr.size and (y_arr.min() < 0 or y_arr.max() >= n_classes):
        bad = y_arr[(y_arr < 0) | (y_arr >= n_classes)]
        raise ValueError(f"y must hold class labels in [0, {n_classes - 1}], got {bad[:5].tolist()}")
    return y_arr


@dataclass(frozen=True)
class SNNClassifier:
    """A time-to-first-spike classifier behind the flat-parameter model protocol.

    ``network``: the architecture; ``encoding``: raw features -> input spike times;
    ``loss_fn``: `FirstSpikeLoss` (named so that it does not shadow the protocol method ``loss``);
    ``init``: `WeightInit` for `init_params`. Also ``loss_grad_forward`` (loss, gradient and forward
    pass at once, optional gradient guard and input jitter for training), ``forward``, ``encode``.

    Protocol (shared with ``fsnn_theory.federated``): ``n_params``, ``n_classes``,
    ``init_params(seed)``, ``loss(params, X, y)``, ``loss_and_grad(params, X, y)``,
    ``predict(params, X)`` (``-1`` = no output spike in the readout window, always wrong),
    ``accuracy(params, X, y)``, ``synops(params, X)`` (synaptic events per sample, inference),
    ``gradient_support(params, X, y)`` (spike-causal mask, OR over the batch).
    X are raw features (rows = samples), y int labels in ``[0, n_classes)``.
    """

    network: Network
    encoding: LatencyEncoding = field(default_factory=LatencyEncoding)
    loss_fn: FirstSpikeLoss = field(default_factory=FirstSpikeLoss)
    init: WeightInit = field(default_factory=WeightInit)

    def __post_init__(self) -> None:
        if not isinstance(self.network, Network):
            raise ValueError(f"network must be a Network, got {type(self.network).__name__}")
        if not isinstance(self.encoding, LatencyEncoding):
            raise ValueError(f"encoding must be a LatencyEncoding, got {type(self.encoding).__name__}")
        if not isinstance(self.loss_fn, FirstSpikeLoss):
            raise ValueError(f"loss_fn must be a FirstSpikeLoss, got {type(self.loss_fn).__name__}")
        if not isinstance(self.init, WeightInit):
            raise ValueError(f"init must be a WeightInit, got {type(self.init).__name__}")
        if self.network.n_outputs < 2:
            raise ValueError(f"a classifier needs >= 2 output neurons, got layer_sizes {self.network.layer_sizes}")
        self.init.for_layers(self.network.n_layers)  # raises if the per-layer lists do not fit

    # -- protocol attributes
    @property
    def n_params(self) -> int:
        return self.network.n_params

    @property
    def n_classes(self) -> int:
        return self.network.n_outputs

    @property
    def n_features(self) -> int:
        return self.network.n_inputs

    # -- helpers
    def encode(self, X) -> np.ndarray:
        """Input spike times (batch, n_features) of raw features; ValueError for bad X."""
        Xa = as_float_array("X", X, ndim=2)
        if Xa.shape[0] == 0:
            raise ValueError("X must hold at least one sample, got 0 rows")
        if Xa.shape[1] != self.n_features:
            raise ValueError(
                f"X must have {self.n_features} features per sample (layer_sizes {self.network.layer_sizes}), "
                f"got shape {Xa.shape}"
            )
        return self.encoding.encode(Xa)

    def forward(self, params, X) -> ForwardPass:
        weights = self.network.unflatten(params)
        return _forward(self.network, weights, self.encode(X))

    def _xy(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        t = self.encode(X)
        return t, _check_labels(y, t.shape[0], self.n_classes)

    # -- protocol methods
    def init_params(self, seed: int) -> np.ndarray:
        return init_weights(self.network, self.init, seed)

    def loss(self, params, X, y) -> float:
        weights = self.network.unflatten(params)
        t, y = self._xy(X, y)
        fwd = _forward(self.network, weights, t)
        value, _ = _first_spike_loss(fwd.output_times, y, self.loss_fn)
        return float(value.mean())

    def loss_and_grad(self, params, X, y) -> tuple[float, np.ndarray]:
        value, grad, _ = self.loss_grad_forward(params, X, y)
        return value, grad

    def loss_grad_forward(
        self, params, X, y, *, max_dw_norm: float | None = None, time_jitter=None
    ) -> tuple[float, np.ndarray, ForwardPass]:
        r"""Mean loss, its gradient and the forward pass (for training statistics at no extra cost).

        ``max_dw_norm`` applies the Göltz guard of `backward` (then the gradient is no longer exact).
        ``time_jitter`` (batch, n_features), optional: added to the encoded input spike times, which
        are then reflected at 0 (:math:`t \mapsto |t|`, as the input noise of Göltz et al. 2021);
        silent inputs stay silent. A training-time augmentation: the gradient is that of the
        jittered inputs.
        """
        weights = self.network.unflatten(params)
        t, y = self._xy(X, y)
        if time_jitter is not None:
            jitter = as_float_array("time_jitter", time_jitter, ndim=2)
            if jitter.shape != t.shape:
                raise ValueError(f"time_jitter must have shape {t.shape} (batch, n_features), got {jitter.shape}")
            t = np.abs(t + jitter)
        fwd = _forward(self.network, weights, t)
        value, d = _first_spike_loss(fwd.output_times, y, self.loss_fn)
        n = t.shape[0]
        if max_dw_norm is not None:
            max_dw_norm = check_positive("max_dw_norm", max_dw_norm)
        grad = _backward(self.network, weights, fwd, d / n, max_dw_norm)
        return float(value.mean()), grad, fwd

    def predict(self, params, X) -> np.ndarray:
        fwd = self.forward(params, X)
        return predict_from_times(fwd.output_times, self.loss_fn.t_max)

    def accuracy(self, params, X, y) -> float:
        t, y = self._xy(X, y)
        fwd = _forward(self.network, self.network.unflatten(params), t)
        return float(np.mean(predict_from_times(fwd.output_times, self.loss_fn.t_max) == y))

    def synops(self, params, X) -> np.ndarray:
        return synaptic_events(self.network, self.forward(params, X))

    def gradient_support(self, params, X, y) -> np.ndarray:
        t, y = self._xy(X, y)
        fwd = _forward(self.network, self.network.unflatten(params), t)
        return spike_causal_support(self.network, fwd)

    def dense_macs(self) -> int:
        """MACs of one inference of an ANN of the same shape (for the energy comparison)."""
        return dense_macs(self.network)


# --------------------------------------------------------------------------------------------
# Presets for the two data sets
# --------------------------------------------------------------------------------------------


def make_layer_models(model: str, n_layers: int, **params) -> tuple[NeuronModel, ...]:
    """The same neuron model (by name: ``"lif"`` or ``"nlif"``) for every layer."""
    m = make_model(model, **params)
    return (m,) * check_int("n_layers", n_layers, low=1)


def _default_model_params(model: str, tau_s: float, tau_m: float | None) -> dict:
    if model == "lif":
        return {"tau_m": 2.0 * tau_s if tau_m is None else tau_m, "tau_s": tau_s, "theta": 1.0}
    if tau_m is not None:
        raise ValueError(f"tau_m applies to model 'lif' only, got model {model!r} with tau_m={tau_m}")
    return {"tau_s": tau_s, "theta": 1.0}


def _latency_classifier(
    n_in: int,
    hidden,
    n_out: int,
    model: str,
    tau_s: float,
    tau_m: float | None,
    alpha: float,
    xi: float,
    t_max: float | None,
    silent_label_loss: float | None,
    larger_is_earlier: bool,
    first_mean: float,
    first_std: float,
    deep_mean: float,
    deep_std: float,
) -> SNNClassifier:
    """n_in-H-n_out network with latency coding in [0.15, 2] tau_s, a bias spike at 0.9 tau_s into
    every layer, the loss of Göltz et al. 2021 (beta = 1, t_max default 10 tau_s) and initial weights
    N(mean, std) in their alpha-kernel units (first layer / deeper layers; divided by e, see `WeightInit`)."""
    hidden_t = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    sizes = (n_in, *hidden_t, n_out)
    n_layers = len(sizes) - 1
    models = make_layer_models(model, n_layers, **_default_model_params(model, tau_s, tau_m))
    e = math.e
    means = (first_mean / e,) + (deep_mean / e,) * (n_layers - 1)
    stds = (first_std / e,) + (deep_std / e,) * (n_layers - 1)
    return SNNClassifier(
        network=Network(sizes, models, 0.9 * tau_s),
        encoding=LatencyEncoding(0.15 * tau_s, 2.0 * tau_s, 0.0, 1.0, larger_is_earlier=larger_is_earlier),
        loss_fn=FirstSpikeLoss(xi=xi, alpha=alpha, beta=1.0, tau_s=tau_s, t_max=10.0 * tau_s if t_max is None else t_max,
                               silent_label_loss=silent_label_loss),
        init=WeightInit(means, stds),
    )


def yin_yang_classifier(
    hidden: int | Sequence[int] = 120,
    model: str = "lif",
    *,
    tau_s: float = 1.0,
    tau_m: float | None = None,
    alpha: float = 0.005,
    xi: float = 0.2,
    t_max: float | None = None,
    silent_label_loss: float | None = None,
) -> SNNClassifier:
    """The Yin-Yang network of Göltz et al. 2021: 4-H-3, bias spike at 0.9 tau_s into every layer.

    Encoding t = tau_s (0.15 + v (2.0 - 0.15)) (larger value -> later spike, their convention),
    loss xi = 0.2, alpha = 0.005, beta = 1, initial weights N(1.5, 0.8) / N(0.5, 0.8) in their
    alpha-kernel units (see `WeightInit`). Default neuron: LIF with tau_m = 2 tau_s.
    ``t_max`` defaults to 10 tau_s.
    """
    return _latency_classifier(4, hidden, 3, model, tau_s, tau_m, alpha, xi, t_max, silent_label_loss,
                               larger_is_earlier=False, first_mean=1.5, first_std=0.8, deep_mean=0.5, deep_std=0.8)


def digits_classifier(
    hidden: int | Sequence[int] = 100,
    model: str = "lif",
    *,
    tau_s: float = 1.0,
    tau_m: float | None = None,
    alpha: float = 0.005,
    xi: float = 0.2,
    t_max: float | None = None,
    silent_label_loss: float | None = None,
) -> SNNClassifier:
    """A 64-H-10 network for scikit-learn's 8x8 digits (pixels in [0, 1]).

    Encoding as Göltz et al. 2021 for MNIST: ink early, background late, t in [0.15, 2] tau_s,
    every pixel spikes; one bias spike at 0.9 tau_s into every layer. Initial weights N(0.1, 0.4)
    and N(0.6, 0.8) in their alpha-kernel units (their 16x16 MNIST values), scaled per `WeightInit`.
    """
    return _latency_classifier(64, hidden, 10, model, tau_s, tau_m, alpha, xi, t_max, silent_label_loss,
                               larger_is_earlier=True, first_mean=0.1, first_std=0.4, deep_mean=0.6, deep_std=0.8)
