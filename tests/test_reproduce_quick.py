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
import shutil
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

# Artefacts the training experiments publish for the experiments that REQUIRE them.
PUBLISHES = {
    "yin_yang_training": ("artefacts/network_seed0.npz",),
    "digits_training": ("artefacts/network_seed0.npz",),
}

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
    outputs = {"config.json", "data.csv", "figure.pdf", "figure.png"}
    assert listed == outputs | set(PUBLISHES.get(name, ()))
    assert manifest["code_files"] and f"experiments/{name}.py" in manifest["code_files"]
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


def test_status_after_the_run_is_complete(quick_results):
    out, first = quick_results
    assert first.returncode == 0
    proc = _fsnn("reproduce", "--quick", "--status", "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = _status_column(proc.stdout)
    assert set(statuses) == set(EXPERIMENT_NAMES) and set(statuses.values()) == {"complete"}, proc.stdout


@pytest.mark.parametrize(
    "name, prerequisites",
    [("decision_regions", ("yin_yang_training",)), ("spike_raster", ("yin_yang_training",)),
     ("energy_per_inference", ("yin_yang_training", "digits_training"))],
)
def test_downstream_experiments_read_the_trained_network(quick_results, name, prerequisites):
    out, first = quick_results
    assert first.returncode == 0
    used = json.loads((out / name / "manifest.json").read_text())["prerequisites"]
    assert set(used) == set(prerequisites)
    for req in prerequisites:
        published = {f["path"]: f["sha256"] for f in json.loads((out / req / "manifest.json").read_text())["files"]}
        assert used[req]["artefacts"] == {"artefacts/network_seed0.npz": published["artefacts/network_seed0.npz"]}
    # nothing was retrained into the dependent's own chunks
    assert not [p.name for p in (out / name / "parts").glob("*seed*.csv")]


def _copy_of_the_repository(dest: Path) -> Path:
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "results", ".venv")
    for sub in ("experiments", "fsnn_theory", "proofs"):
        shutil.copytree(REPO_ROOT / sub, dest / sub, ignore=ignore)
    return dest


def test_editing_an_experiment_in_a_copy_reruns_it(tmp_path):
    """The motivating bug: `w1 = rng.normal(1.5, ...)` -> 1.6 used to print "skipped"."""
    repo = _copy_of_the_repository(tmp_path / "repo")
    out = tmp_path / "results"
    name = "spike_causal_density"

    def fsnn(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
        proc = subprocess.run([sys.executable, "-m", "fsnn_theory.cli", *args, "--quick", "--out", str(out),
                               "--only", name], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    code = "import experiments, sys; print(experiments.__file__)"
    where = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert where.stdout.strip() == str(repo / "experiments" / "__init__.py")  # the copy is what runs

    assert _status_column(fsnn("reproduce", "--quiet").stdout) == {name: "ran"}
    before = (out / name / "data.csv").read_bytes()

    source = repo / "experiments" / f"{name}.py"
    text = source.read_text()
    assert text.count("rng.normal(1.5,") == 1
    source.write_text(text.replace("rng.normal(1.5,", "rng.normal(1.6,"))
    status = fsnn("reproduce", "--status").stdout
    assert "stale" in status and f"code changed: experiments/{name}.py" in status, status
    assert _status_column(fsnn("reproduce", "--quiet").stdout) == {name: "ran"}
    manifest = json.loads((out / name / "manifest.json").read_text())
    assert manifest["parts_reused"] == 0 and manifest["parts_computed"] > 0
    assert (out / name / "data.csv").read_bytes() != before

    # An edit to a module the experiment does not import leaves it complete.
    unrelated = repo / "fsnn_theory" / "federated" / "compressors.py"
    unrelated.write_text(unrelated.read_text() + "\n# an unrelated edit\n")
    assert _status_column(fsnn("reproduce", "--status").stdout) == {name: "complete"}
    assert _status_column(fsnn("reproduce", "--quiet").stdout) == {name: "skipped"}


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed (TeX is needed to typeset)")
def test_the_paper_typesets_from_the_quick_results(quick_results, tmp_path):
    """`fsnn paper --pdf` on a quick reproduction: a PDF with every figure, no undefined reference, no ??."""
    out, proc = quick_results
    assert proc.returncode == 0, proc.stderr[-2000:]
    paper_dir = tmp_path / "paper"
    paper_dir.mkdir()
    for name in ("fsnn_theory.tex", "references.bib"):
        shutil.copy(REPO_ROOT / "paper" / name, paper_dir / name)
    # The proof checks wrote their theorem files into this checkout's paper/generated; `fsnn paper`
    # finds them relative to the folder holding results/, so lay the two side by side.
    checkout = tmp_path / "checkout"
    (checkout / "paper").mkdir(parents=True)
    shutil.copytree(out, checkout / "results")
    (checkout / "paper" / "generated").symlink_to(REPO_ROOT / "paper" / "generated", target_is_directory=True)
    made = _fsnn("paper", "--results", str(checkout / "results"), "--out", str(paper_dir / "generated"), "--pdf",
                 timeout=600)
    assert made.returncode == 0, made.stderr[-2000:]
    pdf = paper_dir / "fsnn_theory.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    log = (paper_dir / "fsnn_theory.log").read_text(encoding="utf-8", errors="replace")
    figures = sorted((paper_dir / "generated" / "figures").glob("*.pdf"))
    assert len(figures) == len(EXPERIMENT_NAMES)
    for fig in figures:  # every figure was actually included
        assert f"generated/figures/{fig.name}" in log.replace("\n", ""), fig.name
