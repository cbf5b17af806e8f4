r"""The cases of ``fsnn verify``: each runs the algorithm a theorem analyses, in the regime where
its bound says something, plus a negative control, and returns curves
(`fsnn_theory.studies.verification.curves`).

* :func:`li2020_case` — FedAvg on the strongly convex model against Li et al. (2020) Theorems
  1 / 2 / 3, every constant certified (``rigor: proven``), 20 log-spaced checkpoints, seed means
  over >= 10 seeds. Control: the step schedule :math:`\eta_t = \beta/(\gamma+t)` with
  :math:`\beta\mu` below 1 (the theorem uses :math:`\beta = 2/\mu`; its proof needs
  :math:`\beta\mu > 1`), which makes the gap decay like :math:`T^{-2\beta\mu}`, slower than the
  bound's 1/T: the control must produce violations at the late checkpoints.
* :func:`qsgd_variance_case` — QSGD Lemma 3.1 (ii) per message, exact expectations over the
  quantiser (no seeds needed: the expectation is computed, not sampled). Control: a quantiser with
  fewer levels held against the bound for s levels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from fsnn_theory._validation import check_choice, check_int
from fsnn_theory.studies.verification.curves import case_curves
from fsnn_theory.studies.verification.problems import (ConvexProblem, certified_logreg_constants,
                                                       partition_from_spec)
from fsnn_theory.studies.verification.simulate import local_sgd_gaps
from fsnn_theory.studies.verification.table import checkpoints
from fsnn_theory.theory import bounds as bd

__all__ = [
    "LI_THEOREMS",
    "li2020_case",
    "qsgd_expected_error",
    "qsgd_variance_case",
]

LI_THEOREMS = {"full": "Li2020 Thm1 full", "I": "Li2020 Thm2 sch. I", "II": "Li2020 Thm3 sch. II"}


def _label(spec: str) -> str:
    return spec.replace("dirichlet:", "Dir")


def li2020_case(problem: ConvexProblem, partition_spec: str, scheme: str, local_steps: int, horizon: int,
                seeds: Sequence[int], clients_per_round: int | None = None,
                control_beta_mu: float = 0.25) -> pd.DataFrame:
    r"""FedAvg with Li et al.'s schedule against their Theorem 1 / 2 / 3.

    Statement (Li, Huang, Yang, Wang, Zhang, ICLR 2020, Theorems 1-3, as implemented in
    :func:`fsnn_theory.theory.bounds.li2020_fedavg_bound`): under Assumptions 1-4 (each
    :math:`F_k` L-smooth and :math:`\mu`-strongly convex, :math:`\mathbb E\|\nabla F_k(w,\xi) -
    \nabla F_k(w)\|^2 \le \sigma_k^2`, :math:`\mathbb E\|\nabla F_k(w,\xi)\|^2 \le G^2`), with
    :math:`\kappa = L/\mu`, :math:`\gamma = \max\{8\kappa, E\}` and
    :math:`\eta_t = 2/(\mu(\gamma+t))`,
    :math:`\mathbb E F(w_T) - F^* \le \frac{\kappa}{\gamma+T-1}\big(\frac{2(B+C)}{\mu} +
    \frac{\mu\gamma}{2}\|w_1 - w^*\|^2\big)`.

    Run: :func:`~fsnn_theory.studies.verification.simulate.local_sgd_gaps` for ``horizon`` SGD
    steps (a multiple of E), measured :math:`F(w) - F^*` at the 20 log-spaced checkpoints of
    :func:`~fsnn_theory.studies.verification.table.checkpoints`, on every seed; the bound at the
    same T (the model after T steps is the theorem's :math:`w_{T+1}`: evaluating at T is
    conservative). Constants: :func:`~fsnn_theory.studies.verification.problems.certified_logreg_constants`
    (all proven bounds, so ``rigor = "proven"``); the step-size condition
    :math:`\eta\lambda \le 1` of the iterate-ball argument behind G is checked.
    Control: the same run with :math:`\eta_t = \beta/(\gamma+t)`, :math:`\beta\mu` =
    ``control_beta_mu`` (< 1).
    """
    check_choice("scheme", scheme, tuple(LI_THEOREMS))
    E = check_int("local_steps", local_steps, low=1)
    horizon = check_int("horizon", horizon, low=E)
    if horizon % E:
        raise ValueError(f"horizon must be a multiple of local_steps = {E}, got {horizon}")
    if not 0.0 < control_beta_mu < 1.0:
        raise ValueError(f"control_beta_mu must lie in (0, 1) (the theorem's proof needs beta*mu > 1), "
                         f"got {control_beta_mu!r}")
    seeds = list(seeds)
    part = partition_from_spec(problem.y, problem.setting.clients, partition_spec)
    N = part.n_clients
    K = None if scheme == "full" else check_int("clients_per_round", clients_per_round, low=1, high=N)
    c = certified_logreg_constants(problem, part)
    T_all = np.arange(1, horizon + 1)
    etas = np.asarray(bd.li2020_step_size(T_all, c.L, c.mu, E), dtype=np.float64)
    kappa = c.L / c.mu
    gamma = max(8.0 * kappa, E)
    etas_ctl = control_beta_mu / c.mu / (gamma + T_all)
    if max(etas.max(), etas_ctl.max()) * c.mu > 1.0:
        raise RuntimeError("eta * lambda > 1: the certified G (iterate ball) does not apply")
    steps = checkpoints(horizon, E)
    kw = dict(local_steps=E, rounds=horizon // E, seeds=seeds, record_rounds=steps // E, scheme=scheme,
              clients_per_round=K)
    run = local_sgd_gaps(problem, part, etas=etas, **kw)
    ctl = local_sgd_gaps(problem, part, etas=etas_ctl, **kw)
    bound = bd.li2020_fedavg_bound(steps, E, c.L, c.mu, np.full(N, c.sigma2), c.G, c.Gamma, c.w1_dist2,
                                   part.weights, K=K, N=N, scheme=scheme)
    config = (f"{_label(partition_spec)} E={E} T={horizon}" + (f" K={K}" if K else "")
              + f" N={N} B={problem.setting.batch_size}")
    control = f"step beta*mu={control_beta_mu:g} < 1 ({1 / control_beta_mu:g}x below the proof's limit)"
    return case_curves(theorem=LI_THEOREMS[scheme], bound=bound, rigor="proven", configuration=config,
                       steps=steps, run_values=run, initial=problem.initial_gap, constants=c.describe(),
                       control=control, control_values=ctl, slope_predicted=-1.0,
                       note=f"w1 at distance {problem.setting.start_radius:g} from 0 (informative regime)",
                       local_steps=E, partition=partition_spec, scheme=scheme)


def _float32_ceil(x: float) -> float:
    """Smallest float32 >= x (the norm QSGD sends)."""
    f = np.float32(x)
    if float(f) < x:
        f = np.nextafter(f, np.float32(np.inf))
    return float(f)


def qsgd_expected_error(v, s: int) -> float:
    r"""Exact :math:`\mathbb E\|Q_s(v) - v\|^2` of the QSGD quantiser (one bucket).

    With the sent norm r (the smallest float32 :math:`\ge \|v\|`) and
    :math:`a_i = \min(s|v_i|/r, s)`, each coordinate is :math:`\frac rs\lfloor a_i\rfloor` or
    :math:`\frac rs(\lfloor a_i\rfloor + 1)` with probabilities making it unbiased, so its
    variance is :math:`(r/s)^2 f_i(1 - f_i)`, :math:`f_i = a_i - \lfloor a_i \rfloor`:
    :math:`\mathbb E\|Q_s(v) - v\|^2 = \frac{r^2}{s^2}\sum_i f_i (1 - f_i)`.

    Source: the quantiser of Alistarh et al. 2017 (arXiv 1610.02132, Sec. 3.1), as implemented in
    `fsnn_theory.federated.compressors.qsgd_levels`.
    """
    v = np.asarray(v, dtype=np.float64)
    s = check_int("s", s, low=1)
    r = _float32_ceil(float(np.linalg.norm(v)))
    if r == 0.0:
        return 0.0
    a = np.minimum(s * np.abs(v) / r, float(s))
    f = a - np.floor(a)
    return float((r / s) ** 2 * np.sum(f * (1.0 - f)))


def qsgd_variance_case(problem: ConvexProblem, partition_spec: str, levels: int, control_levels: int,
                       messages: int = 20) -> pd.DataFrame:
    r"""QSGD Lemma 3.1 (ii) per message: :math:`\mathbb E\|Q_s(v) - v\|^2 \le \min(d/s^2, \sqrt d/s)\|v\|^2`.

    Messages: client k's full gradient at ``messages`` points on the segment from :math:`w_1` to
    the optimum (the updates a client sends with E = 1 and a full batch, up to the step size), k
    cycling over the clients. Measured: the exact expectation over the quantiser
    (:func:`qsgd_expected_error`) divided by :math:`\|v\|^2`; bound: :math:`\min(d/s^2, \sqrt d/s)`;
    informative iff the bound is < 1 (the error below the message's own energy), which needs
    :math:`s > \sqrt d`. ``rigor = "proven"``: nothing is measured, the expectation is exact. (The
    project's quantiser sends the float32 ceiling r of :math:`\|v\|` instead of :math:`\|v\|`,
    which can raise the variance above the lemma's value by the factor :math:`r/\|v\| \le 1 +
    2^{-23}`; the measured tightness, about 6, leaves that margin many times over.)
    Control: the same messages quantised with ``control_levels`` < ``levels`` levels, held
    against the bound for ``levels``.
    """
    s = check_int("levels", levels, low=1)
    sc = check_int("control_levels", control_levels, low=1, high=s - 1)
    messages = check_int("messages", messages, low=2)
    part = partition_from_spec(problem.y, problem.setting.clients, partition_spec)
    d = int(problem.model.n_params)
    w_hat = problem.optimum.params
    run, ctl = [], []
    for j, a in enumerate(np.linspace(0.0, 1.0, messages, endpoint=False)):
        k = j % part.n_clients
        idx = part.client_indices[k]
        _, g = problem.model.loss_and_grad((1.0 - a) * problem.w1 + a * w_hat, problem.X[idx], problem.y[idx])
        n2 = float(g @ g)
        run.append(qsgd_expected_error(g, s) / n2)
        ctl.append(qsgd_expected_error(g, sc) / n2)
    bound = bd.qsgd_variance_bound(d, s)
    return case_curves(theorem="QSGD Lem3.1(ii) var/msg", bound=bound, rigor="proven",
                       configuration=f"d={d} s={s} {messages} msgs {_label(partition_spec)}",
                       steps=np.arange(1, messages + 1), run_values=np.array([run]), initial=1.0,
                       constants="exact expectation over the quantiser; measured / ||v||^2",
                       control=f"s={sc} levels against the s={s} bound ({s / sc:g}x fewer levels)",
                       control_values=np.array([ctl]), note="relative error E||Q(v)-v||^2/||v||^2",
                       local_steps=1, partition=partition_spec, scheme="full")
