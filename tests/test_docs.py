"""The documentation: theorem pages from proofs/*.md, docstring adaptation, and the full build.

The fast tests exercise the helpers that docs/conf.py uses (front matter, Markdown escaping,
reST table re-layout, parameter lines) against independent expectations (docutils' own parse of
the result, the proof files themselves). The slow test runs the real ``make docs`` build
(``sphinx-build -W``, tutorials executed) and checks that every tutorial shows its figures, every
theorem has its page and the math is served locally.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIALS = sorted(p.stem for p in (DOCS / "tutorials").glob("plot_*.py"))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def conf():
    return _load("fsnn_docs_conf", DOCS / "conf.py")


@pytest.fixture(scope="module")
def docstrings():
    return _load("fsnn_docs_docstrings", DOCS / "_docstrings.py")


# ---- theorem pages ------------------------------------------------------------------------------

FRONT = "---\nname: demo\ntitle: A demo theorem\nstatement: |\n  For all x_1, t* >= 0.\n  Second line.\n---\n"


def test_front_matter_is_split_off_and_read(conf):
    fields, body = conf.split_front_matter(FRONT + "# Heading\n\ntext\n")
    assert fields == {"name": "demo", "title": "A demo theorem", "statement": "For all x_1, t* >= 0.\nSecond line."}
    assert body == "# Heading\n\ntext\n"
    assert conf.split_front_matter("# Heading\n---\n") == ({}, "# Heading\n---\n")  # a rule, not front matter


def test_page_keeps_the_heading_or_takes_the_title(conf):
    page = conf.proof_page("demo", FRONT + "# Heading\n\nbody text\n")
    assert page.startswith("# Heading\n") and "name: demo" not in page
    assert "Statement in short" in page and r"x\_1" in page
    assert "body text" in page
    untitled = conf.proof_page("demo", FRONT + "no heading\n")
    assert untitled.startswith("# A demo theorem\n")
    assert conf.proof_page("x_y", "plain\n").startswith("# X y\n")


@pytest.mark.parametrize("path", sorted((ROOT / "proofs").glob("*.md")), ids=lambda p: p.stem)
def test_every_proof_file_gives_a_page(conf, path):
    text = path.read_text(encoding="utf-8")
    page = conf.proof_page(path.stem, text)
    _, body = conf.split_front_matter(text)
    title = body.lstrip("\n").splitlines()[0]
    assert page.splitlines()[0] == conf._literal_underscores(title)
    assert not page.startswith("---")
    # every line of the body is still there (modulo escaped underscores)
    assert page.replace("\\_", "_").count("\n") >= body.count("\n")


def test_underscores_are_escaped_outside_code_only(conf):
    text = "t_j and `t_j` and ``a_b``\n\n    V = w_i k(t - t_i)\n\n```\nx_1\n```\nafter_code"
    out = conf._literal_underscores(text).split("\n")
    assert out[0] == r"t\_j and `t_j` and ``a_b``"
    assert out[2] == "    V = w_i k(t - t_i)"  # indented code block
    assert out[5] == "x_1"  # fenced code
    assert out[7] == r"after\_code"


# ---- docstring adaptation -----------------------------------------------------------------------

BROKEN_TABLE = """\
Intro.

=====  ==========  ====
model  kernel      time
=====  ==========  ====
NLIF   1 - exp(-s)  log
LIF    a much longer formula here  root
=====  ==========  ====
"""


def test_overflowing_simple_table_is_relaid_and_parses(docstrings):
    docutils_core = pytest.importorskip("docutils.core")

    def cells(text):
        doctree = docutils_core.publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
        tables = [n for n in doctree.findall() if n.tagname == "table"]
        errors = [n for n in doctree.findall() if n.tagname == "system_message"]
        rows = [[e.astext() for e in row.children] for t in tables for row in t.findall()
                if row.tagname == "row"]
        return rows, errors

    rows, errors = cells(BROKEN_TABLE)
    assert errors and not rows  # docutils rejects the original
    fixed = "\n".join(docstrings.relayout_simple_tables(BROKEN_TABLE.split("\n")))
    rows, errors = cells(fixed)
    assert not errors
    assert rows == [["model", "kernel", "time"], ["NLIF", "1 - exp(-s)", "log"],
                    ["LIF", "a much longer formula here", "root"]]


def test_well_formed_table_is_left_alone(docstrings):
    good = ["=====  =====", "a      b", "=====  =====", "1      2", "=====  ====="]
    assert docstrings.relayout_simple_tables(good) == good


def test_parameter_lines_become_descriptions_and_trailing_text_moves_up(docstrings):
    lines = [
        "Summary.",
        "",
        "Parameters",
        "----------",
        "tau_s : synaptic time constant in ms, > 0.",
        "L, mu: smoothness and strong convexity",
        "    (0 < mu <= L).",
        "",
        "Source: a paper.",
        "",
        "Examples",
        "--------",
        ">>> 1",
    ]
    out = docstrings.parameters_as_descriptions(lines)
    assert out[:3] == ["Summary.", "", "Source: a paper."]
    i = out.index("Parameters")
    assert out[i + 2 : i + 7] == ["tau_s", "    synaptic time constant in ms, > 0.", "L, mu",
                                  "    smoothness and strong convexity", "    (0 < mu <= L)."]
    assert out[-3:] == ["Examples", "--------", ">>> 1"]


# ---- the full build -----------------------------------------------------------------------------


@pytest.mark.slow
def test_docs_build_without_warnings_and_show_tutorial_figures(tmp_path):
    for module in ("sphinx", "sphinx_gallery", "myst_parser"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: the docs extra is needed (pip install -e '.[docs]' or make docs)")
    out = tmp_path / "html"
    # sphinx-gallery skips scripts whose generated copy is up to date: start from none, so every
    # tutorial really runs (the directory is generated and git-ignored).
    shutil.rmtree(DOCS / "auto_tutorials", ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert len(TUTORIALS) == 5
    for name in TUTORIALS:
        html = (out / "auto_tutorials" / f"{name}.html").read_text(encoding="utf-8")
        figures = re.findall(rf'src="((?:\.\./)?_images/sphx_glr_{name}_\d+\.png)"', html)
        assert figures, f"{name}: no figure in the page"
        for fig in figures:
            assert (out / "auto_tutorials" / fig).resolve().stat().st_size > 1000
        assert "Traceback" not in html
        assert "Total running time of the script" in html
    for proof in (ROOT / "proofs").glob("*.md"):
        assert (out / "theory" / "generated" / f"{proof.stem}.html").is_file(), proof.stem
    neurons = (out / "api" / "neurons.html").read_text(encoding="utf-8")
    assert "first_spike_times" in neurons and "Examples" in neurons
    assert re.search(r'src="[./]*_static/mathjax/tex-chtml\.js"', neurons)  # local MathJax, no CDN
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file()
