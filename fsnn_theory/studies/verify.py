r"""Numerical verification: hold every applicable published bound against measured trajectories.

Each *case* runs federated training (`fsnn_theory.federated`) with exactly the algorithm a theorem
analyses, measures the theorem's constants on the run (`fsnn_theory.studies.estimate`), evaluates
the bound (`fsnn_theory.theory.bounds`) and returns a long table of *checks*, one row per
(run, checkpoint), with the columns of :data:`CHECK_COLUMNS`:

``theorem`` (short label), ``source`` (full citation from the Bound record), ``kind`` (upper /
lower), ``rigorous`` (a violation would be a bug: the theorem's hypotheses hold for the model and
algorithm, and every constant is exact, a proven bound, or the maximum measured along the very
run being checked), ``configuration``, ``seed``, ``step`` (the checkpoint: round, SGD step or
message index), ``measured``, ``bound`` (NaN where the theorem's precondition fails),
``constants`` (how each constant was obtained) and ``note``.

:func:`verification_rows` condenses checks into :class:`VerificationRow` records (theorem, kind,
configuration, runs, checks, violations, median and worst tightness ratio bound / measured).

Cases (see each function for what exactly is run and measured):

* :func:`li2020_case` — FedAvg on the strongly convex model with Li et al.'s schedule, schemes
  full / I / II (Theorems 1-3), measured :math:`F(w_t) - F^*` at every round.
* :func:`rounds_vs_local_steps_case` — rounds to reach epsilon, measured vs Li et al.'s bound, E swept.
* :func:`field_guide_case` — FedAvg with a constant step against the Field Guide's Theorem 1
  (convex), every constant a proven bound.
* :func:`yu2019_case` — the spiking network (non-convex), Yu et al. 2019 Theorem 1.
* :func:`qsgd_case` — FedAvg (E = 1) with QSGD uplink: QSGD Lemma 3.1 per message (exact
  expectations), Theorem 3.2 bits, Li et al. Theorem 1 with the QSGD variance added to
  :math:`\sigma_k^2`, bits to epsilon and the Korhonen–Alistarh lower bound.
* :func:`memsgd_case` — a single worker with top-k and error feedback: Stich et al. 2018
  Theorem 2.4, bits to epsilon, the lower bound.

A note on expectations: the theorems bound expectations over the algorithm's randomness; a check
compares one run's realisation with the bound (every seed is a separate run). The bounds are loose
enough (tightness >> 1) that this never matters here. Constants measured "along the trajectory"
are the maxima over all seeds of a configuration, so the bound of a configuration is one curve.

Index convention for Li et al.: the model after R rounds has taken T = R E SGD steps; it is held
against the bound at T (conservative by one step under the theorem's reading :math:`w_{T+1}`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache, partial
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from fsnn_theory._validation import check_choice, check_int, check_positive
from fsnn_theory.theory import bounds as bd
from fsnn_theory.studies import estimate as est

__all__ = [
    "CHECK_COLUMNS",
    "TABLE_COLUMNS",
    "MODES",
    "VerificationRow",
    "tightness_ratio",
    "summarize_checks",
    "verification_rows",
    "rows_frame",
    "ConvexSetting",
    "ConvexProblem",
    "convex_problem",
    "case_partition",
    "PartitionConstants",
    "partition_constants",
    "li2020_case",
    "rounds_vs_local_steps_case",
    "field_guide_case",
    "SpikingSetting",
    "yu2019_case",
    "qsgd_expected_error",
    "qsgd_expected_nonzeros",
    "qsgd_case",
    "memsgd_case",
    "verification_config",
    "li2020_cases",
    "run_verification",
]

MODES: tuple[str, ...] = ("quick", "full")

CHECK_COLUMNS: tuple[str, ...] = (
    "theorem", "source", "kind", "rigorous", "configuration", "seed", "step", "measured", "bound",
    "constants", "note",
)

LI_THEOREMS = {
    "full": "Li2020 Thm1 (full participation)",
    "I": "Li2020 Thm2 (scheme I)",
    "II": "Li2020 Thm3 (scheme II)",
}


# --------------------------------------------------------------------------------------------
# Table rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationRow:
    r"""One line of the verification table.

    ``runs``: training runs (seeds); ``checks``: (run, checkpoint) pairs where the bound was
    evaluated; ``violations``: checks where the measurement is on the wrong side of the bound
    (upper: measured > bound); ``median_tightness`` / ``worst_tightness``: of the ratio
    bound / measured over the checks (worst = the smallest ratio for an upper bound, the largest
    for a lower bound; a ratio on the wrong side of 1 is a violation). ``rigorous``: a violation
    is a bug (see the module docstring); the ``fsnn verify`` exit code only counts these.
    """

    theorem: str
    kind: str
    rigorous: bool
    configuration: str
    runs: int
    checks: int
    violations: int
    median_tightness: float | None
    worst_tightness: float | None
    constants: str
    source: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TABLE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(VerificationRow))


def tightness_ratio(bound, measured, kind: str) -> np.ndarray:
    r"""bound / measured per check; ``inf`` where measured <= 0 for an upper bound (nothing to
    compare: the bound holds trivially), 0 where measured <= 0 for a lower bound."""
    check_choice("kind", kind, ("upper", "lower"))
    b = np.asarray(bound, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b / m
    return np.where(m > 0, r, np.inf if kind == "upper" else 0.0)


def summarize_checks(bound, measured, kind: str) -> tuple[int, int, float | None, float | None]:
    """(checks, violations, median tightness, worst tightness) of paired bound/measured values;
    NaN bounds (precondition failed) are not checks."""
    b = np.asarray(bound, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    ok = ~np.isnan(b) & ~np.isnan(m)
    b, m = b[ok], m[ok]
    if b.size == 0:
        return 0, 0, None, None
    viol = int(np.sum(m > b)) if kind == "upper" else int(np.sum(m < b))
    r = tightness_ratio(b, m, kind)
    worst = float(np.min(r)) if kind == "upper" else float(np.max(r))
    med = float(np.median(r))
    fin = lambda x: x if math.isfinite(x) else None  # noqa: E731  (JSON has no inf)
    return int(b.size), viol, fin(med), fin(worst)


def verification_rows(checks: pd.DataFrame) -> list[VerificationRow]:
    """One :class:`VerificationRow` per (theorem, configuration) of a checks table, in order of
    first appearance."""
    missing = [c for c in CHECK_COLUMNS if c not in checks.columns]
    if missing:
        raise ValueError(f"checks must have the columns {CHECK_COLUMNS}; missing {missing}")
    rows = []
    for (theorem, config), g in checks.groupby(["theorem", "configuration"], sort=False):
        kind = str(g["kind"].iloc[0])
        n, viol, med, worst = summarize_checks(g["bound"], g["measured"], kind)
        notes = [s for s in dict.fromkeys(g["note"]) if isinstance(s, str) and s]  # CSV: "" reads back NaN
        rows.append(VerificationRow(
            theorem=str(theorem), kind=kind, rigorous=bool(g["rigorous"].iloc[0]), configuration=str(config),
            runs=int(g["seed"].nunique()), checks=n, violations=viol, median_tightness=med,
            worst_tightness=worst, constants=str(g["constants"].iloc[0]), source=str(g["source"].iloc[0]),
            note="; ".join(notes),
        ))
    return rows


def rows_frame(rows: Sequence[VerificationRow]) -> pd.DataFrame:
    """The rows as a DataFrame with :data:`TABLE_COLUMNS`."""
    return pd.DataFrame([r.as_dict() for r in rows], columns=list(TABLE_COLUMNS))


def _checks(theorem: str, bound: bd.Bound | None, kind: str, rigorous: bool, configuration: str, seed: int,
            steps, measured, bound_values, constants: str, note: str = "", **extra) -> pd.DataFrame:
    if bound is not None and bound.kind != kind:  # the Bound says what it is; a literal may not contradict it
        raise ValueError(f"kind must be the bound's own kind {bound.kind!r} for {theorem!r}, got {kind!r}")
    steps = np.atleast_1d(np.asarray(steps))
    df = pd.DataFrame({
        "theorem": theorem,
        "source": bound.theorem if bound is not None else "",
        "kind": kind,
        "rigorous": bool(rigorous),
        "configuration": configuration,
        "seed": int(seed),
        "step": steps,
        "measured": np.broadcast_to(np.asarray(measured, dtype=np.float64), steps.shape),
        "bound": np.broadcast_to(np.asarray(bound_values, dtype=np.float64), steps.shape),
        "constants": constants,
        "note": note,
    })
    for key, val in extra.items():
        df[key] = val
    return df


# --------------------------------------------------------------------------------------------
# The strongly convex problem
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvexSetting:
    r"""The convex model of the checks: multinomial logistic regression with penalty ``l2`` on
    ``hidden`` fixed spike-time features of Yin-Yang (`fsnn_theory.federated.logreg`), the first
    ``train_size`` samples of the standard training split, ``clients`` clients, minibatch
    ``batch_size`` (drawn with replacement). A larger ``l2`` gives a smaller condition number
    :math:`\kappa = L/\mu`, so Li et al.'s schedule (:math:`\gamma = 8\kappa`) moves faster."""

    train_size: int = 1000
    test_size: int = 100
    hidden: int = 20
    l2: float = 0.01
    clients: int = 10
    batch_size: int = 8
    feature_seed: int = 0

    def __post_init__(self) -> None:
        check_int("train_size", self.train_size, low=2)
        check_int("test_size", self.test_size, low=1)
        check_int("hidden", self.hidden, low=1)
        check_positive("l2", self.l2)
        check_int("clients", self.clients, low=1, high=self.train_size)
        check_int("batch_size", self.batch_size, low=1)
        check_int("feature_seed", self.feature_seed, low=0)


@dataclass(frozen=True, eq=False)
class ConvexProblem:
    """Model, data and the certified global optimum of a :class:`ConvexSetting`."""

    setting: ConvexSetting
    model: Any
    train: Any
    test: Any
    optimum: est.Optimum
    mu: est.Estimate

    @property
    def f_star_lower(self) -> float:
        """Certified lower bound on F*: measured gaps F(w) - F* use it (never underestimated)."""
        return self.optimum.value_lower


@lru_cache(maxsize=4)
def convex_problem(setting: ConvexSetting) -> ConvexProblem:
    """Build (and cache) the data, the model and the global optimum of ``setting``."""
    from fsnn_theory.data import yin_yang_dataset
    from fsnn_theory.studies.setups import convex_model_and_data

    ds = yin_yang_dataset(train_size=setting.train_size, validation_size=10, test_size=setting.test_size)
    model, fds = convex_model_and_data(ds, setting.hidden, setting.l2, setting.feature_seed)
    mu = est.logreg_strong_convexity(model)
    opt = est.model_optimum(model, fds.train.X, fds.train.y, mu.value)
    # the record is cached and shared: its arrays must not change under a later caller
    for arr in (fds.train.X, fds.train.y, fds.test.X, fds.test.y, opt.params):
        arr.flags.writeable = False
    return ConvexProblem(setting, model, fds.train, fds.test, opt, mu)


def case_partition(problem: ConvexProblem, spec: str, seed: int = 0):
    """A partition of the problem's training set by spec: any spec of
    `fsnn_theory.federated.partition.parse_partition` (``"iid"``, ``"dirichlet:ALPHA"``,
    ``"shards:S"``, ...), or ``"single"`` (one client holding everything)."""
    from fsnn_theory.federated.partition import Partition, parse_partition

    y = problem.train.y
    if spec == "single":
        return Partition((np.arange(y.size),), y, int(y.max()) + 1, "single")
    return parse_partition(spec).make(y, problem.setting.clients, seed)


@dataclass(frozen=True, eq=False)
class PartitionConstants:
    """The run-independent constants of Li et al.'s bound for one partition."""

    partition: Any
    L: est.Estimate
    Gamma: est.Estimate
    w1_dist2: est.Estimate


@lru_cache(maxsize=32)
def partition_constants(problem: ConvexProblem, spec: str) -> PartitionConstants:
    """L (Böhning bound, max over clients), Γ (solved to tolerance), ‖w₁ − w*‖² (certified) of the
    partition ``spec`` (partition seed 0); cached per (problem, spec)."""
    part = case_partition(problem, spec)
    X, y = problem.train.X, problem.train.y
    L = est.logreg_client_smoothness_bound(problem.model, X, part.client_indices)
    Gamma = est.heterogeneity_gamma(problem.model, X, y, part.client_indices, part.weights, problem.mu.value,
                                    global_optimum=problem.optimum)
    w1 = est.initial_distance2(problem.model.init_params(0), problem.optimum)
    return PartitionConstants(part, L, Gamma, w1)


def _convex_run(problem: ConvexProblem, partition, config, *, keep_average: bool = False,
                extra_callback: Callable[..., None] | None = None):
    """run_federated on a recording wrapper of the model; returns (FederatedRun, trajectory stats)."""
    from fsnn_theory.federated.algorithms import run_federated

    stats = est.LogregTrajectoryStats(problem.model, problem.train.X, problem.train.y, partition.client_indices,
                                      partition.weights, config.batch_size, config.local_steps,
                                      keep_average=keep_average)
    if extra_callback is None:
        callback = stats.callback
    else:
        def callback(*args):
            stats.callback(*args)
            extra_callback(*args)
    run = run_federated(est.recording_model(problem.model, callback), problem.train, problem.test, partition, config)
    return run, stats


_LI_CONSTANTS = ("L: Boehning upper bound (max over clients); mu: exact (= lambda); sigma_k^2, G^2: max along "
                 "the runs' iterates (exact expectations + realised norms); Gamma, ||w1-w*||^2: solved to "
                 "tolerance (certified)")


def _label(spec: str) -> str:
    return spec.replace("dirichlet:", "Dir a=").replace("shards:", "shards ")


def li2020_case(problem: ConvexProblem, partition_spec: str, scheme: str, local_steps: int, steps: int,
                seeds: Sequence[int], clients_per_round: int | None = None,
                overrides: dict[str, float] | None = None) -> pd.DataFrame:
    r"""FedAvg with Li et al.'s schedule against their Theorem 1 / 2 / 3, at every round.

    Runs ``seeds`` (same partition, partition seed 0; the seed drives client sampling and
    minibatches) for ``steps / local_steps`` rounds: FedAvg, E local SGD steps, batch B drawn
    with replacement, :math:`\eta_t = 2/(\mu(\gamma+t))` with L the Böhning bound valid for every
    client objective (so the schedule and the bound use the same L), lossless float64 wire (the
    theorem has no rounding). Scheme ``"II"`` needs balanced data, :math:`p_k = 1/N` exactly.

    Measured: :math:`F(w_R) - F^*` after round R, with :math:`F(w_R)` the run's ``train_loss``
    (the penalised objective on all samples, :math:`\sum_k p_k F_k`) and :math:`F^*` replaced by
    its certified lower bound (so the gap is never underestimated). Bound: Theorem 1/2/3 at
    T = R E steps. The model after R rounds has taken R E steps from :math:`w_1`; the theorem's
    per-step statement puts it at index R E + 1, so evaluating at T = R E is conservative by one
    step. :math:`\sigma_k^2` and :math:`G^2` are the maxima over all seeds' iterates (every local
    step of every training client, and every client at each round's broadcast model).

    ``overrides`` replaces measured constants (keys ``"sigma2"`` (every client), ``"G2"``,
    ``"Gamma"``, ``"w1_dist2"``) — only to show that the check can fail with a wrong constant.
    """
    from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule

    check_choice("scheme", scheme, tuple(LI_THEOREMS))
    E = check_int("local_steps", local_steps, low=1)
    steps = check_int("steps", steps, low=E)
    if steps % E:
        raise ValueError(f"steps must be a multiple of local_steps (whole rounds), got {steps} and E={E}")
    pc = partition_constants(problem, partition_spec)
    part = pc.partition
    N = part.n_clients
    K = None if scheme == "full" else check_int("clients_per_round", clients_per_round, low=1, high=N)
    mu = problem.mu.value
    schedule = StepSchedule("li2020", L=pc.L.value, mu=mu)
    R = steps // E
    gaps, sigma2, G2 = [], np.zeros(N), 0.0
    for seed in seeds:
        config = FederatedConfig(rounds=R, local_steps=E, batch_size=problem.setting.batch_size, schedule=schedule,
                                 scheme=scheme, clients_per_round=K, compressor="none64", wire_bits=64, seed=seed)
        run, st = _convex_run(problem, part, config)
        gaps.append(run.history["train_loss"].to_numpy()[1:] - problem.f_star_lower)
        sigma2 = np.maximum(sigma2, st.sigma2_max)
        G2 = max(G2, st.G2)
    Gamma, w1_dist2, constants = pc.Gamma.value, pc.w1_dist2.value, _LI_CONSTANTS
    if overrides:
        unknown = set(overrides) - {"sigma2", "G2", "Gamma", "w1_dist2"}
        if unknown:
            raise ValueError(f"overrides must use the keys sigma2, G2, Gamma, w1_dist2; got {sorted(unknown)}")
        if "sigma2" in overrides:
            sigma2 = np.full(N, float(overrides["sigma2"]))
        G2 = float(overrides.get("G2", G2))
        Gamma = float(overrides.get("Gamma", Gamma))
        w1_dist2 = float(overrides.get("w1_dist2", w1_dist2))
        constants = f"OVERRIDDEN {sorted(overrides.items())}; " + constants
    T = np.arange(1, R + 1) * E
    bound = bd.li2020_fedavg_bound(T, E, pc.L.value, mu, sigma2, math.sqrt(G2), Gamma, w1_dist2,
                                   part.weights, K=K, N=N, scheme=scheme)
    config_str = (f"{_label(partition_spec)}, E={E}, N={N}" + (f", K={K}" if K else "")
                  + f", B={problem.setting.batch_size}, T={steps}")
    frames = [
        _checks(LI_THEOREMS[scheme], bound, "upper", True, config_str, seed, np.arange(1, R + 1), gap, bound.value,
                constants, steps_taken=T, L=pc.L.value, mu=mu, weighted_sigma2=float(part.weights ** 2 @ sigma2),
                G2=G2, Gamma=Gamma, w1_dist2=w1_dist2, local_steps=E, partition=partition_spec, scheme=scheme)
        for seed, gap in zip(seeds, gaps)
    ]
    return pd.concat(frames, ignore_index=True)


def rounds_vs_local_steps_case(problem: ConvexProblem, partition_spec: str, local_steps: Sequence[int],
                               max_rounds: int, max_steps: int, seeds: Sequence[int], eps_fraction: float,
                               min_rounds: int = 20) -> pd.DataFrame:
    r"""Rounds to reach :math:`F(w_R) - F^* \le \epsilon`: measured vs Li et al.'s Theorem 1, E swept.

    :math:`\epsilon` = ``eps_fraction`` times the initial gap :math:`F(w_1) - F^*`. For each E,
    runs of :math:`\min(\text{max\_rounds}, \max(\text{min\_rounds}, \lceil\text{max\_steps}/E\rceil))`
    rounds (full participation, Li schedule as in :func:`li2020_case`);
    measured = the first round whose gap is <= epsilon (``inf`` if none within the budget);
    predicted = `fsnn_theory.theory.bounds.li2020_rounds_to_epsilon` with the constants of that
    E's runs. A check is a violation if the run needed more rounds than predicted; a run that
    did not reach epsilon is censored (no check) unless the prediction was within its budget.
    Li et al. (2020, Sec. 3.3 and Fig. 1) predict a U shape in E.
    """
    from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule

    eps_fraction = float(eps_fraction)
    if not 0.0 < eps_fraction < 1.0:
        raise ValueError(f"eps_fraction must lie in (0, 1), got {eps_fraction!r}")
    pc = partition_constants(problem, partition_spec)
    part = pc.partition
    mu = problem.mu.value
    schedule = StepSchedule("li2020", L=pc.L.value, mu=mu)
    gap0 = problem.model.loss(problem.model.init_params(0), problem.train.X, problem.train.y) - problem.f_star_lower
    eps = eps_fraction * gap0
    frames = []
    check_int("max_rounds", max_rounds, low=1)
    check_int("max_steps", max_steps, low=1)
    check_int("min_rounds", min_rounds, low=1)
    for E in local_steps:
        E = check_int("local_steps", E, low=1)
        R = min(max_rounds, max(min_rounds, -(-max_steps // E)))
        runs = []
        sigma2, G2 = np.zeros(part.n_clients), 0.0
        for seed in seeds:
            config = FederatedConfig(rounds=R, local_steps=E, batch_size=problem.setting.batch_size, schedule=schedule,
                                     compressor="none64", wire_bits=64, seed=seed)
            run, st = _convex_run(problem, part, config)
            runs.append(run.history["train_loss"].to_numpy()[1:] - problem.f_star_lower)
            sigma2 = np.maximum(sigma2, st.sigma2_max)
            G2 = max(G2, st.G2)
        args = (E, pc.L.value, mu, sigma2, math.sqrt(G2), pc.Gamma.value, pc.w1_dist2.value, part.weights)
        predicted = bd.li2020_rounds_to_epsilon(eps, *args)
        source = bd.li2020_fedavg_bound(E, *args)  # for the citation
        for seed, gap in zip(seeds, runs):
            hit = np.flatnonzero(gap <= eps)
            measured = float(hit[0] + 1) if hit.size else math.inf
            censored = not hit.size and predicted > R
            frames.append(_checks(
                "Li2020 Thm1 rounds-to-eps", source, "upper", True,
                f"{_label(partition_spec)}, E={E}, eps={eps_fraction:g} x initial gap, budget {R} rounds",
                seed, [E], measured, math.nan if censored else predicted,
                _LI_CONSTANTS + " (per E)",
                "censored: epsilon not reached within the budget" if censored else "",
                local_steps=E, epsilon=eps, predicted_rounds=predicted, measured_rounds=measured, budget_rounds=R,
                final_gap=float(gap[-1])))
    return pd.concat(frames, ignore_index=True)


def field_guide_case(problem: ConvexProblem, partition_spec: str, local_steps: int, rounds: int,
                     seeds: Sequence[int], eta_fraction: float = 1.0) -> pd.DataFrame:
    r"""FedAvg with a constant step against the Field Guide's Theorem 1 (convex, L-smooth).

    Balanced clients (:math:`F = \frac1M\sum_i F_i`, so the partition must have :math:`p_k = 1/M`),
    full participation, :math:`\tau` = E local steps, constant step
    :math:`\eta` = ``eta_fraction`` / (4L) (the theorem needs :math:`\eta \le 1/(4L)`).
    Measured after T rounds: the average of :math:`F(\bar x^{t,k}) - F^*` over rounds t < T and
    local steps k, with :math:`\bar x^{t,k} = \frac1M\sum_i x_i^{t,k}` the virtual average of the
    local iterates (recorded at every step); since the statement's k-range (0..τ-1 or 1..τ) was
    read in a secondary source, the larger of the two averages is used. Every constant is a
    proven bound: L (Böhning), :math:`\sigma^2 \le 2\max\|z\|^2/B` and
    :math:`\zeta \le 2\sqrt2\max\|z\|` (`fsnn_theory.studies.estimate`), D certified; the
    maxima measured along the run are reported in ``note`` for comparison.
    """
    from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule

    E = check_int("local_steps", local_steps, low=1)
    R = check_int("rounds", rounds, low=1)
    if not 0.0 < eta_fraction <= 1.0:
        raise ValueError(f"eta_fraction must lie in (0, 1] (eta <= 1/(4L)), got {eta_fraction!r}")
    pc = partition_constants(problem, partition_spec)
    part = pc.partition
    M = part.n_clients
    if not np.allclose(part.weights, 1.0 / M, rtol=0.0, atol=1e-12):
        raise ValueError(f"partition {partition_spec!r} must be balanced (p_k = 1/M) for the Field Guide's Theorem 1")
    model, X, y = problem.model, problem.train.X, problem.train.y
    L = pc.L.value
    eta = eta_fraction / (4.0 * L)
    sigma2 = est.logreg_variance_bound(model, X, problem.setting.batch_size)
    zeta = est.logreg_dissimilarity_bound(model, X)
    D = math.sqrt(pc.w1_dist2.value)
    Tr = np.arange(1, R + 1)
    bound = bd.field_guide_fedavg_bound(Tr, E, eta, L, sigma2.value, zeta.value, D, M)
    config_str = f"{_label(partition_spec)}, tau=E={E}, M={M}, B={problem.setting.batch_size}, eta=1/(4L), T={R} rounds"
    constants = ("L: Boehning upper bound (max over clients); sigma^2 <= 2 max||z||^2/B and zeta <= 2 sqrt(2) "
                 "max||z||: upper bounds valid for all w; D: solved to tolerance (certified)")
    frames = []
    for seed in seeds:
        config = FederatedConfig(rounds=R, local_steps=E, batch_size=problem.setting.batch_size,
                                 schedule=StepSchedule("constant", eta0=eta), compressor="none64", wire_bits=64,
                                 eval_every=R, seed=seed)
        run, st = _convex_run(problem, part, config, keep_average=True)
        pre = np.array([model.loss(a, X, y) for a in st.averages])  # xbar^{t,k} before local step k
        post = np.concatenate([pre[1:], [model.loss(run.params, X, y)]])  # after local step k (k = 1..tau)
        steps_done = Tr * E
        avg = np.maximum(np.cumsum(pre)[steps_done - 1], np.cumsum(post)[steps_done - 1]) / steps_done
        measured = avg - problem.f_star_lower
        note = (f"measured along this run: sigma^2 <= {float(np.max(st.sigma2_max)):.3g} (bound {sigma2.value:.3g}), "
                f"zeta <= {st.zeta_max:.3g} (bound {zeta.value:.3g})")
        frames.append(_checks("FieldGuide Thm1 (convex, constant step)", bound, "upper", True, config_str, seed, Tr,
                              measured, bound.value, constants, note, steps_taken=steps_done, local_steps=E,
                              partition=partition_spec, eta=eta, sigma2_bound=sigma2.value, zeta_bound=zeta.value,
                              sigma2_measured=float(np.max(st.sigma2_max)), zeta_measured=st.zeta_max))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Non-convex: the spiking network, Yu et al. 2019
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikingSetting:
    r"""The spiking network of the non-convex check: Göltz et al.'s Yin-Yang network with
    ``hidden`` LIF neurons (`fsnn_theory.network.yin_yang_classifier`), trained with plain SGD on
    exact spike-time gradients (no gradient guard, no weight bumping: the algorithm the theorem
    analyses). ``workers`` workers each hold a full copy of the first ``train_size`` training
    samples, so every worker samples from the same distribution, as Yu et al. assume.
    Constant step :math:`\gamma` = ``step_fraction`` / L̂, L̂ the curvature measured at the
    initial weights; if the run's measured curvature then violates :math:`\gamma \le 1/L`, the run
    is repeated with L̂ = that curvature (at most ``max_attempts`` runs). ``eval_points`` points
    along the run where :math:`\sigma^2`, G and L are measured (per-sample gradients on at most
    ``variance_samples`` samples)."""

    train_size: int = 150
    test_size: int = 50
    hidden: int = 20
    workers: int = 4
    batch_size: int = 16
    step_fraction: float = 0.5
    eval_points: int = 4
    variance_samples: int | None = None
    max_attempts: int = 3

    def __post_init__(self) -> None:
        check_int("train_size", self.train_size, low=2)
        check_int("test_size", self.test_size, low=1)
        check_int("hidden", self.hidden, low=1)
        check_int("workers", self.workers, low=1)
        check_int("batch_size", self.batch_size, low=1)
        if not 0.0 < self.step_fraction <= 1.0:
            raise ValueError(f"step_fraction must lie in (0, 1], got {self.step_fraction!r}")
        check_int("eval_points", self.eval_points, low=1)
        if self.variance_samples is not None:
            check_int("variance_samples", self.variance_samples, low=2)
        check_int("max_attempts", self.max_attempts, low=1)


_YU_SOURCE = ("Yu, Yang, Zhu, 'Parallel Restarted SGD with Faster Convergence and Less Communication', "
              "AAAI 2019, arXiv 1807.06629, Theorem 1")
_YU_CONSTANTS = ("L: max of the curvature at sampled averaged iterates (power iteration, finite-difference HVP) "
                 "and of the secant ratios ||grad f(x_t+1) - grad f(x_t)|| / ||x_t+1 - x_t|| along the averaged "
                 "path - MEASURED; "
                 "sigma^2: minibatch variance at sampled iterates - MEASURED; G^2: max of realised minibatch "
                 "norms at every step and exact second moments at sampled iterates - MEASURED; f0 - f*: "
                 "upper bound (f* >= 0, the loss is non-negative)")


def yu2019_case(setting: SpikingSetting, local_steps: int, rounds: int, seed: int) -> pd.DataFrame:
    r"""Local SGD on the spiking network against Yu, Yang, Zhu (2019) Theorem 1.

    N = ``workers`` workers, each with a full copy of the data; averaging every I = E steps
    (FedAvg, full participation, equal weights), constant step :math:`\gamma`; T = R E
    iterations (:math:`\gamma` chosen as described in :class:`SpikingSetting`). Measured, at every
    round end T' = rE: :math:`\frac1{T'}\sum_{t<T'}
    \|\nabla f(\bar x^t)\|^2` with :math:`\bar x^t` the average of the workers' iterates before
    step t (seen through a recording wrapper) and :math:`\nabla f` the exact gradient on all
    samples. Bound: `fsnn_theory.theory.bounds.yu2019_local_sgd_bound` with measured L (the
    largest of: power-iteration curvature at the initial weights and at ``eval_points`` averaged
    iterates, and the secant ratios of :math:`\nabla f` between consecutive averaged iterates),
    :math:`\sigma^2`, G (see ``constants``). The spike-time loss is only piecewise smooth (no
    global L exists), the constants are measured, not proven, and the theorem's statement was
    not checked against the paper: the rows are *not rigorous*, a violation is a finding to
    explain, not proof of a bug. If :math:`\gamma > 1/L` for the measured L, the precondition
    fails and no bound is evaluated.
    """
    from fsnn_theory.data import Split, yin_yang_dataset
    from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule, run_federated
    from fsnn_theory.federated.partition import Partition
    from fsnn_theory.network import yin_yang_classifier

    E = check_int("local_steps", local_steps, low=1)
    R = check_int("rounds", rounds, low=1)
    ds = yin_yang_dataset(train_size=setting.train_size, validation_size=10, test_size=setting.test_size)
    model = yin_yang_classifier(setting.hidden)
    X, y = ds.train.X, ds.train.y
    n, N = X.shape[0], setting.workers
    w0 = model.init_params(seed)
    L0 = est.smoothness_power_iteration(model, w0, X, y, seed=seed).value
    # every worker holds a copy of all samples: identical local distributions (Yu et al.'s setting)
    train_rep = Split(np.tile(X, (N, 1)), np.tile(y, N))
    part = Partition(tuple(np.arange(k * n, (k + 1) * n) for k in range(N)), train_rep.y, ds.n_classes, "replicated")

    def local_sgd(gamma):
        calls: list[tuple[np.ndarray, np.ndarray]] = []

        def record(P, G, Xb, yb):
            calls.append((P[0].copy(), G[0].copy()))

        config = FederatedConfig(rounds=R, local_steps=E, batch_size=setting.batch_size,
                                 schedule=StepSchedule("constant", eta0=gamma), compressor="none64", wire_bits=64,
                                 eval_every=R, seed=seed, max_dw_norm=None, bumping=None)
        run_federated(est.recording_model(model, record), train_rep, ds.test, part, config)
        if len(calls) != R * N * E:
            raise RuntimeError(f"expected {R * N * E} training gradient calls, saw {len(calls)}")
        # call order of the unbatched loop: round, worker, local step
        P = np.stack([c[0] for c in calls]).reshape(R, N, E, -1)
        realised = max(float(c[1] @ c[1]) for c in calls)
        return P.mean(axis=1).reshape(R * E, -1), realised  # xbar^t before step t = 0..T-1

    points = np.unique(np.linspace(0, R * E - 1, setting.eval_points).astype(int))

    def path_gradients(xbar):
        """grad f at every averaged iterate, and the largest secant ratio ||dg|| / ||dx|| between
        consecutive ones (a lower estimate of the Lipschitz constant of grad f along the path)."""
        grads = np.stack([model.loss_and_grad(x, X, y)[1] for x in xbar])
        dx = np.linalg.norm(np.diff(xbar, axis=0), axis=1)
        dg = np.linalg.norm(np.diff(grads, axis=0), axis=1)
        moved = dx > 0
        secant = float(np.max(dg[moved] / dx[moved])) if moved.any() else 0.0
        return grads, secant

    # the step must satisfy gamma <= 1/L for the curvature of the run itself: start from the
    # curvature at the initial weights, rerun with the measured one if the run got stiffer
    L_ref, attempts = L0, 0
    while True:
        attempts += 1
        gamma = setting.step_fraction / L_ref
        xbar, realised = local_sgd(gamma)
        grads, L_secant = path_gradients(xbar)
        L_points = max(est.smoothness_power_iteration(model, xbar[t], X, y, seed=seed).value for t in points)
        L = max(L0, L_points, L_secant)
        if gamma * L <= 1.0 or attempts >= setting.max_attempts:
            break
        L_ref = L
    grad_norm2 = np.einsum("ti,ti->t", grads, grads)
    s2s, m2s = [], []
    for t in points:
        s2 = est.minibatch_gradient_variance(model, xbar[t], X, y, setting.batch_size,
                                             max_samples=setting.variance_samples, seed=seed)
        s2s.append(s2)
        m2s.append(grad_norm2[t] + s2)
    sigma2 = max(s2s)
    G2 = max(realised, max(m2s))
    f0 = float(model.loss(xbar[0], X, y))
    fT = float(model.loss(xbar[-1], X, y))
    Tp = np.arange(1, R + 1) * E
    measured = np.cumsum(grad_norm2)[Tp - 1] / Tp
    config_str = (f"SNN 4-{setting.hidden}-3 LIF, N={N} workers (full copies, n={n}), I=E={E}, "
                  f"B={setting.batch_size}, gamma={setting.step_fraction:g}/L_measured, T={R * E}")
    note = (f"seed {seed}: gamma = {gamma:.3g}, gamma * L_measured = {gamma * L:.3g} (L = {L:.3g}: init {L0:.3g}, "
            f"points {L_points:.3g}, secant {L_secant:.3g}), step chosen in {attempts} run(s), "
            f"f(x0) = {f0:.3g}, f(x_T) = {fT:.3g}")
    try:
        bound = bd.yu2019_local_sgd_bound(Tp, gamma, E, L, math.sqrt(G2), sigma2, N, f0)
        values = bound.value
    except ValueError as exc:
        bound, values = None, np.full(Tp.shape, math.nan)
        note = f"seed {seed}: precondition fails with the measured L ({exc}); no bound evaluated"
    df = _checks("Yu2019 Thm1 (non-convex, SNN)", bound, "upper", False, config_str, seed, np.arange(1, R + 1),
                 measured, values, _YU_CONSTANTS, note, steps_taken=Tp, L=L, L_init=L0, L_points=L_points,
                 L_secant=L_secant, sigma2=sigma2, G2=G2, f0_gap=f0, gamma=gamma, local_steps=E, attempts=attempts)
    if bound is None:
        df["source"] = _YU_SOURCE
    return df


# --------------------------------------------------------------------------------------------
# Compression: QSGD (Alistarh et al. 2017) and top-k with error feedback (Stich et al. 2018)
# --------------------------------------------------------------------------------------------


def _float32_ceil(x: float) -> float:
    """Smallest float32 >= x (the norm QSGD sends)."""
    f = np.float32(x)
    if float(f) < x:
        f = np.nextafter(f, np.float32(np.inf))
    return float(f)


def _qsgd_fractions(v: np.ndarray, s: int) -> tuple[np.ndarray, float]:
    r = _float32_ceil(float(np.linalg.norm(v)))
    if r == 0.0:
        return np.zeros_like(v), 0.0
    a = np.minimum(s * np.abs(v) / r, float(s))
    return a, r


def qsgd_expected_error(v, s: int) -> float:
    r"""Exact :math:`\mathbb E\|Q_s(v) - v\|^2` of the QSGD quantiser (one bucket).

    With the sent norm r (the smallest float32 :math:`\ge \|v\|`) and
    :math:`a_i = s|v_i|/r`, each coordinate is :math:`\frac rs\lfloor a_i\rfloor` or
    :math:`\frac rs(\lfloor a_i\rfloor + 1)` with probabilities making it unbiased, so its
    variance is :math:`(r/s)^2 f_i(1 - f_i)`, :math:`f_i = a_i - \lfloor a_i \rfloor`:

    .. math:: \mathbb E\|Q_s(v) - v\|^2 = \frac{r^2}{s^2}\sum_i f_i (1 - f_i).

    Source: the quantiser of Alistarh et al. 2017 (arXiv 1610.02132, Sec. 3.1), as implemented in
    `fsnn_theory.federated.compressors.qsgd_levels`.
    """
    v = np.asarray(v, dtype=np.float64)
    s = check_int("s", s, low=1)
    a, r = _qsgd_fractions(v, s)
    f = a - np.floor(a)
    return float((r / s) ** 2 * np.sum(f * (1.0 - f)))


def qsgd_expected_nonzeros(v, s: int) -> float:
    r"""Exact :math:`\mathbb E\|Q_s(v)\|_0 = \sum_i P(\ell_i > 0) = \sum_i \min(a_i, 1)`
    (a coordinate with :math:`a_i \ge 1` always keeps a level >= 1; below 1 it rounds up with
    probability :math:`a_i`)."""
    v = np.asarray(v, dtype=np.float64)
    s = check_int("s", s, low=1)
    a, _ = _qsgd_fractions(v, s)
    return float(np.sum(np.minimum(a, 1.0)))


def _first_hit(values: np.ndarray, eps: float) -> int | None:
    hit = np.flatnonzero(values <= eps)
    return int(hit[0]) if hit.size else None


def _round_of(hit: int | None) -> int:
    """1-based round of a first hit, -1 for none (the ``step`` of a bits-to-epsilon check)."""
    return -1 if hit is None else hit + 1


def qsgd_case(problem: ConvexProblem, partition_spec: str, levels: int, steps: int, seeds: Sequence[int],
              eps_fraction: float) -> pd.DataFrame:
    r"""FedAvg (E = 1, full participation, Li schedule) with the QSGD uplink: five kinds of checks.

    1. *QSGD Lemma 3.1 (ii)* per message: the exact expected error :math:`\mathbb E\|Q_s(v) -
       v\|^2` (:func:`qsgd_expected_error`) of every update v actually sent, against
       :math:`\min(d/s^2, \sqrt d/s)\|v\|^2`. The updates are reconstructed exactly from the
       recorded gradients (E = 1: :math:`v = (w - \eta_t g) - w` in the loop's arithmetic).
    2. *Lemma 3.1 (iii)*: exact :math:`\mathbb E\|Q_s(v)\|_0` against :math:`s(s + \sqrt d)`.
    3. *Theorem 3.2*: the measured bits per message (exact Elias-ω lengths, mean over the
       round's clients) against the expected-bits bound (not rigorous: its o(1) is dropped).
    4. *Li et al. Theorem 1 with QSGD* (derived here, not a published statement): with E = 1,
       FedAvg is SGD on F with the unbiased stochastic gradient :math:`\sum_k p_k Q(g_k)`; QSGD
       adds at most :math:`q\,\mathbb E\|g_k\|^2`, :math:`q = \min(d/s^2, \sqrt d/s)`, to each
       client's variance, independently across clients, so Theorem 1 holds with
       :math:`\tilde\sigma_k^2 = \sigma_k^2 + q G_k^2` (:math:`G_k^2` the largest
       :math:`\mathbb E\|g_k\|^2` along the run; the :math:`(E-1)^2G^2` term vanishes).
    5. *Bits to epsilon* (epsilon = ``eps_fraction`` x initial gap): measured cumulative uplink
       bits at the first round with gap <= epsilon, against Theorem 1's rounds-to-epsilon times
       the largest measured bits per round (upper), and against the Korhonen–Alistarh lower bound
       :math:`N d\log_2(d/(N\epsilon))` (order bound, constant 1: not rigorous).
    """
    from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule
    from fsnn_theory.federated.compressors import QSGD

    s = check_int("levels", levels, low=1)
    pc = partition_constants(problem, partition_spec)
    part = pc.partition
    N, d = part.n_clients, int(problem.model.n_params)
    mu = problem.mu.value
    q = min(d / s**2, math.sqrt(d) / s)
    schedule = StepSchedule("li2020", L=pc.L.value, mu=mu)
    gap0 = problem.model.loss(problem.model.init_params(0), problem.train.X, problem.train.y) - problem.f_star_lower
    eps = eps_fraction * gap0
    cfg_str = f"{_label(partition_spec)}, E=1, N={N}, B={problem.setting.batch_size}, QSGD s={s}, d={d}, T={steps}"
    frames = []
    per_seed = []
    for seed in seeds:
        msgs: list[tuple[float, float, float]] = []  # (||v||^2, E err, E nnz)
        counter = {"t": 0}

        def on_step(P, G, Z, y, counter=counter, msgs=msgs):
            eta = schedule.step_size(counter["t"], 1)
            for m in range(P.shape[0]):
                v = (P[m] - eta * G[m]) - P[m]  # the loop's own arithmetic for E = 1
                msgs.append((float(v @ v), qsgd_expected_error(v, s), qsgd_expected_nonzeros(v, s)))
            counter["t"] += 1

        config = FederatedConfig(rounds=steps, local_steps=1, batch_size=problem.setting.batch_size,
                                 schedule=schedule, compressor=QSGD(s), wire_bits=64, seed=seed)
        run, st = _convex_run(problem, part, config, extra_callback=on_step)
        hist = run.history
        gap = hist["train_loss"].to_numpy()[1:] - problem.f_star_lower
        msg = np.array(msgs)
        per_seed.append((seed, run, st, gap, msg))
        vb = bd.qsgd_variance_bound(d, s, msg[:, 0])
        frames.append(_checks("QSGD Lemma 3.1(ii) variance per message", vb, "upper", True, cfg_str, seed,
                              np.arange(msg.shape[0]), msg[:, 1], vb.value,
                              "exact expectation over the quantiser for each update actually sent"))
        nb = bd.qsgd_nonzeros_bound(d, s)
        frames.append(_checks("QSGD Lemma 3.1(iii) nonzeros per message", nb, "upper", True, cfg_str, seed,
                              np.arange(msg.shape[0]), msg[:, 2], nb.value,
                              "exact expectation over the quantiser for each update actually sent"))
        if s >= 2:
            bb = bd.qsgd_expected_bits_bound(d, s)
            frames.append(_checks("QSGD Thm3.2 bits per message", bb, "upper", False, cfg_str, seed,
                                  hist["round"].to_numpy()[1:], hist["uplink_bits"].to_numpy()[1:] / N, bb.value,
                                  "measured: exact Elias-omega message lengths, mean over the round's clients",
                                  "o(1) of the Elias code length dropped: not rigorous"))
    # Li et al. Theorem 1 with the QSGD variance, constants over all seeds
    sigma2 = np.zeros(N)
    m2 = np.zeros(N)
    for _, _, st, _, _ in per_seed:
        sigma2 = np.maximum(sigma2, st.sigma2_max)
        m2 = np.maximum(m2, st.second_moment_max)
    G2 = max(st.G2 for _, _, st, _, _ in per_seed)
    sigma2_q = sigma2 + q * m2
    T = np.arange(1, steps + 1)
    lb = bd.li2020_fedavg_bound(T, 1, pc.L.value, mu, sigma2_q, math.sqrt(G2), pc.Gamma.value, pc.w1_dist2.value,
                                part.weights)
    rounds_fn = partial(bd.li2020_rounds_to_epsilon, E=1, L=pc.L.value, mu=mu, sigma2=sigma2_q, G=math.sqrt(G2),
                        Gamma=pc.Gamma.value, w1_dist2=pc.w1_dist2.value, p=part.weights)
    for seed, run, st, gap, msg in per_seed:
        frames.append(_checks("Li2020 Thm1 + QSGD variance (E=1, derived)", lb, "upper", True, cfg_str, seed, T, gap,
                              lb.value, _LI_CONSTANTS + "; sigma_k^2 + q G_k^2 with q = min(d/s^2, sqrt(d)/s)",
                              "composition derived here (Thm 1 with E = 1 and an unbiased compressor); not a "
                              "published statement"))
        hist = run.history
        bits_round = hist["uplink_bits"].to_numpy()[1:]
        hit = _first_hit(gap, eps)
        measured_bits = float(hist["cum_uplink_bits"].to_numpy()[1:][hit]) if hit is not None else math.inf
        predicted_bits = bd.bits_to_epsilon(eps, rounds_fn, float(bits_round.max()) / N, N)
        censored = hit is None and rounds_fn(eps) > steps
        frames.append(_checks("bits-to-eps QSGD (Li2020 Thm1 + Lemma 3.1)", None, "upper", True, cfg_str, seed,
                              [_round_of(hit)],
                              measured_bits, math.nan if censored else predicted_bits,
                              "rounds-to-eps of the derived bound x largest measured bits per round",
                              f"eps = {eps_fraction:g} x initial gap" + ("; censored" if censored else ""),
                              epsilon=eps))
        if hit is not None:
            kb = bd.korhonen2021_communication_lower_bound(N, d, eps)
            frames.append(_checks("Korhonen-Alistarh 2021 lower bound (QSGD run)", kb, "lower", False, cfg_str, seed,
                                  [_round_of(hit)], measured_bits, kb.value, "order bound with constant 1, log base 2",
                                  "Omega(N d log(d/(N eps))): compare growth, not values", epsilon=eps))
    df = pd.concat(frames, ignore_index=True)
    li_source = lb.theorem + " + " + bd.qsgd_variance_bound(d, s).theorem
    df.loc[df["theorem"].str.startswith("bits-to-eps"), "source"] = li_source
    df.loc[df["theorem"].str.startswith("Li2020"), "source"] = li_source
    return df


def memsgd_case(problem: ConvexProblem, fraction: float, steps: int, seeds: Sequence[int],
                eps_fraction: float) -> pd.DataFrame:
    r"""One worker, top-k with error feedback (Mem-SGD) against Stich et al. (2018) Theorem 2.4.

    Scope: the theorem is about a *single* worker running SGD whose update is sparsified with
    memory, :math:`v_t = \mathrm{top}_k(m_t + \eta_t g_t)`, :math:`x_{t+1} = x_t - v_t`. That is
    exactly FedAvg with one client holding all data, E = 1, a lossless downlink and the top-k
    uplink with error feedback (the client sends top-k of its update plus memory). It is not a
    statement about N > 1 workers.

    Step :math:`\eta_t = 8/(\mu(a+t))` (the ``inverse`` schedule with
    :math:`\eta_0 = 8/(\mu a)`, decay 1/a), shift :math:`a = \lceil 8L/\mu\rceil` (so that
    :math:`\eta_0 \le 1/L`), :math:`\alpha` the largest value with
    :math:`(\alpha+1)d/k + \rho/(\rho+1) \le a`. L: Böhning's bound for every single-sample loss
    (the theorem assumes every component L-smooth; a minibatch loss is then L-smooth too);
    :math:`G^2`: the largest :math:`\mathbb E\|g(x_t)\|^2` (exact) or realised norm along the
    run. Measured: :math:`f(\bar x_T) - f^*` with :math:`\bar x_T = \sum_{t<T}(a+t)^2 x_t/S_T`
    at every T. Bits to epsilon: first T with gap <= epsilon, times the exact top-k message size,
    against the bound's rounds-to-epsilon (numerical inversion) times that size, and against the
    Korhonen–Alistarh lower bound (N = 1).
    """
    from fsnn_theory.federated.algorithms import FederatedConfig, StepSchedule
    from fsnn_theory.federated.compressors import TopK

    part = case_partition(problem, "single")
    model = problem.model
    X, y = problem.train.X, problem.train.y
    d = int(model.n_params)
    comp = TopK(fraction=fraction)
    k = comp.k_for(d)
    mu = problem.mu.value
    Lc = est.logreg_component_smoothness_bound(model, X)
    a = float(math.ceil(8.0 * Lc.value / mu))
    alpha = (a - 1.0) * k / d - 1.0
    if alpha <= 4.0:
        raise ValueError(f"fraction too small for the shift a = {a}: alpha = {alpha:.3g} must be > 4")
    if bd.memsgd_min_shift(alpha, d, k) > a:
        raise RuntimeError("shift a below the theorem's minimum (bug in the choice of alpha)")
    x0 = model.init_params(0)
    x0_dist2 = est.initial_distance2(x0, problem.optimum)
    schedule = StepSchedule("inverse", eta0=8.0 / (mu * a), decay=1.0 / a)
    bits_msg = int(bd.topk_bits(d, k))
    gap0 = model.loss(x0, X, y) - problem.f_star_lower
    eps = eps_fraction * gap0
    cfg_str = f"1 worker, top-k k={k} of d={d} + error feedback, B={problem.setting.batch_size}, a={a:g}, T={steps}"
    consts = ("L: Boehning upper bound per sample; mu: exact; G^2: max along the run (exact expectations + "
              "realised norms); ||x0-x*||^2: solved to tolerance (certified)")
    frames, per_seed = [], []
    G2 = 0.0
    for seed in seeds:
        config = FederatedConfig(rounds=steps, local_steps=1, batch_size=problem.setting.batch_size,
                                 schedule=schedule, compressor=comp, wire_bits=64, seed=seed)
        run, st = _convex_run(problem, part, config)
        xs = np.stack(st.round_models)  # x_t before step t, t = 0..T-1
        w = (a + np.arange(steps)) ** 2
        xbar = np.cumsum(w[:, None] * xs, axis=0) / np.cumsum(w)[:, None]
        gap = np.array([model.loss(xb, X, y) for xb in xbar]) - problem.f_star_lower
        per_seed.append((seed, run, gap))
        G2 = max(G2, st.G2)
    T = np.arange(1, steps + 1)
    sb = bd.stich2018_memsgd_bound(T, a, alpha, d, k, Lc.value, mu, math.sqrt(G2), x0_dist2.value)

    def bound_of(R):
        return bd.stich2018_memsgd_bound(R, a, alpha, d, k, Lc.value, mu, math.sqrt(G2), x0_dist2.value)

    rounds_needed = bd.rounds_to_epsilon(eps, bound_of)
    for seed, run, gap in per_seed:
        frames.append(_checks("Stich2018 Thm2.4 (top-k + EF, 1 worker)", sb, "upper", True, cfg_str, seed, T, gap,
                              sb.value, consts, f"alpha = {alpha:.4g}"))
        hit = _first_hit(gap, eps)
        measured_bits = float(run.history["cum_uplink_bits"].to_numpy()[1:][hit]) if hit is not None else math.inf
        censored = hit is None and rounds_needed > steps
        predicted = bd.bits_to_epsilon(eps, lambda e: bd.rounds_to_epsilon(e, bound_of), bits_msg, 1)
        frames.append(_checks("bits-to-eps top-k (Stich2018 Thm2.4)", sb, "upper", True, cfg_str, seed, [_round_of(hit)],
                              measured_bits, math.nan if censored else predicted,
                              "rounds-to-eps of Thm 2.4 (numerical inversion) x exact top-k message bits",
                              f"eps = {eps_fraction:g} x initial gap" + ("; censored" if censored else ""),
                              epsilon=eps))
        if hit is not None:
            kb = bd.korhonen2021_communication_lower_bound(1, d, eps)
            frames.append(_checks("Korhonen-Alistarh 2021 lower bound (top-k run)", kb, "lower", False, cfg_str, seed,
                                  [_round_of(hit)], measured_bits, kb.value, "order bound with constant 1, log base 2",
                                  "Omega(N d log(d/(N eps))): compare growth, not values", epsilon=eps))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Everything: the configuration of `fsnn verify` and its table
# --------------------------------------------------------------------------------------------


def verification_config(mode: str) -> dict[str, Any]:
    """Sizes of every case for ``mode`` ("quick": about two minutes on two cores; "full": the
    table of the paper). JSON-serialisable; the experiments use the same dicts."""
    check_choice("mode", mode, MODES)
    quick = mode == "quick"
    convex = asdict(ConvexSetting())
    return {
        "convex": convex,
        "li2020": {
            "schemes": {"full": ["iid", "dirichlet:0.1", "dirichlet:1"],
                        "I": ["iid", "dirichlet:0.1", "dirichlet:1"],
                        "II": ["iid", "shards:2"]},
            "local_steps": [1, 5, 20],
            "steps": 200 if quick else 2000,
            "seeds": [0, 1] if quick else [0, 1, 2, 3, 4],
            "clients_per_round": 5,
        },
        "rounds": {
            "partition": "dirichlet:0.1",
            "local_steps": [1, 2, 5, 10, 20, 50],
            "max_rounds": 300 if quick else 3000,
            "max_steps": 1000 if quick else 15000,
            "min_rounds": 20 if quick else 100,
            "seeds": [0] if quick else [0, 1, 2],
            "eps_fraction": 0.35 if quick else 0.01,
        },
        "field_guide": {
            "partitions": ["iid", "shards:2"],
            "local_steps": [1, 5, 20],
            "rounds": 40 if quick else 300,
            "seeds": [0] if quick else [0, 1, 2],
            "eta_fraction": 1.0,
        },
        "spiking": {
            "setting": asdict(SpikingSetting() if quick else SpikingSetting(train_size=400, hidden=40,
                                                                              eval_points=6)),
            "local_steps": [1, 5] if quick else [1, 5, 20],
            "steps": 100 if quick else 400,
            "seeds": [0] if quick else [0, 1],
        },
        "compression": {
            "partition": "dirichlet:1",
            "qsgd_levels": 4,
            "topk_fraction": 0.25,
            "steps": 250 if quick else 1500,
            "memsgd_steps": 300 if quick else 3000,
            "seeds": [0] if quick else [0, 1, 2],
            "eps_fraction": 0.5 if quick else 0.1,
        },
    }


def li2020_cases(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(chunk key, keyword arguments of :func:`li2020_case`) for every case of ``config["li2020"]``."""
    c = config["li2020"]
    out = []
    for scheme, parts in c["schemes"].items():
        for spec in parts:
            for E in c["local_steps"]:
                key = f"li_{scheme}_E{E}_{spec.replace(':', '')}"
                out.append((key, {"partition_spec": spec, "scheme": scheme, "local_steps": E, "steps": c["steps"],
                                  "seeds": list(c["seeds"]),
                                  "clients_per_round": None if scheme == "full" else c["clients_per_round"]}))
    return out


def run_verification(mode: str, progress: Callable[[Iterable, str], Iterable] | None = None,
                     cases: Sequence[str] = ("li2020", "rounds", "field_guide", "spiking", "compression"),
                     ) -> pd.DataFrame:
    """Run every case of ``verification_config(mode)``; returns the concatenated checks table.

    ``progress(iterable, desc)`` may wrap the loops (e.g. a tqdm bar). ``cases`` selects a subset.
    """
    cfg = verification_config(mode)
    wrap = progress if progress is not None else (lambda it, desc: it)
    problem = convex_problem(ConvexSetting(**cfg["convex"]))
    frames = []
    if "li2020" in cases:
        for _, kw in wrap(li2020_cases(cfg), "Li et al. 2020"):
            frames.append(li2020_case(problem, **kw))
    if "rounds" in cases:
        c = cfg["rounds"]
        frames.append(rounds_vs_local_steps_case(problem, c["partition"], c["local_steps"], c["max_rounds"],
                                                 c["max_steps"], c["seeds"], c["eps_fraction"], c["min_rounds"]))
    if "field_guide" in cases:
        c = cfg["field_guide"]
        for spec in wrap(c["partitions"], "Field Guide Thm 1"):
            for E in c["local_steps"]:
                frames.append(field_guide_case(problem, spec, E, c["rounds"], c["seeds"], c["eta_fraction"]))
    if "spiking" in cases:
        c = cfg["spiking"]
        setting = SpikingSetting(**c["setting"])
        for E in wrap(c["local_steps"], "Yu et al. 2019 (SNN)"):
            for seed in c["seeds"]:
                frames.append(yu2019_case(setting, E, c["steps"] // E, seed))
    if "compression" in cases:
        c = cfg["compression"]
        frames.append(qsgd_case(problem, c["partition"], c["qsgd_levels"], c["steps"], c["seeds"], c["eps_fraction"]))
        frames.append(memsgd_case(problem, c["topk_fraction"], c["memsgd_steps"], c["seeds"], c["eps_fraction"]))
    return pd.concat(frames, ignore_index=True)
