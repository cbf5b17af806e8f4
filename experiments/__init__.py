"""One module per paper figure, registered here in paper order.

Each module defines ``NAME`` (== module name), ``TITLE``, ``config(mode)``, ``run(config, ctx)`` and
``plot(data, config)``, optionally ``REQUIRES`` (experiments whose artefacts it reads; they run
first) and ``SOURCE_FILES`` (globs of files it reads besides its imports); see
`fsnn_theory.experiment` for the contract and `fsnn_theory.context.RunContext` for what ``ctx``
offers (``ctx.map`` for independent chunks, ``ctx.artefact`` / ``ctx.load_artefact``).

This package is the registry, not code the experiments use: editing it makes no experiment stale.

To add an experiment: write ``experiments/<name>.py`` and append ``"<name>"`` to
``EXPERIMENT_NAMES`` below (the position is its place in the paper). List only modules that exist.
Experiment modules are imported when this package is imported (e.g. by ``fsnn list``), so keep
heavy imports (Brian2) inside ``run()``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fsnn_theory.context import check_experiment_module

__all__ = ["EXPERIMENT_NAMES", "REGISTRY", "UnknownExperimentError", "get", "names"]

# Paper order.
EXPERIMENT_NAMES: tuple[str, ...] = (
    "spike_time_precision",
    "yin_yang_training",
    "digits_training",
    "decision_regions",
    "spike_raster",
    "energy_per_inference",
    "regularity_check",
    "federated_ttfs_check",
    "whole_run_convergence",
    "spike_causal_density",
    "proof_checks",
    "federated_heterogeneity",
    "federated_local_steps",
    "compression_tradeoff",
    "dropout_robustness",
    "causal_density",
    "energy_to_accuracy",
    "verify_strongly_convex",
    "rounds_vs_local_steps",
    "verify_nonconvex",
    "verify_compression",
)


class UnknownExperimentError(ValueError):
    """An experiment name that is not registered; the message lists the registered ones."""


def _load(names: tuple[str, ...]) -> dict[str, ModuleType]:
    registry: dict[str, ModuleType] = {}
    for name in names:
        module = check_experiment_module(importlib.import_module(f"{__name__}.{name}"))
        if module.NAME != name:
            raise TypeError(
                f"experiments.{name}: NAME must equal the module name, got {module.NAME!r}"
            )
        registry[name] = module
    return registry


REGISTRY: dict[str, ModuleType] = _load(EXPERIMENT_NAMES)


def names() -> list[str]:
    """Registered experiment names in paper order."""
    return list(REGISTRY)


def get(name: str) -> ModuleType:
    """The module registered as ``name``; else `UnknownExperimentError` listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY) or "(none registered)"
        raise UnknownExperimentError(
            f"unknown experiment {name!r}; known experiments: {known}"
        ) from None
