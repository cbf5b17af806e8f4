r"""Federated training: FedAvg, FedProx and SCAFFOLD with partial participation, dropouts and compression.

One round r = 0, 1, ..., R-1 (reported as round r + 1; round 0 is the initial model):

1. **Selection** of the participating clients S and their aggregation weights :math:`a_k`
   (:math:`p_k = n_k/n`; Li, Huang, Yang, Wang, Zhang, ICLR 2020, arXiv 1907.02189, Sec. 3):

   * ``scheme="full"``: every client, :math:`a_k = p_k`.
   * ``scheme="I"`` (Li et al., Assumption/Scheme I): K indices drawn *with replacement* with
     probabilities :math:`p_k`; a client drawn m times trains once and gets :math:`a_k = m/K`
     (the simple average :math:`\frac1K\sum_{k\in S} w_k` over the multiset).
   * ``scheme="II"`` (Scheme II): K distinct clients drawn uniformly *without replacement*,
     :math:`a_k = p_k N/K`, i.e. :math:`w \leftarrow \sum_{k\in S} p_k \frac NK w_k` exactly as
     in the paper: unbiased, but :math:`\sum_{k\in S} a_k = 1` only for balanced data
     (:math:`p_k = 1/N`, the setting of their Theorem 3); with unbalanced data the aggregate is
     rescaled by :math:`\sum_{k\in S} a_k`, as the formula says.

2. **Dropouts**: each selected client independently fails with probability q (``dropout``). A
   failed client has received the broadcast (downlink counted) but goes offline before its local
   work: it trains nothing, sends nothing, and keeps its state (error-feedback memory, control
   variate) unchanged. The survivors' weights are renormalised to the selected set's total,
   :math:`a'_k = a_k \sum_{j\in S} a_j / \sum_{j\in S'} a_j`. If all fail, the model is unchanged.

3. **Broadcast**: the server sends :math:`w_b` = its model as float32 (``wire_bits=32``, counted
   ``32 d`` bits per selected client; SCAFFOLD also sends its control variate c) or float64
   (``wire_bits=64``, lossless).

4. **Local work** on client k from :math:`y = w_b`: E SGD steps (``local_steps``) on minibatches of
   B indices drawn i.i.d. uniformly *with replacement* from the client's samples, or
   ``local_epochs`` passes over a fresh random permutation cut into batches of B (last batch
   smaller). Step t (global index, :math:`t = rE_{max} + i` for local step i, :math:`E_{max}`
   the most steps any client makes per round) uses :math:`\eta_t` from the :class:`StepSchedule`.

   * FedAvg (McMahan et al. 2017, arXiv 1602.05629): :math:`y \leftarrow y - \eta_t g(y)`.
   * FedProx (Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith, MLSys 2020, arXiv 1812.06127):
     local objective :math:`F_k(y) + \frac{\mu}{2}\|y - w_b\|^2`, so
     :math:`y \leftarrow y - \eta_t (g(y) + \mu(y - w_b))`.
   * SCAFFOLD (Karimireddy et al., ICML 2020, arXiv 1910.06378, Alg. 1):
     :math:`y \leftarrow y - \eta_t (g(y) - c_k + c)`; after the steps, option II
     :math:`c_k^+ = c_k - c + \frac{w_b - y}{\sum_i \eta_i}` (the paper's :math:`1/(K\eta_l)` with
     the step sizes of a schedule summed); the client sends :math:`\Delta y = y - w_b` and
     :math:`\Delta c = c_k^+ - c_k` and sets :math:`c_k \leftarrow c_k^+`; the server sets
     :math:`c \leftarrow c + \sum_{k\in S'} p_k \widehat{\Delta c}_k` (keeps
     :math:`c = \sum_k p_k c_k` for uncompressed messages; the paper's :math:`\frac1N\sum` for
     :math:`p_k = 1/N`).

5. **Uplink**: :math:`\Delta_k = y_k - w_b` is compressed (with error feedback if the compressor
   asks for it: memory :math:`e_k`, send :math:`\mathcal C(\Delta_k + e_k)`, keep the rest). The
   server reconstructs :math:`\hat y_k = w_b + \hat\Delta_k` (for the lossless ``none64``
   compressor the local model itself, :math:`\hat y_k = y_k`).

6. **Aggregation**: :math:`w \leftarrow \sum_{k\in S'} a'_k \hat y_k` (server step
   :math:`\eta_g = 1`), in general :math:`w \leftarrow A w_b + \eta_g \sum a'_k(\hat y_k - w_b)`
   with :math:`A = \sum_{k\in S} a_k`.

**Randomness.** Every random choice comes from its own generator
``default_rng(SeedSequence(seed, spawn_key=(stream, r, k)))`` (:func:`stream_rng`) with streams
``STREAM_SAMPLING`` (client selection, k = 0), ``STREAM_DROPOUT`` (k = 0), ``STREAM_BATCH``
(client k's minibatches), ``STREAM_UPLINK`` and ``STREAM_CONTROL`` (client k's stochastic
compression of Δy and Δc). So the same seed and config give the same history, bit for bit,
independent of evaluation settings or of which clients are skipped.

**Structure.** :func:`run_federated` is a thin loop: :func:`prepare` (checks; the clients'
data), :func:`initial_state` (a :class:`FederatedState`: model, control variates, error-feedback
memories, round), then per round the pure :func:`round_step` (new state + a :class:`RoundReport`
of raw counts), :func:`account` (events, energy) and an evaluation every ``eval_every`` rounds.
The algorithm is a small strategy object (:class:`FedAvg`, :class:`FedProx`, :class:`Scaffold`);
local SGD shares ``sgd_step``, ``clip_update_norm``, ``inverse_decay`` and ``weight_bumping``
with `fsnn_theory.training`.

**Vectorisation.** A :class:`BatchedModel` (``batched_loss_and_grad(P, Z, y, sample_weight)``
and ``design(X)``, e.g. :class:`~fsnn_theory.federated.logreg.LogisticRegressionModel`) runs all
surviving clients' local steps as one batched computation per step; other models run one
vectorised call per client and step. A :class:`SpikingModel` (``loss_grad_forward`` and
``network``: the spiking :class:`~fsnn_theory.network.SNNClassifier`) gives its synaptic events
and spike-causal support from the training forward pass itself.

**Accounting** (per round; `fsnn_theory.federated.accounting`): uplink bits (exact message
lengths of the reporting clients), downlink bits, training events (forward + backward = 2 × the
forward synaptic events, or MACs for a dense model), inference events per test sample, energy
(0.9 pJ per synaptic event, 4.6 pJ per MAC; Horowitz ISSCC 2014), samples processed, and client
compute seconds (in a separate timing table: wall time is not deterministic).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Protocol, Union, runtime_checkable

import numpy as np
import pandas as pd

from fsnn_theory._validation import check_choice, check_in_range, check_int, check_nonnegative, check_positive
from fsnn_theory.data import Split
from fsnn_theory.federated.accounting import downlink_bits, energy_joules, training_events
from fsnn_theory.federated.compressors import Compressor, Dense, Message, parse_compressor, to_float32
from fsnn_theory.federated.partition import Partition
from fsnn_theory.network import spike_causal_support, synaptic_events
from fsnn_theory.theory.bounds import li2020_step_size
from fsnn_theory.training import WeightBumping, clip_update_norm, inverse_decay, sgd_step, weight_bumping

__all__ = [
    "ALGORITHMS",
    "SCHEMES",
    "SCHEDULES",
    "STREAM_SAMPLING",
    "STREAM_DROPOUT",
    "STREAM_BATCH",
    "STREAM_UPLINK",
    "STREAM_CONTROL",
    "HISTORY_COLUMNS",
    "StepSchedule",
    "FederatedConfig",
    "FederatedRun",
    "FederatedModel",
    "BatchedModel",
    "SpikingModel",
    "FedAvg",
    "FedProx",
    "Scaffold",
    "make_algorithm",
    "FederatedState",
    "Federation",
    "RoundReport",
    "prepare",
    "initial_state",
    "round_step",
    "account",
    "stream_rng",
    "select_clients",
    "run_federated",
    "centralised_sgd",
]

ALGORITHMS: tuple[str, ...] = ("fedavg", "fedprox", "scaffold")
SCHEMES: tuple[str, ...] = ("full", "I", "II")
SCHEDULES: tuple[str, ...] = ("constant", "inverse", "li2020")

STREAM_SAMPLING, STREAM_DROPOUT, STREAM_BATCH, STREAM_UPLINK, STREAM_CONTROL = range(5)

HISTORY_COLUMNS: tuple[str, ...] = (
    "round", "train_loss", "test_loss", "test_accuracy",
    "uplink_bits", "downlink_bits", "cum_uplink_bits", "cum_downlink_bits",
    "synops", "cum_synops", "inference_synops", "energy_train_j", "cum_energy_train_j",
    "energy_inference_j", "samples", "cum_samples", "participants", "reporting", "update_density",
)


def stream_rng(seed: int, stream: int, round_: int, client: int = 0) -> np.random.Generator:
    """``default_rng(SeedSequence(seed, spawn_key=(stream, round_, client)))``: one generator per use."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, round_, client)))


# --------------------------------------------------------------------------------------------
# Step sizes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSchedule:
    r"""Learning rate :math:`\eta_t` at global SGD step t = 0, 1, 2, ...

    * ``"constant"``: :math:`\eta_t = \eta_0`.
    * ``"inverse"``: :math:`\eta_t = \eta_0 / (1 + \beta t)` (β = ``decay``; β = 1 is
      :math:`\eta_0/(1+t)`).
    * ``"li2020"``: :math:`\eta_t = 2/(\mu(\gamma + t + 1))`, :math:`\gamma = \max(8L/\mu, E)`
      (Li et al. 2020, Theorem 1; :func:`~fsnn_theory.theory.bounds.li2020_step_size` at the
      paper's 1-based step index t + 1). Needs ``L`` and ``mu``; E is the number of local steps.
    """

    kind: str = "constant"
    eta0: float = 0.1
    decay: float = 1.0
    L: float | None = None
    mu: float | None = None

    def __post_init__(self) -> None:
        check_choice("schedule", self.kind, SCHEDULES)
        check_positive("eta0", self.eta0)
        check_nonnegative("decay", self.decay)
        if self.kind == "li2020":
            if self.L is None or self.mu is None:
                raise ValueError("schedule 'li2020' needs L and mu (smoothness and strong convexity)")
            check_positive("L", self.L)
            check_positive("mu", self.mu)
            if self.mu > self.L:
                raise ValueError(f"mu must be <= L, got mu={self.mu}, L={self.L}")

    def step_size(self, t: int, E: int = 1) -> float:
        t = check_int("t", t, low=0)
        if self.kind == "constant":
            return float(self.eta0)
        if self.kind == "inverse":
            return inverse_decay(self.eta0, t, self.decay)
        return float(li2020_step_size(t + 1, self.L, self.mu, E))


# --------------------------------------------------------------------------------------------
# Configuration and result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FederatedConfig:
    r"""Everything that defines a federated run (besides model and data). Validated on construction.

    ``rounds`` R >= 1; ``algorithm`` in ALGORITHMS; exactly one of ``local_steps`` (E >= 1) and
    ``local_epochs`` (>= 1) — give ``local_steps=None`` with ``local_epochs``; ``batch_size`` B >= 1;
    ``schedule``; ``prox_mu`` (FedProx μ > 0, ignored otherwise); ``server_lr`` η_g > 0;
    ``scheme`` in SCHEMES with ``clients_per_round`` K (None for "full"; K <= N checked at run
    time); ``dropout`` q in [0, 1); ``compressor`` (a Compressor or its spec string, see
    :func:`~fsnn_theory.federated.compressors.parse_compressor`); ``wire_bits`` 32 or 64 for the
    downlink broadcast; ``eval_every`` (history rows every that many rounds, plus the last);
    ``seed``.
    """

    rounds: int
    algorithm: str = "fedavg"
    local_steps: int | None = 1
    local_epochs: int | None = None
    batch_size: int = 32
    schedule: StepSchedule = field(default_factory=StepSchedule)
    prox_mu: float = 0.01
    server_lr: float = 1.0
    scheme: str = "full"
    clients_per_round: int | None = None
    dropout: float = 0.0
    compressor: Union[Compressor, str] = "none"
    wire_bits: int = 32
    eval_every: int = 1
    seed: int = 0
    clip_grad_norm: float | None = None
    max_dw_norm: float | None = None
    bumping: Any = None

    def __post_init__(self) -> None:
        if self.bumping is not None:
            if not isinstance(self.bumping, WeightBumping):
                raise ValueError(f"bumping must be None or a fsnn_theory.training.WeightBumping, got {self.bumping!r}")
        if self.max_dw_norm is not None:
            check_positive("max_dw_norm", self.max_dw_norm)
        check_int("rounds", self.rounds, low=1)
        if self.clip_grad_norm is not None:
            check_positive("clip_grad_norm", self.clip_grad_norm)
        check_choice("algorithm", self.algorithm, ALGORITHMS)
        if (self.local_steps is None) == (self.local_epochs is None):
            raise ValueError("give exactly one of local_steps (E >= 1) and local_epochs (>= 1)")
        if self.local_steps is not None:
            check_int("local_steps", self.local_steps, low=1)
        else:
            check_int("local_epochs", self.local_epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        if not isinstance(self.schedule, StepSchedule):
            raise ValueError(f"schedule must be a StepSchedule, got {type(self.schedule).__name__}")
        check_positive("prox_mu", self.prox_mu)
        check_positive("server_lr", self.server_lr)
        check_choice("scheme", self.scheme, SCHEMES)
        if self.scheme == "full":
            if self.clients_per_round is not None:
                raise ValueError(
                    "clients_per_round must be None for scheme 'full' (every client participates); "
                    "use scheme 'I' or 'II' to sample K clients"
                )
        else:
            if self.clients_per_round is None:
                raise ValueError(f"clients_per_round K (1 <= K <= N) is required for scheme {self.scheme!r}")
            check_int("clients_per_round", self.clients_per_round, low=1)
        check_in_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        object.__setattr__(self, "compressor", parse_compressor(self.compressor))
        if self.wire_bits not in (32, 64):
            raise ValueError(f"wire_bits must be 32 or 64, got {self.wire_bits!r}")
        check_int("eval_every", self.eval_every, low=1)
        check_int("seed", self.seed, low=0)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["compressor"] = self.compressor.name
        d["schedule"] = asdict(self.schedule)
        return d


@dataclass(frozen=True, eq=False)
class FederatedRun:
    """Outcome of :func:`run_federated`.

    ``history``: one row per evaluated round (columns ``HISTORY_COLUMNS``; the per-round columns
    ``uplink_bits``, ``downlink_bits``, ``synops``, ``samples``, ``energy_train_j`` are totals
    over the rounds since the previous row, i.e. per round when ``eval_every = 1``);
    ``timing``: round, client_seconds (sum over clients of local-work wall time), round_seconds;
    ``params``: the final model; ``summary``: final figures, totals, heterogeneity, config.
    """

    history: pd.DataFrame
    timing: pd.DataFrame
    params: np.ndarray
    summary: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------


def select_clients(scheme: str, weights: np.ndarray, K: int | None, rng: np.random.Generator):
    """Participating clients (sorted, distinct) and their aggregation weights a_k for one round.

    See the module docstring (Li et al. 2020, schemes I and II). ``weights`` are the p_k.
    """
    N = weights.size
    if scheme == "full":
        return np.arange(N), weights.copy()
    if scheme == "I":
        draws = rng.choice(N, size=K, replace=True, p=weights)
        sel, counts = np.unique(draws, return_counts=True)
        return sel, counts / K
    sel = np.sort(rng.choice(N, size=K, replace=False))
    return sel, weights[sel] * (N / K)


# --------------------------------------------------------------------------------------------
# Model protocols (what the loop needs; checked once, at the start of a run)
# --------------------------------------------------------------------------------------------


@runtime_checkable
class FederatedModel(Protocol):
    """Flat float64 parameters of length ``n_params`` (see `fsnn_theory.federated` for the contract)."""

    n_params: int
    n_classes: int

    def init_params(self, seed: int) -> np.ndarray: ...
    def loss(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float: ...
    def loss_and_grad(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]: ...
    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray: ...
    def accuracy(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float: ...
    def synops(self, params: np.ndarray, X: np.ndarray) -> np.ndarray: ...
    def gradient_support(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class BatchedModel(FederatedModel, Protocol):
    """A model that computes all clients' gradients in one call (e.g. the convex logreg model):
    ``batched_loss_and_grad(P (M, d), Z (M, B, F), y (M, B), sample_weight (M, B))`` on the
    precomputed ``design(X)``."""

    def design(self, X: np.ndarray) -> np.ndarray: ...
    def batched_loss_and_grad(self, P: np.ndarray, Z: np.ndarray, y: np.ndarray,
                              sample_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class SpikingModel(FederatedModel, Protocol):
    """A spiking model whose training forward pass gives its synaptic events and spike-causal
    support (`fsnn_theory.network.SNNClassifier`); needed for the per-spike guard and bumping."""

    network: Any

    def loss_grad_forward(self, params: np.ndarray, X: np.ndarray, y: np.ndarray, *,
                          max_dw_norm: float | None = None, time_jitter: np.ndarray | None = None): ...


_PROTOCOL_MEMBERS = ("n_params", "n_classes", "init_params", "loss", "loss_and_grad", "predict", "accuracy",
                     "synops", "gradient_support")


def _check_model(model) -> None:
    if not isinstance(model, FederatedModel):
        missing = [a for a in _PROTOCOL_MEMBERS if not hasattr(model, a)]
        raise ValueError(f"model does not implement the federated model protocol: missing {', '.join(missing)}")


# --------------------------------------------------------------------------------------------
# Algorithms: what differs between FedAvg, FedProx and SCAFFOLD
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FedAvg:
    """FedAvg (McMahan et al. 2017): plain local SGD, one broadcast vector, no control variates."""

    name: str = "fedavg"
    broadcasts: int = 1  # vectors sent down per selected client (the model; SCAFFOLD adds c)
    uses_control: bool = False

    def gradient_terms(self, state: "FederatedState", c_b, surv):
        """(proximal weight μ or None, per-client gradient corrections (M, d) or None)."""
        return None, None


@dataclass(frozen=True)
class FedProx(FedAvg):
    r"""FedProx (Li et al., MLSys 2020): local gradient :math:`g(y) + \mu (y - w_b)`."""

    name: str = "fedprox"
    mu: float = 0.01

    def gradient_terms(self, state, c_b, surv):
        return self.mu, None


@dataclass(frozen=True)
class Scaffold(FedAvg):
    r"""SCAFFOLD (Karimireddy et al. 2020, option II): local gradient :math:`g(y) - c_k + c`."""

    name: str = "scaffold"
    broadcasts: int = 2
    uses_control: bool = True

    def gradient_terms(self, state, c_b, surv):
        return None, c_b[None, :] - state.client_controls[surv]

    @staticmethod
    def new_client_control(c_k, c_b, w_b, y, eta_sum: float) -> np.ndarray:
        r""":math:`c_k^+ = c_k - c + (w_b - y)/\sum_i \eta_i` (Alg. 1, option II)."""
        return c_k - c_b + (w_b - y) / eta_sum


def make_algorithm(config: FederatedConfig) -> FedAvg:
    """The strategy object of ``config.algorithm``."""
    if config.algorithm == "fedprox":
        return FedProx(mu=config.prox_mu)
    if config.algorithm == "scaffold":
        return Scaffold()
    return FedAvg()


# --------------------------------------------------------------------------------------------
# Local work
# --------------------------------------------------------------------------------------------


def _client_batches(rng: np.random.Generator, n: int, config: FederatedConfig) -> list[np.ndarray]:
    B = config.batch_size
    if config.local_steps is not None:
        return list(rng.integers(0, n, size=(config.local_steps, B)))
    out = []
    for _ in range(config.local_epochs):
        perm = rng.permutation(n)
        out.extend(perm[a : a + B] for a in range(0, n, B))
    return out


def _steps_per_round(n: int, config: FederatedConfig) -> int:
    if config.local_steps is not None:
        return config.local_steps
    return config.local_epochs * math.ceil(n / config.batch_size)


class _StepStats:
    __slots__ = ("events", "samples", "support")

    def __init__(self, d: int, need_support: bool):
        self.events = 0.0
        self.samples = 0
        self.support = np.zeros(d, dtype=bool) if need_support else None


def _loss_grad_stats(model, spiking: bool, params, Xb, yb, stats: _StepStats, max_dw_norm=None):
    """(gradient, forward pass or None) of one step, adding its forward events and support to ``stats``."""
    if spiking:
        _, grad, fwd = model.loss_grad_forward(params, Xb, yb, max_dw_norm=max_dw_norm)
        stats.events += float(synaptic_events(model.network, fwd).sum())
        if stats.support is not None:
            stats.support |= spike_causal_support(model.network, fwd)
        stats.samples += len(yb)
        return np.asarray(grad, dtype=np.float64), fwd
    _, grad = model.loss_and_grad(params, Xb, yb)
    stats.events += float(np.sum(model.synops(params, Xb)))
    if stats.support is not None:
        stats.support |= np.asarray(model.gradient_support(params, Xb, yb), dtype=bool)
    stats.samples += len(yb)
    return np.asarray(grad, dtype=np.float64), None


def _local_sgd(model, spiking, w_b, Xk, yk, batches, etas, correction, prox_mu, stats, clip=None,
               max_dw_norm=None, bumping=None) -> np.ndarray:
    """One client's local SGD from ``w_b`` (`training.sgd_step` without momentum, `training.clip_update_norm`)."""
    y = w_b.copy()
    bump_value, last_bumped = (bumping.value if bumping is not None else 0.0), None
    for idx, eta in zip(batches, etas):
        g, fwd = _loss_grad_stats(model, spiking, y, Xk[idx], yk[idx], stats, max_dw_norm)
        if bumping is not None:
            y_bumped, last_bumped, bump_value = weight_bumping(model, y, fwd, bumping, bump_value, last_bumped,
                                                               yk[idx])
            if last_bumped is not None:
                y = y_bumped
                continue
        g, _ = clip_update_norm(g, clip)
        if prox_mu is not None:
            g = g + prox_mu * (y - w_b)
        if correction is not None:
            g = g + correction
        delta, _ = sgd_step(g, g, eta, 0.0)
        y = y - delta
    return y


def _local_sgd_batched(model, w_b, data, batch_lists, etas, corrections, prox_mu, stats_list, clip=None) -> np.ndarray:
    """All clients' local steps at once (a :class:`BatchedModel`)."""
    M = len(batch_lists)
    S = max(len(b) for b in batch_lists)
    B = max(len(idx) for b in batch_lists for idx in b)
    F1 = data[0][2].shape[1]
    Zb = np.zeros((M, S, B, F1))
    yb = np.zeros((M, S, B), dtype=np.int64)
    sw = np.zeros((M, S, B))
    active = np.zeros((M, S))
    for m, (batches, (Xk, yk, Zk)) in enumerate(zip(batch_lists, data)):
        for i, idx in enumerate(batches):
            b = len(idx)
            Zb[m, i, :b] = Zk[idx]
            yb[m, i, :b] = yk[idx]
            sw[m, i, :b] = 1.0 / b
            active[m, i] = 1.0
            stats = stats_list[m]
            stats.samples += b
            stats.events += float(np.sum(model.synops(w_b, Xk[idx])))
    Y = np.repeat(w_b[None, :], M, axis=0)
    for i in range(S):
        _, G = model.batched_loss_and_grad(Y, Zb[:, i], yb[:, i], sw[:, i])
        G, _ = clip_update_norm(G, clip)
        if prox_mu is not None:
            G = G + prox_mu * (Y - w_b[None, :])
        if corrections is not None:
            G = G + corrections
        Y = Y - (etas[i] * active[:, i])[:, None] * G
        for m, stats in enumerate(stats_list):
            if stats.support is not None and active[m, i]:
                idx = batch_lists[m][i]
                stats.support |= np.asarray(model.gradient_support(Y[m], data[m][0][idx], data[m][1][idx]), dtype=bool)
    return Y


def _send(comp: Compressor, v: np.ndarray, memory: np.ndarray | None, k: int, rng, support) -> Message:
    """Compress one vector for client k, with error feedback if the compressor uses it (updates ``memory[k]``)."""
    if memory is None:
        return comp.compress(v, rng, support)
    p = v + memory[k]
    msg = comp.compress(p, rng, support)
    memory[k] = p - msg.decoded
    return msg


# --------------------------------------------------------------------------------------------
# State, set-up and one round
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FederatedState:
    """Everything that changes from round to round.

    ``round``: rounds completed; ``params``: the server model w; ``server_control`` c and
    ``client_controls`` c_k (N, d) (SCAFFOLD, else None); ``uplink_memory`` / ``control_memory``
    (N, d): error-feedback memories of Δy and Δc (compressors with error feedback, else None).
    The random keys are ``(seed, stream, round, client)`` (:func:`stream_rng`), so the state
    needs no generator: a round's draws are a function of the seed and the round number.
    """

    round: int
    params: np.ndarray
    server_control: np.ndarray
    client_controls: np.ndarray | None
    uplink_memory: np.ndarray | None
    control_memory: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Federation:
    """What stays fixed during a run: model, the clients' data, p_k, config, algorithm.

    Built by :func:`prepare` (which checks the model protocol and the partition); ``clients[k]``
    = (X_k, y_k, design(X_k) for a :class:`BatchedModel` else None).
    """

    model: Any
    clients: tuple
    weights: np.ndarray
    config: FederatedConfig
    algorithm: FedAvg
    n_params: int
    steps_max: int
    batched: bool
    spiking: bool
    operation: str


@dataclass(frozen=True)
class RoundReport:
    """Raw counts of one round (accounting turns them into events and energy: :func:`account`).

    ``client_seconds`` is wall time (not deterministic); everything else is.
    """

    participants: int
    reporting: int
    uplink_bits: int
    downlink_bits: int
    forward_events: float
    samples: int
    densities: tuple[float, ...]  # per uplink model message: values sent / d
    client_seconds: float


def prepare(model, train: Split, partition: Partition, config: FederatedConfig) -> Federation:
    """Check model, partition and config against each other and fix the clients' data."""
    _check_model(model)
    if not isinstance(partition, Partition):
        raise ValueError(f"partition must be a Partition, got {type(partition).__name__}")
    if partition.labels.size != train.n_samples or not np.array_equal(partition.labels, train.y):
        raise ValueError("partition must partition the training split (its labels differ from train.y)")
    N = partition.n_clients
    K = config.clients_per_round
    if K is not None and K > N:
        raise ValueError(f"clients_per_round K must be <= the number of clients N = {N}, got K = {K}")
    batched = isinstance(model, BatchedModel)
    spiking = isinstance(model, SpikingModel)
    if config.max_dw_norm is not None and not spiking:
        raise ValueError("max_dw_norm applies to spiking models with loss_grad_forward only; set it to None")
    if config.bumping is not None and not spiking:
        raise ValueError("bumping applies to spiking models with loss_grad_forward only; set it to None")
    clients = []
    for idx in partition.client_indices:
        Xk, yk = train.X[idx], train.y[idx]
        clients.append((Xk, yk, model.design(Xk) if batched else None))
    steps_max = max(_steps_per_round(len(idx), config) for idx in partition.client_indices)
    return Federation(model, tuple(clients), partition.weights, config, make_algorithm(config), int(model.n_params),
                      steps_max, batched, spiking, getattr(model, "operation", "synop"))


def initial_state(fed: Federation) -> FederatedState:
    """Round 0: ``model.init_params(seed)``, zero control variates and error-feedback memories."""
    d, N, cfg = fed.n_params, len(fed.clients), fed.config
    w = np.asarray(fed.model.init_params(cfg.seed), dtype=np.float64).copy()
    if w.shape != (d,):
        raise ValueError(f"model.init_params must return shape ({d},), got {w.shape}")
    control = fed.algorithm.uses_control
    ef = cfg.compressor.error_feedback
    return FederatedState(
        round=0, params=w, server_control=np.zeros(d),
        client_controls=np.zeros((N, d)) if control else None,
        uplink_memory=np.zeros((N, d)) if ef else None,
        control_memory=np.zeros((N, d)) if (ef and control) else None,
    )


def _wire(v: np.ndarray, wire_bits: int) -> np.ndarray:
    return to_float32(v, "the broadcast model") if wire_bits == 32 else v.copy()


def round_step(state: FederatedState, fed: Federation) -> tuple[FederatedState, RoundReport]:
    """One round (selection, dropouts, broadcast, local work, uplink, aggregation; module docstring).

    Pure in the federated sense: returns a new state and leaves ``state`` unchanged; its random
    draws are keyed by ``(config.seed, stream, state.round, client)``.
    """
    cfg, algo, model, d = fed.config, fed.algorithm, fed.model, fed.n_params
    comp = cfg.compressor
    lossless = isinstance(comp, Dense) and comp.value_bits == 64
    r = state.round
    p = fed.weights
    sel, a = select_clients(cfg.scheme, p, cfg.clients_per_round, stream_rng(cfg.seed, STREAM_SAMPLING, r))
    keep = np.ones(sel.size, dtype=bool)
    if cfg.dropout > 0:
        keep = stream_rng(cfg.seed, STREAM_DROPOUT, r).random(sel.size) >= cfg.dropout
    down = downlink_bits(d, int(sel.size), algo.broadcasts, cfg.wire_bits)
    w_b = _wire(state.params, cfg.wire_bits)
    c_b = _wire(state.server_control, cfg.wire_bits) if algo.uses_control else None
    surv = sel[keep]
    if not surv.size:  # everyone dropped out: the model is unchanged
        report = RoundReport(int(sel.size), 0, 0, down, 0.0, 0, (), 0.0)
        return replace(state, round=r + 1), report

    c_k = None if state.client_controls is None else state.client_controls.copy()
    mem_up = None if state.uplink_memory is None else state.uplink_memory.copy()
    mem_c = None if state.control_memory is None else state.control_memory.copy()
    t_start = r * fed.steps_max
    batch_lists = [_client_batches(stream_rng(cfg.seed, STREAM_BATCH, r, int(k)), len(fed.clients[k][1]), cfg)
                   for k in surv]
    etas = [cfg.schedule.step_size(t_start + i, fed.steps_max) for i in range(fed.steps_max)]
    stats = [_StepStats(d, comp.needs_support) for _ in surv]
    prox_mu, corrections = algo.gradient_terms(state, c_b, surv)
    client_seconds = 0.0
    if fed.batched:
        t0 = time.perf_counter()
        Y = _local_sgd_batched(model, w_b, [fed.clients[k] for k in surv], batch_lists, etas, corrections,
                               prox_mu, stats, cfg.clip_grad_norm)
        client_seconds = time.perf_counter() - t0
    else:
        Y = np.empty((surv.size, d))
        for m, k in enumerate(surv):
            t0 = time.perf_counter()
            Xk, yk, _ = fed.clients[k]
            Y[m] = _local_sgd(model, fed.spiking, w_b, Xk, yk, batch_lists[m], etas,
                              None if corrections is None else corrections[m], prox_mu, stats[m],
                              cfg.clip_grad_norm, cfg.max_dw_norm, cfg.bumping)
            client_seconds += time.perf_counter() - t0
    # uplink
    Y_hat = np.empty_like(Y)
    up_bits, densities = 0, []
    dc_hat = np.zeros((surv.size, d)) if algo.uses_control else None
    for m, k in enumerate(surv):
        msg = _send(comp, Y[m] - w_b, mem_up, k, stream_rng(cfg.seed, STREAM_UPLINK, r, int(k)), stats[m].support)
        up_bits += msg.bits
        densities.append(msg.n_values / d)
        Y_hat[m] = Y[m] if lossless else w_b + msg.decoded
        if algo.uses_control:
            eta_sum = float(sum(etas[: len(batch_lists[m])]))
            c_new = algo.new_client_control(c_k[k], c_b, w_b, Y[m], eta_sum)
            msg_c = _send(comp, c_new - c_k[k], mem_c, k, stream_rng(cfg.seed, STREAM_CONTROL, r, int(k)),
                          stats[m].support)
            up_bits += msg_c.bits
            dc_hat[m] = (c_new - c_k[k]) if lossless else msg_c.decoded
            c_k[k] = c_new
    # aggregation
    a_sel_total = float(a.sum())
    a_surv = a[keep]
    a_norm = a_surv * (a_sel_total / float(a_surv.sum()))
    if cfg.server_lr == 1.0:
        w = (a_norm[:, None] * Y_hat).sum(axis=0)
    else:
        w = a_sel_total * w_b + cfg.server_lr * (a_norm[:, None] * (Y_hat - w_b[None, :])).sum(axis=0)
    c = c_b + (p[surv][:, None] * dc_hat).sum(axis=0) if algo.uses_control else state.server_control
    new_state = FederatedState(r + 1, w, c, c_k, mem_up, mem_c)
    report = RoundReport(int(sel.size), int(surv.size), up_bits, down, sum(s.events for s in stats),
                         sum(s.samples for s in stats), tuple(densities), client_seconds)
    return new_state, report


# --------------------------------------------------------------------------------------------
# Accounting and the loop
# --------------------------------------------------------------------------------------------


def account(report: RoundReport, operation: str) -> dict[str, Any]:
    """Per-round totals of a report: bits, training events (forward + backward) and their energy."""
    events = training_events(report.forward_events)
    return {"uplink_bits": report.uplink_bits, "downlink_bits": report.downlink_bits, "synops": events,
            "energy_train_j": energy_joules(events, operation), "samples": report.samples}


def _evaluate(model, w, train: Split, test: Split) -> dict[str, float]:
    return {
        "train_loss": float(model.loss(w, train.X, train.y)),
        "test_loss": float(model.loss(w, test.X, test.y)),
        "test_accuracy": float(model.accuracy(w, test.X, test.y)),
        "inference_synops": float(np.mean(model.synops(w, test.X))),
    }


def run_federated(
    model,
    train: Split,
    test: Split,
    partition: Partition,
    config: FederatedConfig,
    *,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> FederatedRun:
    """Run ``config.rounds`` rounds of federated training of ``model`` on ``partition`` of ``train``.

    ``model`` implements :class:`FederatedModel` (flat float64 parameters; :class:`BatchedModel`
    and :class:`SpikingModel` get their fast paths); ``partition`` must partition ``train`` (same
    labels). A thin loop: :func:`prepare`, :func:`initial_state`, then per round
    :func:`round_step`, :func:`account` and an evaluation every ``eval_every`` rounds. Returns a
    :class:`FederatedRun`. Errors: ``clients_per_round`` K > N, a partition of another data set,
    or a model without the protocol raise ``ValueError``.

    Examples
    --------
    FedAvg on two clients, logistic regression with d = (2 + 1) x 2 = 6 parameters. The start is
    all zeros, so the first training loss is ln 2 (two classes, uniform prediction);
    every round each client receives and sends 32 d = 192 bits (``compressor="none"`` = float32).

    >>> import math
    >>> import numpy as np
    >>> from fsnn_theory.data import Split
    >>> from fsnn_theory.federated import (FederatedConfig, LogisticRegressionModel,
    ...                                    make_partition, run_federated)
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> train = Split(X, (X[:, 0] > 0).astype(np.int64))
    >>> model = LogisticRegressionModel(n_features=2, n_classes=2, l2=0.01)
    >>> partition = make_partition("iid", train.y, n_clients=2, seed=0)
    >>> run = run_federated(model, train, train, partition,
    ...                     FederatedConfig(rounds=3, local_steps=2, batch_size=4))
    >>> h = run.history
    >>> h["round"].tolist(), h["uplink_bits"].tolist(), int(h["cum_downlink_bits"].iloc[-1])
    ([0, 1, 2, 3], [0, 384, 384, 384], 1152)
    >>> math.isclose(h["train_loss"].iloc[0], math.log(2.0), rel_tol=1e-12)
    True
    """
    fed = prepare(model, train, partition, config)
    state = initial_state(fed)
    operation = fed.operation
    rows: list[dict[str, Any]] = []
    timing: list[dict[str, Any]] = []
    totals = {"uplink_bits": 0, "downlink_bits": 0, "synops": 0.0, "energy_train_j": 0.0, "samples": 0}
    acc = dict.fromkeys(totals, 0)
    acc.update(participants=0, reporting=0, density_sum=0.0, messages=0)

    def record(round_no: int) -> None:
        ev = _evaluate(model, state.params, train, test)
        rows.append({
            "round": round_no,
            "train_loss": ev["train_loss"],
            "test_loss": ev["test_loss"],
            "test_accuracy": ev["test_accuracy"],
            "uplink_bits": int(acc["uplink_bits"]),
            "downlink_bits": int(acc["downlink_bits"]),
            "cum_uplink_bits": int(totals["uplink_bits"]),
            "cum_downlink_bits": int(totals["downlink_bits"]),
            "synops": float(acc["synops"]),
            "cum_synops": float(totals["synops"]),
            "inference_synops": ev["inference_synops"],
            "energy_train_j": float(acc["energy_train_j"]),
            "cum_energy_train_j": float(totals["energy_train_j"]),
            "energy_inference_j": energy_joules(ev["inference_synops"], operation),
            "samples": int(acc["samples"]),
            "cum_samples": int(totals["samples"]),
            "participants": int(acc["participants"]),
            "reporting": int(acc["reporting"]),
            "update_density": float(acc["density_sum"] / acc["messages"]) if acc["messages"] else 0.0,
        })
        for key in list(acc):
            acc[key] = 0

    record(0)
    rounds: Iterable[int] = range(config.rounds)
    if progress is not None:
        rounds = progress(rounds)
    for r in rounds:
        t_round = time.perf_counter()
        state, report = round_step(state, fed)
        for key, val in account(report, operation).items():
            totals[key] += val
            acc[key] += val
        acc["participants"] += report.participants
        acc["reporting"] += report.reporting
        for density in report.densities:  # one at a time: the same float sums as message by message
            acc["density_sum"] += density
        acc["messages"] += len(report.densities)
        timing.append({"round": r + 1, "client_seconds": report.client_seconds,
                       "round_seconds": time.perf_counter() - t_round})
        if (r + 1) % config.eval_every == 0 or r + 1 == config.rounds:
            record(r + 1)

    history = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    timing_df = pd.DataFrame(timing, columns=["round", "client_seconds", "round_seconds"])
    last = rows[-1]
    summary = {
        "rounds": config.rounds,
        "clients": partition.n_clients,
        "n_params": fed.n_params,
        "final_train_loss": last["train_loss"],
        "final_test_loss": last["test_loss"],
        "final_test_accuracy": last["test_accuracy"],
        "total_uplink_bits": int(totals["uplink_bits"]),
        "total_downlink_bits": int(totals["downlink_bits"]),
        "total_train_synops": float(totals["synops"]),
        "total_train_energy_j": float(totals["energy_train_j"]),
        "inference_synops_per_sample": last["inference_synops"],
        "total_samples": int(totals["samples"]),
        "operation": operation,
        "client_seconds": float(timing_df["client_seconds"].sum()),
        "wall_seconds": float(timing_df["round_seconds"].sum()),
        "partition": partition.kind,
        "heterogeneity": partition.heterogeneity(),
        "config": config.as_dict(),
    }
    return FederatedRun(history, timing_df, state.params, summary)


def centralised_sgd(
    model,
    train: Split,
    test: Split,
    *,
    steps: int,
    batch_size: int,
    schedule: StepSchedule,
    seed: int,
    eval_every_steps: int,
    clip_grad_norm: float | None = None,
    max_dw_norm: float | None = None,
    bumping: Any = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> FederatedRun:
    """Plain minibatch SGD on all of ``train``: FedAvg with one client and a lossless wire.

    ``steps`` must be a multiple of ``eval_every_steps``; rows every ``eval_every_steps`` steps
    (its ``round`` column counts those blocks). Minibatches are drawn i.i.d. with replacement,
    step t uses ``schedule.step_size(t, eval_every_steps)``. With ``eval_every_steps = 1`` this
    is exactly the t-th step of FedAvg with one client and E = 1 (same seed, same draws).
    """
    steps = check_int("steps", steps, low=1)
    every = check_int("eval_every_steps", eval_every_steps, low=1)
    if steps % every:
        raise ValueError(f"steps ({steps}) must be a multiple of eval_every_steps ({every})")
    one = Partition((np.arange(train.n_samples),), train.y, int(max(train.y.max(), test.y.max())) + 1, "central")
    config = FederatedConfig(rounds=steps // every, local_steps=every, batch_size=batch_size, schedule=schedule,
                             compressor="none64", wire_bits=64, seed=seed, clip_grad_norm=clip_grad_norm,
                             max_dw_norm=max_dw_norm, bumping=bumping)
    return run_federated(model, train, test, one, config, progress=progress)
