"""Spike raster of single Yin-Yang samples through the layers of the trained network.

The network of `yin_yang_training` (seed 0, same recipe); for the first test sample of each class
the figure shows every spike: the four input spikes and the bias spike, the hidden layer's first
spikes (neurons ordered by spike time) and the three output spikes, the earliest output being the
decision. Silent neurons have no dot (their count is in the panel title).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.yin_yang_training import trained_params

NAME = "spike_raster"
TITLE = "Yin-Yang: spike raster of one sample per class through the trained network"
REQUIRES = ("yin_yang_training",)  # its trained network (artefacts/network_seed0.npz)

LAYER_NAMES = ("input", "hidden", "output")


def config(mode: str) -> dict:
    from fsnn_theory.studies.setups import recipe

    return {"recipe": recipe("yin-yang", mode), "seed": 0}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.setups import load_dataset, make_classifier

    rec = config["recipe"]
    params = trained_params(ctx, "yin_yang_training", rec, config["seed"])
    model = make_classifier("yin-yang", tuple(rec["hidden"]), rec["model"], tau_m=rec["tau_m"], tau_s=rec["tau_s"])
    test = load_dataset("yin-yang").test
    picks = [int(np.flatnonzero(test.y == c)[0]) for c in range(3)]
    fwd = model.forward(params, test.X[picks])
    pred = model.predict(params, test.X[picks])
    net = model.network
    rows = []
    for k, idx in enumerate(picks):
        layers = [fwd.layer_inputs[0][k]] + [t[k] for t in fwd.spike_times]
        for layer, times in enumerate(layers):
            n_real = net.layer_sizes[layer]
            for neuron, t in enumerate(times):
                rows.append({
                    "sample": idx, "label": int(test.y[idx]), "prediction": int(pred[k]),
                    "layer": LAYER_NAMES[layer], "neuron": neuron, "is_bias": neuron >= n_real,
                    "time": float(t) if np.isfinite(t) else -1.0,  # -1: silent (no spike)
                })
    return pd.DataFrame(rows)


def plot(data: pd.DataFrame, config: dict):
    from matplotlib.figure import Figure

    samples = list(dict.fromkeys(data["sample"]))
    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    axes = fig.subplots(1, len(samples), sharey=True, squeeze=False)[0]
    class_names = ["yin", "yang", "dot"]
    for ax, sample in zip(axes, samples):
        d = data.loc[data["sample"] == sample]
        offset = 0
        for layer, color in zip(LAYER_NAMES, ("C0", "C2", "C3")):
            sel = d.loc[(d["layer"] == layer)]
            fired = sel.loc[sel["time"] >= 0]
            if layer == "hidden":  # order hidden neurons by spike time for readability
                order = np.argsort(fired["time"].to_numpy(), kind="stable")
                ys = offset + np.arange(len(fired))
                ts = fired["time"].to_numpy()[order]
            else:
                ys = offset + fired["neuron"].to_numpy()
                ts = fired["time"].to_numpy()
            ax.scatter(ts, ys, s=6 if layer == "hidden" else 18, color=color, lw=0,
                       label=f"{layer} ({len(fired)}/{len(sel)} fire)")
            bias = fired.loc[fired["is_bias"]]
            if len(bias):
                ax.scatter(bias["time"], offset + bias["neuron"], s=30, marker="x", color="k", lw=0.8)
            if layer == "output" and len(fired):
                first = fired.loc[fired["time"].idxmin()]
                ax.annotate(class_names[int(first["neuron"])], (first["time"], offset + first["neuron"]),
                            textcoords="offset points", xytext=(5, 0), fontsize=7)
            offset += len(sel) + 3
        label, pred = int(d["label"].iloc[0]), int(d["prediction"].iloc[0])
        ax.set_title(f"test sample {sample}: class {class_names[label]}, predicted "
                     f"{class_names[pred] if pred >= 0 else 'none'}", fontsize=8)
        ax.set_xlabel("time [ms] (tau_s = 1 ms)")
        ax.legend(fontsize=6, loc="upper left")
    axes[0].set_ylabel("input | hidden (by time) | output  (x: bias)")
    return fig


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Hidden neurons that spike (bias excluded), and how many of the shown samples are correct."""
    from fsnn_theory.numbers import NumberSheet, rows

    sheet = NumberSheet(NAME, data)

    def hidden_firing_fraction() -> float:
        hidden = rows(data, NAME, layer="hidden")
        hidden = hidden.loc[~hidden["is_bias"].astype(bool)]
        return float((hidden["time"] >= 0).groupby(hidden["sample"]).mean().mean())

    def correct_samples() -> int:
        per_sample = data.groupby("sample")[["label", "prediction"]].first()
        return int((per_sample["label"] == per_sample["prediction"]).sum())

    sheet.add("RasterHiddenFiringPercent", hidden_firing_fraction, "percent",
              "hidden neurons that spike, mean over samples (%)")
    sheet.add("RasterCorrect", correct_samples, "int", "shown samples classified correctly")
    sheet.add("RasterSamples", lambda: int(data["sample"].nunique()), "int", "samples shown")
    return sheet.result()
