r"""Theorem statements: the front matter of ``proofs/<name>.md``, the one source of each statement.

Every proof file starts with a block in a strict subset of YAML::

    ---
    name: ttfs_loss_smoothness                 # == the file's stem
    title: Gradient and smoothness of the TTFS loss
    kind: corollary                            # lemma | theorem | corollary | proposition
    statement: |                               # LaTeX (text mode), indented two spaces
      For one spiking layer ... twice differentiable in the weights and
      \display
      The same $G$ and $L$ bound ...
    assumptions:                               # a list; an item may continue on lines indented 4
      - every output neuron is in $\margin$ ...
    constants:                                 # symbol: meaning (a list, may be `[]`)
      - s_min: the margin, slope at threshold
    ---

``\display`` marks where the checked formulas go (the display a proof check derives with sympy);
the paper macros of the statement (``\tstar``, ``\smin``, ``\margin``) are the paper's. Readers:
`fsnn explain` (title, statement, assumptions, constants), the proof checks (they write
``paper/generated/<name>.tex`` = `theorem_tex`: the macros ``\<Stem>Title``, ``\<Stem>Statement``,
``\<Stem>Display`` that the paper uses) and the docs.

The files are found relative to the package (`proofs_dir`: the ``proofs/`` of the repository
checkout); an installed package without the checkout gets a FileNotFoundError saying so. A missing
or garbled front matter is a `FrontMatterError` (a ValueError) naming the file, the line and what
was expected. No YAML library: the format is the few rules above, parsed strictly.

Layer: formulas (reads text files, imports nothing from the project).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DISPLAY_TOKEN",
    "KINDS",
    "THEOREM_PARTS",
    "FrontMatterError",
    "TheoremStatement",
    "macro_stem",
    "parse_front_matter",
    "proofs_dir",
    "read_statement",
    "statement_names",
    "theorem_tex",
]

KINDS: tuple[str, ...] = ("lemma", "theorem", "corollary", "proposition")
KEYS: tuple[str, ...] = ("name", "title", "kind", "statement", "assumptions", "constants")
LIST_KEYS: tuple[str, ...] = ("assumptions", "constants")
DISPLAY_TOKEN = r"\display"
# Macros a generated <name>.tex defines, each prefixed by macro_stem(name).
THEOREM_PARTS: tuple[str, ...] = ("Title", "Statement", "Display")
_FENCE = "---"
_KEY_LINE = re.compile(r"([a-z_]+):(?: (.*))?")


class FrontMatterError(ValueError):
    """A proof file whose front matter is missing or does not follow the format."""


@dataclass(frozen=True)
class TheoremStatement:
    """One result as its proof file states it (see the module docstring for the fields)."""

    name: str
    title: str
    kind: str
    statement: str
    assumptions: tuple[str, ...]
    constants: tuple[str, ...]
    path: Path

    @property
    def heading(self) -> str:
        """``Corollary: Gradient and smoothness of the TTFS loss``."""
        return f"{self.kind.capitalize()}: {self.title}"

    def statement_text(self, display: str | None = None) -> str:
        r"""The statement with ``\display`` replaced by ``display`` (default: a pointer to the
        checked formulas), for reading outside LaTeX."""
        if display is None:
            display = (f"[displayed formulas: derived by proofs/check_{self.name}.py into "
                       f"paper/generated/{self.name}.tex; see proofs/{self.name}.md]")
        return self.statement.replace(DISPLAY_TOKEN, display)


def proofs_dir() -> Path:
    """The repository's ``proofs/`` (next to the package); FileNotFoundError if it is absent."""
    path = Path(__file__).resolve().parents[2] / "proofs"
    if not path.is_dir():
        raise FileNotFoundError(
            f"no proofs directory at {path}: theorem statements are read from the front matter of "
            "proofs/<name>.md in a checkout of the repository (install it editable: pip install -e .)")
    return path


def macro_stem(name: str) -> str:
    """``spike_time_regularity`` -> ``SpikeTimeRegularity`` (LaTeX macro names are letters only)."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z]+(_[a-z]+)*", name):
        raise ValueError(f"name must be lower-case words joined by '_', got {name!r}")
    return "".join(part.capitalize() for part in name.split("_"))


def parse_front_matter(text: str, source: str = "<text>") -> dict[str, object]:
    """The front matter of ``text`` as {key: str or tuple of str}; `FrontMatterError` if absent or garbled.

    Rules: the text starts with a line ``---`` and the block ends at the next ``---``; a key line
    is ``key: value`` (one-line string), ``key: |`` (the following lines indented two spaces form
    the string, blank lines kept), ``key: []`` (empty list) or ``key:`` followed by items
    ``  - item`` (lines indented four spaces continue the item). Every key of :data:`KEYS`,
    exactly once, and no other.
    """
    lines = text.splitlines()

    def fail(lineno: int, msg: str) -> FrontMatterError:
        return FrontMatterError(f"{source}, line {lineno}: {msg} (front matter format: see fsnn_theory.theory.statements)")

    if not lines or lines[0].rstrip() != _FENCE:
        raise fail(1, "expected the front matter to start with a line '---'")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE)
    except StopIteration:
        raise fail(len(lines), "no closing '---' line of the front matter") from None
    out: dict[str, object] = {}
    i = 1
    while i < end:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _KEY_LINE.fullmatch(line.rstrip())
        if m is None:
            raise fail(i + 1, f"expected 'key: value', 'key: |' or 'key:' at column 0, got {line!r}")
        key, value = m.group(1), (m.group(2) or "").strip()
        if key not in KEYS:
            raise fail(i + 1, f"unknown key {key!r}; allowed: {', '.join(KEYS)}")
        if key in out:
            raise fail(i + 1, f"key {key!r} given twice")
        i += 1
        if value == "|":
            block = []
            while i < end and (not lines[i].strip() or lines[i].startswith("  ")):
                block.append(lines[i][2:].rstrip())
                i += 1
            out[key] = "\n".join(block).strip("\n")
        elif value == "[]":
            out[key] = ()
        elif value:
            out[key] = value
        else:
            items: list[str] = []
            while i < end and (not lines[i].strip() or lines[i].startswith("  ")):
                row = lines[i].rstrip()
                if row.startswith("  - "):
                    items.append(row[4:].strip())
                elif row.startswith("    ") and items:
                    items[-1] += " " + row.strip()
                elif row.strip():
                    raise fail(i + 1, f"expected a list item '  - ...' or a continuation indented 4, got {row!r}")
                i += 1
            if not items:
                raise fail(i, f"key {key!r} has no value (use 'key: []' for an empty list)")
            out[key] = tuple(items)
    absent = [k for k in KEYS if k not in out]
    if absent:
        raise fail(end + 1, f"missing key(s) {', '.join(absent)}")
    for key in KEYS:
        is_list = isinstance(out[key], tuple)
        if is_list != (key in LIST_KEYS):
            raise fail(end + 1, f"{key!r} must be {'a list' if key in LIST_KEYS else 'a string'}")
        if not is_list and not out[key]:
            raise fail(end + 1, f"{key!r} is empty")
    if out["kind"] not in KINDS:
        raise fail(end + 1, f"kind must be one of {', '.join(KINDS)}, got {out['kind']!r}")
    if not out["assumptions"]:
        raise fail(end + 1, "assumptions must list at least one assumption")
    return out


def read_statement(name: str, directory: Path | None = None) -> TheoremStatement:
    """The front matter of ``<directory>/<name>.md`` (default `proofs_dir`), validated; its
    ``name`` must equal the file's stem."""
    directory = proofs_dir() if directory is None else Path(directory)
    path = directory / f"{name}.md"
    if not path.is_file():
        known = ", ".join(statement_names(directory)) if directory.is_dir() else "(no such directory)"
        raise FileNotFoundError(f"no proof file {path}; known: {known}")
    fields = parse_front_matter(path.read_text(encoding="utf-8"), str(path))
    if fields["name"] != name:
        raise FrontMatterError(f"{path}: front matter name {fields['name']!r} differs from the file name {name!r}")
    return TheoremStatement(path=path, **fields)  # type: ignore[arg-type]


def statement_names(directory: Path | None = None) -> list[str]:
    """Names of every ``<directory>/*.md`` (default `proofs_dir`), sorted."""
    directory = proofs_dir() if directory is None else Path(directory)
    return sorted(p.stem for p in directory.glob("*.md"))


def theorem_tex(statement: TheoremStatement, display: str, generator: str) -> str:
    r"""The ``<name>.tex`` a proof check writes: ``\<Stem>Title``, ``\<Stem>Statement`` (the
    front matter's, ``\display`` -> ``\<Stem>Display``) and ``\<Stem>Display`` (``display``, the
    checked formulas). The paper inputs it once, then typesets the three macros where it wants."""
    stem = macro_stem(statement.name)
    body = statement.statement.replace(DISPLAY_TOKEN, f"\\{stem}Display")
    # the check's own header comments are replaced by this file's
    display = "\n".join(line for line in display.splitlines() if not line.startswith("%"))
    return "\n".join([
        f"% Generated by {generator} after all checks passed. Do not edit: the statement is the front",
        f"% matter of proofs/{statement.name}.md, the display the checked formulas.",
        f"\\newcommand{{\\{stem}Title}}{{{statement.title}}}",
        f"\\newcommand{{\\{stem}Statement}}{{%\n{body}%\n}}",
        f"\\newcommand{{\\{stem}Display}}{{%\n{display.rstrip()}%\n}}",
    ]) + "\n"
