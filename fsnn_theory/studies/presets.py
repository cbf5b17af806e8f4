"""Federated runs described by one JSON-serialisable dict (what experiments cache and the CLI builds).

A *run spec* is a flat dict; :func:`run_spec` builds the data set, model, partition and
:class:`~fsnn_theory.federated.algorithms.FederatedConfig` from it and runs it. Keys (defaults in
``DEFAULT_SPEC``):

``dataset`` ("yin-yang" | "digits"), ``train_size``, ``test_size`` (Yin-Yang prefix sizes of the
standard splits), ``model`` ("snn" | "logreg"), ``hidden``, ``l2`` (logreg), ``clients``,
``partition`` ("iid" | "dirichlet" | "shards" | "powerlaw" | "central"), ``alpha``,
``shards_per_client``, ``exponent``, ``rounds``, ``local_steps``, ``batch_size``, ``algorithm``,
``prox_mu``, ``scheme``, ``clients_per_round``, ``dropout``, ``compressor``, ``schedule``, ``lr``,
``decay``, ``max_dw_norm``, ``bumping`` (bool: Göltz weight bumping, spiking model only),
``eval_every``, ``seed``.

``partition = "central"`` runs centralised SGD (one client holding everything, lossless wire)
for ``rounds`` blocks of ``local_steps`` steps: with ``local_steps = clients * E`` it processes
the same number of samples as ``clients`` clients doing E steps each per round.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fsnn_theory.data import Dataset, digits_dataset, yin_yang_dataset
from fsnn_theory.federated.algorithms import FederatedConfig, FederatedRun, StepSchedule, centralised_sgd, run_federated
from fsnn_theory.federated.logreg import LogisticRegressionModel, SpikeTimeFeatures, spike_feature_dataset
from fsnn_theory.federated.partition import make_partition

__all__ = ["DEFAULT_SPEC", "build_model_and_data", "run_spec"]

DEFAULT_SPEC: dict[str, Any] = {
    "dataset": "yin-yang", "train_size": 5000, "test_size": 1000, "model": "snn", "hidden": 120, "l2": 1e-3,
    "clients": 10, "partition": "iid", "alpha": 0.5, "shards_per_client": 2, "exponent": 1.0,
    "rounds": 100, "local_steps": 5, "batch_size": 32, "algorithm": "fedavg", "prox_mu": 0.01,
    "scheme": "full", "clients_per_round": None, "dropout": 0.0, "compressor": "none",
    "schedule": "constant", "lr": 0.5, "decay": 1.0, "max_dw_norm": 0.2, "bumping": True,
    "eval_every": 10, "seed": 0,
}


@lru_cache(maxsize=8)
def _data(dataset: str, train_size: int, test_size: int, seed: int) -> Dataset:
    if dataset == "yin-yang":
        return yin_yang_dataset(train_size=train_size, validation_size=10, test_size=test_size)
    if dataset == "digits":
        return digits_dataset(seed=seed)
    raise ValueError(f"dataset must be 'yin-yang' or 'digits', got {dataset!r}")


def build_model_and_data(spec: dict[str, Any]):
    """(model, dataset) of a run spec (the logreg model's dataset holds spike-time features)."""
    s = {**DEFAULT_SPEC, **spec}
    ds = _data(s["dataset"], s["train_size"], s["test_size"], s["seed"])
    if s["model"] == "snn":
        from fsnn_theory.network import digits_classifier, yin_yang_classifier

        build = yin_yang_classifier if s["dataset"] == "yin-yang" else digits_classifier
        return build(s["hidden"]), ds
    if s["model"] == "logreg":
        feats = SpikeTimeFeatures(ds.n_features, n_hidden=s["hidden"],
                                  encoding="goltz" if s["dataset"] == "yin-yang" else "latency", seed=s["seed"])
        fds = spike_feature_dataset(ds, feats)
        return LogisticRegressionModel(feats.n_hidden, ds.n_classes, l2=s["l2"]), fds
    raise ValueError(f"model must be 'snn' or 'logreg', got {s['model']!r}")


def run_spec(spec: dict[str, Any], progress=None) -> FederatedRun:
    """Run the federated (or centralised) training a spec describes. See the module docstring."""
    s = {**DEFAULT_SPEC, **spec}
    unknown = set(spec) - set(DEFAULT_SPEC)
    if unknown:
        raise ValueError(f"unknown run-spec keys {sorted(unknown)}; known: {sorted(DEFAULT_SPEC)}")
    model, ds = build_model_and_data(s)
    spiking = s["model"] == "snn"
    L = mu = None
    if not spiking:
        L, mu = model.smoothness(ds.train.X), model.strong_convexity()
    schedule = StepSchedule(s["schedule"], s["lr"], s["decay"], L=L, mu=mu)
    guard = s["max_dw_norm"] if spiking else None
    bumping = None
    if spiking and s["bumping"]:
        from fsnn_theory.training import WeightBumping

        bumping = WeightBumping()
    if s["partition"] == "central":
        return centralised_sgd(model, ds.train, ds.test, steps=s["rounds"] * s["local_steps"],
                               batch_size=s["batch_size"], schedule=schedule, seed=s["seed"],
                               eval_every_steps=s["local_steps"] * s["eval_every"], max_dw_norm=guard,
                               bumping=bumping, progress=progress)
    part = make_partition(s["partition"], ds.train.y, s["clients"], s["seed"], alpha=s["alpha"],
                          shards_per_client=s["shards_per_client"], exponent=s["exponent"])
    config = FederatedConfig(
        rounds=s["rounds"], algorithm=s["algorithm"], local_steps=s["local_steps"], batch_size=s["batch_size"],
        schedule=schedule, prox_mu=s["prox_mu"], scheme=s["scheme"], clients_per_round=s["clients_per_round"],
        dropout=s["dropout"], compressor=s["compressor"], eval_every=s["eval_every"], seed=s["seed"],
        max_dw_norm=guard, bumping=bumping,
    )
    return run_federated(model, ds.train, ds.test, part, config, progress=progress)


def spec_history(spec: dict[str, Any], label: str, progress=None) -> "pd.DataFrame":
    """History of :func:`run_spec` with ``label`` and the round on the federated scale.

    For ``partition = "central"`` the rows come every ``local_steps * eval_every`` steps; their
    ``round`` is rescaled by ``eval_every`` so that it lines up with a federated run of the same
    spec (same samples per round when ``local_steps = clients * E``).
    """
    import pandas as pd  # noqa: F401 (type of the return value)

    s = {**DEFAULT_SPEC, **spec}
    hist = run_spec(spec, progress=progress).history.copy()
    if s["partition"] == "central":
        hist["round"] = hist["round"] * s["eval_every"]
    hist.insert(0, "label", label)
    return hist


def run_variants(ctx, base: dict[str, Any], variants: list[tuple[str, dict[str, Any]]]) -> "pd.DataFrame":
    """One cached chunk per (label, overrides) variant of ``base``; their histories stacked.

    ``ctx`` is the experiment's `fsnn_theory.context.RunContext`: the variants are declared as
    independent chunks (``ctx.map``, keyed by label), so the runner schedules them and a killed
    sweep resumes. Labels must be unique and file-name safe.
    """
    import pandas as pd

    specs = {label: {**base, **overrides} for label, overrides in variants}
    if len(specs) != len(variants):
        raise ValueError(f"variants: labels must be unique; got {[label for label, _ in variants]}")
    frames = ctx.map(lambda label: spec_history(specs[label], label), specs, desc="runs")
    for label, frame in zip(specs, frames):
        last = frame.iloc[-1]
        ctx.log(f"{label}: round {int(last['round'])}, test accuracy {last['test_accuracy']:.4f}, "
                f"uplink {int(last['cum_uplink_bits'])} bits")
    return pd.concat(frames, ignore_index=True)
