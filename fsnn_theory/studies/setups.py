"""One place for set-ups: data sets, networks, training and federated recipes.

Used by ``fsnn train``, ``fsnn federate``, the experiments and the studies (`presets`), so a
recipe tuned for the paper is the recipe the CLI runs by default.

* :func:`load_dataset`, :func:`make_classifier` — the two data sets (Yin-Yang, 8x8 digits) and
  their time-to-first-spike networks;
* :func:`default_training_config`, :func:`recipe`, :func:`run_recipe` — centralised training
  (Göltz et al. 2021, their ``yin_yang.yaml``; see :func:`default_training_config`);
* ``RUN_SPEC_DEFAULTS``, :func:`federated_recipe`, :func:`build_model_and_data`,
  :func:`federated_schedule`, :func:`spiking_guards` — federated runs described by a flat run
  spec (`fsnn_theory.studies.presets`), with the tuned FedAvg recipe of the paper
  (``experiments/federated_heterogeneity.py``), cut to 150 rounds, as the default of ``fsnn federate``.

Partitions are named by one spec string (``"iid"``, ``"dirichlet:0.5"``, ``"shards:2"``,
``"powerlaw:1"``; `fsnn_theory.federated.partition.parse_partition`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from fsnn_theory._validation import check_choice, check_int
from fsnn_theory.data import Dataset, Split, digits_dataset, yin_yang_dataset
from fsnn_theory.federated.algorithms import StepSchedule
from fsnn_theory.federated.logreg import LogisticRegressionModel, SpikeTimeFeatures, spike_feature_dataset
from fsnn_theory.network import SNNClassifier, digits_classifier, yin_yang_classifier
from fsnn_theory.neurons import MODEL_NAMES
from fsnn_theory.training import (
    EarlyStopping,
    OptimizerConfig,
    StepDecay,
    TrainingConfig,
    TrainingResult,
    WeightBumping,
    train,
)

__all__ = [
    "DATASET_NAMES",
    "DEFAULT_HIDDEN",
    "DEFAULT_EPOCHS",
    "DEFAULT_INPUT_NOISE",
    "load_dataset",
    "make_classifier",
    "default_training_config",
    "RECIPE_KEYS",
    "recipe",
    "run_recipe",
    "RUN_SPEC_DEFAULTS",
    "ROUND_DECAY",
    "YIN_YANG_FEDAVG",
    "FEDERATE_ROUNDS",
    "FEDERATE_ROUND_DECAY",
    "FEDERATED_RECIPES",
    "federated_recipe",
    "build_model_and_data",
    "federated_schedule",
    "spiking_guards",
]

# --------------------------------------------------------------------------------------------
# Data sets and networks
# --------------------------------------------------------------------------------------------

DATASET_NAMES = ("yin-yang", "digits")
DEFAULT_HIDDEN = {"yin-yang": (120,), "digits": (100,)}
DEFAULT_EPOCHS = {"yin-yang": 300, "digits": 150}
DEFAULT_INPUT_NOISE = {"yin-yang": 0.0, "digits": 0.2}


def load_dataset(name: str, *, train_size: int | None = None, seed: int = 0, test_size: int | None = None,
                 validation_size: int | None = None) -> Dataset:
    """``"yin-yang"``: the standard splits 5000/1000/1000 (seeds 42/41/40; ``train_size``,
    ``validation_size``, ``test_size`` take prefixes of the splits); ``"digits"``: scikit-learn's
    8x8 digits, stratified 1078/270/449 split with ``seed`` (``train_size`` takes the first
    training samples; the other sizes are fixed)."""
    check_choice("dataset", name, DATASET_NAMES)
    if name == "yin-yang":
        sizes = {"train_size": 5000 if train_size is None else check_int("train_size", train_size, low=1)}
        if validation_size is not None:
            sizes["validation_size"] = check_int("validation_size", validation_size, low=1)
        if test_size is not None:
            sizes["test_size"] = check_int("test_size", test_size, low=1)
        return yin_yang_dataset(**sizes)
    ds = digits_dataset(seed=check_int("seed", seed, low=0))
    if train_size is None:
        return ds
    size = check_int("train_size", train_size, low=1, high=ds.train.n_samples)
    return Dataset(ds.name, Split(ds.train.X[:size], ds.train.y[:size]), ds.validation, ds.test,
                   ds.n_classes, ds.feature_range, ds.class_names)


def make_classifier(
    dataset: str,
    hidden: int | tuple[int, ...] | None = None,
    model: str = "lif",
    *,
    tau_m: float | None = None,
    tau_s: float = 1.0,
) -> SNNClassifier:
    """The network used for ``dataset`` (`fsnn_theory.network.yin_yang_classifier` /
    `digits_classifier`); ``hidden`` = hidden layer size(s) (default 120 / 100), ``model`` in
    {"lif", "nlif"} (LIF default tau_m = 2 tau_s)."""
    check_choice("dataset", dataset, DATASET_NAMES)
    check_choice("model", model, MODEL_NAMES)
    hidden = DEFAULT_HIDDEN[dataset] if hidden is None else hidden
    hidden_t = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    hidden_t = tuple(check_int(f"hidden[{i}]", h, low=1) for i, h in enumerate(hidden_t))
    build = yin_yang_classifier if dataset == "yin-yang" else digits_classifier
    return build(hidden_t, model, tau_s=tau_s, tau_m=tau_m)


# --------------------------------------------------------------------------------------------
# Centralised training recipes
# --------------------------------------------------------------------------------------------


def default_training_config(
    dataset: str,
    *,
    epochs: int | None = None,
    seed: int = 0,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    batch_size: int | None = None,
    patience: int | None = None,
    input_noise: float | None = None,
) -> TrainingConfig:
    """The training recipe for ``dataset``.

    Both follow Göltz et al. 2021 (their ``yin_yang.yaml``): Adam lr 0.005, batch 150, lr x0.95
    every 20 epochs, per-spike gradient guard 0.2, weight bumping 0.0005 (their units) when more
    than 30 % of the hidden (sample, neuron) pairs are silent or any output is silent; 300 epochs
    for Yin-Yang, 150 for digits. One deliberate change: an output counts as silent for bumping
    only if it is the sample's label neuron (``output_rule="label"``; silent wrong-class outputs
    are what the cross-entropy asks for, and bumping them skipped most gradient steps).
    Digits also get Göltz et al.'s MNIST regulariser, Gaussian jitter of the training input spike
    times (``input_noise``, default 0.2 ms = 0.2 tau_s for digits, 0 for Yin-Yang).
    """
    check_choice("dataset", dataset, DATASET_NAMES)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    lr = 0.005 if learning_rate is None else learning_rate
    bs = 150 if batch_size is None else batch_size
    return TrainingConfig(
        epochs=epochs,
        batch_size=bs,
        seed=seed,
        optimizer=OptimizerConfig(optimizer, lr),
        schedule=StepDecay(20, 0.95),
        bumping=WeightBumping(output_rule="label"),
        early_stopping=EarlyStopping(patience),
        max_dw_norm=0.2,
        eval_batch=250,
        input_noise=DEFAULT_INPUT_NOISE[dataset] if input_noise is None else input_noise,
    )


RECIPE_KEYS = (
    "dataset", "train_size", "hidden", "model", "tau_m", "tau_s",
    "epochs", "batch_size", "optimizer", "learning_rate", "patience", "input_noise",
)


def recipe(dataset: str, mode: str = "full", **overrides) -> dict:
    """A JSON-serialisable training recipe for ``dataset`` in experiment ``mode``.

    ``"full"``: the paper sizes (`default_training_config`, all training data, default hidden
    size); ``"quick"``: a small run of a few seconds (fewer training samples, hidden units and
    epochs, a larger learning rate). ``overrides`` replace single keys (`RECIPE_KEYS`).
    """
    check_choice("dataset", dataset, DATASET_NAMES)
    check_choice("mode", mode, ("quick", "full"))
    if mode == "full":
        rec = {
            "dataset": dataset, "train_size": None, "hidden": list(DEFAULT_HIDDEN[dataset]), "model": "lif",
            "tau_m": None, "tau_s": 1.0, "epochs": DEFAULT_EPOCHS[dataset], "batch_size": 150,
            "optimizer": "adam", "learning_rate": 0.005, "patience": None,
            "input_noise": DEFAULT_INPUT_NOISE[dataset],
        }
    else:
        rec = {
            "dataset": dataset, "train_size": 1000 if dataset == "yin-yang" else None,
            "hidden": [40], "model": "lif", "tau_m": None, "tau_s": 1.0,
            "epochs": 20 if dataset == "yin-yang" else 10, "batch_size": 50,
            "optimizer": "adam", "learning_rate": 0.01, "patience": None,
            "input_noise": DEFAULT_INPUT_NOISE[dataset],
        }
    unknown = set(overrides) - set(RECIPE_KEYS)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; allowed: {', '.join(RECIPE_KEYS)}")
    rec.update(overrides)
    return rec


def run_recipe(rec: dict, seed: int) -> tuple[SNNClassifier, Dataset, TrainingResult]:
    """Build the data set, network and configuration of ``rec`` and train with ``seed``."""
    missing = [k for k in RECIPE_KEYS if k not in rec]
    if missing:
        raise ValueError(f"recipe lacks keys {missing}; needs: {', '.join(RECIPE_KEYS)}")
    dataset = load_dataset(rec["dataset"], train_size=rec["train_size"])
    model = make_classifier(rec["dataset"], tuple(rec["hidden"]), rec["model"], tau_m=rec["tau_m"], tau_s=rec["tau_s"])
    config = default_training_config(
        rec["dataset"], epochs=rec["epochs"], seed=seed, optimizer=rec["optimizer"],
        learning_rate=rec["learning_rate"], batch_size=rec["batch_size"], patience=rec["patience"],
        input_noise=rec["input_noise"],
    )
    return model, dataset, train(model, dataset, config)


# --------------------------------------------------------------------------------------------
# Federated set-ups (run specs; see fsnn_theory.studies.presets)
# --------------------------------------------------------------------------------------------

#: Keys and defaults of a federated run spec. ``partition``: a partition spec string or
#: ``"central"`` (centralised SGD, see `presets`); ``hidden`` = hidden neurons (snn) or random
#: spike-time features (logreg); ``local_epochs`` (instead of ``local_steps``, which it
#: overrides); ``schedule`` in {"constant", "inverse", "li2020"} with ``lr`` = η0 (``None``: 1/L
#: for the convex model) and ``decay`` = β per SGD step; ``clip``: gradient-norm cap or ``None``;
#: ``max_dw_norm`` (``None``/0 = off) and ``bumping`` apply to the spiking model.
RUN_SPEC_DEFAULTS: dict[str, Any] = {
    "dataset": "yin-yang", "train_size": 5000, "test_size": 1000, "model": "snn", "hidden": 120, "l2": 1e-3,
    "clients": 10, "partition": "iid",
    "rounds": 100, "local_steps": 5, "local_epochs": None, "batch_size": 32, "algorithm": "fedavg",
    "prox_mu": 0.01, "scheme": "full", "clients_per_round": None, "dropout": 0.0, "compressor": "none",
    "schedule": "constant", "lr": 0.5, "decay": 1.0, "clip": None, "max_dw_norm": 0.2, "bumping": True,
    "eval_every": 10, "seed": 0,
}

#: FedAvg recipe of the paper on Yin-Yang (experiments/federated_heterogeneity.py, full mode):
#: 10 clients, E = 10 local SGD steps of batch 32, η = η0/(1 + β r) at round r with η0 = 16 and
#: β = ``ROUND_DECAY`` = 0.01 (spec ``decay`` = β / E per step), 120 hidden neurons, Göltz et al.'s
#: guard 0.2 and weight bumping, 400 rounds (96.0 % test accuracy on seed 0).
ROUND_DECAY = 0.01
YIN_YANG_FEDAVG = {
    "hidden": 120, "clients": 10, "local_steps": 10, "batch_size": 32, "schedule": "inverse",
    "lr": 16.0, "decay": ROUND_DECAY / 10, "rounds": 400, "max_dw_norm": 0.2, "bumping": True,
}

#: ``fsnn federate`` default: the same recipe cut to 150 rounds with a ten times faster decay
#: per round, β = 0.1, so that η has fallen to η0/16 = 1 at the last round instead of still
#: swinging the accuracy by ±3 points. Measured (IID Yin-Yang, 10 clients, seeds 0/1/2): 94.8 /
#: 94.7 / 95.1 % at round 150, about 24 s of CPU per run (the paper's 400 rounds: about 80 s).
FEDERATE_ROUNDS = 150
FEDERATE_ROUND_DECAY = 0.1

FEDERATED_RECIPES: dict[str, dict[str, Any]] = {
    "yin-yang": YIN_YANG_FEDAVG,
    # the same recipe shape on the 64-100-10 digits network (not tuned separately)
    "digits": {**YIN_YANG_FEDAVG, "hidden": 100},
}


def federated_recipe(dataset: str, *, cli: bool = True) -> dict[str, Any]:
    """A complete run spec: ``RUN_SPEC_DEFAULTS`` with the tuned FedAvg recipe of ``dataset``.

    ``cli``: the ``fsnn federate`` default (``FEDERATE_ROUNDS`` rounds, per-round decay
    ``FEDERATE_ROUND_DECAY``); else the paper's recipe as it stands (400 rounds, decay 0.01).
    """
    check_choice("dataset", dataset, DATASET_NAMES)
    spec = {**RUN_SPEC_DEFAULTS, "dataset": dataset, **FEDERATED_RECIPES[dataset]}
    if cli:
        spec["rounds"] = FEDERATE_ROUNDS
        spec["decay"] = FEDERATE_ROUND_DECAY / spec["local_steps"]
    return spec


@lru_cache(maxsize=8)
def _data(dataset: str, train_size: int, test_size: int, seed: int) -> Dataset:
    if dataset == "yin-yang":
        return load_dataset("yin-yang", train_size=train_size, validation_size=10, test_size=test_size)
    return load_dataset(dataset, seed=seed)


def build_model_and_data(spec: dict[str, Any]):
    """(model, dataset) of a run spec (the logreg model's dataset holds spike-time features).

    Yin-Yang: ``train_size`` / ``test_size`` prefixes of the standard splits (validation: 10
    samples, unused); digits: the stratified split with the spec's ``seed`` (sizes fixed).
    """
    s = {**RUN_SPEC_DEFAULTS, **spec}
    check_choice("dataset", s["dataset"], DATASET_NAMES)
    ds = _data(s["dataset"], s["train_size"], s["test_size"], s["seed"])
    if s["model"] == "snn":
        return make_classifier(s["dataset"], s["hidden"]), ds
    if s["model"] == "logreg":
        return convex_model_and_data(ds, s["hidden"], s["l2"], s["seed"],
                                     encoding="goltz" if s["dataset"] == "yin-yang" else "latency")
    raise ValueError(f"model must be 'snn' or 'logreg', got {s['model']!r}")


def convex_model_and_data(ds: Dataset, hidden: int, l2: float, feature_seed: int,
                          encoding: str = "goltz") -> tuple[LogisticRegressionModel, Dataset]:
    """The strongly convex model of the project: multinomial logistic regression with L2 penalty
    ``l2`` on the first-spike times of a fixed random spiking layer of ``hidden`` neurons
    (`fsnn_theory.federated.logreg`), and ``ds`` mapped to those spike-time features.

    The one set-up of the convex model: `build_model_and_data`, the bound verification and the
    constant estimation all build it here."""
    feats = SpikeTimeFeatures(ds.n_features, n_hidden=hidden, encoding=encoding, seed=feature_seed)
    return LogisticRegressionModel(feats.n_hidden, ds.n_classes, l2=l2), spike_feature_dataset(ds, feats)


def federated_schedule(spec: dict[str, Any], model, train: Split) -> StepSchedule:
    """The step-size schedule of a run spec; for the convex model with L and μ (li2020 needs them)."""
    s = {**RUN_SPEC_DEFAULTS, **spec}
    L = mu = None
    if s["model"] == "logreg":
        L, mu = model.smoothness(train.X), model.strong_convexity()
    elif s["schedule"] == "li2020":
        raise ValueError("schedule 'li2020' needs a strongly convex model (L and mu): use model 'logreg'")
    lr = s["lr"]
    if lr is None:
        if L is None:
            raise ValueError("lr (eta0 > 0) is required for the spiking model; 1/L is the convex model's default")
        lr = 1.0 / L
    return StepSchedule(s["schedule"], lr, s["decay"], L=L, mu=mu)


def spiking_guards(spec: dict[str, Any]) -> tuple[float | None, WeightBumping | None]:
    """(per-spike gradient guard, weight bumping) of a run spec: Göltz et al.'s, for the spiking model only."""
    s = {**RUN_SPEC_DEFAULTS, **spec}
    if s["model"] != "snn":
        return None, None
    return (s["max_dw_norm"] or None), (WeightBumping() if s["bumping"] else None)
