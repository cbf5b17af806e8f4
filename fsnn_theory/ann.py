r"""The non-spiking baseline: a ReLU multilayer perceptron behind the federated model protocol.

Same shape as the spiking network it is compared with (e.g. 4-120-3 for Yin-Yang, 64-100-10 for
the 8x8 digits), softmax cross-entropy, flat float64 parameters ``[W_1, b_1, W_2, b_2, ...]``
(C order), so it runs through the same `fsnn_theory.federated.run_federated` loop, partitions,
compressors and bit accounting as `fsnn_theory.network.SNNClassifier`.

Forward: :math:`a_0 = x`, :math:`a_l = \mathrm{relu}(a_{l-1} W_l + b_l)` for hidden layers, logits
:math:`z = a_{L-1} W_L + b_L`, :math:`p = \mathrm{softmax}(z)`, loss :math:`-\frac1B\sum_b \log p_{b,y_b}`.
Backward (standard backpropagation, e.g. Goodfellow, Bengio, Courville, *Deep Learning*, 2016,
Sec. 6.5): :math:`\delta_L = (p - Y)/B`, :math:`\nabla W_l = a_{l-1}^\top \delta_l`,
:math:`\nabla b_l = \sum_b \delta_l`, :math:`\delta_{l-1} = (\delta_l W_l^\top) \odot [a_{l-1} > 0]`.
Initialisation: He normal, :math:`W_l \sim N(0, 2/n_{l-1})`, zero biases (He et al., ICCV 2015).

Operation counts of a training step (:meth:`MLPClassifier.training_counts`; conventions of
`fsnn_theory.opcounts`): per sample, forward :math:`M = \sum_l n_{l-1} n_l` multiply-accumulates
(one weight read each), bias additions, one comparison per hidden unit (ReLU), softmax (one exp,
one add and one division per output); backward :math:`M` MACs for the weight gradient (one
read-modify-write of the gradient each), :math:`\sum_{l \ge 2} n_{l-1} n_l` MACs for the errors of
the hidden layers (one weight read each), bias-gradient additions, one comparison per hidden unit
(ReLU mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fsnn_theory._validation import as_float_array, check_int
from fsnn_theory.opcounts import OperationCounts, transcendental

__all__ = ["MLPClassifier", "mlp_like"]


@dataclass(frozen=True)
class MLPClassifier:
    """ReLU MLP with softmax cross-entropy; ``layer_sizes = (n_in, hidden..., n_classes)``, each >= 1."""

    layer_sizes: tuple[int, ...]
    operation: str = "mac"  # read by the federated accounting: inference events are MACs

    def __post_init__(self) -> None:
        sizes = tuple(self.layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes must list at least (n_inputs, n_classes), got {self.layer_sizes!r}")
        sizes = tuple(check_int(f"layer_sizes[{i}]", s, low=1) for i, s in enumerate(sizes))
        if sizes[-1] < 2:
            raise ValueError(f"a classifier needs >= 2 classes, got layer_sizes {sizes}")
        object.__setattr__(self, "layer_sizes", sizes)
        if self.operation != "mac":
            raise ValueError(f"operation must be 'mac' for a dense model, got {self.operation!r}")

    # -- shapes
    @property
    def n_params(self) -> int:
        s = self.layer_sizes
        return int(sum(a * b + b for a, b in zip(s[:-1], s[1:])))

    @property
    def n_classes(self) -> int:
        return self.layer_sizes[-1]

    @property
    def dense_macs(self) -> int:
        """Multiply-accumulates of one inference, :math:`\\sum_l n_{l-1} n_l`."""
        s = self.layer_sizes
        return int(sum(a * b for a, b in zip(s[:-1], s[1:])))

    def unflatten(self, params) -> list[tuple[np.ndarray, np.ndarray]]:
        p = as_float_array("params", params, ndim=1)
        if p.size != self.n_params:
            raise ValueError(f"params must have length n_params = {self.n_params}, got {p.size}")
        out, o = [], 0
        for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            W = p[o:o + a * b].reshape(a, b)
            o += a * b
            out.append((W, p[o:o + b]))
            o += b
        return out

    def _X(self, X) -> np.ndarray:
        Xa = as_float_array("X", X, ndim=2)
        if Xa.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"X must have {self.layer_sizes[0]} features per sample, got shape {Xa.shape}")
        return Xa

    def _y(self, y, n: int) -> np.ndarray:
        ya = np.asarray(y)
        if ya.shape != (n,) or not np.issubdtype(ya.dtype, np.integer) or ya.min(initial=0) < 0 \
                or ya.max(initial=0) >= self.n_classes:
            raise ValueError(f"y must be {n} integer labels in [0, {self.n_classes - 1}]")
        return ya.astype(np.int64)

    def _forward(self, params, X) -> list[np.ndarray]:
        acts = [self._X(X)]
        layers = self.unflatten(params)
        for i, (W, b) in enumerate(layers):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0.0) if i < len(layers) - 1 else z)
        return acts

    @staticmethod
    def _log_softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    # -- protocol
    def init_params(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(check_int("seed", seed, low=0))
        parts = []
        for a, b in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            parts.append(rng.normal(0.0, np.sqrt(2.0 / a), size=a * b))
            parts.append(np.zeros(b))
        return np.concatenate(parts)

    def loss(self, params, X, y) -> float:
        acts = self._forward(params, X)
        y = self._y(y, acts[0].shape[0])
        lsm = self._log_softmax(acts[-1])
        return float(-lsm[np.arange(y.size), y].mean())

    def loss_and_grad(self, params, X, y) -> tuple[float, np.ndarray]:
        acts = self._forward(params, X)
        y = self._y(y, acts[0].shape[0])
        B = y.size
        lsm = self._log_softmax(acts[-1])
        delta = np.exp(lsm)
        delta[np.arange(B), y] -= 1.0
        delta /= B
        layers = self.unflatten(params)
        grads: list[np.ndarray] = []
        for l in range(len(layers) - 1, -1, -1):
            W, _ = layers[l]
            grads.append(delta.sum(axis=0))
            grads.append((acts[l].T @ delta).ravel())
            if l > 0:
                delta = (delta @ W.T) * (acts[l] > 0)
        return float(-lsm[np.arange(B), y].mean()), np.concatenate(grads[::-1])

    def predict(self, params, X) -> np.ndarray:
        return np.argmax(self._forward(params, X)[-1], axis=1).astype(np.int64)

    def accuracy(self, params, X, y) -> float:
        pred = self.predict(params, X)
        return float(np.mean(pred == self._y(y, pred.size)))

    def synops(self, params, X) -> np.ndarray:
        """MACs per sample of one inference (the dense count; independent of the input)."""
        return np.full(self._X(X).shape[0], float(self.dense_macs))

    def gradient_support(self, params, X, y) -> np.ndarray:
        """Entries whose batch gradient is non-zero (dead ReLUs give exact zeros)."""
        return self.loss_and_grad(params, X, y)[1] != 0.0

    # -- accounting
    def training_counts(self, batch_size: int) -> OperationCounts:
        """Forward + backward operations of one step on ``batch_size`` samples (module docstring);
        the SGD update is `fsnn_theory.opcounts.sgd_update_counts`."""
        B = check_int("batch_size", batch_size, low=1)
        s = self.layer_sizes
        M = self.dense_macs
        units = sum(s[1:])
        hidden = sum(s[1:-1])
        back_delta = sum(a * b for a, b in zip(s[1:-1], s[2:]))  # errors into every hidden layer
        per = OperationCounts(fmul=M + M + back_delta, fadd=M + units + M + units + back_delta + s[-1],
                              compare=2 * hidden, sram_words=M + 2 * M + back_delta)
        per = per + transcendental("exp", s[-1]) + transcendental("div", s[-1])
        return per.scaled(B)

    def memory_per_sample(self) -> tuple[int, int]:
        """(stored, scratch) words per sample: the activations of every layer (input, hidden, output
        probabilities) kept for the backward pass; two error buffers of the widest layer."""
        return int(sum(self.layer_sizes)), 2 * int(max(self.layer_sizes))


def mlp_like(layer_sizes: Sequence[int]) -> MLPClassifier:
    """An MLP of the given shape (e.g. ``snn.network.layer_sizes``)."""
    return MLPClassifier(tuple(int(s) for s in layer_sizes))
