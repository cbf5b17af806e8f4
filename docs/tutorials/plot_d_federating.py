r"""
Federating it: partitions, compression, bits and energy
=======================================================

In federated learning the training data stay on N clients; a server broadcasts the model, each
client takes a few SGD steps on its own data, and the server averages what comes back (FedAvg,
McMahan et al. 2017). Three things decide what this costs and how well it works: how the data are
split (**partition**), how the updates are squeezed onto the wire (**compression**), and how
much communication and computation a run spends (**bits and energy**). :mod:`fsnn_theory.federated`
counts all of these exactly. We federate the network of tutorial :doc:`plot_c_training`.
"""

# %%
# Partitions: how heterogeneous are the clients?
# ----------------------------------------------
# ``iid`` deals the samples out at random; ``dirichlet`` draws each client's class proportions from
# a Dirichlet(:math:`\alpha`) distribution (small :math:`\alpha` = few classes per client);
# ``shards`` gives each client a few single-class shards. The mean total-variation distance
# between a client's label distribution and the global one measures the skew.
import matplotlib.pyplot as plt
import numpy as np

from fsnn_theory.data import yin_yang_dataset
from fsnn_theory.federated import FederatedConfig, StepSchedule, make_partition, run_federated
from fsnn_theory.network import yin_yang_classifier
from fsnn_theory.training import WeightBumping

ds = yin_yang_dataset(train_size=1000, validation_size=100, test_size=500)
N = 10
partitions = {
    "iid": make_partition("iid", ds.train.y, N, seed=0),
    "dirichlet (alpha = 0.3)": make_partition("dirichlet", ds.train.y, N, seed=0, alpha=0.3),
    "shards (1 per client)": make_partition("shards", ds.train.y, N, seed=0, shards_per_client=1),
}
fig, axes = plt.subplots(1, 3, figsize=(9, 3), sharey=True)
for ax, (name, part) in zip(axes, partitions.items()):
    counts = part.label_counts
    bottom = np.zeros(N)
    for c in range(ds.n_classes):
        ax.bar(range(N), counts[:, c], bottom=bottom, label=ds.class_names[c])
        bottom += counts[:, c]
    tv = part.heterogeneity()["mean_label_tv"]
    ax.set_title(f"{name}\nmean label TV {tv:.2f}", fontsize=9)
    ax.set_xlabel("client")
axes[0].set_ylabel("samples")
axes[0].legend(fontsize=7)
fig.tight_layout()

# %%
# Four federated runs
# -------------------
# FedAvg with 10 clients, 10 local SGD steps per round, 25 rounds, on the 4-30-3 spiking network.
# The uplink is either the plain float32 update (``"none"``), top-k sparsification keeping 10 % of
# the entries (with error feedback: what is not sent is remembered and sent later), or QSGD with 4
# levels (stochastic quantisation, Elias-coded; Alistarh et al. 2017).
model = yin_yang_classifier(30)
d = model.n_params
runs = {}
for label, part_name, compressor in [
    ("iid, float32", "iid", "none"),
    ("dirichlet, float32", "dirichlet (alpha = 0.3)", "none"),
    ("dirichlet, top-10 %", "dirichlet (alpha = 0.3)", "topk:0.1"),
    ("dirichlet, QSGD s=4", "dirichlet (alpha = 0.3)", "qsgd:4"),
]:
    config = FederatedConfig(rounds=25, local_steps=10, batch_size=20,
                             schedule=StepSchedule("constant", 5.0), compressor=compressor,
                             max_dw_norm=0.2, bumping=WeightBumping(), seed=0)
    runs[label] = run_federated(model, ds.train, ds.test, partitions[part_name], config)
    s = runs[label].summary
    print(f"{label:22s} test accuracy {s['final_test_accuracy']:.3f}   uplink {s['total_uplink_bits']:>9d} bits"
          f"   downlink {s['total_downlink_bits']:>9d} bits")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
for label, run in runs.items():
    h = run.history
    axes[0].plot(h["round"], h["test_accuracy"], label=label)
    axes[1].semilogx(h["cum_uplink_bits"].where(h["round"] > 0), h["test_accuracy"], label=label)
axes[0].set_xlabel("round")
axes[0].set_ylabel("test accuracy")
axes[1].set_xlabel("cumulative uplink bits")
axes[0].legend(fontsize=7)
fig.tight_layout()

# %%
# Bits, exactly
# -------------
# The accounting counts the encoded length of every message. For the uncompressed runs that is
# :math:`32d` bits per client and round; for top-k it is :math:`k(32 + \lceil\log_2 d\rceil)` with
# :math:`k = \lceil 0.1\,d\rceil` (:func:`~fsnn_theory.theory.bounds.topk_bits`); QSGD messages
# have data-dependent lengths, and the library of bounds gives their expectation's upper bound.
import math

from fsnn_theory.theory.bounds import dense_float32_bits, qsgd_expected_bits_bound, topk_bits

messages = 25 * N  # rounds x clients, every client reports every round
k = math.ceil(0.1 * d)
print(f"d = {d} parameters")
print(f"float32: measured {runs['iid, float32'].summary['total_uplink_bits']} bits, "
      f"formula {messages} x {dense_float32_bits(d)} = {messages * dense_float32_bits(d)}")
print(f"top-k:   measured {runs['dirichlet, top-10 %'].summary['total_uplink_bits']} bits, "
      f"formula {messages} x {topk_bits(d, k)} = {messages * topk_bits(d, k)}")
qsgd_bits = runs["dirichlet, QSGD s=4"].summary["total_uplink_bits"] / messages
print(f"QSGD:    measured {qsgd_bits:.1f} bits per message on average; "
      f"Theorem 3.2 of Alistarh et al. bounds the expectation by "
      f"{float(qsgd_expected_bits_bound(d, 4).value):.0f}")

# %%
# Energy
# ------
# A spiking network only does work when a spike arrives: one synaptic event (an accumulate,
# 0.9 pJ; Horowitz 2014) per input spike and outgoing synapse, against one multiply-accumulate
# (4.6 pJ) per weight for a dense network of the same shape. Training is counted as forward plus
# backward, twice the forward events.
from fsnn_theory.federated import energy_joules

h = runs["iid, float32"].history
events = h["inference_synops"].iloc[-1]
print(f"per inference: {events:.0f} synaptic events = {energy_joules(events, 'synop') * 1e12:.0f} pJ; "
      f"dense: {model.dense_macs()} MACs = {energy_joules(model.dense_macs(), 'mac') * 1e12:.0f} pJ")
print(f"training, all clients, 25 rounds: {h['cum_energy_train_j'].iloc[-1] * 1e6:.2f} uJ for "
      f"{int(h['cum_samples'].iloc[-1])} sample passes")

# %%
# With skewed clients FedAvg needs more rounds for the same accuracy, and compression trades
# accuracy per round for far fewer bits per round. Tutorial :doc:`plot_e_checking_a_bound` holds a
# published convergence bound against such a run.
