"""Sphinx configuration for the fsnn_theory documentation (``make docs``).

Built with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``: any warning fails the
build. The tutorials in ``docs/tutorials/plot_*.py`` are executed by sphinx-gallery at build time;
the theorem pages are generated from ``proofs/*.md`` (see `_write_proof_pages`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless builds; the gallery scraper collects the figures

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # a checkout without the editable install still documents itself
sys.path.insert(0, str(DOCS))  # _docstrings

import fsnn_theory  # noqa: E402

project = "fsnn_theory"
author = "fsnn_theory contributors"
copyright = "fsnn_theory contributors"
version = release = getattr(fsnn_theory, "__version__", "0.1.0")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    # Ships MathJax 3 and points mathjax_path at the local copy: math renders offline (no CDN).
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/GALLERY_HEADER.rst"]  # the gallery header is read by sphinx-gallery
templates_path: list[str] = []
html_static_path: list[str] = []

html_theme = "alabaster"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px", "fixed_sidebar": True}
html_title = "fsnn_theory"

# --- API reference ------------------------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# --- Markdown (theorem pages) -------------------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# --- Tutorials ----------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["auto_tutorials"],
    "filename_pattern": r"/plot_",  # every tutorial is executed
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": "True",
}

# --- Theorems: generated from proofs/*.md -------------------------------------------------------

PROOFS = ROOT / "proofs"
PROOF_PAGES = DOCS / "theory" / "generated"
# Optional YAML-like front matter at the top of a proof file: "---\n...\n---\n".
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(front-matter fields, body) of a proof file; ({}, text) when it has no front matter.

    Only ``key: value`` lines and ``key: |`` blocks (indented continuation lines) are read, which
    is all the proof files use; anything else in the block is ignored rather than guessed at.
    """
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    fields: dict[str, str] = {}
    key = None
    for line in m.group(1).splitlines():
        top = re.match(r"^([A-Za-z_][\w-]*):\s*(.*)$", line)
        if top:
            key, value = top.group(1), top.group(2).strip()
            fields[key] = "" if value in ("|", ">", "|-", ">-") else value.strip("\"'")
        elif key is not None and (line.startswith((" ", "\t")) or not line.strip()):
            fields[key] = (fields[key] + "\n" + line.strip()).strip("\n")
    return fields, text[m.end():]


_CODE_SPAN = re.compile(r"(`+).+?\1")


def _escape_outside_code_spans(line: str) -> str:
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(line):
        out.append(line[pos:m.start()].replace("_", r"\_"))
        out.append(m.group(0))
        pos = m.end()
    out.append(line[pos:].replace("_", r"\_"))
    return "".join(out)


def _literal_underscores(body: str) -> str:
    """Escape ``_`` outside code: the proofs write plain-text math (t_j, κ_max, sup_{s>0}), where
    Markdown would pair underscores into emphasis. Code blocks (fenced or indented by 4 after a
    blank line) are kept as they are."""
    out, fenced, in_block, prev_blank = [], False, False, True
    for line in body.split("\n"):
        fence = line.lstrip().startswith("```")
        if fence:
            fenced = not fenced
        if line.strip():
            in_block = line.startswith("    ") and (prev_blank or in_block)
        code = fence or fenced or in_block
        out.append(line if code else _escape_outside_code_spans(line))
        prev_blank = not line.strip()
    return "\n".join(out)


def proof_page(name: str, text: str) -> str:
    """The Markdown page for one proof file: front matter dropped, a title guaranteed."""
    fields, body = split_front_matter(text)
    body = _literal_underscores(body.lstrip("\n"))
    if not body.startswith("# "):
        title = fields.get("title") or name.replace("_", " ").capitalize()
        body = f"# {title}\n\n{body}"
    source = f"proofs/{name}.md"
    note = (f"\n\n```{{note}}\nThis page is generated from `{source}` and its sympy check "
            f"`proofs/check_{name}.py` (run by `pytest tests/test_proofs.py`).\n```\n")
    statement = fields.get("statement", "").strip()
    if statement:
        note += f"\n```{{admonition}} Statement in short\n{_literal_underscores(statement)}\n```\n"
    head, _, rest = body.partition("\n")
    return head + note + rest


def _write_proof_pages(app, config) -> None:
    PROOF_PAGES.mkdir(parents=True, exist_ok=True)
    names = sorted(p.stem for p in PROOFS.glob("*.md"))
    wanted = {f"{n}.md" for n in names}
    for stale in PROOF_PAGES.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name in names:
        page = proof_page(name, (PROOFS / f"{name}.md").read_text(encoding="utf-8"))
        target = PROOF_PAGES / f"{name}.md"
        if not target.exists() or target.read_text(encoding="utf-8") != page:
            target.write_text(page, encoding="utf-8")  # unchanged pages keep their mtime


def setup(app):
    from _docstrings import process_docstring

    app.connect("config-inited", _write_proof_pages)
    app.connect("autodoc-process-docstring", process_docstring, priority=400)  # before napoleon
    return {"parallel_read_safe": True}
