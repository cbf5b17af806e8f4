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


# ---- defects 3, 4, 5, 7 ------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["federate", "--hidden", "0"], "--hidden must be an integer >= 1"),                    # defect 3
    (["train", "--dataset", "digits", "--tau-s", "0"], "--tau-s must be"),                  # defect 4
    (["train", "--dataset", "digits", "--tau-s", "-1"], "--tau-s must be"),
    (["train", "--dataset", "digits", "--tau-s", "nan"], "--tau-s must be"),
    (["train", "--dataset", "digits", "--lr", "1e300"], "--lr must be a finite number > 0 and <= 1000"),  # 5
    (["federate", "--compressor", "qsgd:99999999999999999999"], "qsgd:S needs S >= 1 and S <= 16777216"),
    (["federate", "--dropout", "1"], "--dropout must be a finite number >= 0 and < 1, got 1.0"),
    (["federate", "--local-steps", "2", "--local-epochs", "1"], "not both"),                # defect 7
    (["federate", "--partition", "iid", "--alpha", "0.5"], "--alpha applies to --partition dirichlet"),
    (["federate", "--partition", "dirichlet:0.5", "--exponent", "1"], "--exponent applies to --partition powerlaw"),
    (["federate", "--algorithm", "fedprox", "--prox-mu", "0"], "--prox-mu must be a finite number > 0"),
])
def test_cli_refusals_name_the_flag(tmp_path, capsys, no_compute, argv, message):
    if argv[0] == "federate":
        argv = [*argv, "--out", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert "tau_m" not in err


def test_prox_mu_zero_with_fedavg_is_accepted_with_a_warning(tmp_path, capsys):
    code = main(["federate", "--model", "logreg", *SMALL, "--prox-mu", "0", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "--prox-mu is used by --algorithm fedprox only" in err


def test_library_refuses_tau_s_by_name_strings_and_complex():
    import numpy as np

    from fsnn_theory.federated import QSGD
    from fsnn_theory.neurons import LIF, NLIF, first_spike_times
    from fsnn_theory.studies.setups import make_classifier

    with pytest.raises(ValueError, match="tau_s must be"):
        make_classifier("digits", 4, tau_s=0.0)
    with pytest.raises(ValueError, match="theta must be a real number"):
        LIF(theta="1")
    with pytest.raises(ValueError, match="tau_s must be a real number"):
        NLIF(tau_s=np.complex128(1.0))
    with pytest.raises(ValueError, match="weights must be an array of real numbers"):
        first_spike_times(NLIF(), [[0.0]], np.array([[2.0 + 1j]]))
    with pytest.raises(ValueError, match="s must be an integer in"):
        QSGD(2**63)
    # the boundary itself is allowed: S = 2**24 levels
    assert QSGD(2**24).s == 2**24


# ---- memory estimate (defect 3, second half) ---------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["train", "--dataset", "digits", "--hidden", "100000000"],
    ["federate", "--hidden", "100000000"],
    ["energy", "--device", "mcu-ble", "--hidden", "100000000"],
    ["train", "--dataset", "digits", "--max-memory", "100M"],
    ["federate", "--max-memory", "1M"],
])
def test_configuration_too_large_for_memory_refused_at_once(tmp_path, capsys, no_compute, argv):
    import time

    t0 = time.perf_counter()
    code = main([*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "of memory, more than" in err
    assert time.perf_counter() - t0 < 5  # refused before anything big is allocated


def test_memory_widths_match_the_networks():
    from fsnn_theory.cli._memory import INPUTS, OUTPUTS
    from fsnn_theory.studies.setups import make_classifier

    for name in INPUTS:
        sizes = make_classifier(name, 3).network.layer_sizes
        assert (sizes[0], sizes[-1]) == (INPUTS[name], OUTPUTS[name])


@pytest.mark.slow
@pytest.mark.parametrize("argv, estimate", [
    (["train", "--dataset", "digits", "--epochs", "1", "--hidden", "1500", "--batch-size", "300", "--quiet"], "train"),
    (["federate", "--hidden", "3000", "--rounds", "1", "--eval-every", "1"], "federate"),
])
def test_memory_estimate_bounds_the_measured_peak(tmp_path, argv, estimate):
    """Peak RSS of a real run (fresh interpreter) <= estimate <= 3 x peak: the estimate neither
    lets a run through that needs more nor refuses runs that fit by a wide margin."""
    import subprocess
    import sys

    from fsnn_theory.cli import build_parser
    from fsnn_theory.cli import federate as cli_federate
    from fsnn_theory.cli._memory import estimate_bytes

    code = ("import resource, sys; from fsnn_theory.cli import main; rc = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, *argv, "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    peak = int(proc.stdout.strip().splitlines()[-1])
    args = build_parser().parse_args([*argv, "--out", str(tmp_path)])
    if estimate == "train":
        need = estimate_bytes([64, 1500, 10], 300, param_copies=6, eval_samples=250)
    else:
        need = cli_federate.memory_estimate(cli_federate.run_spec_from_args(args))
    assert peak <= need <= 3 * peak, (peak, need)


# ---- item 4 and defect 1: fsnn explain's keys --------------------------------------------------


@pytest.mark.parametrize("flag", ["--keys", "--help"])
def test_explain_lists_every_key_with_default_range_and_meaning(capsys, flag):
    from fsnn_theory.cli.explain import THEOREMS

    for name, theorem in THEOREMS.items():
        code = main(["explain", name, flag])
        out = capsys.readouterr().out
        assert code == 0
        lines = out.splitlines()
        for key, (default, meaning) in theorem.params.items():
            row = next((ln for ln in lines if ln.split(" ")[0] == key), None)
            assert row is not None, (name, key)
            assert str(default) in row and meaning in row


@pytest.mark.parametrize("setting, message", [
    (["W1=nan"], "--set W1 must be"),
    (["W=inf"], "--set W must be"),
    (["s_min=-1"], "--set s_min must be"),
    (["n=2.5"], "--set n must be an integer"),
    (["model=nlif", "tau_m=3"], "--set tau_m applies to model=lif only"),
    (["bogus=1"], "'bogus=1'"),
    (["model=hh"], "--set model must be one of lif, nlif"),
])
def test_explain_set_refuses_bad_keys_and_values(capsys, setting, message):
    code = main(["explain", "spike_time_regularity", "--set", *setting])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err


def test_explain_old_names_are_aliases(capsys):
    """The library's names (n_causal, w_max, w_l1, f0_gap) give the same values as the keys."""
    assert main(["explain", "federated_ttfs_convergence", "--set", "n_causal=3", "w_max=0.5", "w_l1=1", "f0_gap=2"]) == 0
    by_alias = capsys.readouterr().out
    assert main(["explain", "federated_ttfs_convergence", "--set", "n=3", "W=0.5", "W1=1", "f0=2"]) == 0
    assert capsys.readouterr().out == by_alias
    assert main(["explain", "federated_ttfs_convergence"]) == 0
    assert capsys.readouterr().out != by_alias  # the aliases did change something


# ---- defect 8: fsnn paper on corrupt inputs names the file -------------------------------------


@pytest.mark.parametrize("corrupt", [
    ("config.json", b"\xff\xfe\x00garbage"), ("config.json", b"{mode: quick"),
    ("data.csv", b"\xff\xfe\x00\x81\x82"), ("data.csv", b""), ("data.csv", b'a,b\n1,"2\n'),
])
def test_paper_names_the_corrupt_file(tmp_path, capsys, corrupt):
    import json

    import experiments

    name = experiments.EXPERIMENT_NAMES[0]
    d = tmp_path / "results" / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"mode": "quick", "config": {}}))
    (d / "data.csv").write_text("a,b\n1,2\n")
    (d / "figure.pdf").write_bytes(b"%PDF-1.4\n")
    (d / "manifest.json").write_text("{}")
    filename, content = corrupt
    (d / filename).write_bytes(content)
    code = main(["paper", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "gen"), "--allow-missing"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert str(d / filename) in err
    assert "Traceback" not in err


# ---- defect 10: integer arguments beyond int64 ------------------------------------------------


def test_bounds_refuse_integers_that_would_wrap_and_stay_exact_below():
    from fsnn_theory.theory import bounds as b

    kw = dict(E=4, L=2.0, mu=0.5, sigma2=[1.0, 1.0], G=1.0, Gamma=0.1, w1_dist2=1.0, p=[0.5, 0.5])
    for T in (2**63, 2**64, 10**30, 1e30):
        with pytest.raises(ValueError, match=r"T must be an integer in \[1, 2\*\*53 - 1\]"):
            b.li2020_fedavg_bound(T=T, **kw)
    # below the limit the bound is right: it decays as 1/(gamma + T), so scaling T by 2**12 at
    # T >> gamma scales it by 2**-12 (a wrapped T would give a negative or unrelated value)
    far, near = b.li2020_fedavg_bound(T=2**52, **kw).value, b.li2020_fedavg_bound(T=2**40, **kw).value
    assert far > 0
    assert near / far == pytest.approx(2**12, rel=1e-6)
    for d in (1e30, 2**63, 2**53, 2**53 + 1, 10**400):
        with pytest.raises(ValueError, match="d must be"):
            b.dense_float32_bits(d)
        with pytest.raises(ValueError, match="d must be"):
            b.int8_quantised_bits(d)
    for d in (2**63, 2**62 + 1, 2**64, 10**400, 1e30):
        with pytest.raises(ValueError, match="d must be"):
            b.ceil_log2(d)
    assert int(b.ceil_log2(2**62)) == 62
    top = 2**53 - 1  # exact Python-int arithmetic on the largest allowed value
    assert b.dense_float32_bits(top) == 32 * top
    assert b.int8_quantised_bits(top) == 8 * top + 32
    assert b.topk_bits(top, top) == top * (32 + 53)
    assert int(b.ceil_log2(top)) == 53 and int(b.ceil_log2(2**52)) == 52


# ---- defect 11: progress of fsnn federate ------------------------------------------------------


def test_heartbeat_every_tenth_and_every_30_seconds():
    import io

    from fsnn_theory.cli._progress import progress

    now = [0.0]
    stream = io.StringIO()
    wrap = progress("x", 100, stream=stream, clock=lambda: now[0])
    for i in wrap(range(100)):
        now[0] += 1.0 if i != 4 else 40.0  # one slow step: 41 s after the start
    lines = stream.getvalue().splitlines()
    done = [int(ln.split()[1].split("/")[0]) for ln in lines]
    assert done == [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]  # 5: the 30 s heartbeat
    assert progress("x", 100, stream=io.StringIO(), quiet=True)(range(3)) is not None


def test_terminal_gets_a_tqdm_bar():
    import io

    from fsnn_theory.cli._progress import progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    assert list(progress("bar", 5, stream=stream)(range(5))) == [0, 1, 2, 3, 4]
    assert "bar" in stream.getvalue() and "/5 " in stream.getvalue()  # tqdm's n/total


def test_federate_reports_progress_when_not_a_terminal(tmp_path, capsys):
    assert main(["federate", "--model", "logreg", *SMALL, "--rounds", "10", "--out", str(tmp_path)]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[federate rounds]")]
    assert [ln.split()[2] for ln in lines] == [f"{r}/10" for r in range(1, 11)]
    assert main(["federate", "--model", "logreg", *SMALL, "--quiet", "--out", str(tmp_path / "q")]) == 0
    assert "[federate rounds]" not in capsys.readouterr().err


# ---- defect 6: interrupted runs resume byte-identical; stale outputs refused ---------------------


def _interrupt_after(k):
    """A progress wrapper that lets k steps finish, then raises KeyboardInterrupt (as Ctrl-C would)."""

    def factory(*args, **kwargs):
        def wrap(iterable):
            for i, item in enumerate(iterable):
                if i == k:
                    raise KeyboardInterrupt
                yield item

        return wrap

    return factory


FED_RESUME = ["--model", "snn", "--hidden", "6", "--train-size", "120", "--test-size", "40", "--clients", "4",
              "--rounds", "7", "--local-steps", "2", "--batch-size", "8", "--eval-every", "2", "--quiet"]


@pytest.mark.parametrize("variant", [
    ["--algorithm", "scaffold", "--compressor", "topk:0.3"],  # control variates + error-feedback residuals
    ["--algorithm", "fedprox", "--compressor", "qsgd:2", "--participation", "3", "--dropout", "0.3",
     "--partition", "dirichlet:0.5"],  # client sampling, dropouts, stochastic quantisation
])
def test_interrupted_federate_resumes_byte_identical(tmp_path, capsys, monkeypatch, variant):
    import fsnn_theory.cli.federate as cli_federate
    from fsnn_theory.cli._resume import CHECKPOINT_FILE

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(["federate", *FED_RESUME, *variant, "--out", str(ref)]) == 0
    with monkeypatch.context() as m:
        m.setattr(cli_federate, "progress", _interrupt_after(3))
        assert main(["federate", *FED_RESUME, *variant, "--out", str(run)]) == 130
    assert (run / CHECKPOINT_FILE).is_file() and not (run / "rounds.csv").exists()
    with monkeypatch.context() as m:  # a second interruption, later, of the resumed run
        m.setattr(cli_federate, "progress", _interrupt_after(2))
        assert main(["federate", *FED_RESUME, *variant, "--out", str(run)]) == 130
    assert main(["federate", *FED_RESUME, *variant, "--out", str(run)]) == 0
    assert (run / "rounds.csv").read_bytes() == (ref / "rounds.csv").read_bytes()
    assert not (run / CHECKPOINT_FILE).exists()


def test_federate_refuses_stale_outputs_of_another_configuration(tmp_path, capsys):
    base = ["federate", "--model", "logreg", *SMALL, "--out", str(tmp_path)]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "holds files of an earlier run" in err and "seed: 0 -> 3" in err
    assert main([*base, "--seed", "3", "--force"]) == 0
    assert main([*base, "--seed", "3"]) == 0  # the same configuration again: fine
    (tmp_path / "run.json").unlink()  # outputs of unknown origin
    assert main(base) == 2
    assert "unknown configuration" in capsys.readouterr().err
    assert main([*base, "--force"]) == 0
    (tmp_path / "checkpoint.pkl").write_bytes(b"garbage")  # a damaged checkpoint is named, never used
    assert main(base) == 2
    assert "checkpoint.pkl is not a readable checkpoint" in capsys.readouterr().err
    assert main([*base, "--force"]) == 0
    assert not (tmp_path / "checkpoint.pkl").exists()


TRAIN_RESUME = ["train", "--dataset", "digits", "--hidden", "12", "--epochs", "5", "--batch-size", "100",
                "--input-noise", "0.2", "--quiet"]


def test_interrupted_train_resumes_byte_identical(tmp_path, monkeypatch, capsys):
    import pandas as pd

    import fsnn_theory.training as training
    from fsnn_theory.cli._resume import CHECKPOINT_FILE

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main([*TRAIN_RESUME, "--out", str(ref)]) == 0
    real_train = training.train

    def interrupted(*args, on_epoch=None, **kwargs):  # Ctrl-C during epoch 3 (after 2 checkpoints)
        def hook(row):
            if row["epoch"] == 3:
                raise KeyboardInterrupt
            if on_epoch is not None:
                on_epoch(row)

        return real_train(*args, on_epoch=hook, **kwargs)

    monkeypatch.setattr(training, "train", interrupted)
    assert main([*TRAIN_RESUME, "--out", str(run)]) == 130
    assert (run / CHECKPOINT_FILE).is_file() and not (run / "history.csv").exists()
    monkeypatch.setattr(training, "train", real_train)
    assert main([*TRAIN_RESUME, "--out", str(run)]) == 0
    assert (run / "params.npy").read_bytes() == (ref / "params.npy").read_bytes()
    a, b = (pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (ref, run))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not (run / CHECKPOINT_FILE).exists()
    capsys.readouterr()
    assert main([*TRAIN_RESUME, "--seed", "1", "--out", str(run)]) == 2
    assert "seed: 0 -> 1" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_to_federate_subprocess_then_rerun_is_byte_identical(tmp_path):
    """A real Ctrl-C (SIGINT to the process) once a checkpoint exists, then the same command."""
    import signal
    import subprocess
    import sys
    import time

    from fsnn_theory.cli._resume import CHECKPOINT_FILE

    # FED_RESUME without --quiet (the resumed run announces itself), 60 rounds (argparse: the last --rounds wins)
    args = [*FED_RESUME[:-1], "--rounds", "60", "--algorithm", "scaffold", "--compressor", "topk:0.3"]
    cmd = [sys.executable, "-m", "fsnn_theory.cli", "federate", *args]
    ref = tmp_path / "ref"
    subprocess.run([*cmd, "--out", str(ref)], check=True, capture_output=True, timeout=600)

    def interrupt(run):
        proc = subprocess.Popen([*cmd, "--out", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while not (run / CHECKPOINT_FILE).exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        return proc.returncode, err.decode(errors="replace")

    # The signal lands wherever the process happens to be; an attempt counts when it stopped the run
    # the way a user's Ctrl-C does (exit 130, a checkpoint, no final output). Up to three attempts.
    attempts = []
    for attempt in range(3):
        run = tmp_path / f"run{attempt}"
        rc, err = interrupt(run)
        if rc == 0:
            pytest.skip("the run finished before the signal arrived")
        attempts.append((rc, err[-500:]))
        if rc == 130 and (run / CHECKPOINT_FILE).is_file() and not (run / "rounds.csv").exists():
            break
    else:
        pytest.fail(f"no attempt was interrupted cleanly: {attempts}")
    done = subprocess.run([*cmd, "--out", str(run)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming after round" in done.stderr
    assert (run / "rounds.csv").read_bytes() == (ref / "rounds.csv").read_bytes()
