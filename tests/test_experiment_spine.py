"""The experiment spine: files written, skip, rerun, resume, atomicity, determinism, CLI; declared
chunks (ctx.map, schedulers), staleness from code edits (a temporary package on sys.path),
prerequisites and artefacts, `fsnn reproduce --status`.

Every test drives a tiny fake experiment defined here (not registered in `experiments`), whose
chunks count how often they are computed, so "not recomputed" is an observable fact.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import types
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import experiments
from fsnn_theory import __version__
from fsnn_theory.cli import main
from fsnn_theory.context import RunContext, read_npz, serial_scheduler, write_npz_atomic
from fsnn_theory.experiment import (
    PrerequisiteError,
    check_experiment_module,
    experiment_status,
    plan,
    run_experiment,
    source_files,
)
from fsnn_theory.files import config_hash, read_csv_exact, save_figure_atomic, write_csv_atomic, write_json_atomic

OUTPUT_FILES = ("config.json", "data.csv", "figure.pdf", "figure.png")


# ---- the fake experiment ----------------------------------------------------------------------


def expected_chunk(config: dict, k: int) -> pd.DataFrame:
    """Chunk ``k`` of the fake experiment, computed directly (the reference for data.csv)."""
    rng = np.random.default_rng([config["seed"], k])
    n = config["rows"]
    x = rng.normal(size=n) * config["scale"]
    i = np.arange(n)
    return pd.DataFrame({"chunk": k, "i": i, "x": x, "y": x * x + 1.0 / 3.0, "odd": i % 2 == 1})


def expected_data(config: dict) -> pd.DataFrame:
    return pd.concat(
        [expected_chunk(config, k) for k in range(1, config["n_chunks"] + 1)], ignore_index=True
    )


def make_fake(name: str = "fake_precision") -> types.ModuleType:
    """A module object obeying the experiment contract; knobs: settings, fail_chunk, fail_plot."""
    mod = types.ModuleType(name)
    mod.NAME = name
    mod.TITLE = f"fake experiment {name} for the spine tests"
    mod.settings = {"n_chunks": 4, "scale": 1.0, "seed": 1234}
    mod.calls = Counter()  # chunk number -> times computed
    mod.plot_calls = 0
    mod.fail_chunk = None  # chunk number that raises (simulates a kill mid-run)
    mod.fail_plot = False

    def config(mode: str) -> dict:
        return {"rows": 5 if mode == "quick" else 8, **mod.settings}

    def compute(config: dict, k: int) -> pd.DataFrame:
        mod.calls[k] += 1
        if mod.fail_chunk == k:
            raise RuntimeError(f"simulated crash in chunk {k}")
        return expected_chunk(config, k)

    def run(config: dict, ctx: RunContext) -> pd.DataFrame:
        # declared chunks; the key names the chunk and seeds it (chunk k <- "chunk<k>")
        keys = [f"chunk{k}" for k in range(1, config["n_chunks"] + 1)]
        frames = ctx.map(lambda key: compute(config, int(key.removeprefix("chunk"))), keys, desc="chunks")
        ctx.log("all chunks done")
        return pd.concat(frames, ignore_index=True)

    def plot(data: pd.DataFrame, config: dict) -> Figure:
        mod.plot_calls += 1
        if mod.fail_plot:
            raise RuntimeError("simulated plot failure")
        fig = Figure(figsize=(3, 2))
        ax = fig.subplots()
        ax.plot(data["x"], data["y"], ".")
        ax.set_axis_off()  # tick layout is most of the drawing time; keep the tests fast
        return fig

    mod.config, mod.run, mod.plot = config, run, plot
    return mod


@pytest.fixture
def fake() -> types.ModuleType:
    return make_fake()


@pytest.fixture(autouse=True)
def fsync_spy(monkeypatch) -> Counter:
    """Record fsync calls (files vs directories) instead of waiting for the disk.

    Durability is not observable in a test, but *that* each write is fsynced is; skipping the
    real fsync keeps this file fast on a busy disk.
    """
    calls: Counter = Counter()

    def spy(fd: int) -> None:
        calls["dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"] += 1

    monkeypatch.setattr(os, "fsync", spy)
    return calls


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def assert_frame_exact(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == list(expected.columns)
    for col in expected.columns:
        a, e = actual[col].to_numpy(), expected[col].to_numpy()
        if e.dtype.kind == "f":
            assert a.dtype.kind == "f"
            # bit-identical, not merely close
            np.testing.assert_array_equal(a.view(np.int64), e.view(np.int64), err_msg=col)
        else:
            np.testing.assert_array_equal(a, e, err_msg=col)


# ---- a run writes everything ----------------------------------------------------------------


def test_run_writes_all_files_with_correct_content(fake, tmp_path):
    res = run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    assert res.status == "ran" and res.name == fake.NAME and res.out_dir == out
    assert {p.name for p in res.files} == {*OUTPUT_FILES, "manifest.json"}
    assert all(p.is_file() for p in res.files)
    assert dict(fake.calls) == {1: 1, 2: 1, 3: 1, 4: 1}

    cfg = fake.config("quick")
    stored = json.loads((out / "config.json").read_text())
    canonical = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    assert stored["config"] == cfg
    assert stored["mode"] == "quick"
    assert stored["package_version"] == __version__
    assert stored["config_hash"] == hashlib.sha256(canonical.encode()).hexdigest()

    assert_frame_exact(pd.read_csv(out / "data.csv"), expected_data(cfg))
    assert (out / "figure.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "figure.png").read_bytes().startswith(b"\x89PNG")
    parts = sorted(p.name for p in (out / "parts").glob("*.csv"))
    assert parts == [f"chunk{k}.csv" for k in range(1, 5)]

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ran" and manifest["config_hash"] == stored["config_hash"]
    assert manifest["seconds"] >= 0
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        name: sha256(out / name) for name in OUTPUT_FILES
    }


def test_every_write_is_fsynced(fake, tmp_path, fsync_spy):
    run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    written = [p for p in out.rglob("*") if p.is_file()]
    # config, data, 2 figures, manifest, 4 parts, the parts' run-key marker
    assert len(written) == 10
    assert fsync_spy["file"] == len(written)
    assert fsync_spy["dir"] == len(written)  # each rename is made durable too


def test_full_mode_uses_full_config(fake, tmp_path):
    run_experiment(fake, "full", tmp_path, quiet=True)
    data = pd.read_csv(tmp_path / fake.NAME / "data.csv")
    assert len(data) == 8 * 4
    with pytest.raises(ValueError, match="mode"):
        run_experiment(fake, "medium", tmp_path)


# ---- skip / rerun ----------------------------------------------------------------------------


def test_rerun_with_same_config_is_skipped(fake, tmp_path):
    run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir() if p.is_file()}
    res = run_experiment(fake, "quick", tmp_path, quiet=True)
    assert res.status == "skipped"
    assert dict(fake.calls) == {1: 1, 2: 1, 3: 1, 4: 1} and fake.plot_calls == 1
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir() if p.is_file()}
    assert after == before  # not even rewritten


def test_changed_config_reruns_and_discards_old_parts(fake, tmp_path):
    run_experiment(fake, "quick", tmp_path, quiet=True)
    fake.settings = {**fake.settings, "scale": 2.0, "n_chunks": 2}
    res = run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    assert res.status == "ran"  # no part of the old config may be reused
    assert fake.calls[1] == 2 and fake.calls[2] == 2
    cfg = fake.config("quick")
    assert_frame_exact(pd.read_csv(out / "data.csv"), expected_data(cfg))
    assert sorted(p.name for p in (out / "parts").glob("*.csv")) == ["chunk1.csv", "chunk2.csv"]
    stored = json.loads((out / "config.json").read_text())
    assert stored["config"] == cfg and stored["config_hash"] == config_hash(cfg)
    assert (out / "parts" / "run_key.txt").read_text().strip() == stored["run_key"]


@pytest.mark.parametrize(
    "damage",
    ["delete figure.pdf", "delete figure.png", "corrupt data.csv", "delete manifest.json",
     "corrupt config.json"],
)
def test_missing_or_corrupt_output_reruns_from_parts(fake, tmp_path, damage):
    run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    original = {name: (out / name).read_bytes() for name in OUTPUT_FILES}
    action, name = damage.split()
    if action == "delete":
        (out / name).unlink()
    else:
        with open(out / name, "ab") as fh:
            fh.write(b"garbage\n")

    res = run_experiment(fake, "quick", tmp_path, quiet=True)
    assert res.status == "resumed"  # outputs regenerated, chunks loaded from parts
    assert dict(fake.calls) == {1: 1, 2: 1, 3: 1, 4: 1} and fake.plot_calls == 2
    # Regenerated outputs equal the originals byte for byte (data and figures are deterministic).
    assert {name: (out / name).read_bytes() for name in OUTPUT_FILES} == original
    assert run_experiment(fake, "quick", tmp_path, quiet=True).status == "skipped"


def test_force_recomputes_everything(fake, tmp_path):
    run_experiment(fake, "quick", tmp_path, quiet=True)
    res = run_experiment(fake, "quick", tmp_path, force=True, quiet=True)
    assert res.status == "ran"
    assert dict(fake.calls) == {1: 2, 2: 2, 3: 2, 4: 2}


# ---- failures: kill mid-run, plot failure ------------------------------------------------------


def test_killed_run_resumes_without_recomputing_completed_chunks(fake, tmp_path):
    fake.fail_chunk = 3
    with pytest.raises(RuntimeError, match="chunk 3"):
        run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    assert sorted(p.name for p in (out / "parts").glob("*.csv")) == ["chunk1.csv", "chunk2.csv"]
    assert not (out / "manifest.json").exists() and not (out / "data.csv").exists()
    assert not temp_files(tmp_path)

    fake.fail_chunk = None
    res = run_experiment(fake, "quick", tmp_path, quiet=True)
    assert res.status == "resumed"
    assert dict(fake.calls) == {1: 1, 2: 1, 3: 2, 4: 1}  # 1 and 2 were not recomputed
    assert_frame_exact(pd.read_csv(out / "data.csv"), expected_data(fake.config("quick")))

    # The resumed data.csv is byte-identical to an uninterrupted run's.
    other = make_fake()
    run_experiment(other, "quick", tmp_path / "fresh", quiet=True)
    fresh = tmp_path / "fresh" / fake.NAME / "data.csv"
    assert (out / "data.csv").read_bytes() == fresh.read_bytes()


def test_plot_failure_keeps_data_and_parts(fake, tmp_path):
    fake.fail_plot = True
    with pytest.raises(RuntimeError, match="plot failure"):
        run_experiment(fake, "quick", tmp_path, quiet=True)
    out = tmp_path / fake.NAME
    assert_frame_exact(pd.read_csv(out / "data.csv"), expected_data(fake.config("quick")))
    assert len(list((out / "parts").glob("*.csv"))) == 4
    assert (out / "config.json").is_file()
    assert not (out / "manifest.json").exists() and not (out / "figure.pdf").exists()
    assert not temp_files(tmp_path)

    fake.fail_plot = False
    res = run_experiment(fake, "quick", tmp_path, quiet=True)
    assert res.status == "resumed"
    assert dict(fake.calls) == {1: 1, 2: 1, 3: 1, 4: 1}
    assert (out / "manifest.json").is_file()


def test_failure_on_a_complete_directory_marks_it_incomplete(fake, tmp_path):
    # A forced rerun that dies must not leave the old manifest vouching for a mixed directory.
    run_experiment(fake, "quick", tmp_path, quiet=True)
    fake.fail_plot = True
    with pytest.raises(RuntimeError):
        run_experiment(fake, "quick", tmp_path, force=True, quiet=True)
    assert not (tmp_path / fake.NAME / "manifest.json").exists()
    fake.fail_plot = False
    assert run_experiment(fake, "quick", tmp_path, quiet=True).status == "resumed"


# ---- atomic writes, exact CSV, determinism -----------------------------------------------------


def test_successful_runs_leave_no_temp_files(fake, tmp_path):
    run_experiment(fake, "quick", tmp_path, quiet=True)
    run_experiment(fake, "quick", tmp_path, force=True, quiet=True)
    assert not temp_files(tmp_path)


def test_failed_write_keeps_previous_file_and_no_temp(tmp_path):
    target = tmp_path / "figure.pdf"
    target.write_bytes(b"previous")

    class BrokenFigure:
        def savefig(self, fh, **kwargs):
            fh.write(b"half a fig")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_figure_atomic(BrokenFigure(), tmp_path / "figure")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.pdf"]


def test_csv_round_trip_is_bit_exact(tmp_path):
    tiny = np.nextafter(0.0, 1.0)
    df = pd.DataFrame(
        {
            "awkward": [0.1, 1.0 / 3.0, -0.0, 1e-300, tiny, 2.0**60 + 2.0**8, np.inf, -np.inf],
            "integral_floats": np.arange(8, dtype=np.float64),
            "ints": np.arange(8) - 3,
            "flags": [True, False] * 4,
            "text": ["a", "b,c", 'q"t', "x y", "1.5", "z", "w", "v"],
        }
    )
    path = write_csv_atomic(df, tmp_path / "d.csv")
    back = read_csv_exact(path)
    assert back["integral_floats"].dtype == np.float64  # "1.0" stays a float, not an int
    assert_frame_exact(back, df)
    assert np.signbit(back["awkward"].to_numpy()[2])  # -0.0 keeps its sign
    # Rewriting what was read gives the same bytes.
    assert write_csv_atomic(back, tmp_path / "e.csv").read_bytes() == path.read_bytes()


def test_two_fresh_runs_give_identical_bytes(tmp_path):
    a, b = make_fake(), make_fake()
    run_experiment(a, "quick", tmp_path / "a", quiet=True)
    run_experiment(b, "quick", tmp_path / "b", quiet=True)
    for name in OUTPUT_FILES:
        first, second = tmp_path / "a" / a.NAME / name, tmp_path / "b" / b.NAME / name
        assert first.read_bytes() == second.read_bytes(), name


def test_config_hash_is_canonical():
    cfg = {"seed": 3, "sizes": [1, 2], "lr": 0.1, "nested": {"b": 1, "a": 2}}
    reordered = {"nested": {"a": 2, "b": 1}, "lr": 0.1, "sizes": [1, 2], "seed": 3}
    assert config_hash(cfg) == config_hash(reordered)
    assert config_hash(cfg) != config_hash({**cfg, "seed": 4})
    text = '{"lr":0.1,"nested":{"a":2,"b":1},"seed":3,"sizes":[1,2]}'
    assert config_hash(cfg) == hashlib.sha256(text.encode()).hexdigest()
    with pytest.raises(ValueError):
        config_hash({"x": float("nan")})


def test_write_json_atomic_round_trips(tmp_path):
    obj = {"b": [1, 2.5], "a": "x"}
    assert json.loads(write_json_atomic(obj, tmp_path / "o.json").read_text()) == obj


def test_cached_rejects_unsafe_keys(tmp_path):
    ctx = RunContext(name="fake", mode="quick", out_dir=tmp_path, config_hash="0", quiet=True)
    for key in ["../evil", "", "a/b", ".hidden", "x" * 201]:
        with pytest.raises(ValueError, match="key"):
            ctx.cached(key, pd.DataFrame)
    with pytest.raises(TypeError, match="DataFrame"):
        ctx.cached("ok", lambda: [1, 2])


def test_contract_violations_are_clear(fake, tmp_path):
    del fake.plot
    with pytest.raises(TypeError, match="plot"):
        check_experiment_module(fake)
    bad = make_fake("bad_config")
    bad.config = lambda mode: {"t": (1, float("nan"))}
    with pytest.raises(TypeError, match="JSON"):
        run_experiment(bad, "quick", tmp_path, quiet=True)


# ---- registry and CLI -------------------------------------------------------------------------


def test_registry_modules_obey_the_contract():
    assert list(experiments.REGISTRY) == list(experiments.EXPERIMENT_NAMES)
    for name, module in experiments.REGISTRY.items():
        check_experiment_module(module)
        assert module.NAME == name == module.__name__.rsplit(".", 1)[-1]


def test_registry_get_unknown_lists_known(monkeypatch, fake):
    monkeypatch.setattr(experiments, "REGISTRY", {fake.NAME: fake})
    assert experiments.get(fake.NAME) is fake
    with pytest.raises(experiments.UnknownExperimentError, match=fake.NAME):
        experiments.get("nope")


def test_cli_list(monkeypatch, capsys, fake):
    monkeypatch.setattr(experiments, "REGISTRY", {fake.NAME: fake})
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert fake.NAME in out and fake.TITLE in out


def test_cli_unknown_experiment_exits_2_listing_known(monkeypatch, capsys, fake):
    monkeypatch.setattr(experiments, "REGISTRY", {fake.NAME: fake})
    assert main(["reproduce", "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and fake.NAME in err and "Traceback" not in err


def test_cli_bad_flag_returns_2(capsys):
    assert main(["reproduce", "--quick", "--full"]) == 2
    assert main(["frobnicate"]) == 2


def test_cli_reproduce_runs_then_skips(monkeypatch, capsys, tmp_path, fake):
    monkeypatch.setattr(experiments, "REGISTRY", {fake.NAME: fake})
    argv = ["reproduce", "--quick", "--out", str(tmp_path), "--only", fake.NAME, "--quiet"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert fake.NAME in first and "ran" in first and str(tmp_path / fake.NAME) in first
    assert (tmp_path / fake.NAME / "manifest.json").is_file()
    assert main(argv) == 0
    assert "skipped" in capsys.readouterr().out
    assert dict(fake.calls) == {1: 1, 2: 1, 3: 1, 4: 1}


def test_cli_failure_is_reported_and_others_still_run(monkeypatch, capsys, tmp_path):
    broken, good = make_fake("broken_exp"), make_fake("good_exp")
    broken.fail_chunk = 2
    monkeypatch.setattr(experiments, "REGISTRY", {broken.NAME: broken, good.NAME: good})
    assert main(["reproduce", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "Traceback" in captured.err and "chunk 2" in captured.err
    rows = {line.split()[0]: line.split()[1] for line in captured.out.splitlines()[2:]}
    assert rows == {"broken_exp": "FAILED", "good_exp": "ran"}
    assert (tmp_path / "good_exp" / "manifest.json").is_file()


def test_cli_repeated_only_flags_accumulate(monkeypatch, capsys, tmp_path):
    first, second, third = make_fake("first_exp"), make_fake("second_exp"), make_fake("third_exp")
    monkeypatch.setattr(experiments, "REGISTRY", {m.NAME: m for m in (first, second, third)})
    argv = ["reproduce", "--out", str(tmp_path), "--quiet", "--only", "first_exp", "--only", "third_exp"]
    assert main(argv) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows == {"first_exp": "ran", "third_exp": "ran"}
    assert not (tmp_path / "second_exp").exists()


# ---- declared chunks: ctx.map and the scheduler -------------------------------------------------


def reversed_scheduler(jobs, progress=iter):
    """A scheduler that runs the chunks in the opposite order (as a cluster might)."""
    for job in reversed(list(jobs)):
        job()


def test_chunk_order_does_not_change_the_results(tmp_path):
    a, b = make_fake(), make_fake()
    run_experiment(a, "quick", tmp_path / "a", quiet=True)
    run_experiment(b, "quick", tmp_path / "b", quiet=True, scheduler=reversed_scheduler)
    assert dict(b.calls) == {1: 1, 2: 1, 3: 1, 4: 1}
    for name in ("data.csv", "figure.png"):
        assert (tmp_path / "a" / a.NAME / name).read_bytes() == (tmp_path / "b" / b.NAME / name).read_bytes()


def test_map_returns_chunks_in_key_order_and_reuses_stored_ones(tmp_path):
    calls = []

    def fn(key):
        calls.append(key)
        return pd.DataFrame({"key": [key], "x": [len(key) / 3.0]})

    ctx = RunContext(name="fake", mode="quick", out_dir=tmp_path, config_hash="0", quiet=True,
                     scheduler=reversed_scheduler)
    frames = ctx.map(fn, ["b", "a", "cc"])
    assert [f["key"].iloc[0] for f in frames] == ["b", "a", "cc"]
    assert calls == ["cc", "a", "b"]  # run in the scheduler's order, returned in key order
    assert frames[2]["x"].iloc[0] == 2.0 / 3.0
    again = ctx.map(fn, ["cc", "d"])
    assert calls[3:] == ["d"] and ctx.parts_computed == ["b", "a", "cc", "d"]
    assert ctx.parts_reused == ["cc"]
    assert_frame_exact(again[0], frames[2])


def test_map_rejects_bad_keys_and_lazy_schedulers(tmp_path):
    ctx = RunContext(name="fake", mode="quick", out_dir=tmp_path, config_hash="0", quiet=True)
    with pytest.raises(ValueError, match="unique"):
        ctx.map(lambda k: pd.DataFrame({"k": [k]}), ["a", "a"])
    with pytest.raises(ValueError, match="key"):
        ctx.map(lambda k: pd.DataFrame({"k": [k]}), ["ok", "../evil"])
    with pytest.raises(TypeError, match="DataFrame"):
        ctx.map(lambda k: [k], ["x"])
    lazy = RunContext(name="fake", mode="quick", out_dir=tmp_path, config_hash="0", quiet=True,
                      scheduler=lambda jobs, progress=iter: None)
    with pytest.raises(RuntimeError, match="did not store"):
        lazy.map(lambda k: pd.DataFrame({"k": [k]}), ["never"])


# ---- staleness: code edits rerun, unrelated edits do not ---------------------------------------

_PKG_COUNTER = iter(range(10**6))

STALE_FILES = {
    "__init__.py": '"""Stand-in for the registry package: it lists experiments, they do not use it."""\n',
    "consts.py": "WIDTH = 1.0\n",
    "helper.py": "from {pkg}.deep import leaf\n\n\ndef shift():\n    return leaf.OFFSET\n",
    "deep/__init__.py": "",
    "deep/leaf.py": "OFFSET = 0.25\n",
    "unrelated.py": "Y = 2\n",
    "exp.py": '''from functools import partial

import numpy as np
import pandas as pd

from {pkg} import consts

NAME = "stale_fake"
TITLE = "an experiment in a temporary package"
LOC = 1.5
FAIL_AT = None


def config(mode):
    return {{"n": 3, "seed": 7}}


def _chunk(cfg, key):
    from .helper import shift  # relative and function-local: still part of the closure

    if key == FAIL_AT:
        raise RuntimeError("simulated crash in " + key)
    rng = np.random.default_rng([cfg["seed"], int(key[1:])])
    return pd.DataFrame({{"key": key, "x": rng.normal(LOC, consts.WIDTH, size=4) + shift()}})


def run(cfg, ctx):
    return pd.concat(ctx.map(partial(_chunk, cfg), [f"c{{k}}" for k in range(cfg["n"])]), ignore_index=True)


def plot(data, cfg):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot(data["x"], ".")
    return fig
''',
}


def stale_expected(loc: float, width: float, offset: float) -> pd.DataFrame:
    frames = []
    for k in range(3):
        rng = np.random.default_rng([7, k])
        frames.append(pd.DataFrame({"key": f"c{k}", "x": rng.normal(loc, width, size=4) + offset}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def stale_pkg(tmp_path, monkeypatch):
    """A package on sys.path whose experiment imports helpers; returns (package dir, loader)."""
    import importlib
    import sys

    pkg = f"spinefake{next(_PKG_COUNTER)}"
    root = tmp_path / "src"
    for rel, text in STALE_FILES.items():
        path = root / pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(pkg=pkg))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edit within a second must not hit a .pyc

    def load():
        for mod in [m for m in sys.modules if m == pkg or m.startswith(pkg + ".")]:
            del sys.modules[mod]
        importlib.invalidate_caches()
        return importlib.import_module(f"{pkg}.exp")

    yield root / pkg, load
    for mod in [m for m in sys.modules if m == pkg or m.startswith(pkg + ".")]:
        del sys.modules[mod]


def edit_file(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_source_closure_is_the_static_import_closure(stale_pkg):
    pkg_dir, load = stale_pkg
    files = source_files(load())
    pkg = pkg_dir.name
    # exp imports consts (from-import of a module) and, inside a function, .helper; helper imports
    # deep.leaf (so deep/__init__ runs too). Neither unrelated.py nor the registry __init__ counts.
    expected = ["exp.py", "consts.py", "helper.py", "deep/__init__.py", "deep/leaf.py"]
    assert files == {f"{pkg}/{rel}": sha256(pkg_dir / rel) for rel in expected}


@pytest.mark.parametrize(
    "rel, old, new, values",
    [
        ("exp.py", "LOC = 1.5", "LOC = 1.6", (1.6, 1.0, 0.25)),  # the experiment itself
        ("consts.py", "WIDTH = 1.0", "WIDTH = 2.0", (1.5, 2.0, 0.25)),  # a module it imports
        ("deep/leaf.py", "OFFSET = 0.25", "OFFSET = 0.5", (1.5, 1.0, 0.5)),  # imported indirectly
    ],
)
def test_editing_used_code_reruns_with_no_chunk_reused(stale_pkg, tmp_path, rel, old, new, values):
    pkg_dir, load = stale_pkg
    first = run_experiment(load(), "quick", tmp_path / "out", quiet=True)
    assert (first.status, first.parts_computed) == ("ran", 3)
    out = tmp_path / "out" / "stale_fake"
    assert_frame_exact(read_csv_exact(out / "data.csv"), stale_expected(1.5, 1.0, 0.25))

    edit_file(pkg_dir / rel, old, new)
    module = load()
    status = experiment_status(module, "quick", tmp_path / "out")
    assert status.state == "stale"
    assert status.reasons == (f"code changed: {pkg_dir.name}/{rel}",)
    res = run_experiment(module, "quick", tmp_path / "out", quiet=True)
    assert (res.status, res.parts_computed, res.parts_reused) == ("ran", 3, 0)
    assert_frame_exact(read_csv_exact(out / "data.csv"), stale_expected(*values))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parts_reused"] == 0
    assert manifest["code_files"][f"{pkg_dir.name}/{rel}"] == sha256(pkg_dir / rel)
    assert run_experiment(load(), "quick", tmp_path / "out", quiet=True).status == "skipped"


def test_chunks_of_a_killed_run_are_not_reused_after_a_code_edit(stale_pkg, tmp_path):
    pkg_dir, load = stale_pkg
    module = load()
    module.FAIL_AT = "c2"
    with pytest.raises(RuntimeError, match="c2"):
        run_experiment(module, "quick", tmp_path, quiet=True)
    assert len(list((tmp_path / "stale_fake" / "parts").glob("*.csv"))) == 2
    assert experiment_status(module, "quick", tmp_path).state == "missing"

    edit_file(pkg_dir / "helper.py", "return leaf.OFFSET", "return 2 * leaf.OFFSET")
    res = run_experiment(load(), "quick", tmp_path, quiet=True)
    assert (res.status, res.parts_computed, res.parts_reused) == ("ran", 3, 0)
    assert_frame_exact(read_csv_exact(tmp_path / "stale_fake" / "data.csv"), stale_expected(1.5, 1.0, 0.5))


def test_editing_unrelated_code_skips(stale_pkg, tmp_path):
    pkg_dir, load = stale_pkg
    run_experiment(load(), "quick", tmp_path, quiet=True)
    edit_file(pkg_dir / "unrelated.py", "Y = 2", "Y = 3")
    edit_file(pkg_dir / "__init__.py", "Stand-in", "Edited stand-in")
    module = load()
    assert experiment_status(module, "quick", tmp_path).state == "complete"
    assert run_experiment(module, "quick", tmp_path, quiet=True).status == "skipped"


# ---- prerequisites and artefacts ----------------------------------------------------------------


def make_producer(name: str = "producer") -> types.ModuleType:
    """Publishes a seeded weight vector as an artefact; config knob ``settings``."""
    mod = types.ModuleType(name)
    mod.NAME, mod.TITLE = name, "trains something"
    mod.settings = {"seed": 5, "n": 6}
    mod.runs = 0
    mod.config = lambda mode: dict(mod.settings)

    def run(config, ctx):
        mod.runs += 1
        w = np.random.default_rng(config["seed"]).normal(size=config["n"])
        ctx.artefact("weights.npz", {"w": w, "n": np.array(config["n"])})
        return pd.DataFrame({"i": np.arange(config["n"]), "w": w})

    mod.run = run
    mod.plot = lambda data, config: Figure(figsize=(1, 1))
    return mod


def make_consumer(requires=("producer",), name: str = "consumer") -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.NAME, mod.TITLE = name, "uses what the producer trained"
    mod.REQUIRES = tuple(requires)
    mod.runs = 0
    mod.config = lambda mode: {"power": 2}

    def run(config, ctx):
        mod.runs += 1
        w = ctx.load_artefact("producer", "weights.npz")["w"]
        return pd.DataFrame({"w_power": w ** config["power"]})

    mod.run = run
    mod.plot = lambda data, config: Figure(figsize=(1, 1))
    return mod


def test_consumer_reads_the_producers_artefact(tmp_path):
    producer, consumer = make_producer(), make_consumer()
    registry = {"producer": producer, "consumer": consumer}
    with pytest.raises(PrerequisiteError, match="producer.*never run"):
        run_experiment(consumer, "quick", tmp_path, quiet=True, registry=registry)
    assert not (tmp_path / "consumer").exists()

    run_experiment(producer, "quick", tmp_path, quiet=True, registry=registry)
    manifest = json.loads((tmp_path / "producer" / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert listed["artefacts/weights.npz"] == sha256(tmp_path / "producer" / "artefacts" / "weights.npz")

    run_experiment(consumer, "quick", tmp_path, quiet=True, registry=registry)
    w = np.random.default_rng(5).normal(size=6)
    np.testing.assert_array_equal(read_csv_exact(tmp_path / "consumer" / "data.csv")["w_power"], w**2)
    used = json.loads((tmp_path / "consumer" / "manifest.json").read_text())["prerequisites"]
    assert used["producer"]["artefacts"] == {"artefacts/weights.npz": listed["artefacts/weights.npz"]}
    assert experiment_status(consumer, "quick", tmp_path, registry).state == "complete"

    # A forced rerun of the producer writes the same bytes: the consumer stays complete.
    run_experiment(producer, "quick", tmp_path, force=True, quiet=True, registry=registry)
    assert sha256(tmp_path / "producer" / "artefacts" / "weights.npz") == listed["artefacts/weights.npz"]
    assert experiment_status(consumer, "quick", tmp_path, registry).state == "complete"


def test_changed_or_altered_prerequisite_makes_dependents_stale(tmp_path):
    producer, consumer = make_producer(), make_consumer()
    registry = {"producer": producer, "consumer": consumer}
    run_experiment(producer, "quick", tmp_path, quiet=True, registry=registry)
    run_experiment(consumer, "quick", tmp_path, quiet=True, registry=registry)

    with open(tmp_path / "producer" / "artefacts" / "weights.npz", "ab") as fh:
        fh.write(b"x")
    assert experiment_status(producer, "quick", tmp_path, registry).reasons == (
        "files altered: artefacts/weights.npz",)
    assert experiment_status(consumer, "quick", tmp_path, registry).reasons == ("prerequisite producer stale",)
    with pytest.raises(PrerequisiteError, match="files altered"):
        run_experiment(consumer, "quick", tmp_path, quiet=True, registry=registry)

    producer.settings = {**producer.settings, "seed": 6}  # a changed prerequisite config
    assert experiment_status(producer, "quick", tmp_path, registry).reasons == (
        "config changed", "files altered: artefacts/weights.npz")
    run_experiment(producer, "quick", tmp_path, quiet=True, registry=registry)
    status = experiment_status(consumer, "quick", tmp_path, registry)
    assert status.state == "stale" and status.reasons == ("prerequisite producer changed since this run",)
    assert run_experiment(consumer, "quick", tmp_path, quiet=True, registry=registry).status == "ran"
    w = np.random.default_rng(6).normal(size=6)
    np.testing.assert_array_equal(read_csv_exact(tmp_path / "consumer" / "data.csv")["w_power"], w**2)


def test_load_artefact_only_from_declared_prerequisites(tmp_path):
    producer, consumer = make_producer(), make_consumer()
    run_experiment(producer, "quick", tmp_path, quiet=True, registry={"producer": producer})
    ctx = RunContext(name="c", mode="quick", out_dir=tmp_path / "c", config_hash="0", quiet=True,
                     prerequisites={"producer": tmp_path / "producer"})
    with pytest.raises(ValueError, match="not a declared prerequisite"):
        ctx.load_artefact("other", "weights.npz")
    with pytest.raises(ValueError, match="no artefact"):
        ctx.load_artefact("producer", "nope.npz")
    assert ctx.load_artefact("producer", "weights.npz")["n"] == 6


def test_plan_orders_prerequisites_first_and_rejects_cycles():
    p, c = make_producer(), make_consumer()
    d = make_consumer(requires=("consumer",), name="downstream")
    registry = {"downstream": d, "consumer": c, "producer": p}
    assert plan(["downstream"], registry) == ["producer", "consumer", "downstream"]
    assert plan(["producer", "downstream", "consumer"], registry) == ["producer", "consumer", "downstream"]
    a, b = make_consumer(("b",), "a"), make_consumer(("a",), "b")
    with pytest.raises(ValueError, match="cycle: a -> b -> a"):
        plan(["a"], {"a": a, "b": b})
    with pytest.raises(ValueError, match="not a registered experiment"):
        plan(["consumer"], {"consumer": c})


def test_cli_only_runs_a_missing_prerequisite_first(monkeypatch, capsys, tmp_path):
    producer, consumer = make_producer(), make_consumer()
    monkeypatch.setattr(experiments, "REGISTRY", {"producer": producer, "consumer": consumer})
    argv = ["reproduce", "--out", str(tmp_path), "--quiet", "--only", "consumer"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[:2] for line in lines] == [["producer", "ran"], ["consumer", "ran"]]
    producer.settings = {**producer.settings, "n": 3}
    assert main(argv + ["--force"]) == 0  # --force: the named one; the stale producer reruns anyway
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[:2] for line in lines] == [["producer", "ran"], ["consumer", "ran"]]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[:2] for line in lines] == [["producer", "skipped"], ["consumer", "skipped"]]
    assert (producer.runs, consumer.runs) == (2, 2)


def test_cli_failed_prerequisite_fails_its_dependents(monkeypatch, capsys, tmp_path):
    producer, consumer = make_producer(), make_consumer()
    producer.run = lambda config, ctx: 1 / 0
    monkeypatch.setattr(experiments, "REGISTRY", {"producer": producer, "consumer": consumer})
    assert main(["reproduce", "--out", str(tmp_path), "--quiet", "--only", "consumer"]) == 1
    captured = capsys.readouterr()
    rows = {line.split()[0]: line.split()[1] for line in captured.out.splitlines()[2:]}
    assert rows == {"producer": "FAILED", "consumer": "FAILED"}
    assert "consumer requires producer" in captured.err


def test_cli_cycle_is_a_usage_error(monkeypatch, capsys):
    a, b = make_consumer(("b",), "a"), make_consumer(("a",), "b")
    monkeypatch.setattr(experiments, "REGISTRY", {"a": a, "b": b})
    assert main(["reproduce", "--only", "a"]) == 2
    assert "cycle" in capsys.readouterr().err


# ---- fsnn reproduce --status --------------------------------------------------------------------


def status_rows(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.splitlines()[2:]:
        name, state, reason = line.split(None, 2)
        rows[name] = (state, reason.strip())
    return rows


def test_cli_status_lists_complete_stale_missing_with_reasons(monkeypatch, capsys, tmp_path, fake):
    producer, consumer = make_producer(), make_consumer()
    monkeypatch.setattr(experiments, "REGISTRY", {fake.NAME: fake, "producer": producer, "consumer": consumer})
    status = ["reproduce", "--status", "--out", str(tmp_path)]
    assert main(status) == 0
    assert set(status_rows(capsys.readouterr().out).values()) == {("missing", "never run")}

    assert main(["reproduce", "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(status) == 0
    assert set(status_rows(capsys.readouterr().out).values()) == {("complete", "-")}
    assert (fake.plot_calls, producer.runs, consumer.runs) == (1, 1, 1)  # --status runs nothing

    fake.settings = {**fake.settings, "scale": 3.0}
    with open(tmp_path / "producer" / "data.csv", "ab") as fh:
        fh.write(b"1,2\n")
    assert main(status) == 0
    assert status_rows(capsys.readouterr().out) == {
        fake.NAME: ("stale", "config changed"),
        "producer": ("stale", "files altered: data.csv"),
        "consumer": ("stale", "prerequisite producer stale"),
    }
    (tmp_path / fake.NAME / "manifest.json").unlink()
    assert main(status + ["--only", fake.NAME]) == 0
    assert status_rows(capsys.readouterr().out) == {
        fake.NAME: ("missing", "incomplete run (no manifest; stored chunks are reused if the key matches)")}
    assert main(status + ["--only", "consumer"]) == 0  # --only shows the prerequisites too
    assert list(status_rows(capsys.readouterr().out)) == ["producer", "consumer"]


# ---- deterministic artefacts --------------------------------------------------------------------


def test_npz_artefacts_are_exact_and_byte_deterministic(tmp_path, monkeypatch):
    import time as time_module

    arrays = {"w": np.array([0.1, 1.0 / 3.0, -0.0, np.nextafter(0.0, 1.0)]), "k": np.arange(3)}
    first = write_npz_atomic(arrays, tmp_path / "a.npz").read_bytes()
    monkeypatch.setattr(time_module, "time", lambda: 2.0e9)  # a later clock must not matter
    second = write_npz_atomic(dict(reversed(arrays.items())), tmp_path / "b.npz").read_bytes()
    assert first == second
    back = read_npz(tmp_path / "a.npz")
    np.testing.assert_array_equal(back["w"].view(np.int64), arrays["w"].view(np.int64))
    with np.load(tmp_path / "a.npz") as npz:  # plain numpy reads it
        assert sorted(npz.files) == ["k", "w"]
    with pytest.raises(ValueError, match="non-empty"):
        write_npz_atomic({}, tmp_path / "c.npz")
    with pytest.raises(ValueError, match="object"):
        write_npz_atomic({"o": np.array([{}], dtype=object)}, tmp_path / "c.npz")


# ---- the registered experiments ----------------------------------------------------------------


def test_registered_prerequisites_come_first_in_paper_order():
    names = experiments.names()
    assert plan(names) == names
    for name, module in experiments.REGISTRY.items():
        for req in getattr(module, "REQUIRES", ()):
            assert names.index(req) < names.index(name)


def test_registered_closures_follow_function_local_imports_only():
    root = Path(experiments.__file__).resolve().parent.parent
    precision = source_files(experiments.get("spike_time_precision"))
    # fsnn_theory.brian is imported only inside run(); nothing federated is imported at all
    assert "fsnn_theory/brian.py" in precision
    assert not any(p.startswith("fsnn_theory/federated/") for p in precision)
    for module in experiments.REGISTRY.values():
        files = source_files(module)
        assert f"experiments/{module.NAME}.py" in files and "experiments/__init__.py" not in files
        assert "fsnn_theory/experiment.py" not in files  # the spine is not an experiment's code
    proofs = source_files(experiments.get("proof_checks"))
    for script in sorted((root / "proofs").glob("check_*.py")):
        assert proofs[f"proofs/{script.name}"] == sha256(script)
    assert "fsnn_theory/theory/symbolic.py" in proofs  # imported by the check scripts
