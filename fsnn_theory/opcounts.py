r"""Operation counts and memory of *training* steps: the spiking network's forward and backward pass.

What a step of exact spike-time training costs on a plain float32 processor, counted from the
forward pass that the step actually ran (so the counts follow the spikes of the run). The dense
baseline's counts live next to it (`fsnn_theory.ann`); the energies in
`fsnn_theory.theory.energy`.

**Counting conventions** (ours, stated once; one :class:`OperationCounts` per step):

* Transcendentals are counted as multiply/add equivalents of a standard float32 implementation
  (range reduction + polynomial, or Newton iterations), :data:`TRANSCENDENTAL_COST`:
  exp = 7 mult + 8 add (reduction 2+2, degree-5 Horner 5+5, exponent scaling 1 add);
  log = 8 mult + 9 add (degree-7 Horner after reduction); sqrt = 10 mult + 3 add (three Newton steps
  of the reciprocal square root and one product); division = 5 mult + 2 add (two Newton steps of the
  reciprocal and one product). These are a choice, not a measurement; a hardware unit is cheaper.
* Sorting the n inputs of a layer costs :math:`n\lceil\log_2 n\rceil` comparisons (a comparison
  sort; an event-driven chip receiving spikes in time order would not pay it).
* Memory: every synaptic event or multiply-accumulate reads its weight (one 32-bit SRAM word);
  accumulating into a gradient entry is a read and a write (two words); an SGD update reads the
  weight and the gradient and writes the weight (three words per parameter). Inputs, membrane
  accumulators and activations in flight are assumed in registers (the same for both networks).

**Spiking forward** (LIF, :math:`\tau_m = 2\tau_s`; closed form of `fsnn_theory.neurons`), per
layer and sample with S input spikes (bias spike included), n_in inputs, n_out neurons:
each input spike: 1 exp (:math:`e^{r/\tau_m}`) + 1 mult (its square, :math:`e^{r/\tau_s}`);
sorting: :math:`n_{in}\lceil\log_2 n_{in}\rceil` comparisons; each synaptic event (:math:`S n_{out}`):
two running sums (2 mult + 2 add), the crossing root of its interval
:math:`x_+ = (a_2 + \sqrt{a_2^2 - 4\vartheta a_1})/(2a_1)` (3 mult + 2 add + 1 sqrt + 1 division) and
its in-interval test (2 comparisons), one weight read; each neuron that fires:
:math:`t = t_k - \tau_m \ln x_+` (1 log + 1 mult + 1 add).

**Spiking backward** (exact gradient, `fsnn_theory.network.backward`), per layer and sample:
each neuron that fires: :math:`e^{-t_j/\tau_m}` and its square (1 exp + 1 mult) and
:math:`1/\dot V(t_j)` (1 division); each causal synapse (:math:`t_i < t_j < \infty`, C of them):
kernel and its derivative from the stored factors (4 mult + 2 add), its term of
:math:`\dot V` (1 mult + 1 add), :math:`\partial t_j/\partial w_{ij}` (1 mult), the gradient
accumulation (1 mult + 1 add; one weight read, one gradient read-modify-write), and in every layer
but the first the error propagated to the input (2 mult + 1 add). Loss: per output one exp, one
add, one division (softmax of :math:`-t/\tau_\xi`).

Only the causal synapses do backward work (every other :math:`\partial t_j/\partial w_{ij}` is zero),
which is where a spiking network can save in training, not only in inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from fsnn_theory._validation import check_choice, check_int

__all__ = [
    "OperationCounts",
    "TRANSCENDENTAL_COST",
    "transcendental",
    "sgd_update_counts",
    "snn_training_counts",
    "training_memory_words",
    "memory_bytes",
    "snn_memory_per_sample",
    "BYTES_PER_VALUE",
    "CountingModel",
]

TRANSCENDENTAL_COST: dict[str, tuple[int, int]] = {
    "exp": (7, 8),
    "log": (8, 9),
    "sqrt": (10, 3),
    "div": (5, 2),
}
"""(multiplications, additions) charged per transcendental (module docstring: our convention)."""

BYTES_PER_VALUE: dict[str, int] = {"float32": 4, "int8": 1}


@dataclass(frozen=True)
class OperationCounts:
    """Float32 multiplications, additions, comparisons and 32-bit SRAM words moved (reads + writes)."""

    fmul: float = 0.0
    fadd: float = 0.0
    compare: float = 0.0
    sram_words: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = float(getattr(self, f.name))
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"OperationCounts.{f.name} must be finite and >= 0, got {v!r}")

    def __add__(self, other: "OperationCounts") -> "OperationCounts":
        return OperationCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, k: float) -> "OperationCounts":
        return OperationCounts(*(k * getattr(self, f.name) for f in fields(self)))

    @property
    def flops(self) -> float:
        return self.fmul + self.fadd


def transcendental(kind: str, n: float = 1.0) -> OperationCounts:
    """Counts of ``n`` evaluations of ``kind`` (exp, log, sqrt, div) per :data:`TRANSCENDENTAL_COST`."""
    m, a = TRANSCENDENTAL_COST[check_choice("kind", kind, tuple(TRANSCENDENTAL_COST))]
    return OperationCounts(fmul=m * n, fadd=a * n)


def sgd_update_counts(n_params: int) -> OperationCounts:
    """One SGD step :math:`w \\leftarrow w - \\eta g`: d mult + d add, 3 words per parameter."""
    d = check_int("n_params", n_params, low=1)
    return OperationCounts(fmul=d, fadd=d, sram_words=3 * d)


def _sort_compares(n: int) -> float:
    return float(n * math.ceil(math.log2(n))) if n > 1 else 0.0


def snn_training_counts(network, fwd) -> OperationCounts:
    """Operations of the forward and exact backward pass of one batch (module docstring), summed over the batch.

    ``network``: `fsnn_theory.network.Network`; ``fwd``: its `ForwardPass` on the batch. The SGD
    update is not included (:func:`sgd_update_counts`).
    """
    from fsnn_theory.neurons import causal_set

    total = OperationCounts()
    n_layers = len(fwd.layer_inputs)
    for l, (t_in, t_out) in enumerate(zip(fwd.layer_inputs, fwd.spike_times)):
        batch, n_in = t_in.shape
        n_out = t_out.shape[1]
        spikes_in = float(np.isfinite(t_in).sum())
        events = spikes_in * n_out
        fired = float(np.isfinite(t_out).sum())
        causal = float(causal_set(t_in, t_out).sum())
        # forward
        total += transcendental("exp", spikes_in) + OperationCounts(fmul=spikes_in)
        total += OperationCounts(compare=batch * _sort_compares(n_in))
        total += OperationCounts(fmul=5 * events, fadd=4 * events, compare=2 * events, sram_words=events)
        total += transcendental("sqrt", events) + transcendental("div", events)
        total += transcendental("log", fired) + OperationCounts(fmul=fired, fadd=fired)
        # backward
        total += transcendental("exp", fired) + OperationCounts(fmul=fired) + transcendental("div", fired)
        total += OperationCounts(fmul=7 * causal, fadd=4 * causal, sram_words=3 * causal)
        if l > 0:
            total += OperationCounts(fmul=2 * causal, fadd=causal)
        if l == n_layers - 1:
            total += transcendental("exp", batch * n_out) + transcendental("div", batch * n_out)
            total += OperationCounts(fadd=batch * n_out)
    return total


def training_memory_words(n_params: int, stored_per_sample: int, scratch_per_sample: int, batch_size: int,
                          error_feedback: bool) -> int:
    r"""Peak words held by a client during a local step.

    Parameters: weights, gradient and the received broadcast (to form the update
    :math:`\Delta = y - w_b`), plus the error-feedback memory if the compressor keeps one (3 or 4
    vectors of d; plain SGD has no optimiser state). Per sample of the batch: the values stored by
    the forward pass for the backward pass (spike times, or activations) and the backward pass's
    error buffers.
    """
    d = check_int("n_params", n_params, low=1)
    b = check_int("batch_size", batch_size, low=1)
    vectors = 4 if error_feedback else 3
    return vectors * d + b * (check_int("stored_per_sample", stored_per_sample, low=0)
                              + check_int("scratch_per_sample", scratch_per_sample, low=0))


def memory_bytes(words: int, dtype: str = "float32") -> int:
    """Bytes of ``words`` values stored as ``dtype`` ("float32": 4 bytes, "int8": 1 byte)."""
    return int(words) * BYTES_PER_VALUE[check_choice("dtype", dtype, tuple(BYTES_PER_VALUE))]


def snn_memory_per_sample(network) -> tuple[int, int]:
    """(stored, scratch) words per sample of the spiking network: every layer's input spike times
    (bias spike included) and the output times; two error buffers of the widest layer."""
    widths = [int(n) + (0 if b is None else 1) for n, b in zip(network.layer_sizes[:-1], network.bias_times)]
    stored = sum(widths) + int(network.layer_sizes[-1])
    return stored, 2 * int(max(network.layer_sizes))


class CountingModel:
    """A model of the federated protocol that records the operation counts of every training call.

    Wraps a spiking `SNNClassifier` (counts from the forward pass of each ``loss_grad_forward``,
    :func:`snn_training_counts`) or a dense model with ``training_counts(batch_size)`` (e.g.
    `fsnn_theory.ann.MLPClassifier`); every other attribute is the wrapped model's, so results
    are bit-identical to a run of the model itself. ``calls`` holds one :class:`OperationCounts`
    per local step, in the order the federated loop made them (SGD update included).
    Evaluation calls (``loss``, ``accuracy``, ``synops``) are not training and are not recorded.
    """

    def __init__(self, model):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "_spiking", hasattr(model, "loss_grad_forward") and hasattr(model, "network"))
        if not self._spiking and not hasattr(model, "training_counts"):
            raise ValueError("model must be a spiking SNNClassifier or offer training_counts(batch_size)")

    def __getattr__(self, name):
        if name == "loss_grad_forward" and not self._spiking:
            raise AttributeError(name)
        return getattr(self._model, name)

    def loss_grad_forward(self, params, X, y, **kwargs):
        if not self._spiking:
            raise AttributeError("loss_grad_forward")
        value, grad, fwd = self._model.loss_grad_forward(params, X, y, **kwargs)
        self.calls.append(snn_training_counts(self._model.network, fwd) + sgd_update_counts(self._model.n_params))
        return value, grad, fwd

    def loss_and_grad(self, params, X, y):
        if self._spiking:
            value, grad, _ = self.loss_grad_forward(params, X, y)
            return value, grad
        value, grad = self._model.loss_and_grad(params, X, y)
        self.calls.append(self._model.training_counts(len(y)) + sgd_update_counts(self._model.n_params))
        return value, grad

    def per_round(self, rounds: int, steps_per_round: int) -> list[OperationCounts]:
        """The recorded calls summed per round (``steps_per_round`` calls each: clients x local steps).

        ValueError if the number of recorded calls is not ``rounds * steps_per_round`` (partial
        participation or dropouts change the calls per round; attribute them otherwise).
        """
        rounds = check_int("rounds", rounds, low=1)
        steps = check_int("steps_per_round", steps_per_round, low=1)
        if len(self.calls) != rounds * steps:
            raise ValueError(f"recorded {len(self.calls)} training calls, expected rounds x steps_per_round = "
                             f"{rounds} x {steps}")
        out = []
        for r in range(rounds):
            acc = OperationCounts()
            for c in self.calls[r * steps:(r + 1) * steps]:
                acc = acc + c
            out.append(acc)
        return out
