r"""A convex model for exact theory checks: logistic regression on fixed spike-time features.

:class:`SpikeTimeFeatures` is a FIXED random layer of spiking neurons (built with the analytic
engine, `fsnn_theory.neurons`): raw features -> latency-coded input spikes -> H first-spike times
:math:`t_j` -> features :math:`\phi_j = e^{-t_j/\tau_\phi} \in (0, 1]`, with a silent neuron
(:math:`t_j = \infty`) mapped to exactly :math:`\phi_j = 0` (the limit of the same formula; no
clamp). Early spikes give large features, the time-to-first-spike convention.

:class:`LogisticRegressionModel` is multinomial logistic regression with an L2 penalty on such
features. With :math:`z = (\phi, 1) \in \mathbb R^{F+1}` (bias as a constant feature) and
:math:`W \in \mathbb R^{(F+1) \times C}` (flattened row-major into the parameter vector),

.. math:: f(W) = \frac1n \sum_{i=1}^n \Big[\log\sum_c e^{z_i^\top W_{:c}} - z_i^\top W_{:y_i}\Big]
                 + \frac\lambda2 \|W\|_F^2 .

The bias row is penalised too, so :math:`f` is :math:`\lambda`-strongly convex in *every*
direction (:math:`\mu = \lambda`). Its Hessian is
:math:`\frac1n\sum_i (z_i z_i^\top) \otimes (\mathrm{diag}(p_i) - p_i p_i^\top) + \lambda I`, and
Böhning's bound :math:`\mathrm{diag}(p) - pp^\top \preceq \frac12 (I - \frac1C \mathbf 1\mathbf 1^\top)
\preceq \frac12 I` (Böhning 1992) gives the smoothness constant

.. math:: L = \lambda + \tfrac12\, \lambda_{\max}\!\Big(\frac1n Z^\top Z\Big),

an upper bound on :math:`\sup_W \lambda_{\max}(\nabla^2 f(W))` (tight up to the factor
:math:`\sup_p \lambda_{\max}(\mathrm{diag}\,p - pp^\top) \le 1/2`, attained for C = 2 at
p = (1/2, 1/2)). Per client: :math:`L_k = \lambda + \frac12\lambda_{\max}(Z_k^\top Z_k/n_k)`,
:math:`\mu_k = \lambda`.

The model follows the flat-parameter protocol of the federated layer (``init_params``,
``loss``, ``loss_and_grad``, ``predict``, ``accuracy``, ``synops``, ``gradient_support``) with X
= the spike-time features (compute them once with :meth:`SpikeTimeFeatures.transform`), and
offers a batched form (:meth:`LogisticRegressionModel.batched_loss_and_grad`) that the federated
loop uses to run all clients' local steps at once. ``synops`` reports multiply-accumulates of the
dense readout, :math:`(F+1) C` per sample (``operation = "mac"``).

References
----------
- D. Böhning, "Multinomial logistic regression algorithm", Ann. Inst. Statist. Math. 44(1),
  197–200, 1992 (the bound :math:`\mathrm{diag}(p) - pp^\top \preceq \frac12(I - \mathbf 1\mathbf 1^\top/C)`).
- J. Göltz et al., Nature Machine Intelligence 3, 2021 (Yin-Yang spike encoding used here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from fsnn_theory._validation import as_float_array, check_choice, check_int, check_nonnegative, check_positive
from fsnn_theory.data import Dataset, Split, goltz_yin_yang_encoding, latency_encode
from fsnn_theory.neurons import LIF, NeuronModel

__all__ = [
    "SpikeTimeFeatures",
    "LogisticRegressionModel",
    "spike_feature_dataset",
    "smoothness_constant",
]


@dataclass(frozen=True)
class SpikeTimeFeatures:
    r"""A fixed random spiking layer whose first-spike times are the features.

    ``encoding``: ``"goltz"`` (Yin-Yang, 4 features + bias spike, :func:`~fsnn_theory.data.goltz_yin_yang_encoding`)
    or ``"latency"`` (any features in [0, 1]: :func:`~fsnn_theory.data.latency_encode` with
    t in [0.15, 2] τ_s, larger value earlier, values below 1/32 silent, bias spike at 0.9 τ_s).
    Weights: :math:`W_{ij} = \frac{\vartheta}{\kappa_{max}\, n_{in}}(m + s\,\xi_{ij})`,
    :math:`\xi \sim \mathcal N(0, 1)` from ``default_rng(seed)``, i.e. ``weight_mean`` m and
    ``weight_std`` s are in units of "the weight with which n_in simultaneous inputs reach
    threshold at the kernel peak". Features :math:`\phi_j = \exp(-t_j/\tau_\phi)`, 0 if silent.
    Defaults (H = 100, m = s = 3, LIF τm = 2, τs = 1): on Yin-Yang ~7 % of (sample, neuron) pairs
    are silent and a logistic readout reaches ~97 % test accuracy.
    """

    n_inputs: int
    n_hidden: int = 100
    encoding: str = "goltz"
    neuron: NeuronModel = field(default_factory=lambda: LIF(tau_m=2.0, tau_s=1.0, theta=1.0))
    weight_mean: float = 3.0
    weight_std: float = 3.0
    tau_feature: float = 1.0
    seed: int = 0

    ENCODINGS: ClassVar[tuple[str, ...]] = ("goltz", "latency")

    def __post_init__(self) -> None:
        check_int("n_inputs", self.n_inputs, low=1)
        check_int("n_hidden", self.n_hidden, low=1)
        check_choice("encoding", self.encoding, self.ENCODINGS)
        if self.encoding == "goltz" and self.n_inputs != 4:
            raise ValueError(f"encoding 'goltz' needs the 4 Yin-Yang features, got n_inputs={self.n_inputs}")
        check_nonnegative("weight_std", self.weight_std)
        if not np.isfinite(self.weight_mean):
            raise ValueError(f"weight_mean must be finite, got {self.weight_mean!r}")
        check_positive("tau_feature", self.tau_feature)
        check_int("seed", self.seed, low=0)

    @property
    def n_spike_inputs(self) -> int:
        """Input spike trains into the layer: the features plus one bias spike."""
        return self.n_inputs + 1

    @property
    def weights(self) -> np.ndarray:
        """The fixed (n_inputs + 1, n_hidden) weights (recomputed from ``seed``, deterministic)."""
        unit = self.neuron.theta / (self.neuron.kernel_max * self.n_spike_inputs)
        xi = np.random.default_rng(self.seed).standard_normal((self.n_spike_inputs, self.n_hidden))
        return unit * (self.weight_mean + self.weight_std * xi)

    def input_times(self, X) -> np.ndarray:
        """Input spike times (n, n_inputs + 1) in ms (τ_s = the neuron's synaptic time constant)."""
        Xa = as_float_array("X", X, ndim=2)
        if Xa.shape[1] != self.n_inputs:
            raise ValueError(f"X must have n_inputs = {self.n_inputs} columns, got {Xa.shape[1]}")
        tau_s = self.neuron.tau_s
        if self.encoding == "goltz":
            return goltz_yin_yang_encoding(Xa, tau_s=tau_s)
        return latency_encode(Xa, 0.15 * tau_s, 2.0 * tau_s, 0.0, 1.0, larger_is_earlier=True,
                              bias_time=0.9 * tau_s, silent_below=1.0 / 32.0)

    def spike_times(self, X) -> np.ndarray:
        """Hidden first-spike times (n, n_hidden), ``inf`` where a neuron stays silent."""
        return self.neuron.first_spike_times(self.input_times(X), self.weights)

    def transform(self, X) -> np.ndarray:
        r"""Features :math:`\exp(-t_j/\tau_\phi)` in [0, 1], float64 (n, n_hidden); silent -> 0."""
        return np.exp(-self.spike_times(X) / self.tau_feature)

    def synops(self, X) -> np.ndarray:
        """Synaptic events per sample of the fixed layer: input spikes (incl. bias) × n_hidden."""
        return np.isfinite(self.input_times(X)).sum(axis=1) * float(self.n_hidden)


def spike_feature_dataset(dataset: Dataset, features: SpikeTimeFeatures) -> Dataset:
    """The same splits with X replaced by the spike-time features (computed once per split)."""
    def split(s: Split) -> Split:
        return Split(features.transform(s.X), s.y)

    return Dataset(
        name=f"{dataset.name}/spike_features",
        train=split(dataset.train),
        validation=split(dataset.validation),
        test=split(dataset.test),
        n_classes=dataset.n_classes,
        feature_range=(0.0, 1.0),
        class_names=dataset.class_names,
    )


def smoothness_constant(Z, l2: float) -> float:
    r""":math:`L = \lambda + \frac12\lambda_{\max}(Z^\top Z / n)` for softmax cross-entropy + (λ/2)‖W‖² (Böhning 1992).

    ``Z``: (n, F+1) design matrix including the constant bias column.
    """
    Za = as_float_array("Z", Z, ndim=2)
    if Za.shape[0] == 0:
        raise ValueError("Z must hold at least one row")
    l2 = check_nonnegative("l2", l2)
    gram = Za.T @ Za / Za.shape[0]
    return l2 + 0.5 * float(np.linalg.eigvalsh(gram)[-1])


@dataclass(frozen=True)
class LogisticRegressionModel:
    """Multinomial logistic regression with L2 penalty ``l2`` (λ > 0) on ``n_features`` features.

    See the module docstring for the objective and its constants. ``n_params = (n_features+1) C``.
    """

    n_features: int
    n_classes: int
    l2: float = 1e-3

    operation: ClassVar[str] = "mac"

    def __post_init__(self) -> None:
        check_int("n_features", self.n_features, low=1)
        check_int("n_classes", self.n_classes, low=2)
        check_positive("l2", self.l2)

    @property
    def n_params(self) -> int:
        return (self.n_features + 1) * self.n_classes

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_features + 1, self.n_classes)

    # -- helpers
    def design(self, X) -> np.ndarray:
        """Z = [X, 1], (n, F+1)."""
        Xa = as_float_array("X", X, ndim=2)
        if Xa.shape[1] != self.n_features:
            raise ValueError(f"X must have n_features = {self.n_features} columns, got {Xa.shape[1]}")
        return np.concatenate([Xa, np.ones((Xa.shape[0], 1))], axis=1)

    def _params(self, params) -> np.ndarray:
        p = as_float_array("params", params, ndim=1)
        if p.size != self.n_params:
            raise ValueError(f"params must have n_params = {self.n_params} entries, got {p.size}")
        return p

    def _labels(self, y, n: int) -> np.ndarray:
        ya = np.asarray(y)
        if ya.shape != (n,) or (ya.size and not np.issubdtype(ya.dtype, np.integer)):
            raise ValueError(f"y must be {n} integer labels, got shape {ya.shape} dtype {ya.dtype}")
        if ya.size and (ya.min() < 0 or ya.max() >= self.n_classes):
            raise ValueError(f"y must hold labels in [0, {self.n_classes - 1}]")
        return ya.astype(np.int64)

    # -- the batched kernel (all clients at once)
    def batched_loss_and_grad(self, params, Z, y, sample_weight) -> tuple[np.ndarray, np.ndarray]:
        r"""Weighted losses and gradients for M parameter vectors at once.

        ``params`` (M, n_params); ``Z`` (M, B, F+1) design rows (bias column included); ``y``
        (M, B) labels; ``sample_weight`` (M, B), each row summing to 1 (0 for padding rows).
        Returns (loss (M,), grad (M, n_params)) of
        :math:`\sum_b s_{mb}\,\ell(W_m; z_{mb}, y_{mb}) + \frac\lambda2\|W_m\|^2`.
        """
        M = params.shape[0]
        W = params.reshape(M, *self.shape)
        logits = np.matmul(Z, W)  # (M, B, C)
        shift = logits.max(axis=2, keepdims=True)
        e = np.exp(logits - shift)
        se = e.sum(axis=2, keepdims=True)
        lse = (np.log(se) + shift)[..., 0]
        picked = np.take_along_axis(logits, y[..., None], axis=2)[..., 0]
        loss = (sample_weight * (lse - picked)).sum(axis=1) + 0.5 * self.l2 * np.einsum("mi,mi->m", params, params)
        resid = e / se
        np.put_along_axis(resid, y[..., None], np.take_along_axis(resid, y[..., None], axis=2) - 1.0, axis=2)
        resid *= sample_weight[..., None]
        grad = np.matmul(np.swapaxes(Z, 1, 2), resid).reshape(M, -1) + self.l2 * params
        return loss, grad

    # -- protocol
    def init_params(self, seed: int) -> np.ndarray:
        """All zeros (the objective is strictly convex: the start does not change the optimum)."""
        check_int("seed", seed, low=0)
        return np.zeros(self.n_params)

    def loss_and_grad(self, params, X, y) -> tuple[float, np.ndarray]:
        p = self._params(params)
        Z = self.design(X)
        ya = self._labels(y, Z.shape[0])
        if Z.shape[0] == 0:
            raise ValueError("X must hold at least one sample")
        sw = np.full((1, Z.shape[0]), 1.0 / Z.shape[0])
        loss, grad = self.batched_loss_and_grad(p[None, :], Z[None], ya[None], sw)
        return float(loss[0]), grad[0]

    def loss(self, params, X, y) -> float:
        return self.loss_and_grad(params, X, y)[0]

    def predict(self, params, X) -> np.ndarray:
        W = self._params(params).reshape(self.shape)
        return np.argmax(self.design(X) @ W, axis=1).astype(np.int64)

    def accuracy(self, params, X, y) -> float:
        pred = self.predict(params, X)
        return float(np.mean(pred == self._labels(y, pred.size)))

    def synops(self, params, X) -> np.ndarray:
        """Multiply-accumulates per sample of the readout: (F+1) C (dense model: MACs, not events)."""
        self._params(params)
        n = self.design(X).shape[0]
        return np.full(n, float(self.n_params))

    def gradient_support(self, params, X, y) -> np.ndarray:
        """All True: the L2 term makes every entry of the gradient potentially non-zero."""
        self._params(params)
        return np.ones(self.n_params, dtype=bool)

    # -- constants
    def smoothness(self, X) -> float:
        """L of the objective on the samples X (:func:`smoothness_constant` of the design matrix)."""
        return smoothness_constant(self.design(X), self.l2)

    def strong_convexity(self) -> float:
        """μ = λ (the penalised objective is λ-strongly convex; the cross-entropy part is only convex)."""
        return float(self.l2)

    def client_constants(self, X, client_indices) -> tuple[np.ndarray, np.ndarray]:
        """(L_k, μ_k) per client: the constants of each client's own objective F_k."""
        Z = self.design(X)
        L = np.array([smoothness_constant(Z[idx], self.l2) for idx in client_indices])
        return L, np.full(L.size, float(self.l2))
