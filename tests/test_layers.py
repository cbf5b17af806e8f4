"""The house has layers: every import of the project points down (or sideways), never up, never round.

Layers, bottom first (a module may import its own layer and the layers below it):

    0 utilities    fsnn_theory (package), _validation, files, context, numbers
    1 models       neurons, data, network, brian, training, ann, smoothed, opcounts
    2 formulas     fsnn_theory.theory.*         pure math: bounds, regularity, symbolic, ...
    3 federated    fsnn_theory.federated.*
    4 studies      fsnn_theory.studies.*        set-ups, constant estimation, bound verification
    5 experiments  experiments.*
    6 spine        fsnn_theory.experiment, fsnn_theory.paper, fsnn_theory.cli.*
    proofs         proofs/check_*.py may use utilities, models and formulas only (never the runner)

Formulas sit above the models because the regularity constants are stated for the models' kernels;
they know no runs (nothing of federated, studies, experiments or the spine). Every ``import`` and
``from ... import`` is read with `ast`, function-local ones included, so a lazy import cannot hide an
upward edge. A module that no rule assigns fails the test: a new module must be placed on purpose.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fsnn_theory", "experiments", "proofs")

LAYERS = ("utilities", "models", "formulas", "federated", "studies", "experiments", "spine")
PROOFS_MAY_USE = {"utilities", "models", "formulas"}

# Exact module names first, then package prefixes (longest match wins).
EXACT = {
    "fsnn_theory": "utilities",
    "fsnn_theory._validation": "utilities",
    "fsnn_theory.files": "utilities",
    "fsnn_theory.context": "utilities",
    "fsnn_theory.numbers": "utilities",
    "fsnn_theory.neurons": "models",
    "fsnn_theory.data": "models",
    "fsnn_theory.network": "models",
    "fsnn_theory.brian": "models",
    "fsnn_theory.training": "models",
    "fsnn_theory.ann": "models",
    "fsnn_theory.smoothed": "models",
    "fsnn_theory.opcounts": "models",
    "fsnn_theory.experiment": "spine",
    "fsnn_theory.paper": "spine",
}
PREFIXES = {
    "fsnn_theory.theory": "formulas",
    "fsnn_theory.federated": "federated",
    "fsnn_theory.studies": "studies",
    "fsnn_theory.cli": "spine",
    "experiments": "experiments",
    "proofs": "proofs",
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every ``.py`` file of the given top-level folders, by dotted module name."""
    modules = {}
    for top in packages:
        for path in sorted((root / top).rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def layer_of(module: str, exact=EXACT, prefixes=PREFIXES) -> str | None:
    if module in exact:
        return exact[module]
    best = None
    for prefix, layer in prefixes.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return best[1] if best else None


def imported_modules(path: Path, module: str, known: set[str]) -> set[str]:
    """Project modules that ``path`` imports, anywhere in the file (function bodies included).

    ``from pkg import name`` counts ``pkg.name`` when that is a module, else ``pkg``; relative
    imports are resolved against ``module``'s package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def closest(name: str) -> str | None:
        while name:
            if name in known:
                return name
            name = name.rpartition(".")[0]
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = closest(alias.name)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                target = closest(f"{source}.{alias.name}") or closest(source)
                if target:
                    found.add(target)
    found.discard(module)
    return found


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    known = set(modules)
    return {m: imported_modules(p, m, known) for m, p in modules.items()}


def layer_violations(graph: dict[str, set[str]], exact=EXACT, prefixes=PREFIXES) -> list[str]:
    """Unassigned modules and upward edges, as readable lines."""
    problems = []
    for module in sorted(graph):
        layer = layer_of(module, exact, prefixes)
        if layer is None:
            problems.append(f"{module}: not assigned to a layer (add it to tests/test_layers.py)")
            continue
        for target in sorted(graph[module]):
            target_layer = layer_of(target, exact, prefixes)
            if target_layer is None:
                continue  # reported as its own line
            if layer == "proofs":
                if target_layer not in PROOFS_MAY_USE:
                    problems.append(f"{module} -> {target}: proofs may use only "
                                    f"{sorted(PROOFS_MAY_USE)}, not {target_layer}")
            elif target_layer == "proofs" or LAYERS.index(target_layer) > LAYERS.index(layer):
                problems.append(f"{module} ({layer}) -> {target} ({target_layer}): upward import")
    return problems


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_every_module_sits_in_a_layer_and_imports_only_downward():
    graph = import_graph(REPO_ROOT)
    assert len(graph) > 50, "the scan found too few modules to be looking at the project"
    problems = layer_violations(graph)
    assert not problems, "layering broken:\n" + "\n".join(problems)


def test_no_import_cycle():
    cycles = import_cycles(import_graph(REPO_ROOT))
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def small_house(tmp_path):
    """A miniature project with the real layer rules: formulas, federated, a proof."""
    _write_tree(tmp_path, {
        "fsnn_theory/__init__.py": "",
        "fsnn_theory/neurons.py": "import numpy as np\n",
        "fsnn_theory/theory/__init__.py": "",
        "fsnn_theory/theory/bounds.py": "from fsnn_theory import neurons\n",
        "fsnn_theory/federated/__init__.py": "",
        "fsnn_theory/federated/algorithms.py": "from fsnn_theory.theory.bounds import x\n",
        "experiments/__init__.py": "",
        "proofs/check_a.py": "from fsnn_theory.theory import bounds\n",
    })
    return tmp_path


def test_checker_accepts_a_clean_miniature(small_house):
    graph = import_graph(small_house)
    assert graph["fsnn_theory.federated.algorithms"] == {"fsnn_theory.theory.bounds"}
    assert layer_violations(graph) == []
    assert import_cycles(graph) == []


def test_checker_catches_a_function_local_upward_import(small_house):
    # A formula that reaches up into federated from inside a function: the edge the old
    # theory/verify.py <-> federated cycle was made of.
    _write_tree(small_house, {
        "fsnn_theory/theory/bounds.py": """
            def bound():
                from fsnn_theory.federated import algorithms
                return algorithms
        """,
    })
    graph = import_graph(small_house)
    problems = layer_violations(graph)
    assert any("fsnn_theory.theory.bounds (formulas) -> fsnn_theory.federated.algorithms "
               "(federated): upward import" in p for p in problems), problems
    assert import_cycles(graph) == [["fsnn_theory.federated.algorithms", "fsnn_theory.theory.bounds"]]


def test_checker_catches_relative_imports_and_proofs_using_the_runner(small_house):
    _write_tree(small_house, {
        "fsnn_theory/experiment.py": "",
        "fsnn_theory/theory/regularity.py": "from ..federated import algorithms\n",
        "proofs/check_a.py": "from fsnn_theory.experiment import run_experiment\n",
    })
    problems = layer_violations(import_graph(small_house))
    assert any(p.startswith("fsnn_theory.theory.regularity (formulas) -> "
                            "fsnn_theory.federated.algorithms") for p in problems), problems
    assert any(p.startswith("proofs.check_a -> fsnn_theory.experiment") for p in problems), problems


def test_checker_refuses_an_unassigned_module(small_house):
    _write_tree(small_house, {"fsnn_theory/helpers.py": ""})
    problems = layer_violations(import_graph(small_house))
    assert problems == ["fsnn_theory.helpers: not assigned to a layer (add it to tests/test_layers.py)"]
