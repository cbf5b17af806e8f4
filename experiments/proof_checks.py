r"""Run every ``proofs/check_*.py`` and regenerate ``paper/generated/<theorem>.tex``.

Each check script re-derives every algebraic step of its proof with sympy and asserts it, then
writes the LaTeX the paper ``\input``\ s. This experiment is how ``make reproduce`` regenerates
``paper/generated``: one row per proof (steps, seconds, the .tex written). A failing step fails the
experiment. The config carries a hash of the check scripts, so editing a proof reruns it; a deleted
.tex with unchanged scripts needs ``fsnn reproduce --only proof_checks --force``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from pathlib import Path

import pandas as pd

NAME = "proof_checks"
TITLE = "Symbolic checks of every proof (proofs/check_*.py) -> paper/generated/*.tex"
# run() executes these scripts (the spine follows their imports); they read no proofs/*.md.
SOURCE_FILES = ("proofs/check_*.py",)

ROOT = Path(__file__).resolve().parents[1]


def _scripts() -> list[Path]:
    proofs = ROOT / "proofs"
    scripts = sorted(proofs.glob("check_*.py"))
    if not scripts:
        raise FileNotFoundError(f"no proofs/check_*.py under {proofs} (run from a checkout of the repository)")
    return scripts


def config(mode: str) -> dict:
    digest = hashlib.sha256()
    # the .tex a check writes depends on its script and on the front matter of its proof text
    for p in [*_scripts(), *sorted((ROOT / "proofs").glob("*.md"))]:
        digest.update(p.name.encode())
        digest.update(p.read_bytes())
    return {"scripts": [p.name for p in _scripts()], "sources_sha256": digest.hexdigest(),
            "paper_dir": "paper/generated"}


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"fsnn_proofs_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(config: dict, ctx) -> pd.DataFrame:
    out_dir = ROOT / config["paper_dir"]
    rows = []
    for name in ctx.progress(config["scripts"], desc="proofs"):
        module = _load(ROOT / "proofs" / name)
        start = time.perf_counter()
        path = module.main(out_dir)  # raises AssertionError naming the failing step
        rows.append({"proof": module.NAME, "steps": len(module.STEPS), "passed": True,
                     "seconds": round(time.perf_counter() - start, 2),
                     "tex": str(path.relative_to(ROOT))})
        ctx.log(f"{module.NAME}: {len(module.STEPS)} steps passed -> {path.relative_to(ROOT)}")
    # seconds vary from run to run: keep data.csv a function of the config only
    return pd.DataFrame(rows).drop(columns=["seconds"])


def plot(data: pd.DataFrame, config: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(data)))
    ax.barh(data["proof"], data["steps"], color=["C2" if ok else "C3" for ok in data["passed"]])
    ax.set_xlabel("algebraic steps checked with sympy (all passed)")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def numbers(data: pd.DataFrame | None, config: dict | None) -> dict:
    """Proofs checked, proofs whose every step passed, and sympy steps over all proofs."""
    from fsnn_theory.numbers import NumberSheet

    sheet = NumberSheet(NAME, data)
    sheet.add("ProofChecksProofs", lambda: len(data), "int", "proofs checked")
    sheet.add("ProofChecksPassed", lambda: int(data["passed"].astype(bool).sum()), "int",
              "proofs whose every step passed")
    sheet.add("ProofChecksSteps", lambda: int(data["steps"].sum()), "int", "algebraic steps checked with sympy")
    return sheet.result()
