"""Measured density of spike-causal updates of a federated spiking network on Yin-Yang.

A time-to-first-spike weight w_ij has zero gradient on a sample unless input i spiked before
neuron j and j spiked; a client's update over a round is therefore supported on the union of these
causal sets over the samples it saw. Measured here: the fraction of the d weights in that union
(the entries the spike-causal compressor sends), per round, for local batches of B ∈ {1, 4, 16, 64}
samples (E = 1 step per round, 10 clients, FedAvg, IID), together with the per-sample density at
the initial and at the final model. Quick mode: 600 samples, 5 clients, 40 hidden neurons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAME = "causal_density"
TITLE = "Density of spike-causal updates vs local batch size (federated SNN, Yin-Yang)"

BATCHES = (1, 4, 16, 64)


def config(mode: str) -> dict:
    if mode == "full":
        base = {"train_size": 5000, "test_size": 1000, "hidden": 120, "clients": 10, "rounds": 200,
                "local_steps": 1, "eval_every": 10, "lr": 0.5, "seed": 0, "compressor": "causal"}
    else:
        base = {"train_size": 600, "test_size": 300, "hidden": 40, "clients": 5, "rounds": 20,
                "local_steps": 1, "eval_every": 5, "lr": 0.5, "seed": 0, "compressor": "causal"}
    return {"base": base, "batches": list(BATCHES), "per_sample_probe": 200}


def _per_sample_density(model, params, X, y) -> float:
    return float(np.mean([model.gradient_support(params, X[i : i + 1], y[i : i + 1]).mean() for i in range(len(y))]))


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.presets import build_model_and_data, run_spec

    model, ds = build_model_and_data(config["base"])
    n_probe = config["per_sample_probe"]
    Xp, yp = ds.test.X[:n_probe], ds.test.y[:n_probe]
    batches = {f"B{B}": B for B in config["batches"]}

    def one(key: str) -> pd.DataFrame:
        B = batches[key]
        result = run_spec({**config["base"], "batch_size": B})
        hist = result.history.copy()
        hist.insert(0, "label", key)
        hist.insert(1, "batch_size", B)
        hist["per_sample_density_final"] = _per_sample_density(model, result.params, Xp, yp)
        return hist

    frames = ctx.map(one, batches, desc="batch sizes")
    data = pd.concat(frames, ignore_index=True)
    data["per_sample_density_initial"] = _per_sample_density(model, model.init_params(config["base"]["seed"]), Xp, yp)
    for B, g in data[data["round"] > 0].groupby("batch_size"):
        ctx.log(f"B = {B}: mean update density {g['update_density'].mean():.3f}, "
                f"final accuracy {g['test_accuracy'].iloc[-1]:.3f}")
    return data


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    rounds = data[data["round"] > 0]
    for B, g in rounds.groupby("batch_size"):
        axes[0].plot(g["round"], g["update_density"], marker=".", label=f"B = {B}")
    axes[0].axhline(data["per_sample_density_initial"].iloc[0], color="k", ls=":", label="one sample, initial model")
    axes[0].set(xlabel="round", ylabel="fraction of weights sent", ylim=(0, 1.02))
    axes[0].legend(fontsize=7)
    mean = rounds.groupby("batch_size")["update_density"].mean()
    axes[1].semilogx(mean.index, mean.values, marker="o", label="round update (union over the batch)")
    final = rounds.groupby("batch_size")["per_sample_density_final"].first()
    axes[1].semilogx(final.index, final.values, "k:", label="one sample, final model")
    axes[1].set(xlabel="local batch size B", ylabel="mean density", ylim=(0, 1.02))
    axes[1].legend(fontsize=7)
    fig.suptitle(TITLE, fontsize=9)
    fig.tight_layout()
    return fig


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    r"""Mean fraction of weights a spike-causal update sends per batch size B (``\CausalUpdateDensityB<B>``),
    the per-sample density of the initial and final model, and the swept B (``\CausalBatch<B>``)."""
    from fsnn_theory.numbers import NumberSheet, rows, spelled

    sheet = NumberSheet(NAME, data)

    def update_density(B: int) -> float:  # mean over rounds after round 0
        sel = rows(data, NAME, batch_size=B)
        return float(sel.loc[sel["round"] > 0, "update_density"].mean())

    for B in BATCHES:
        sheet.add(f"CausalUpdateDensityB{spelled(B)}", lambda: update_density(B), "percent",
                  f"B = {B}: mean fraction of weights sent per round (%)")
    for which, name in (("initial", "Initial"), ("final", "Final")):
        sheet.add(f"CausalPerSampleDensity{name}",
                  lambda: float(data.groupby("batch_size")[f"per_sample_density_{which}"].first().mean()),
                  "percent", f"one sample, {which} model: causal density (%)")
    for B in BATCHES:
        sheet.add(f"CausalBatch{spelled(B)}", lambda: B, "plain", f"local batch size B = {B} of the sweep")
    return sheet.result()
