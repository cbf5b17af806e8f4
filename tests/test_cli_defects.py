"""Issue 15's command-line defects: each input below was mishandled on main when the issue was
filed (traceback after the computation, silent acceptance, wrong flag named, ...)."""

from __future__ import annotations

import pytest

import fsnn_theory.federated
import fsnn_theory.training
from fsnn_theory.cli import main

SMALL = ["--train-size", "150", "--test-size", "50", "--clients", "5", "--rounds", "3", "--local-steps", "2",
         "--batch-size", "8"]


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if training or a federated run starts (checks must come first)."""

    def boom(*a, **k):
        raise AssertionError("computation started before the options were checked")

    monkeypatch.setattr(fsnn_theory.training, "train", boom)
    monkeypatch.setattr(fsnn_theory.federated, "run_federated", boom)


def _bad_outs(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    return {"file": str(f), "under a file": str(f / "sub"), "empty": "", "proc": "/proc/fsnn-x"}


# ---- defect 2: --out checked before any computation -------------------------------------------


@pytest.mark.parametrize("kind", ["file", "under a file", "empty", "proc"])
@pytest.mark.parametrize("cmd", [
    ["train", "--dataset", "digits", "--epochs", "1"],
    ["federate", "--model", "logreg", *SMALL],
    ["energy", "--device", "mcu-ble", *SMALL, "--hidden", "4"],
    ["verify", "--quick", "--only", "compression"],
    ["paper", "--results", "nonexistent-results"],
    ["reproduce", "--only", "no_such_experiment_is_checked_later"],
])
def test_unusable_out_refused_before_computation(tmp_path, capsys, monkeypatch, no_compute, cmd, kind):
    import fsnn_theory.experiment
    import fsnn_theory.paper
    import fsnn_theory.studies.verification.run as vrun

    def boom(*a, **k):
        raise AssertionError("computation started before --out was checked")

    monkeypatch.setattr(vrun, "run_verification", boom)
    monkeypatch.setattr(fsnn_theory.experiment, "run_experiment", boom)
    monkeypatch.setattr(fsnn_theory.paper, "build_paper_inputs", boom)
    out = _bad_outs(tmp_path)[kind]
    if cmd[0] == "reproduce":
        cmd = ["reproduce", "--only", "spike_time_precision"]
    code = main([*cmd, "--out", out])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--out" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, flag", [
    (["train", "--dataset", "digits", "--lr", "1e300"], "--lr"),
    (["train", "--dataset", "digits", "--lr", "nan"], "--lr"),
    (["train", "--dataset", "digits", "--epochs", "0"], "--epochs"),
    (["train", "--dataset", "digits", "--input-noise", "-1"], "--input-noise"),
    (["train", "--dataset", "digits", "--hidden", "10", "0"], "--hidden"),
    (["federate", "--lr", "inf"], "--lr"),
    (["federate", "--rounds", "0"], "--rounds"),
    (["federate", "--dropout", "1"], "--dropout"),
    (["federate", "--clip", "0"], "--clip"),
    (["federate", "--eval-every", "0"], "--eval-every"),
    (["federate", "--seed", "-1"], "--seed"),
    (["energy", "--device", "mcu-ble", "--target", "1.5"], "--target"),
])
def test_numeric_options_checked_first(tmp_path, capsys, no_compute, argv, flag):
    if argv[0] in ("federate", "energy"):
        argv = [*argv, "--out", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{flag} must be" in err
