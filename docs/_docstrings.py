"""Build-time adaptation of the project's docstrings for autodoc + napoleon (used by conf.py).

The docstrings follow the numpy layout with one house convention that napoleon would misread:
a parameter line is ``name : description`` (the project writes no types there; signatures carry
them), so `parameters_as_descriptions` moves the text after the colon to the description slot.
`relayout_simple_tables` re-lays out reST simple tables whose cells overflow their ``====``
borders (docutils rejects those as "Malformed table"; they read fine as plain text in the source).
`KNOWN_FIXES` holds the few remaining reST defects, each an exact (old, new) replacement; a fix
whose ``old`` text is gone raises a warning, so once the source is fixed the entry is removed.
"""

from __future__ import annotations

import re

_SECTION_WITH_NAMES = {"Parameters", "Other Parameters", "Attributes", "Keyword Arguments"}
_ANY_SECTION = re.compile(r"^\s*-{3,}\s*$")
_PARAM = re.compile(r"^(\s*)(\*{0,2}[A-Za-z_][\w]*(?:\s*,\s*\*{0,2}[A-Za-z_][\w]*)*)\s*:\s+(\S.*)$")
_BORDER = re.compile(r"^(\s*)(=+(?: +=+)+)\s*$")


def _is_header(lines: list[str], i: int) -> bool:
    return bool(lines[i].strip()) and i + 1 < len(lines) and bool(_ANY_SECTION.match(lines[i + 1]))


def parameters_as_descriptions(lines: list[str]) -> list[str]:
    """``name : text`` -> ``name`` + indented ``text`` inside Parameters-like sections.

    The house style also lets a plain paragraph follow a parameter list after a blank line (napoleon
    would read it as more parameters); such paragraphs are moved before the section's header.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not (_is_header(lines, i) and lines[i].strip() in _SECTION_WITH_NAMES):
            out.append(lines[i])
            i += 1
            continue
        base = len(lines[i]) - len(lines[i].lstrip())
        section = [lines[i], lines[i + 1]]
        i += 2
        while i < len(lines) and not _is_header(lines, i):
            line = lines[i]
            if not line.strip():
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and not _is_header(lines, j) and \
                        len(lines[j]) - len(lines[j].lstrip()) <= base:
                    break  # a paragraph after the list: ends the section
            m = _PARAM.match(line)
            if m and len(m.group(1)) == base:
                section.append(f"{m.group(1)}{m.group(2)}")
                section.append(f"{m.group(1)}    {m.group(3)}")
            else:
                section.append(line)
            i += 1
        trailing = []
        while i < len(lines) and not _is_header(lines, i):
            trailing.append(lines[i])
            i += 1
        while trailing and not trailing[-1].strip():
            trailing.pop()
        if trailing:
            while trailing and not trailing[0].strip():
                trailing.pop(0)
            out.extend(trailing + [""])
        out.extend(section)
        if i < len(lines) and section[-1].strip():
            out.append("")
    return out


def _spans(border: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"=+", border)]


def _split_row(line: str, spans: list[tuple[int, int]]) -> list[str]:
    """Cells of one row; a cell may overflow into the next column (next cell = first text after
    its border end that follows two spaces)."""
    cells, pos = [], spans[0][0]
    for j in range(len(spans)):
        if j == len(spans) - 1:
            cells.append(line[pos:].strip())
            break
        end = spans[j][1]
        nxt = None
        for k in range(max(end, pos + 1), len(line)):
            if line[k] != " " and line[k - 2 : k] == "  ":
                nxt = k
                break
        if nxt is None:
            cells.append(line[pos:].strip())
            cells.extend([""] * (len(spans) - j - 1))
            break
        cells.append(line[pos:nxt].strip())
        pos = nxt
    return cells


def _overflows(line: str, spans: list[tuple[int, int]]) -> bool:
    return any(line[a:b].strip() for (_, a), (b, _) in zip(spans, spans[1:]))


def relayout_simple_tables(lines: list[str]) -> list[str]:
    """Re-pad every simple table that has a row overflowing a column border."""
    out = list(lines)
    i = 0
    while i < len(out):
        m = _BORDER.match(out[i])
        if not m:
            i += 1
            continue
        border = out[i]
        # the table runs to the third identical border (header border, then closing border)
        ends = [k for k in range(i, len(out)) if out[k] == border]
        if len(ends) < 2:
            i += 1
            continue
        last = ends[2] if len(ends) >= 3 else ends[1]
        spans = _spans(border)
        rows = list(range(i + 1, last))
        body = [k for k in rows if out[k] != border and out[k].strip()]
        if not any(_overflows(out[k], spans) for k in body):
            i = last + 1
            continue
        cells = {k: _split_row(out[k], spans) for k in body}
        widths = [max([len(c[j]) for c in cells.values()] + [spans[j][1] - spans[j][0]])
                  for j in range(len(spans))]
        indent = m.group(1)
        new_border = indent + "  ".join("=" * w for w in widths)
        for k in range(i, last + 1):
            if out[k] == border:
                out[k] = new_border
            elif k in cells:
                out[k] = (indent + "  ".join(c.ljust(w) for c, w in zip(cells[k], widths))).rstrip()
        i = last + 1
    return out


# (object name, old text, new text): reST defects in docstrings that the sources still have.
KNOWN_FIXES: list[tuple[str, str, str]] = [
    ("fsnn_theory.network.FirstSpikeLoss",
     "Parameters (Göltz et al. 2021 Yin-Yang values in brackets)\n----------",
     "Göltz et al. 2021 Yin-Yang values in brackets.\n\nParameters\n----------"),
    ("fsnn_theory.federated.compressors.to_float32", "(|x| > 3.4e38)", "(``|x| > 3.4e38``)"),
    ("fsnn_theory.theory.bounds.int8_quantised_bits", "max |x_i| / 127", "``max |x_i| / 127``"),
]


def process_docstring(app, what, name, obj, options, lines) -> None:
    """autodoc-process-docstring handler; runs before napoleon (lower priority number)."""
    from sphinx.util import logging

    text = "\n".join(lines)
    for target, old, new in KNOWN_FIXES:
        if name == target:
            if old not in text:
                logging.getLogger(__name__).warning(
                    "docs/_docstrings.py: KNOWN_FIXES entry for %s no longer matches; the source "
                    "was fixed, remove the entry", name)
            text = text.replace(old, new)
    new_lines = relayout_simple_tables(parameters_as_descriptions(text.split("\n")))
    lines[:] = new_lines
