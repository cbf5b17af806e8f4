r"""
Training a time-to-first-spike network on Yin-Yang
==================================================

The Yin-Yang data set (Kriener et al. 2022) is a small three-class problem that a linear model
cannot solve but a network with one hidden layer can. Göltz et al. (2021) trained spiking networks
on it using only first-spike times: every neuron fires at most once, the class is the output
neuron that fires *first*, and the gradient is the exact implicit-function gradient of the spike
times (tutorial :doc:`plot_a_one_neuron`). This tutorial trains such a network with
:mod:`fsnn_theory.network` and :mod:`fsnn_theory.training`, small enough for about half a minute.
"""

# %%
# The data and its spike encoding
# -------------------------------
# Each point :math:`(x, y)` is given as four features :math:`(x, y, 1-x, 1-y)`; each feature
# becomes one input spike time, a larger value spiking later, plus a bias spike at 0.9 ms.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from fsnn_theory.data import yin_yang_dataset
from fsnn_theory.studies.setups import default_training_config, make_classifier
from fsnn_theory.training import train

ds = yin_yang_dataset(train_size=1500, validation_size=500, test_size=1000)
print(f"{ds.name}: train {ds.train.n_samples}, validation {ds.validation.n_samples}, "
      f"test {ds.test.n_samples}; classes {ds.class_names}")
model = make_classifier("yin-yang", hidden=40)  # 4-40-3, LIF neurons with tau_m = 2 tau_s = 2 ms
print(f"layer sizes {model.network.layer_sizes}, {model.n_params} weights")
print("input spike times of the first sample (ms):", np.round(model.encode(ds.train.X[:1])[0], 3))

fig, ax = plt.subplots(figsize=(4, 4))
for c, name in enumerate(ds.class_names):
    sel = ds.train.y == c
    ax.scatter(ds.train.X[sel, 0], ds.train.X[sel, 1], s=4, label=name)
ax.set_aspect("equal")
ax.legend(loc="upper right", fontsize=8)
ax.set_title("Yin-Yang training set")
fig.tight_layout()

# %%
# Training
# --------
# Adam on the cross-entropy of :math:`\mathrm{softmax}(-t^{out}/\tau_\xi)` (earlier = more
# likely), with the recipe of Göltz et al. (step decay, a guard against huge per-spike gradients,
# and *weight bumping*, which raises the weights of neurons that stay silent). The recipe's
# learning rate 0.005 and batch 150 are for 300 epochs on 5000 samples; for a 25-epoch run we take
# 0.01 and batches of 50.
config = default_training_config("yin-yang", epochs=25, learning_rate=0.01, batch_size=50, seed=0)
result = train(model, ds, config)
h = result.history
print(f"best validation accuracy {result.best_val_accuracy:.3f} at epoch {result.best_epoch}; "
      f"test accuracy there {result.test_accuracy:.3f}")
print(f"synaptic events per inference: {h['synops_per_sample'].iloc[-1]:.0f} "
      f"(a dense network would do {model.dense_macs()} multiply-accumulates)")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
axes[0].plot(h["epoch"], h["train_loss"])
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("training loss")
axes[1].plot(h["epoch"], h["train_accuracy"], label="train")
axes[1].plot(h["epoch"], h["val_accuracy"], label="validation")
axes[1].plot(h["epoch"], h["test_accuracy"], label="test")
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("accuracy")
axes[1].legend()
fig.tight_layout()

# %%
# Why the training loss jumps while the accuracy climbs
# -----------------------------------------------------
# The loss is the mean over samples, and a sample whose label neuron stays silent in the readout
# window (10 ms) is charged as if its label neuron fired at 10 ms: a cross-entropy of about
# :math:`(10 - t_{other})/\tau_\xi \approx 40` (:math:`\tau_\xi = 0.2` ms) plus the regulariser
# :math:`\alpha(e^{10/\tau_s} - 1) \approx 110` (:math:`\alpha = 0.005`), against well under 1 for
# a sample whose label neuron fires. A handful of such samples dominate the mean, and they come
# and go from epoch to epoch. Splitting the loss of the final weights shows it:
from fsnn_theory.network import first_spike_loss

t_out = model.forward(result.final_params, ds.train.X).output_times
per_sample, _ = first_spike_loss(t_out, ds.train.y, model.loss_fn)
label_time = t_out[np.arange(ds.train.n_samples), ds.train.y]
silent = ~(label_time < model.loss_fn.t_max)
print(f"{silent.mean():.1%} of the training samples have a silent label neuron; their mean loss is "
      f"{per_sample[silent].mean():.1f}, the others' {per_sample[~silent].mean():.3f}")
print(f"mean loss {per_sample.mean():.3f}, of which {per_sample[silent].sum() / per_sample.sum():.0%} "
      f"comes from the silent ones")

# %%
# What the network learned
# ------------------------
# The decision regions over the unit square, and the output spike times for three test points:
# the predicted class is the output neuron that fires first.
g = np.linspace(0.0, 1.0, 121)
gx, gy = np.meshgrid(g, g)
grid = np.column_stack([gx.ravel(), gy.ravel(), 1 - gx.ravel(), 1 - gy.ravel()])
pred = model.predict(result.params, grid).reshape(gx.shape)
inside = (gx - 0.5) ** 2 + (gy - 0.5) ** 2 <= 0.25  # the data live in the disc of radius 1/2

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
axes[0].imshow(np.where(inside, pred, np.nan), origin="lower", extent=(0, 1, 0, 1),
               cmap=ListedColormap(["C0", "C1", "C2"]), vmin=0, vmax=2)
axes[0].set_title("decision regions")
fwd = model.forward(result.params, ds.test.X[:3])  # the best-validation weights
t_out = fwd.output_times
for i in range(3):
    axes[1].scatter(t_out[i], [i] * 3, c=["C0", "C1", "C2"], s=40)
axes[1].set_yticks(range(3), [f"test {i} (label {ds.test.y[i]})" for i in range(3)])
axes[1].set_xlabel("output spike time (ms)")
axes[1].set_title("first to fire wins (colour = class)")
fig.tight_layout()
print("output spike times (ms):")
print(np.round(t_out, 3))
