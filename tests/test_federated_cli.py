"""`fsnn federate`: outputs, determinism of the per-round CSV, and bad-input messages (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fsnn_theory.cli import main

SMALL = ["--train-size", "150", "--test-size", "50", "--clients", "5", "--rounds", "3", "--local-steps", "2",
         "--batch-size", "8"]


def test_federate_writes_csv_and_json(tmp_path, capsys):
    out = tmp_path / "a"
    code = main(["federate", "--model", "logreg", *SMALL, "--partition", "dirichlet", "--alpha", "0.5",
                 "--participation", "3", "--scheme", "I", "--compressor", "qsgd:2", "--dropout", "0.2",
                 "--seed", "4", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    df = pd.read_csv(out / "rounds.csv")
    for col in ("round", "train_loss", "test_accuracy", "uplink_bits", "downlink_bits", "synops"):
        assert col in df.columns
    assert list(df["round"]) == [0, 1, 2, 3]
    assert summary["total_uplink_bits"] == df["uplink_bits"].sum()
    assert summary["final_test_accuracy"] == df["test_accuracy"].iloc[-1]
    # same seed -> byte-identical per-round CSV (client sampling, dropouts, stochastic compression)
    out2 = tmp_path / "b"
    main(["federate", "--model", "logreg", *SMALL, "--partition", "dirichlet", "--alpha", "0.5",
          "--participation", "3", "--scheme", "I", "--compressor", "qsgd:2", "--dropout", "0.2",
          "--seed", "4", "--out", str(out2)])
    assert (out / "rounds.csv").read_bytes() == (out2 / "rounds.csv").read_bytes()


def test_federate_snn_runs(tmp_path, capsys):
    code = main(["federate", "--model", "snn", "--hidden", "8", *SMALL, "--compressor", "causal",
                 "--algorithm", "scaffold", "--out", str(tmp_path), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["operation"] == "synop" and summary["total_train_synops"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--partition", "dirichlet", "--alpha", "0"], "--alpha must be a Dirichlet concentration > 0"),
        (["--partition", "dirichlet", "--alpha", "-1"], "--alpha must be a Dirichlet concentration > 0"),
        (["--participation", "6"], "--participation K must satisfy 1 <= K <= N = 5"),
        (["--compressor", "qsgd:0"], "S >= 1"),
        (["--compressor", "topk:1.5"], "FRAC in (0, 1]"),
        (["--compressor", "randk:0"], "FRAC in (0, 1]"),
        (["--compressor", "gzip"], "unknown compressor 'gzip'; allowed: none, qsgd:S, topk:FRAC, randk:FRAC, int8, causal"),
        (["--algorithm", "fedsgd"], "invalid choice: 'fedsgd' (choose from 'fedavg', 'fedprox', 'scaffold')"),
        (["--scheme", "III"], "invalid choice: 'III'"),
        (["--partition", "dirichlet", "--alpha", "0.001", "--clients", "40"], "raise alpha, lower n_clients"),
        (["--clients", "200"], "n_clients must be <= the number of samples 150"),
        (["--lr", "-1"], "--lr must be a finite number > 0 and <= 1000, got -1.0"),
        (["--lr", "nan"], "--lr must be a finite number > 0 and <= 1000, got nan"),
        (["--decay", "-0.5"], "--decay must be a finite number >= 0, got -0.5"),
    ],
)
def test_federate_bad_input_exit_2(tmp_path, capsys, args, message):
    base = ["federate", "--model", "logreg", "--train-size", "150", "--test-size", "50", "--clients", "5",
            "--rounds", "1", "--out", str(tmp_path)]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err
