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


def test_cli_json_rows(monkeypatch, capsys, tmp_path):
    from fsnn_theory import cli

    monkeypatch.setattr(V, "verification_config", tiny_config)
    code = cli.main(["verify", "--quick", "--json", "--only", "li2020", "field_guide", "compression",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    rows = [json.loads(line) for line in out]
    assert len(rows) >= 4
    for r in rows:
        assert {"theorem", "kind", "runs", "violations", "median_tightness"} <= set(r)
        assert isinstance(r["violations"], int) and r["kind"] in ("upper", "lower")
    assert (tmp_path / "verification_table.csv").is_file()
    table = pd.read_csv(tmp_path / "verification_table.csv")
    assert len(table) == len(rows)


def test_cli_exit_code_on_rigorous_violation(monkeypatch, capsys):
    from fsnn_theory import cli

    def fake(mode, progress=None, cases=()):
        return pd.DataFrame({"theorem": ["T", "U"], "source": "", "kind": "upper", "rigorous": [True, False],
                             "configuration": "c", "seed": 0, "step": 1, "measured": [2.0, 2.0],
                             "bound": [1.0, 1.0], "constants": "", "note": ""})

    monkeypatch.setattr(V, "run_verification", fake)
    assert cli.main(["verify", "--quick"]) == 1
    assert "VIOLATED: T" in capsys.readouterr().err

    def fine(mode, progress=None, cases=()):
        df = fake(mode)
        return df.assign(rigorous=[False, False])

    monkeypatch.setattr(V, "run_verification", fine)
    assert cli.main(["verify", "--quick", "--json"]) == 0


@pytest.mark.slow
def test_experiments_run_and_plot(monkeypatch, tmp_path):
    import experiments
    from fsnn_theory.experiment import run_experiment

    monkeypatch.setattr(V, "verification_config", tiny_config)
    for name in ("verify_strongly_convex", "rounds_vs_local_steps", "verify_nonconvex", "verify_compression"):
        result = run_experiment(experiments.get(name), "quick", tmp_path, quiet=True)
        assert (result.out_dir / "figure.png").is_file()
        data = pd.read_csv(result.out_dir / "data.csv")
        rows = V.verification_rows(data)
        assert all(r.violations == 0 for r in rows if r.rigorous), name
