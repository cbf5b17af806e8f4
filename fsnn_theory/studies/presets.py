"""Federated runs described by one JSON-serialisable dict (what experiments cache and the CLI builds).

A *run spec* is a flat dict; :func:`run_spec` builds the data set, model, partition and
:class:`~fsnn_theory.federated.algorithms.FederatedConfig` from it and runs it. Keys (defaults in
``DEFAULT_SPEC``):

``dataset`` ("yin-yang" | "digits"), ``train_size``, ``test_size`` (Yin-Yang prefix sizes of the
standard splits), ``model`` ("snn" | "logreg"), ``hidden``, ``l2`` (logreg), ``clients``,
``partition`` (a partition spec string, `fsnn_theory.federated.partition.parse_partition`:
"iid", "dirichlet:ALPHA", "shards:C", "powerlaw:BETA"; or "central"), ``rounds``, ``local_steps``, ``batch_size``, ``algorithm``,
``prox_mu``, ``scheme``, ``clients_per_round``, ``dropout``, ``compressor``, ``schedule``, ``lr``,
``decay``, ``max_dw_norm``, ``bumping`` (bool: Göltz weight bumping, spiking model only),
``eval_every``, ``seed``.

``partition = "central"`` runs centralised SGD (one client holding everything, lossless wire)
for ``rounds`` blocks of ``local_steps`` steps: with ``local_steps = clients * E`` it processes
the same number of samples as ``clients`` clients doing E steps each per round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fsnn_theory.federated.algorithms import FederatedConfig, FederatedRun, centralised_sgd, run_federated
from fsnn_theory.federated.partition import parse_partition
from fsnn_theory.studies.setups import RUN_SPEC_DEFAULTS, build_model_and_data, federated_schedule, spiking_guards

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_SPEC", "build_model_and_data", "build_run", "run_spec", "add_variant_columns", "spec_partition", "spec_history", "run_variants"]

#: The run-spec keys and defaults (`fsnn_theory.studies.setups.RUN_SPEC_DEFAULTS`).
DEFAULT_SPEC: dict[str, Any] = RUN_SPEC_DEFAULTS


def _full_spec(spec: dict[str, Any]) -> dict[str, Any]:
    unknown = set(spec) - set(DEFAULT_SPEC)
    if unknown:
        hint = ""
        if unknown & {"alpha", "shards_per_client", "exponent"}:
            hint = " (partition parameters go into the partition spec: 'dirichlet:0.5', 'shards:2', 'powerlaw:1')"
        raise ValueError(f"unknown run-spec keys {sorted(unknown)}; known: {sorted(DEFAULT_SPEC)}{hint}")
    return {**DEFAULT_SPEC, **spec}


def spec_partition(spec: dict[str, Any], labels):
    """The :class:`~fsnn_theory.federated.partition.Partition` of a (non-central) run spec."""
    s = _full_spec(spec)
    return parse_partition(s["partition"]).make(labels, s["clients"], s["seed"])


def build_run(spec: dict[str, Any]):
    """(model, dataset, partition, FederatedConfig) of a non-central run spec; ``ValueError`` for bad values."""
    s = _full_spec(spec)
    if s["partition"] == "central":
        raise ValueError("build_run: partition 'central' is centralised SGD (use run_spec)")
    model, ds = build_model_and_data(s)
    schedule = federated_schedule(s, model, ds.train)
    guard, bumping = spiking_guards(s)
    part = spec_partition(s, ds.train.y)
    epochs = s["local_epochs"]
    config = FederatedConfig(
        rounds=s["rounds"], algorithm=s["algorithm"], local_steps=s["local_steps"] if epochs is None else None,
        local_epochs=epochs, batch_size=s["batch_size"], schedule=schedule, prox_mu=s["prox_mu"],
        scheme=s["scheme"], clients_per_round=s["clients_per_round"], dropout=s["dropout"],
        compressor=s["compressor"], eval_every=s["eval_every"], seed=s["seed"], clip_grad_norm=s["clip"],
        max_dw_norm=guard, bumping=bumping,
    )
    return model, ds, part, config


def run_spec(spec: dict[str, Any], progress=None) -> FederatedRun:
    """Run the federated (or centralised) training a spec describes. See the module docstring."""
    s = _full_spec(spec)
    if s["partition"] == "central":
        model, ds = build_model_and_data(s)
        schedule = federated_schedule(s, model, ds.train)
        guard, bumping = spiking_guards(s)
        return centralised_sgd(model, ds.train, ds.test, steps=s["rounds"] * s["local_steps"],
                               batch_size=s["batch_size"], schedule=schedule, seed=s["seed"],
                               eval_every_steps=s["local_steps"] * s["eval_every"], clip_grad_norm=s["clip"],
                               max_dw_norm=guard, bumping=bumping, progress=progress)
    model, ds, part, config = build_run(s)
    return run_federated(model, ds.train, ds.test, part, config, progress=progress)


def spec_history(spec: dict[str, Any], label: str, progress=None) -> "pd.DataFrame":
    """History of :func:`run_spec` with ``label`` and the round on the federated scale.

    For ``partition = "central"`` the rows come every ``local_steps * eval_every`` steps; their
    ``round`` is rescaled by ``eval_every`` so that it lines up with a federated run of the same
    spec (same samples per round when ``local_steps = clients * E``).
    """
    s = _full_spec(spec)
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


def add_variant_columns(data: "pd.DataFrame", columns: dict[str, dict[str, Any]], names) -> "pd.DataFrame":
    """Append explicit per-variant columns ``names`` (in that order): ``columns[label][name]`` for
    every row of ``label``.

    Variants carry their parameters as data (never parsed back out of the label). Every label of
    ``data`` must be listed (the order is explicit because a stored config may sort dict keys).
    """
    missing = sorted(set(data["label"]) - set(columns))
    if missing:
        raise ValueError(f"columns lacks the variant labels {missing}")
    for name in names:
        data[name] = data["label"].map({label: cols[name] for label, cols in columns.items()})
    return data
