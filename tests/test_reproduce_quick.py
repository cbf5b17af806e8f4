"""End to end: the README's first command, `fsnn reproduce --quick`, on every registered experiment.

One subprocess runs the whole quick reproduction into a temporary directory (about 3 minutes,
most of it Brian2 in `spike_time_precision`). The checks are about what a reader of the paper
relies on: every experiment finished, every output file is the one its manifest names, a rerun
skips complete work, and the figures' data are bit-identical when recomputed from the same seed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments import EXPERIMENT_NAMES

REPO_ROOT = Path(__file__).resolve().parent.parent

# Fast experiments covering training, client sampling, dropout, stochastic compression and
# verification: their data must not depend on anything but the config.
RECOMPUTED = ("yin_yang_training", "compression_tradeoff", "dropout_robustness", "verify_nonconvex")

pytestmark = pytest.mark.slow


def _fsnn(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "fsnn_theory.cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def _status_column(stdout: str) -> dict[str, str]:
    """experiment -> status, parsed from the summary table `fsnn reproduce` prints last."""
    statuses = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in EXPERIMENT_NAMES:
            statuses[fields[0]] = fields[1]
    return statuses


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("results")
    proc = _fsnn("reproduce", "--quick", "--quiet", "--out", str(out), timeout=1800)
    return out, proc


def test_every_experiment_runs(quick_results):
    out, proc = quick_results
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    statuses = _status_column(proc.stdout)
    assert set(statuses) == set(EXPERIMENT_NAMES), proc.stdout[-3000:]
    assert set(statuses.values()) == {"ran"}, statuses


@pytest.mark.parametrize("name", EXPERIMENT_NAMES)
def test_outputs_match_their_manifest(quick_results, name):
    out, _ = quick_results
    manifest = json.loads((out / name / "manifest.json").read_text())
    assert manifest["name"] == name and manifest["mode"] == "quick"
    listed = {f["path"] for f in manifest["files"]}
    assert listed == {"config.json", "data.csv", "figure.pdf", "figure.png"}
    for entry in manifest["files"]:
        blob = (out / name / entry["path"]).read_bytes()
        assert len(blob) == entry["bytes"]
        assert hashlib.sha256(blob).hexdigest() == entry["sha256"], entry["path"]
    assert (out / name / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / name / "figure.pdf").read_bytes()[:5] == b"%PDF-"
    data = pd.read_csv(out / name / "data.csv")
    assert len(data) > 0 and len(data.columns) > 0


def test_rerun_skips_complete_experiments(quick_results):
    out, first = quick_results
    assert first.returncode == 0
    proc = _fsnn("reproduce", "--quick", "--quiet", "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = _status_column(proc.stdout)
    assert statuses and set(statuses.values()) == {"skipped"}, statuses


def test_recomputed_data_are_bit_identical(quick_results, tmp_path):
    out, first = quick_results
    assert first.returncode == 0
    only = [a for name in RECOMPUTED for a in ("--only", name)]
    proc = _fsnn("reproduce", "--quick", "--quiet", "--force", "--out", str(tmp_path), *only, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in RECOMPUTED:
        assert (tmp_path / name / "data.csv").read_bytes() == (out / name / "data.csv").read_bytes(), name
