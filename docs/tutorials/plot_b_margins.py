r"""
Margins: Theorem 1 against measured gradients, and where it breaks
==================================================================

Gradient-based training of spiking networks needs the spike time to be a *regular* function of the
weights. Theorem 1 (:doc:`/theory/generated/spike_time_regularity`) says how regular: on the
**margin set** :math:`\mathcal M(s_{\min})`, where the membrane potential crosses the threshold
with slope :math:`\dot V(t^*) \ge s_{\min} > 0`,

.. math:: \|\nabla_w t^*\|_2 \le \frac{\sqrt n\,\kappa_{\max}}{s_{\min}}

(n causal inputs, :math:`\kappa_{\max}` the kernel's peak). Proposition 1
(:doc:`/theory/generated/no_global_lipschitz`) says that nothing like this holds globally. Here
we measure both with :mod:`fsnn_theory.neurons` and :mod:`fsnn_theory.theory.regularity`.
"""

# %%
# Many random neurons, one bound
# ------------------------------
# 200 input patterns x 20 output neurons with 8 random inputs each (every (pattern, neuron) pair
# is one neuron). For every one that fires we measure its slope at threshold
# :math:`\dot V(t^*)`, its number of causal inputs n and the exact gradient norm, and evaluate the
# bound at :math:`s_{\min} = \dot V(t^*)`, the neuron's own margin.
import matplotlib.pyplot as plt
import numpy as np

from fsnn_theory.neurons import LIF, causal_set, first_spike_times, slope_at_threshold, spike_time_gradients
from fsnn_theory.theory.regularity import kernel_constants, spike_time_weight_gradient_bound

model = LIF(tau_m=2.0, tau_s=1.0, theta=1.0)
rng = np.random.default_rng(0)
batch, n_in, n_out = 200, 8, 20
t_in = rng.uniform(0.0, 3.0, size=(batch, n_in))
w = rng.normal(0.6, 1.0, size=(n_in, n_out))

t_star = first_spike_times(model, t_in, w)  # (batch, n_out)
g_w, _ = spike_time_gradients(model, t_in, w)  # (batch, n_in, n_out)
slope = slope_at_threshold(model, t_in, w)
n = causal_set(t_in, t_star).sum(axis=1)  # causal inputs per neuron
fires = np.isfinite(t_star) & (slope > 0)
gnorm = np.linalg.norm(g_w, axis=1)[fires]
slope, n = slope[fires], n[fires]
bound = spike_time_weight_gradient_bound(model, s_min=slope, n_causal=n.astype(int), norm="l2").value
print(f"kappa_max = {kernel_constants(model).kappa_max:.6f}; {fires.sum()} of {batch * n_out} neurons fire")
print(f"largest measured / bound ratio: {np.max(gnorm / bound):.4f} (Theorem 1: <= 1)")
print(f"median ratio: {np.median(gnorm / bound):.3f}")
assert np.all(gnorm <= bound * (1 + 1e-12))

fig, ax = plt.subplots(figsize=(6, 3.8))
ax.loglog(slope, gnorm, ".", ms=2, alpha=0.5, label=r"measured $\|\nabla_w t^*\|_2$")
s_grid = np.geomspace(slope.min(), slope.max(), 100)
for k in (1, 4, 8):
    ax.loglog(s_grid, spike_time_weight_gradient_bound(model, s_grid, k).value, lw=1,
              label=f"Theorem 1 bound, n = {k}")
ax.set_xlabel(r"slope at threshold $\dot V(t^*)$ (1/ms)")
ax.set_ylabel(r"$\|\nabla_w t^*\|_2$ (ms)")
ax.legend(fontsize=8)
ax.set_title(r"The bound $\sqrt{n}\,\kappa_{\max}/s_{\min}$ holds neuron by neuron")
fig.tight_layout()

# %%
# The :math:`1/s_{\min}` rate is not an artefact of the proof: Theorem 1 (e) shows that
# :math:`\|\nabla_w t^*\|_2 \ge \vartheta/(\dot V(t^*)\,\|w_C\|_2)`, so neurons that cross with a
# small slope really do have large gradients. That is where the margin set ends.
#
# Where it breaks: a spike that vanishes
# --------------------------------------
# One input at 0 with weight :math:`w`. The potential :math:`w\kappa(t)` peaks at
# :math:`w\kappa_{\max}`, so the neuron fires iff :math:`w \ge w_c = \vartheta/\kappa_{\max}`. Just
# above :math:`w_c` the crossing is nearly tangential: the slope goes to 0 like
# :math:`\sqrt{w - w_c}`, the gradient blows up like :math:`1/\sqrt{w - w_c}`, and just below
# :math:`w_c` there is no spike at all (Proposition 1 (a), :func:`~fsnn_theory.theory.regularity.grazing_example`).
from fsnn_theory.theory.regularity import grazing_example

w_c = model.theta / kernel_constants(model).kappa_max
delta = np.geomspace(1e-8, 1e-1, 40)
W = (w_c * (1 + delta))[None, :]  # 40 output neurons, one input each
g_w, _ = spike_time_gradients(model, [[0.0]], W)
slopes = slope_at_threshold(model, [[0.0]], W)[0]
ex = grazing_example(model, delta=1e-6)
t_above = model.first_spike_times(ex.input_times, ex.weights_before)[0, 0]
t_below = model.first_spike_times(ex.input_times, ex.weights_after)[0, 0]
print(f"w_c = {w_c:.6f}; a weight change of {ex.perturbation:.1e} moves t* from {t_above:.4f} ms to {t_below}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
axes[0].loglog(delta, np.abs(g_w[0, 0]), "o", ms=3, label=r"$|\partial t^*/\partial w|$")
axes[0].loglog(delta, np.abs(g_w[0, 0, -1]) * np.sqrt(delta[-1] / delta), "k--", lw=0.8,
               label=r"$\propto (w - w_c)^{-1/2}$")
axes[0].set_xlabel(r"$(w - w_c)/w_c$")
axes[0].legend(fontsize=8)
axes[0].set_title("the gradient blows up")
axes[1].loglog(delta, slopes, "o", ms=3, color="C1")
axes[1].set_xlabel(r"$(w - w_c)/w_c$")
axes[1].set_ylabel(r"$\dot V(t^*)$")
axes[1].set_title("because the margin vanishes")
fig.tight_layout()

# %%
# A gradient that jumps inside the margin set
# -------------------------------------------
# Even with a healthy slope the gradient is not continuous: when a second input enters the causal
# set (the spike moves past its arrival time), :math:`\partial t^*/\partial w_1` jumps
# (Proposition 1 (d), :func:`~fsnn_theory.theory.regularity.causal_kink_example`). Measured
# derivatives on both sides agree with the one-sided formulas:
from fsnn_theory.theory.regularity import causal_kink_example

kink = causal_kink_example(model, t2=0.5, w2=0.5)
w1 = kink.w1_critical * (1 + np.linspace(-0.05, 0.05, 201))
ts = np.array([first_spike_times(model, kink.input_times, kink.weights(v))[0, 0] for v in w1])
gs = np.array([spike_time_gradients(model, kink.input_times, kink.weights(v))[0][0, 0, 0] for v in w1])
print(f"one-sided derivatives (formula): below {kink.derivative_below:.6f}, above {kink.derivative_above:.6f}")
print(f"measured just below / above w1°: {gs[99]:.6f} / {gs[101]:.6f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
axes[0].plot(w1, ts)
axes[0].axvline(kink.w1_critical, color="grey", lw=0.8)
axes[0].set_xlabel("$w_1$")
axes[0].set_ylabel("$t^*$ (ms)")
axes[0].set_title("continuous spike time ...")
axes[1].plot(w1, gs, ".", ms=3)
axes[1].axvline(kink.w1_critical, color="grey", lw=0.8)
axes[1].set_xlabel("$w_1$")
axes[1].set_ylabel(r"$\partial t^*/\partial w_1$")
axes[1].set_title("... whose gradient jumps")
fig.tight_layout()

# %%
# So a training loss built on spike times is smooth only piecewise, with constants that
# degrade as :math:`1/s_{\min}`: the federated convergence result (Theorem 3) therefore assumes the
# iterates stay in a margin set, and tutorial :doc:`plot_d_federating` measures how often they do.
