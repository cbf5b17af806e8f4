r"""
One neuron: kernel, exact spike time, exact gradient, and Brian2
================================================================

A time-to-first-spike neuron is a current-based leaky integrate-and-fire neuron that is read
out once: *when* it first crosses its threshold. Its membrane potential is a weighted sum of one
kernel shifted to every input spike,

.. math:: V(t) = \sum_{i:\,t_i \le t} w_i\,\kappa(t - t_i), \qquad
          t^* = \inf\{t : V(t) \ge \vartheta\},

and for the kernels used here :math:`t^*` has a closed form (:mod:`fsnn_theory.neurons`). This
tutorial draws the kernel, computes :math:`t^*` for one neuron, checks its exact gradient against
finite differences, and simulates the same neuron in Brian2, an independent clock-driven
simulator (:mod:`fsnn_theory.brian`).
"""

# %%
# The kernel
# ----------
# ``LIF(tau_m=2, tau_s=1)`` has :math:`\tau_m = 2\tau_s`, for which
# :math:`\kappa(s) = e^{-s/\tau_m} - e^{-s/\tau_s}` and :math:`t^*` solves a quadratic in
# :math:`e^{-t/\tau_m}`. The kernel rises from 0, peaks at :math:`s_p = 2\tau_s\ln 2` with height
# 1/4, and decays.
import math

import matplotlib.pyplot as plt
import numpy as np

from fsnn_theory.neurons import LIF, first_spike_times, potential, spike_time_gradients

model = LIF(tau_m=2.0, tau_s=1.0, theta=1.0)
s = np.linspace(0.0, 10.0, 501)
print(f"regime: {model.regime}")
print(f"peak time {model.kernel_peak_time:.6f} ms (2 ln 2 = {2 * math.log(2):.6f})")
print(f"peak height {model.kernel_max:.6f} (exactly 1/4)")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(s, model.kernel(s), label=r"$\kappa(s)$")
ax.plot(s, model.kernel_derivative(s), "--", label=r"$\kappa'(s)$")
ax.axvline(model.kernel_peak_time, color="grey", lw=0.8)
ax.set_xlabel("s (ms)")
ax.legend()
ax.set_title(r"LIF kernel, $\tau_m = 2\tau_s = 2$ ms")
fig.tight_layout()

# %%
# One neuron, three inputs
# ------------------------
# Inputs at 0, 0.25 and 0.5 ms with weights 3, 2 and -1 (an inhibitory one). The engine returns the
# exact crossing; ``potential`` evaluates :math:`V(t)` on a grid so we can see it.
t_in = np.array([[0.0, 0.25, 0.5]])  # (batch, n_in)
w = np.array([[3.0], [2.0], [-1.0]])  # (n_in, n_out)
t_star = first_spike_times(model, t_in, w)[0, 0]
print(f"t* = {t_star:.12f} ms")

t = np.linspace(0.0, 6.0, 601)
v = potential(model, t[:, None], np.repeat(t_in, t.size, axis=0), w)[:, 0]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(t, v, label="V(t)")
ax.axhline(model.theta, color="k", lw=0.8, ls=":", label=r"threshold $\vartheta$")
ax.axvline(t_star, color="C3", lw=1.0, label=f"t* = {t_star:.3f} ms")
for ti in t_in[0]:
    ax.axvline(ti, color="grey", lw=0.5)
ax.set_xlabel("t (ms)")
ax.legend()
ax.set_title("The first crossing is found in closed form")
fig.tight_layout()

# %%
# The gradient, against finite differences
# ----------------------------------------
# By the implicit-function theorem on :math:`V(t^*) = \vartheta`,
# :math:`\partial t^*/\partial w_j = -\kappa(t^* - t_j)/\dot V(t^*)` and
# :math:`\partial t^*/\partial t_j = w_j\kappa'(t^* - t_j)/\dot V(t^*)`. Central differences of
# the closed form with step :math:`h = 10^{-6}` must agree to about :math:`h^2`.
g_w, g_t = spike_time_gradients(model, t_in, w)
h = 1e-6
fd_w, fd_t = np.zeros(3), np.zeros(3)
for j in range(3):
    e = np.zeros((3, 1))
    e[j] = h
    fd_w[j] = (first_spike_times(model, t_in, w + e) - first_spike_times(model, t_in, w - e))[0, 0] / (2 * h)
    fd_t[j] = (first_spike_times(model, t_in + e.T, w) - first_spike_times(model, t_in - e.T, w))[0, 0] / (2 * h)
print(" j   dt*/dw_j exact    finite diff.      dt*/dt_j exact    finite diff.")
for j in range(3):
    print(f" {j}  {g_w[0, j, 0]: .10f}  {fd_w[j]: .10f}   {g_t[0, j, 0]: .10f}  {fd_t[j]: .10f}")
print(f"largest |exact - finite difference|: {max(np.abs(g_w[0, :, 0] - fd_w).max(), np.abs(g_t[0, :, 0] - fd_t).max()):.1e}")
print(f"sum of dt*/dt_j = {g_t[0, :, 0].sum():.12f} (exactly 1: shifting every input shifts the spike)")

# %%
# The same neuron in Brian2
# -------------------------
# :func:`fsnn_theory.brian.simulate_first_spikes` integrates the neuron's equations in Brian2 on a
# grid of step ``dt`` and reports the first grid time with :math:`V \ge \vartheta`
# (error in :math:`[0, dt)`), or, with ``interpolate="linear"``, where the chord of V over the last
# step meets the threshold (error :math:`O(dt^2)`). The inputs here lie on every grid, so the
# only error is the threshold's. The first call on a machine compiles Brian2's Cython code (about
# 20 s of CPU, a minute on a busy machine); Brian2 caches it for every later run.
from fsnn_theory.brian import simulate_first_spikes

dts = np.array([0.1, 0.05, 0.025, 0.0125])
err_plain, err_linear = [], []
for dt in dts:
    plain = simulate_first_spikes(model, t_in, w, dt=dt, t_max=10.0)[0, 0]
    linear = simulate_first_spikes(model, t_in, w, dt=dt, t_max=10.0, interpolate="linear")[0, 0]
    err_plain.append(abs(plain - t_star))
    err_linear.append(abs(linear - t_star))
    print(f"dt = {dt:<7} Brian2 {plain:.6f} (error {err_plain[-1]:.1e}),  "
          f"interpolated {linear:.8f} (error {err_linear[-1]:.1e})")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(dts, err_plain, "o-", label="grid threshold")
ax.loglog(dts, err_linear, "s-", label="linear interpolation")
ax.loglog(dts, dts, "k:", lw=0.8, label="dt")
ax.loglog(dts, dts**2, "k--", lw=0.8, label=r"dt$^2$")
ax.set_xlabel("dt (ms)")
ax.set_ylabel(r"|Brian2 $-$ closed form| (ms)")
ax.legend()
ax.set_title("Brian2 converges to the closed form")
fig.tight_layout()

# %%
# The closed form is what Brian2 converges to: the plain error stays below ``dt``, the
# interpolated one shrinks like :math:`dt^2`. The test suite makes the same comparison for every
# model and thousands of random neurons (``tests/test_brian.py``).
