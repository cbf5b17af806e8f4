"""Federated training over the flat-parameter model protocol: partitions, algorithms, compression, accounting.

Submodules:

* `partition`   — IID, Dirichlet(α), shards, power-law partitions and their heterogeneity.
* `compressors` — none / QSGD / top-k / random-k / int8 / spike-causal uplink compressors with exact bit counts.
* `algorithms`  — FedAvg, FedProx, SCAFFOLD with participation schemes, dropouts, step-size schedules.
* `accounting`  — bits, synaptic events and energy (Horowitz 2014).
* `logreg`      — the convex model: logistic regression on fixed spike-time features, with L and μ.

The model protocol (what a model must offer; flat float64 parameter vector of length ``n_params``)::

    n_params: int; n_classes: int
    init_params(seed) -> (n_params,)
    loss(params, X, y) -> float                      mean loss over the batch
    loss_and_grad(params, X, y) -> (float, (n_params,))
    predict(params, X) -> (n,) int; accuracy(params, X, y) -> float
    synops(params, X) -> (n,)                        inference events per sample (MACs for a dense model)
    gradient_support(params, X, y) -> (n_params,) bool

Written down as the typed protocol `algorithms.FederatedModel`; `algorithms.BatchedModel` (all
clients' gradients in one call: `LogisticRegressionModel`) and `algorithms.SpikingModel` (events
and spike-causal support from the training forward pass: `fsnn_theory.network.SNNClassifier`)
select the fast paths. `run_federated` is a thin loop over the pure `round_step(state, federation)`.
"""

from __future__ import annotations

from fsnn_theory.federated.accounting import (
    ENERGY_PER_MAC_PJ,
    ENERGY_PER_SYNOP_PJ,
    downlink_bits,
    energy_joules,
    energy_per_operation_pj,
    training_events,
)
from fsnn_theory.federated.algorithms import (
    ALGORITHMS,
    HISTORY_COLUMNS,
    SCHEDULES,
    SCHEMES,
    STREAM_BATCH,
    STREAM_CONTROL,
    STREAM_DROPOUT,
    STREAM_SAMPLING,
    STREAM_UPLINK,
    BatchedModel,
    FedAvg,
    FederatedConfig,
    FederatedModel,
    FederatedRun,
    FederatedState,
    Federation,
    FedProx,
    RoundReport,
    Scaffold,
    SpikingModel,
    StepSchedule,
    account,
    centralised_sgd,
    initial_state,
    make_algorithm,
    prepare,
    round_step,
    run_federated,
    select_clients,
    stream_rng,
)
from fsnn_theory.federated.compressors import (
    COMPRESSOR_FORMS,
    QSGD,
    Compressor,
    Dense,
    Int8,
    Message,
    RandomK,
    SpikeCausal,
    TopK,
    causal_message_bits,
    elias_omega_decode,
    elias_omega_encode,
    elias_omega_length,
    error_feedback_step,
    parse_compressor,
    qsgd_decode,
    qsgd_encode,
    qsgd_levels,
    qsgd_message_bits,
    sparse_index_bits,
)
from fsnn_theory.federated.logreg import (
    LogisticRegressionModel,
    SpikeTimeFeatures,
    smoothness_constant,
    spike_feature_dataset,
)
from fsnn_theory.federated.partition import (
    PARTITION_KINDS,
    Partition,
    dirichlet_partition,
    gini_coefficient,
    iid_partition,
    label_tv_distances,
    make_partition,
    parse_partition,
    PartitionSpec,
    powerlaw_partition,
    shards_partition,
)

__all__ = [
    "ALGORITHMS", "SCHEMES", "SCHEDULES", "PARTITION_KINDS", "COMPRESSOR_FORMS", "HISTORY_COLUMNS",
    "STREAM_SAMPLING", "STREAM_DROPOUT", "STREAM_BATCH", "STREAM_UPLINK", "STREAM_CONTROL",
    "ENERGY_PER_SYNOP_PJ", "ENERGY_PER_MAC_PJ",
    "Partition", "iid_partition", "dirichlet_partition", "shards_partition", "powerlaw_partition",
    "make_partition", "PartitionSpec", "parse_partition", "label_tv_distances", "gini_coefficient",
    "Compressor", "Message", "Dense", "QSGD", "TopK", "RandomK", "Int8", "SpikeCausal", "parse_compressor",
    "elias_omega_length", "elias_omega_encode", "elias_omega_decode", "qsgd_levels", "qsgd_encode",
    "qsgd_decode", "qsgd_message_bits", "sparse_index_bits", "causal_message_bits", "error_feedback_step",
    "StepSchedule", "FederatedConfig", "FederatedRun", "run_federated", "centralised_sgd", "select_clients",
    "stream_rng", "FederatedModel", "BatchedModel", "SpikingModel", "FedAvg", "FedProx", "Scaffold",
    "make_algorithm", "FederatedState", "Federation", "RoundReport", "prepare", "initial_state", "round_step",
    "account",
    "energy_per_operation_pj", "energy_joules", "training_events", "downlink_bits",
    "LogisticRegressionModel", "SpikeTimeFeatures", "spike_feature_dataset", "smoothness_constant",
]
