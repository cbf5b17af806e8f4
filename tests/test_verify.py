"""Tests for fsnn_theory.studies.verify, the ``fsnn verify`` command and the verification experiments.

The checks must be able to fail: a deliberately wrong (too small) constant has to produce
violations. QSGD expectations are compared with a Monte-Carlo of the federated layer's own
compressor, hand-worked values, and the single-worker top-k run with an independent Mem-SGD
loop written here.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from fsnn_theory.studies import verify as V

TINY_CONVEX = V.ConvexSetting(train_size=120, test_size=20, hidden=5, l2=0.05, clients=4, batch_size=4)
TINY_SNN = V.SpikingSetting(train_size=30, test_size=10, hidden=20, workers=2, batch_size=8, eval_points=2)


def tiny_config(mode):
    return {
        "convex": asdict(TINY_CONVEX),
        "li2020": {"schemes": {"full": ["iid"], "I": ["dirichlet:1"], "II": ["iid"]}, "local_steps": [1, 2],
                   "steps": 8, "seeds": [0, 1], "clients_per_round": 2},
        "rounds": {"partition": "iid", "local_steps": [1, 2], "max_rounds": 30, "max_steps": 30, "min_rounds": 5,
                   "seeds": [0], "eps_fraction": 0.8},
        "field_guide": {"partitions": ["iid"], "local_steps": [1, 3], "rounds": 5, "seeds": [0], "eta_fraction": 1.0},
        "spiking": {"setting": asdict(TINY_SNN), "local_steps": [1, 2], "steps": 4, "seeds": [0]},
        "compression": {"partition": "iid", "qsgd_levels": 2, "topk_fraction": 0.5, "steps": 30, "memsgd_steps": 30,
                        "seeds": [0], "eps_fraction": 0.8},
    }


@pytest.fixture(scope="module")
def problem():
    return V.convex_problem(TINY_CONVEX)


# ---------------------------------------------------------------------------------------------
# Table arithmetic
# ---------------------------------------------------------------------------------------------


def test_summarize_checks_by_hand():
    # upper: ratios 10/5 = 2, 3/4 = 0.75 (violation), 8/2 = 4; NaN bound is no check
    n, viol, med, worst = V.summarize_checks([10.0, 3.0, 8.0, math.nan], [5.0, 4.0, 2.0, 1.0], "upper")
    assert (n, viol) == (3, 1)
    assert med == pytest.approx(2.0) and worst == pytest.approx(0.75)
    # lower: ratios 1/2 = 0.5, 3/2 = 1.5 (violation: measured below the lower bound)
    n, viol, med, worst = V.summarize_checks([1.0, 3.0], [2.0, 2.0], "lower")
    assert (n, viol) == (2, 1) and worst == pytest.approx(1.5) and med == pytest.approx(1.0)
    assert V.summarize_checks([math.nan], [1.0], "upper") == (0, 0, None, None)
    # measured <= 0 under an upper bound holds trivially (ratio inf, not reported as a number)
    assert V.summarize_checks([1.0], [0.0], "upper")[1:] == (0, None, None)


def test_verification_rows_group_in_order():
    df = pd.DataFrame({
        "theorem": ["A", "A", "B", "A"], "source": "s", "kind": ["upper", "upper", "lower", "upper"],
        "rigorous": [True, True, False, True], "configuration": ["c1", "c1", "c1", "c2"], "seed": [0, 1, 0, 0],
        "step": [1, 1, 1, 1], "measured": [1.0, 2.0, 5.0, 3.0], "bound": [4.0, 4.0, 1.0, 2.0],
        "constants": "k", "note": ["", "x", "", ""],
    })
    rows = V.verification_rows(df)
    assert [(r.theorem, r.configuration) for r in rows] == [("A", "c1"), ("B", "c1"), ("A", "c2")]
    assert rows[0].runs == 2 and rows[0].violations == 0 and rows[0].median_tightness == pytest.approx(3.0)
    assert rows[0].note == "x"
    assert rows[2].violations == 1
    assert list(V.rows_frame(rows).columns) == list(V.TABLE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# QSGD expectations
# ---------------------------------------------------------------------------------------------


def test_qsgd_expectations_by_hand():
    # v = (3, 4): ||v|| = 5 exactly in float32; s = 1: a = (0.6, 0.8)
    # E err = 25 * (0.6*0.4 + 0.8*0.2) = 25 * 0.4 = 10; E nnz = 0.6 + 0.8 = 1.4
    assert V.qsgd_expected_error([3.0, 4.0], 1) == pytest.approx(10.0)
    assert V.qsgd_expected_nonzeros([3.0, 4.0], 1) == pytest.approx(1.4)
    # s = 5: a = (3, 4) integral: deterministic, no error, both coordinates kept
    assert V.qsgd_expected_error([3.0, 4.0], 5) == pytest.approx(0.0, abs=1e-24)
    assert V.qsgd_expected_nonzeros([3.0, 4.0], 5) == pytest.approx(2.0)
    assert V.qsgd_expected_error(np.zeros(3), 2) == 0.0


def test_qsgd_expectations_against_the_compressor():
    from fsnn_theory.federated.compressors import QSGD

    v = np.random.default_rng(0).standard_normal(25)
    s = 3
    comp = QSGD(s)
    draws = 4000
    err = np.empty(draws)
    nnz = np.empty(draws)
    for m in range(draws):
        msg = comp.compress(v, np.random.default_rng(1000 + m))
        err[m] = np.sum((msg.decoded - v) ** 2)
        nnz[m] = msg.n_values
    assert abs(err.mean() - V.qsgd_expected_error(v, s)) < 4 * err.std() / np.sqrt(draws)
    assert abs(nnz.mean() - V.qsgd_expected_nonzeros(v, s)) < 4 * nnz.std() / np.sqrt(draws)


# ---------------------------------------------------------------------------------------------
# The strongly convex check: passes, and fails with a wrong constant
# ---------------------------------------------------------------------------------------------


def test_li2020_tiny_case_has_no_violations(problem):
    df = V.li2020_case(problem, "dirichlet:0.5", "full", 2, 20, [0, 1])
    (row,) = V.verification_rows(df)
    assert row.rigorous and row.kind == "upper"
    assert row.runs == 2 and row.checks == 20 and row.violations == 0
    assert row.worst_tightness > 1.0
    # measured gap is the run's objective minus the certified lower bound on F*
    assert (df["measured"] > 0).all()


def test_li2020_check_fails_with_a_too_small_constant(problem):
    wrong = {"sigma2": 0.0, "G2": 0.0, "Gamma": 0.0, "w1_dist2": 1e-9}
    df = V.li2020_case(problem, "dirichlet:0.5", "full", 2, 20, [0], overrides=wrong)
    (row,) = V.verification_rows(df)
    assert row.violations == row.checks == 10
    assert "OVERRIDDEN" in row.constants


def test_field_guide_tiny_case(problem):
    df = V.field_guide_case(problem, "iid", 3, 6, [0])
    (row,) = V.verification_rows(df)
    assert row.rigorous and row.checks == 6 and row.violations == 0
    # the constants used are proven bounds, at least as large as what the run measured
    assert (df["sigma2_bound"] >= df["sigma2_measured"]).all() and (df["zeta_bound"] >= df["zeta_measured"]).all()
    with pytest.raises(ValueError, match="balanced"):
        V.field_guide_case(problem, "dirichlet:0.5", 3, 2, [0])


def test_li2020_scheme_ii_requires_balanced_data(problem):
    with pytest.raises(ValueError, match="balanced"):
        V.li2020_case(problem, "dirichlet:0.5", "II", 2, 4, [0], clients_per_round=2)
    df = V.li2020_case(problem, "iid", "II", 2, 8, [0], clients_per_round=2)  # 120 / 4: p_k = 1/4 exactly
    assert V.verification_rows(df)[0].violations == 0


def test_memsgd_run_is_mem_sgd(problem):
    """One client + E = 1 + top-k with error feedback in the federated loop is exactly Mem-SGD
    (x_{t+1} = x_t - v_t, v_t = top_k(m_t + eta_t g_t), m_{t+1} = m_t + eta_t g_t - v_t),
    written out here with the loop's documented minibatch streams."""
    from fsnn_theory.federated.algorithms import STREAM_BATCH, FederatedConfig, StepSchedule, run_federated, stream_rng
    from fsnn_theory.federated.compressors import TopK

    model, train, test = problem.model, problem.train, problem.test
    part = V.case_partition(problem, "single")
    mu, a, T, B = model.l2, 40.0, 12, 4
    cfg = FederatedConfig(rounds=T, local_steps=1, batch_size=B, schedule=StepSchedule("inverse", 8 / (mu * a), 1 / a),
                          compressor=TopK(fraction=0.25), wire_bits=64, seed=3)
    run = run_federated(model, train, test, part, cfg)
    d = model.n_params
    k = math.ceil(0.25 * d)
    x, m = model.init_params(0), np.zeros(d)
    for t in range(T):
        idx = stream_rng(3, STREAM_BATCH, t, 0).integers(0, train.n_samples, size=(1, B))[0]
        g = model.loss_and_grad(x, train.X[idx], train.y[idx])[1]
        p = m + 8.0 / (mu * (a + t)) * g
        keep = np.argsort(-np.abs(p), kind="stable")[:k]
        v = np.zeros(d)
        v[keep] = p[keep].astype(np.float32).astype(np.float64)  # values travel as float32
        x, m = x - v, p - v
    np.testing.assert_allclose(run.params, x, rtol=1e-12, atol=1e-14)


def test_compression_cases_tiny(problem):
    q = V.qsgd_case(problem, "iid", 2, 30, [0], 0.8)
    t = V.memsgd_case(problem, 0.5, 30, [0], 0.8)
    rows = V.verification_rows(pd.concat([q, t]))
    names = {r.theorem for r in rows}
    assert {"QSGD Lemma 3.1(ii) variance per message", "Stich2018 Thm2.4 (top-k + EF, 1 worker)",
            "Li2020 Thm1 + QSGD variance (E=1, derived)"} <= names
    for r in rows:
        if r.rigorous:
            assert r.violations == 0, r
    var = next(r for r in rows if r.theorem.startswith("QSGD Lemma 3.1(ii)"))
    assert var.checks == 30 * TINY_CONVEX.clients  # one check per message


def test_yu2019_tiny_case_runs_and_reports_measured_constants():
    df = V.yu2019_case(TINY_SNN, 2, 2, 0)
    assert list(df.columns[:len(V.CHECK_COLUMNS)]) == list(V.CHECK_COLUMNS)
    assert len(df) == 2 and not df["rigorous"].any()
    assert (df["measured"] >= 0).all() and np.isfinite(df["measured"]).all()
    assert (df["L"] > 0).all() and (df["G2"] >= df["sigma2"]).all()
    assert "MEASURED" in df["constants"].iloc[0]


# ---------------------------------------------------------------------------------------------
# The command and the experiments
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_experiments_run_and_plot(monkeypatch, tmp_path):
    import experiments
    from fsnn_theory.experiment import run_experiment

    monkeypatch.setattr(V, "verification_config", tiny_config)
    for name in ("rounds_vs_local_steps", "verify_nonconvex", "verify_compression"):
        result = run_experiment(experiments.get(name), "quick", tmp_path, quiet=True)
        assert (result.out_dir / "figure.png").is_file()
        data = pd.read_csv(result.out_dir / "data.csv")
        rows = V.verification_rows(data)
        assert all(r.violations == 0 for r in rows if r.rigorous), name
    # on the new protocol (fsnn_theory.studies.verification)
    from fsnn_theory.studies.verification import run as VR

    monkeypatch.setattr(VR, "verification_config", _tiny_verification_config)
    module = experiments.get("verify_strongly_convex")
    result = run_experiment(module, "quick", tmp_path, quiet=True)
    assert (result.out_dir / "figure.png").is_file()
    data = pd.read_csv(result.out_dir / "data.csv")
    rows = VN.rows_from_curves(data)
    assert len(rows) == 3 and all(r.violations == 0 and r.control_caught for r in rows)
    macros = module.numbers(data, result.config if hasattr(result, "config") else {})
    assert macros["StronglyConvexViolations"][0] == 0 and macros["LiThmOneControlsCaught"][0] == 1


# =============================================================================================
# fsnn_theory.studies.verification: informative regime, negative controls, seed means (issue 11)
# =============================================================================================

from fsnn_theory.studies import verification as VN  # noqa: E402
from fsnn_theory.studies.verification import cases as VC  # noqa: E402
from fsnn_theory.studies.verification import table as VT  # noqa: E402
from fsnn_theory.studies.verification.problems import (ConvexSetting as NewSetting,  # noqa: E402
                                                       certified_logreg_constants, convex_problem,
                                                       partition_from_spec)
from fsnn_theory.studies.verification.simulate import local_sgd_gaps  # noqa: E402
from fsnn_theory.studies.verification.worst_case import (field_guide_quadratic_case,  # noqa: E402
                                                         quadratic_local_sgd_averages)

TINY_NEW = NewSetting(train_size=200, hidden=5, clients=4)


@pytest.fixture(scope="module")
def new_problem():
    return convex_problem(TINY_NEW)


def test_checkpoints_are_fixed_log_spaced_multiples():
    c = VT.checkpoints(2000)
    assert c.size == 20 and c[-1] == 2000 and c[0] == 20  # horizon / 100 .. horizon
    np.testing.assert_allclose(np.diff(np.log(c)), np.log(100) / 19, atol=0.03)  # rounding to integers
    c5 = VT.checkpoints(20000, 5)
    assert (c5 % 5 == 0).all() and c5[-1] == 20000 and np.all(np.diff(c5) > 0)
    with pytest.raises(ValueError, match="horizon must be a multiple of unit"):
        VT.checkpoints(21, 5)


def test_seed_mean_ci_by_hand():
    v = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [4.0, 10.0]])
    mean, lo, hi = VT.seed_mean_ci(v)
    # t_{0.975, 3} = 3.182446305284263 (table value), s = sqrt(5/3), n = 4
    half = 3.182446305284263 * math.sqrt(5.0 / 3.0) / 2.0
    np.testing.assert_allclose(mean, [2.5, 10.0])
    np.testing.assert_allclose(lo, [2.5 - half, 10.0], rtol=1e-12)
    np.testing.assert_allclose(hi, [2.5 + half, 10.0], rtol=1e-12)
    m1, l1, h1 = VT.seed_mean_ci(v[:1])  # one deterministic run: the run is the expectation
    assert (m1 == l1).all() and (m1 == h1).all()
    with pytest.raises(ValueError, match="finite"):
        VT.seed_mean_ci([[1.0, np.inf]])


def test_loglog_slope_recovers_a_power_law():
    x = np.geomspace(10, 1000, 12)
    s, lo, hi = VT.loglog_slope(x, 3.0 * x ** -1.5)
    assert s == pytest.approx(-1.5, abs=1e-12) and lo <= s <= hi and hi - lo < 1e-9
    assert VT.loglog_slope([1, 2], [1, 2]) is None


def test_summarize_upper_by_hand():
    bound = np.array([20.0, 8.0, 4.0, 2.0])
    mean = np.array([1.0, 4.0, 1.0, 3.0])
    low = np.array([0.5, 3.0, 0.5, 2.5])  # last checkpoint: interval entirely above the bound
    s = VT.summarize_upper(bound, mean, low, initial=10.0)
    assert (s.checks, s.violations) == (4, 1)
    assert s.informative_fraction == 0.75  # 20 >= initial 10 is not informative
    assert s.median_tightness == pytest.approx(2.0)  # ratios 2, 4, 2/3 over informative checkpoints
    assert s.worst_tightness == pytest.approx(2.0 / 3.0)


def test_local_sgd_matches_an_independent_loop(new_problem):
    """Two rounds of E = 2 on one seed against a plain per-client loop with the model's own loss_and_grad."""
    pr = new_problem
    part = partition_from_spec(pr.y, 4, "dirichlet:0.5")
    etas = np.array([0.1, 0.09, 0.08, 0.07])
    got = local_sgd_gaps(pr, part, local_steps=2, rounds=2, etas=etas, seeds=[3], record_rounds=[1, 2])
    rng = np.random.default_rng([3, 0])
    w = pr.w1.copy()
    want = []
    B = pr.setting.batch_size
    for r in range(2):
        u = rng.random((2, 4, B))
        locals_ = []
        for k, idx in enumerate(part.client_indices):
            wk = w.copy()
            for e in range(2):
                batch = np.asarray(idx)[np.floor(u[e, k] * len(idx)).astype(int)]
                _, g = pr.model.loss_and_grad(wk, pr.X[batch], pr.y[batch])
                wk = wk - etas[2 * r + e] * g
            locals_.append(wk)
        w = sum(p * wk for p, wk in zip(part.weights, locals_))
        want.append(pr.model.loss(w, pr.X, pr.y) - pr.f_star_lower)
    np.testing.assert_allclose(got[0], want, rtol=1e-10)
    # a seed's trajectory does not depend on the seeds run with it
    both = local_sgd_gaps(pr, part, local_steps=2, rounds=2, etas=etas, seeds=[5, 3], record_rounds=[1, 2])
    assert np.array_equal(both[1], got[0])


def test_certified_G_ball_holds_along_random_sgd(new_problem):
    """The proof behind G: SGD steps with eta*lambda <= 1 never leave ||w|| <= max(||w1||, A/lambda)."""
    pr = new_problem
    part = partition_from_spec(pr.y, 4, "iid")
    c = certified_logreg_constants(pr, part)
    rng = np.random.default_rng(0)
    w = pr.w1.copy()
    worst_g = 0.0
    for t in range(300):
        batch = rng.integers(0, pr.y.size, size=pr.setting.batch_size)
        _, g = pr.model.loss_and_grad(w, pr.X[batch], pr.y[batch])
        worst_g = max(worst_g, float(np.linalg.norm(g)))
        w = w - rng.uniform(0.05, 1.0) / c.mu * g  # any eta with eta*lambda <= 1
        assert np.linalg.norm(w) <= c.R * (1 + 1e-12)
    assert worst_g <= c.G
    # the informative regime: the start is far, so the initial gap dwarfs Gamma and sigma^2
    assert pr.initial_gap > 100 * max(c.Gamma, c.sigma2)


@pytest.mark.parametrize("scheme,spec,E,H", [("full", "dirichlet:0.5", 1, 400), ("full", "iid", 2, 800),
                                             ("I", "dirichlet:0.5", 1, 400), ("II", "iid", 1, 400)])
def test_li2020_control_flagged_while_run_is_not(new_problem, scheme, spec, E, H):
    curves = VC.li2020_case(new_problem, spec, scheme, E, H, range(5), clients_per_round=2)
    (row,) = VN.rows_from_curves(curves)
    assert row.rigor == "proven" and row.kind == "upper" and row.seeds == 5 and row.checks == 20
    assert row.violations == 0 and row.informative_fraction >= 0.5 and row.status == "verified"
    assert row.control_caught and row.control_violations >= 1
    assert row.rate_consistent  # measured decays at least like the bound's 1/T


def test_li2020_scheme_ii_needs_balanced_weights(new_problem):
    with pytest.raises(ValueError, match="balanced"):
        VC.li2020_case(new_problem, "dirichlet:0.5", "II", 1, 100, [0], clients_per_round=2)


def test_qsgd_variance_control_flagged_while_run_is_not(new_problem):
    (row,) = VN.rows_from_curves(VC.qsgd_variance_case(new_problem, "iid", 16, 2, 10))
    assert row.violations == 0 and row.informative_fraction == 1.0 and row.control_caught


def test_worst_case_quadratic_closed_form():
    """sigma = 0: the averaged gap is (L D^2/2) (1 - q^S) / (S (1 - q)), q = (1 - eta L)^2."""
    L, D, eta, tau = 2.0, 3.0, 0.1, 3
    got = quadratic_local_sgd_averages(L, D, 0.0, 2, tau, 50, eta, [0], [1, 7, 50])[0]
    q = (1 - eta * L) ** 2
    S = tau * np.array([1, 7, 50])
    np.testing.assert_allclose(got, 0.5 * L * D**2 * (1 - q**S) / (S * (1 - q)), rtol=1e-12)


def test_worst_case_row_is_tight_and_its_control_flagged():
    (row,) = VN.rows_from_curves(field_guide_quadratic_case(1.0, 10.0, 0.01, 4, 2, 400, range(5)))
    assert row.instance == "worst_case" and row.violations == 0 and row.control_caught
    assert row.median_tightness <= 10 and row.median_tightness == pytest.approx(1.75, rel=0.05)


def _tiny_verification_config(mode):
    return {
        "convex": asdict(TINY_NEW),
        "li2020": {"cases": [{"scheme": "full", "partition_spec": "iid", "local_steps": 1, "horizon": 400,
                              "control_beta_mu": 0.25}], "seeds": [0, 1, 2], "clients_per_round": 2},
        "worst_case": {"L": 1.0, "D": 10.0, "sigma2": 0.01, "M": 2, "local_steps": [1], "rounds": 200,
                       "seeds": [0, 1, 2], "control_eta_L": 1.9},
        "compression": {"partition": "iid", "qsgd_levels": 16, "qsgd_control_levels": 2, "messages": 5,
                        "ef21_k_fraction": 0.25, "ef21_horizon": 200},
    }


def test_cli_json_schema_and_narrow_table(monkeypatch, capsys, tmp_path):
    from fsnn_theory import cli
    from fsnn_theory.studies.verification import run as VR

    monkeypatch.setattr(VR, "verification_config", _tiny_verification_config)
    assert cli.main(["verify", "--quick", "--json", "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) == 4
    required = {"theorem", "kind", "rigor", "source_checked", "configuration", "instance", "seeds", "checks",
                "violations", "informative_fraction", "control", "control_caught", "slope_predicted",
                "slope_measured", "rate_consistent", "median_tightness", "worst_tightness", "verdict"}
    for r in rows:
        assert required <= set(r) and r["rigor"] in ("proven", "empirical")
    assert {r["instance"] for r in rows} == {"model", "worst_case"}
    assert len(pd.read_csv(tmp_path / "verification_table.csv")) == 4
    # the table rebuilt from the written curves is the same table
    again = VN.rows_from_curves(pd.read_csv(tmp_path / "verification_curves.csv"))
    assert [r.as_dict() for r in again] == rows
    assert cli.main(["verify", "--quick"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 100


def test_cli_exit_code_on_proven_violation_or_uncaught_control(monkeypatch, capsys):
    from fsnn_theory import cli
    from fsnn_theory.studies.verification import run as VR
    from fsnn_theory.theory.bounds import Bound

    def curves(run_value, control_value, rigor="proven"):
        b = Bound(value=np.full(3, 1.0), kind="upper", theorem="T", quantity="q", source_checked="verbatim")
        return VN.curves.case_curves(theorem="T", bound=b, rigor=rigor, configuration="c", steps=[1, 2, 3],
                                     run_values=np.full((2, 3), run_value), initial=5.0, constants="",
                                     control="ctl", control_values=np.full((2, 3), control_value))

    for run_value, control_value, rigor, code in [(0.5, 2.0, "proven", 0), (2.0, 2.0, "proven", 1),
                                                  (0.5, 0.5, "proven", 1), (2.0, 0.5, "empirical", 0)]:
        monkeypatch.setattr(VR, "run_verification",
                            lambda mode, progress=None, groups=(), c=curves(run_value, control_value, rigor): c)
        assert cli.main(["verify", "--quick", "--json"]) == code, (run_value, control_value, rigor)
        capsys.readouterr()


def test_top_k_rows_by_hand():
    from fsnn_theory.studies.verification.ef21 import top_k_rows

    V = np.array([[3.0, -5.0, 1.0, 4.0], [0.0, 2.0, -2.0, 1.0]])
    np.testing.assert_array_equal(top_k_rows(V, 2), [[0.0, -5.0, 0.0, 4.0], [0.0, 2.0, -2.0, 0.0]])


def test_ef21_control_flagged_while_run_is_not(new_problem):
    from fsnn_theory.studies.verification.ef21 import ef21_case, ef21_gradient_norms

    (row,) = VN.rows_from_curves(ef21_case(new_problem, "iid", 0.25, 400))
    assert row.seeds == 1 and row.violations == 0 and row.informative_fraction >= 0.5
    assert row.control_caught and row.source_checked == "recalled"
    # with k = d EF21 is gradient descent: ||grad f||^2 decreases monotonically at a step <= 1/L
    part = partition_from_spec(new_problem.y, 4, "iid")
    d = new_problem.model.n_params
    gd = ef21_gradient_norms(new_problem, part, d, 0.1, 50)
    plain = ef21_gradient_norms(new_problem, part, d, 0.1, 50, error_feedback=False)
    np.testing.assert_allclose(gd, plain, rtol=1e-12)
    assert np.all(np.diff(gd) < 0)


def test_lower_bounds_get_a_verdict_not_violations():
    from fsnn_theory.theory.bounds import Bound

    b = Bound(value=np.full(4, 1.0), kind="lower", theorem="L", quantity="q", source_checked="secondary")

    def row(values):
        c = VN.curves.case_curves(theorem="L", bound=b, rigor="proven", configuration="c", steps=np.arange(1, 5),
                                  run_values=values, initial=10.0, constants="")
        (r,) = VN.rows_from_curves(c)
        return r

    above = row(np.array([[2.0, 3.0, 2.0, 5.0], [2.2, 3.1, 2.1, 4.0]]))
    assert above.verdict == "consistent" and above.kind == "lower" and not above.failing
    below = row(np.array([[0.5, 3.0, 2.0, 5.0], [0.5, 3.1, 2.1, 4.0]]))  # whole interval below at step 1
    wide = row(np.array([[0.5, 3.0, 2.0, 5.0], [1.4, 3.1, 2.1, 4.0]]))  # mean below, interval reaches it
    assert wide.verdict == "consistent"
    assert below.verdict == "inconsistent" and below.failing
