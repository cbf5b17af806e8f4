r"""Training a time-to-first-spike classifier: optimisers, schedule, guards, early stopping, loop.

Everything practitioners of exact spike-time learning rely on (Göltz et al. 2021, Methods and
their published configuration for Yin-Yang), as small pure pieces plus one loop:

* `adam_step` / `sgd_step` — optimiser updates on a flat parameter vector (Kingma & Ba 2015;
  heavy-ball SGD), with `OptimizerConfig` choosing between them;
* `step_decay` — learning rate :math:`\eta_e = \eta_0\,\gamma^{\lfloor e/s \rfloor}` (PyTorch
  ``StepLR``; Göltz: :math:`\gamma = 0.95`, :math:`s = 20` epochs);
* `clip_update_norm` — rescale an update whose Euclidean norm exceeds a cap;
* `weight_bumping` — Göltz et al.'s remedy for silent neurons: if too many neurons of a layer are
  silent in a batch, raise the weights into the silent ones and skip the gradient step;
* `EarlyStopping` — stop when validation accuracy has not improved for ``patience`` epochs and
  keep the parameters of the best validation epoch;
* input noise — Gaussian jitter of the training input spike times (Göltz et al.'s MNIST setting);
* `train` — seeded mini-batch loop that writes one row of statistics per epoch;
* `inverse_decay` — :math:`\eta_t = \eta_0/(1+\beta t)`, the schedule of the federated recipes;
* `sgd_step`, `clip_update_norm`, `inverse_decay` and `weight_bumping` are shared with the
  federated loop (`fsnn_theory.federated.algorithms`): one SGD step, one clip, one schedule family.

The data sets, networks and recipes (`load_dataset`, `make_classifier`, `default_training_config`,
`recipe`, `run_recipe`) live in `fsnn_theory.studies.setups`.

Determinism: the initial weights come from ``default_rng(seed)`` (`SNNClassifier.init_params`), the
mini-batch order of epoch e from ``default_rng([seed, 1, e])``, the input jitter from
``default_rng([seed, 2, e])``; same seed and config -> bit-identical parameters and statistics
(except the wall-clock column ``seconds``).

References
----------
- J. Göltz et al., "Fast and energy-efficient neuromorphic deep learning with first-spike times",
  Nature Machine Intelligence 3 (2021), arXiv 1912.11443 (weight bumping, gradient guard,
  Adam with step decay; Yin-Yang: lr 0.005, batch 150, 300 epochs, gamma 0.95 every 20 epochs).
- D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR 2015, arXiv 1412.6980.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from fsnn_theory._validation import (
    check_choice,
    check_in_range,
    check_int,
    check_nonnegative,
    check_positive,
)
from fsnn_theory.data import Dataset, Split
from fsnn_theory.network import (
    ForwardPass,
    SNNClassifier,
    _first_spike_loss,
    predict_from_times,
    synaptic_events,
)

__all__ = [
    "OPTIMIZERS",
    "HISTORY_COLUMNS",
    "OptimizerConfig",
    "AdamState",
    "adam_step",
    "sgd_step",
    "Optimizer",
    "StepDecay",
    "step_decay",
    "inverse_decay",
    "clip_update_norm",
    "WeightBumping",
    "weight_bumping",
    "EarlyStopping",
    "TrainingConfig",
    "EvaluationResult",
    "evaluate",
    "TrainingResult",
    "train",
    "minibatch_order",
]

OPTIMIZERS = ("adam", "sgd")
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "silent_fraction",
    "synops_per_sample",
    "seconds",
    "learning_rate",
    "weight_bumps",
)


# --------------------------------------------------------------------------------------------
# Optimisers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerConfig:
    """``name`` in {"adam", "sgd"}; ``learning_rate`` > 0 (the initial one, see `StepDecay`).

    Adam: ``beta1``, ``beta2`` in [0, 1), ``eps`` > 0 (Kingma & Ba defaults). SGD: ``momentum`` in [0, 1).
    """

    name: str = "adam"
    learning_rate: float = 0.005
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    momentum: float = 0.0

    def __post_init__(self) -> None:
        check_choice("optimizer", self.name, OPTIMIZERS)
        object.__setattr__(self, "learning_rate", check_positive("learning_rate", self.learning_rate))
        object.__setattr__(self, "beta1", check_in_range("beta1", self.beta1, 0.0, 1.0, high_open=True))
        object.__setattr__(self, "beta2", check_in_range("beta2", self.beta2, 0.0, 1.0, high_open=True))
        object.__setattr__(self, "eps", check_positive("eps", self.eps))
        object.__setattr__(self, "momentum", check_in_range("momentum", self.momentum, 0.0, 1.0, high_open=True))


class AdamState(NamedTuple):
    """First and second moment estimates and the number of steps taken."""

    m: np.ndarray
    v: np.ndarray
    step: int


def adam_step(grad: np.ndarray, state: AdamState, lr: float, beta1: float, beta2: float, eps: float):
    r"""One Adam update (Kingma & Ba 2015, Algorithm 1): returns ``(delta, new_state)``.

    .. math:: m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,
              \quad \Delta = \eta\,\frac{m/(1-\beta_1^k)}{\sqrt{v/(1-\beta_2^k)} + \epsilon},

    with :math:`k` the new step count; the caller applies :math:`w \leftarrow w - \Delta`.
    """
    k = state.step + 1
    m = beta1 * state.m + (1.0 - beta1) * grad
    v = beta2 * state.v + (1.0 - beta2) * grad * grad
    m_hat = m / (1.0 - beta1**k)
    v_hat = v / (1.0 - beta2**k)
    return lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(m, v, k)


def sgd_step(grad: np.ndarray, velocity: np.ndarray, lr: float, momentum: float):
    r"""Heavy-ball SGD (PyTorch convention): :math:`u \leftarrow \mu u + g`, :math:`\Delta = \eta u`.

    Returns ``(delta, new_velocity)``; with ``momentum = 0`` this is plain SGD, :math:`\Delta = \eta g`.
    """
    u = momentum * velocity + grad if momentum > 0 else grad
    return lr * u, u


class Optimizer:
    """Holds the optimiser state of one training run (a thin wrapper over `adam_step`/`sgd_step`)."""

    def __init__(self, config: OptimizerConfig, n_params: int):
        self.config = config
        zeros = np.zeros(n_params)
        self.state: AdamState | np.ndarray = AdamState(zeros, zeros.copy(), 0) if config.name == "adam" else zeros

    def update(self, grad: np.ndarray, lr: float) -> np.ndarray:
        """The step :math:`\\Delta` to subtract from the parameters; advances the state."""
        c = self.config
        if c.name == "adam":
            delta, self.state = adam_step(grad, self.state, lr, c.beta1, c.beta2, c.eps)
        else:
            delta, self.state = sgd_step(grad, self.state, lr, c.momentum)
        return delta


@dataclass(frozen=True)
class StepDecay:
    """Learning-rate step decay: multiply by ``gamma`` in (0, 1] every ``step_size`` >= 1 epochs."""

    step_size: int = 20
    gamma: float = 0.95

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_size", check_int("step_size", self.step_size, low=1))
        object.__setattr__(self, "gamma", check_in_range("gamma", self.gamma, 0.0, 1.0, low_open=True))


def step_decay(lr0: float, epoch: int, step_size: int, gamma: float) -> float:
    r"""Learning rate of (0-based) epoch :math:`e`: :math:`\eta_0\,\gamma^{\lfloor e / s\rfloor}` (PyTorch ``StepLR``)."""
    return lr0 * gamma ** (epoch // step_size)


def inverse_decay(lr0: float, t: int, decay: float) -> float:
    r"""Learning rate at step t of the inverse schedule :math:`\eta_t = \eta_0 / (1 + \beta t)` (β = ``decay``).

    The :math:`\Theta(1/t)` decay of SGD analyses (Robbins & Monro 1951; with β = 1,
    :math:`\eta_0/(1+t)`); the federated recipes use it per round (β / E per local step).
    """
    return float(lr0 / (1.0 + decay * t))


def clip_update_norm(delta: np.ndarray, max_norm: float | None) -> tuple[np.ndarray, bool | np.ndarray]:
    r"""Rescale ``delta`` to Euclidean norm ``max_norm`` if it is longer: :math:`\Delta \min(1, c/\|\Delta\|_2)`.

    One vector (1-d): returns ``(delta, clipped)``. Several (2-d, one per row, e.g. all clients'
    gradients of a batched federated step): each row is clipped on its own; returns
    ``(deltas, clipped rows)``. ``None`` disables clipping. Used for update norms here and for
    gradient norms by the federated loop (`fsnn_theory.federated.algorithms`).
    """
    if max_norm is None:
        return delta, False
    if delta.ndim == 2:
        norms = np.linalg.norm(delta, axis=1)
        over = norms > max_norm
        return delta * np.where(over, max_norm / np.where(over, norms, 1.0), 1.0)[:, None], over
    norm = float(np.sqrt(np.dot(delta, delta)))
    if norm > max_norm:
        return delta * (max_norm / norm), True
    return delta, False


# --------------------------------------------------------------------------------------------
# Weight bumping (Göltz et al. 2021)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightBumping:
    r"""Weight bumping of silent neurons (Göltz et al. 2021, Methods; their Yin-Yang values).

    After each forward pass, the first layer (input side first) whose fraction of silent
    (sample, neuron) pairs exceeds its limit — ``max_silent_hidden`` for hidden layers [0.3],
    ``max_silent_output`` for the output layer [0.0] — gets every weight into a neuron that was
    silent in at least one sample raised by the bump value (``targeted``; else every weight of the
    layer), and the batch's gradient step is skipped. The bump value starts at ``value`` (in units
    of :math:`\vartheta/\kappa_{max}`, like `fsnn_theory.network.WeightInit`) and doubles while the
    same layer needs bumping in consecutive batches (``exponential``). ``value = 0`` disables it.
    An output spike outside the readout window counts as silent.

    ``output_rule`` decides which output silences count: ``"any"`` (Göltz et al.: every silent
    output neuron) or ``"label"`` (only a silent *label* neuron, the one case where the sample
    gives no gradient to the neuron that should fire; silent wrong-class outputs are what the
    cross-entropy asks for).
    """

    value: float = 0.0005 / math.e
    max_silent_hidden: float = 0.3
    max_silent_output: float = 0.0
    exponential: bool = True
    targeted: bool = True
    output_rule: str = "any"

    def __post_init__(self) -> None:
        check_choice("output_rule", self.output_rule, ("any", "label"))
        object.__setattr__(self, "value", check_nonnegative("bump value", self.value))
        object.__setattr__(self, "max_silent_hidden", check_in_range("max_silent_hidden", self.max_silent_hidden, 0.0, 1.0))
        object.__setattr__(self, "max_silent_output", check_in_range("max_silent_output", self.max_silent_output, 0.0, 1.0))
        for name in ("exponential", "targeted"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")


def _silent_masks(model: SNNClassifier, fwd: ForwardPass) -> list[np.ndarray]:
    """Per layer, bool (batch, n_out): neuron silent (output layer: no spike inside the window)."""
    masks = [~np.isfinite(t) for t in fwd.spike_times[:-1]]
    masks.append(~(fwd.output_times < model.loss_fn.t_max))
    return masks


def weight_bumping(
    model: SNNClassifier,
    params: np.ndarray,
    fwd: ForwardPass,
    bumping: WeightBumping,
    bump_value: float,
    last_layer: int | None,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, int | None, float]:
    """Apply one bumping decision (see `WeightBumping`) to a copy of ``params``.

    ``bump_value`` is the current (possibly doubled) value and ``last_layer`` the layer bumped in the
    previous batch (``None`` if none); ``labels`` (batch,) are needed for ``output_rule="label"``.
    Returns ``(params, bumped_layer or None, bump_value)``; when nothing is bumped the params are
    returned unchanged (same object).
    """
    if bumping.value == 0:
        return params, None, bump_value
    masks = _silent_masks(model, fwd)
    if bumping.output_rule == "label":
        if labels is None:
            raise ValueError("weight bumping with output_rule='label' needs the batch labels")
        is_label = np.arange(masks[-1].shape[1])[None, :] == np.asarray(labels)[:, None]
        masks[-1] = masks[-1] & is_label
    n_layers = len(masks)
    layer = None
    for l, mask in enumerate(masks):
        limit = bumping.max_silent_output if l == n_layers - 1 else bumping.max_silent_hidden
        # fraction of (sample, neuron) pairs; for the label rule, of samples (one label each)
        frac = mask.any(axis=1).mean() if (l == n_layers - 1 and bumping.output_rule == "label") else mask.mean()
        if frac > limit:
            layer = l
            break
    if layer is None:
        return params, None, bumping.value
    value = bump_value * 2.0 if (bumping.exponential and layer == last_layer) else bumping.value
    net = model.network
    new = params.copy()
    w = net.unflatten(new)[layer]  # a view into `new`
    unit = net.models[layer].theta / float(net.models[layer].kernel_max)
    if bumping.targeted:
        w[:, masks[layer].any(axis=0)] += value * unit
    else:
        w += value * unit
    return new, layer, value


# --------------------------------------------------------------------------------------------
# Early stopping and the training configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after ``patience`` epochs (>= 1; ``None`` = never) without a validation-accuracy gain
    larger than ``min_delta`` (>= 0). The best validation epoch's parameters are kept either way."""

    patience: int | None = None
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience is not None:
            object.__setattr__(self, "patience", check_int("patience", self.patience, low=1))
        object.__setattr__(self, "min_delta", check_nonnegative("min_delta", self.min_delta))


@dataclass(frozen=True)
class TrainingConfig:
    """One training run.

    ``epochs`` >= 1, ``batch_size`` >= 1, ``seed`` >= 0 (initial weights and mini-batch order);
    ``optimizer``, ``schedule`` (``None`` = constant rate), ``bumping`` (``None`` = off),
    ``early_stopping``; ``max_update_norm`` (> 0 or ``None``): cap on the Euclidean norm of every
    parameter update; ``max_dw_norm`` (> 0 or ``None``): Göltz et al.'s per-spike gradient guard
    (`fsnn_theory.network.backward`); ``eval_batch`` >= 1: samples per forward call in evaluation;
    ``input_noise`` >= 0: standard deviation (ms) of Gaussian jitter added to the training input
    spike times (reflected at 0; Göltz et al. 2021 train MNIST with 0.3 tau_s), drawn from
    ``default_rng([seed, 2, epoch])``; 0 = off.
    """

    epochs: int = 300
    batch_size: int = 150
    seed: int = 0
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: StepDecay | None = field(default_factory=StepDecay)
    bumping: WeightBumping | None = field(default_factory=WeightBumping)
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    max_update_norm: float | None = None
    max_dw_norm: float | None = 0.2
    eval_batch: int = 250
    input_noise: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", check_int("epochs", self.epochs, low=1))
        object.__setattr__(self, "batch_size", check_int("batch_size", self.batch_size, low=1))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))
        object.__setattr__(self, "eval_batch", check_int("eval_batch", self.eval_batch, low=1))
        object.__setattr__(self, "input_noise", check_nonnegative("input_noise", self.input_noise))
        for name, cls in (("optimizer", OptimizerConfig), ("early_stopping", EarlyStopping)):
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name} must be a {cls.__name__}, got {getattr(self, name)!r}")
        for name, cls in (("schedule", StepDecay), ("bumping", WeightBumping)):
            v = getattr(self, name)
            if v is not None and not isinstance(v, cls):
                raise ValueError(f"{name} must be a {cls.__name__} or None, got {v!r}")
        for name in ("max_update_norm", "max_dw_norm"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, check_positive(name, v))

    def learning_rate(self, epoch: int) -> float:
        lr0 = self.optimizer.learning_rate
        if self.schedule is None:
            return lr0
        return step_decay(lr0, epoch, self.schedule.step_size, self.schedule.gamma)


def minibatch_order(n: int, epoch: int, seed: int) -> np.ndarray:
    """Permutation of ``range(n)`` for (0-based) ``epoch``: ``default_rng([seed, 1, epoch])``.

    A pure function of (n, epoch, seed), so a run can be resumed or replayed epoch by epoch.
    """
    return np.random.default_rng([seed, 1, epoch]).permutation(n)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


class EvaluationResult(NamedTuple):
    accuracy: float
    loss: float
    silent_fraction: float  # over all (sample, non-input neuron) pairs; outputs: outside the window
    synops_per_sample: float
    predictions: np.ndarray


def evaluate(model: SNNClassifier, params: np.ndarray, split: Split, eval_batch: int = 250) -> EvaluationResult:
    """Accuracy, mean loss, silent fraction and mean synaptic events of ``params`` on ``split``.

    Forward passes of ``eval_batch`` samples at a time (a few hundred keeps the work arrays in cache).
    """
    n = split.n_samples
    if n == 0:
        raise ValueError("cannot evaluate on an empty split")
    preds, losses, syn = [], [], []
    silent = 0
    neurons_total = 0
    for start in range(0, n, eval_batch):
        X = split.X[start : start + eval_batch]
        y = split.y[start : start + eval_batch]
        fwd = model.forward(params, X)
        preds.append(predict_from_times(fwd.output_times, model.loss_fn.t_max))
        value, _ = _first_spike_loss(fwd.output_times, y, model.loss_fn)
        losses.append(value)
        syn.append(synaptic_events(model.network, fwd))
        for mask in _silent_masks(model, fwd):
            silent += int(mask.sum())
            neurons_total += mask.size
    pred = np.concatenate(preds)
    return EvaluationResult(
        accuracy=float(np.mean(pred == split.y)),
        loss=float(np.concatenate(losses).mean()),
        silent_fraction=silent / neurons_total,
        synops_per_sample=float(np.concatenate(syn).mean()),
        predictions=pred,
    )


# --------------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingResult:
    """``params``: the best-validation parameters (what early stopping keeps); ``final_params``:
    those after the last epoch; ``history``: one row per epoch (`HISTORY_COLUMNS`);
    ``best_epoch`` (1-based) and the test accuracy there; ``stopped_early``; ``seconds`` (wall)."""

    params: np.ndarray
    final_params: np.ndarray
    history: pd.DataFrame
    best_epoch: int
    best_val_accuracy: float
    test_accuracy: float
    stopped_early: bool
    seconds: float


def _check_dataset(model: SNNClassifier, dataset: Dataset) -> None:
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a fsnn_theory.data.Dataset, got {type(dataset).__name__}")
    if dataset.n_features != model.n_features:
        raise ValueError(
            f"dataset {dataset.name!r} has {dataset.n_features} features but the network expects "
            f"{model.n_features} (layer_sizes {model.network.layer_sizes})"
        )
    if dataset.n_classes != model.n_classes:
        raise ValueError(
            f"dataset {dataset.name!r} has {dataset.n_classes} classes but the network has "
            f"{model.n_classes} output neurons (layer_sizes {model.network.layer_sizes})"
        )
    for name in ("train", "validation", "test"):
        if getattr(dataset, name).n_samples == 0:
            raise ValueError(f"dataset {dataset.name!r}: the {name} split is empty")


def train(
    model: SNNClassifier,
    dataset: Dataset,
    config: TrainingConfig,
    *,
    params0: np.ndarray | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainingResult:
    """Train ``model`` on ``dataset.train``, validate on ``dataset.validation`` every epoch.

    Per mini-batch (order `minibatch_order`): forward pass, loss and exact gradient (with the
    optional per-spike guard ``config.max_dw_norm``), then either a weight bump (`weight_bumping`,
    no gradient step) or an optimiser step, its update clipped to ``config.max_update_norm``.
    Per epoch one row of statistics (`HISTORY_COLUMNS`): ``train_loss`` / ``train_accuracy`` are
    means over the epoch's mini-batches, measured on each batch's forward pass before its update
    (as Göltz et al.); validation and test accuracy, ``silent_fraction`` and
    ``synops_per_sample`` (test set) are measured after the epoch; ``seconds`` is the epoch's wall
    time (training and evaluation). ``on_epoch(row)`` is called after each epoch.

    ``params0`` overrides the initial parameters (default ``model.init_params(config.seed)``).
    """
    if not isinstance(model, SNNClassifier):
        raise ValueError(f"model must be an SNNClassifier, got {type(model).__name__}")
    if not isinstance(config, TrainingConfig):
        raise ValueError(f"config must be a TrainingConfig, got {type(config).__name__}")
    _check_dataset(model, dataset)
    start_all = time.perf_counter()
    params = model.init_params(config.seed) if params0 is None else model.network.check_params(params0).copy()
    opt = Optimizer(config.optimizer, model.n_params)
    bumping = config.bumping
    bump_value = bumping.value if bumping is not None else 0.0
    last_bumped: int | None = None
    X, y = dataset.train.X, dataset.train.y
    n = dataset.train.n_samples

    rows: list[dict] = []
    best = (-1.0, 0, params.copy())  # (val accuracy, epoch, params)
    since_best = 0
    stopped_early = False
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        lr = config.learning_rate(epoch)
        order = minibatch_order(n, epoch, config.seed)
        noise_rng = np.random.default_rng([config.seed, 2, epoch]) if config.input_noise > 0 else None
        loss_sum = 0.0
        correct = 0
        bumps = 0
        for s in range(0, n, config.batch_size):
            idx = order[s : s + config.batch_size]
            jitter = None if noise_rng is None else noise_rng.normal(0.0, config.input_noise, (idx.size, X.shape[1]))
            value, grad, fwd = model.loss_grad_forward(
                params, X[idx], y[idx], max_dw_norm=config.max_dw_norm, time_jitter=jitter
            )
            loss_sum += value * idx.size
            correct += int(np.sum(predict_from_times(fwd.output_times, model.loss_fn.t_max) == y[idx]))
            bumped = None
            if bumping is not None:
                params, bumped, bump_value = weight_bumping(
                    model, params, fwd, bumping, bump_value, last_bumped, y[idx]
                )
            last_bumped = bumped
            if bumped is not None:
                bumps += 1
                continue
            delta = opt.update(grad, lr)
            delta, _ = clip_update_norm(delta, config.max_update_norm)
            params = params - delta
        val = evaluate(model, params, dataset.validation, config.eval_batch)
        test = evaluate(model, params, dataset.test, config.eval_batch)
        row = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / n,
            "train_accuracy": correct / n,
            "val_accuracy": val.accuracy,
            "test_accuracy": test.accuracy,
            "silent_fraction": test.silent_fraction,
            "synops_per_sample": test.synops_per_sample,
            "seconds": time.perf_counter() - t0,
            "learning_rate": lr,
            "weight_bumps": bumps,
        }
        rows.append(row)
        if on_epoch is not None:
            on_epoch(dict(row))
        if val.accuracy > best[0] + config.early_stopping.min_delta or best[0] < 0:
            best = (val.accuracy, epoch + 1, params.copy())
            since_best = 0
        else:
            since_best += 1
            if config.early_stopping.patience is not None and since_best >= config.early_stopping.patience:
                stopped_early = True
                break
    history = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    best_row = history.loc[history["epoch"] == best[1]].iloc[0]
    return TrainingResult(
        params=best[2],
        final_params=params,
        history=history,
        best_epoch=int(best[1]),
        best_val_accuracy=float(best[0]),
        test_accuracy=float(best_row["test_accuracy"]),
        stopped_early=stopped_early,
        seconds=time.perf_counter() - start_all,
    )
