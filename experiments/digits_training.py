"""Training curves of a time-to-first-spike network on scikit-learn's 8x8 digits.

64-100-10 network of LIF neurons (tau_m = 2 tau_s), latency-coded pixels (ink early, background
late, as Göltz et al. 2021 for MNIST), exact spike-time gradients, Adam; three seeds in full mode
(median and range), test accuracy at each seed's best validation epoch. Quick mode: 40 hidden
units, 10 epochs.
"""

from __future__ import annotations

import pandas as pd

from experiments.yin_yang_training import plot_curves, training_curves

NAME = "digits_training"
TITLE = "Digits (8x8): training curves of an exact-gradient spiking network (median of seeds)"


def config(mode: str) -> dict:
    from fsnn_theory.studies.setups import recipe

    return {
        "recipe": recipe("digits", mode),
        "seeds": [0, 1, 2] if mode == "full" else [0],
    }


def run(config: dict, ctx) -> pd.DataFrame:
    return training_curves(config, ctx)


def plot(data: pd.DataFrame, config: dict):
    rec = config["recipe"]
    sizes = "-".join(str(s) for s in [64, *rec["hidden"], 10])
    return plot_curves(
        data,
        f"8x8 digits {sizes}, {rec['model'].upper()} (tau_m = 2 tau_s), exact spike-time gradients, "
        f"{len(config['seeds'])} seed(s)",
        {"target": 0.93},
    )


INPUTS, CLASSES = 64, 10  # 8x8 pixels, ten digits


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """The paper's numbers of the digits training (see `yin_yang_training.training_numbers`)."""
    from experiments.yin_yang_training import training_numbers

    return training_numbers(NAME, "Digits", INPUTS, CLASSES, data, config)
