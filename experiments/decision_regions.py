"""Yin-Yang decision regions of a trained time-to-first-spike network, with the test points.

The network of `yin_yang_training` (seed 0, same recipe) classifies every point of a regular grid
over the unit square (features (x, y, 1 - x, 1 - y), latency coded); the figure colours the plane
by the predicted class (grey: no output spike inside the readout window), draws the yin-yang
outline and overlays the 1000 test points, misclassified ones marked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.yin_yang_training import trained_params

NAME = "decision_regions"
TITLE = "Yin-Yang: decision regions of the trained spiking network with the test points"
REQUIRES = ("yin_yang_training",)  # its trained network (artefacts/network_seed0.npz)


def config(mode: str) -> dict:
    from fsnn_theory.studies.setups import recipe

    return {"recipe": recipe("yin-yang", mode), "seed": 0, "grid": 200 if mode == "full" else 60}


def run(config: dict, ctx) -> pd.DataFrame:
    from fsnn_theory.studies.setups import load_dataset, make_classifier

    rec = config["recipe"]
    params = trained_params(ctx, "yin_yang_training", rec, config["seed"])
    model = make_classifier("yin-yang", tuple(rec["hidden"]), rec["model"], tau_m=rec["tau_m"], tau_s=rec["tau_s"])
    g = int(config["grid"])
    centres = (np.arange(g) + 0.5) / g
    gx, gy = np.meshgrid(centres, centres, indexing="xy")
    x, y = gx.ravel(), gy.ravel()
    X = np.column_stack([x, y, 1.0 - x, 1.0 - y])
    pred = np.concatenate([model.predict(params, X[s : s + 2000]) for s in range(0, X.shape[0], 2000)])
    grid = pd.DataFrame({"kind": "grid", "x": x, "y": y, "label": -1, "prediction": pred})
    test = load_dataset("yin-yang").test
    test_pred = model.predict(params, test.X)
    points = pd.DataFrame(
        {"kind": "test", "x": test.X[:, 0], "y": test.X[:, 1], "label": test.y, "prediction": test_pred}
    )
    ctx.log(f"test accuracy {np.mean(test_pred == test.y):.4f}")
    return pd.concat([grid, points], ignore_index=True)


def plot(data: pd.DataFrame, config: dict):
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    fig = Figure(figsize=(5.0, 4.6), layout="constrained")
    ax = fig.subplots()
    grid = data.loc[data["kind"] == "grid"]
    g = int(config["grid"])
    img = grid["prediction"].to_numpy().reshape(g, g)
    colors = ["#dddddd", "#9ecae1", "#fdae6b", "#a1d99b"]  # no spike, yin, yang, dot
    ax.imshow(img + 1, origin="lower", extent=(0, 1, 0, 1), cmap=ListedColormap(colors), vmin=0, vmax=3,
              interpolation="nearest")
    # outline of the yin-yang (r_big = 0.5, r_small = 0.1)
    for centre, r in (((0.5, 0.5), 0.5), ((0.25, 0.5), 0.1), ((0.75, 0.5), 0.1)):
        ax.add_patch(Circle(centre, r, fill=False, lw=0.6, color="k"))
    test = data.loc[data["kind"] == "test"]
    markers = ["o", "s", "^"]
    point_colors = ["#08519c", "#a63603", "#006d2c"]
    for c in range(3):
        sel = test.loc[test["label"] == c]
        ax.scatter(sel["x"], sel["y"], s=5, marker=markers[c], color=point_colors[c], lw=0,
                   label=["yin", "yang", "dot"][c])
    wrong = test.loc[test["label"] != test["prediction"]]
    ax.scatter(wrong["x"], wrong["y"], s=28, facecolors="none", edgecolors="r", lw=0.8,
               label=f"misclassified ({len(wrong)})")
    acc = 100 * float(np.mean(test["label"] == test["prediction"]))
    ax.set_title(f"decision regions (background) and test points; test accuracy {acc:.1f} %", fontsize=8)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.legend(fontsize=6, loc="upper right", framealpha=0.8)
    return fig


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Accuracy on the test points drawn over the decision regions and how many are misclassified."""
    from fsnn_theory.numbers import NumberSheet, rows

    sheet = NumberSheet(NAME, data)

    def test_points() -> pd.DataFrame:
        return rows(data, NAME, kind="test")

    sheet.add("DecisionTestAccuracy", lambda: float((test_points()["label"] == test_points()["prediction"]).mean()),
              "percent", "test accuracy over the decision regions (%)")
    sheet.add("DecisionMisclassified", lambda: int((test_points()["label"] != test_points()["prediction"]).sum()),
              "int", "misclassified test points")
    return sheet.result()
