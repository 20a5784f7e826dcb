"""course_lib's folders form layers: each imports only from its own layer or the ones below, never in a cycle.

The layers are the book's data flow (book/intro.md), bottom to top:

    data -> models -> training -> credit_assignment -> evaluation -> demo, plots

``data`` (problems, policies, step text) needs nothing else of course_lib; ``models`` read data;
``training`` fits models; ``credit_assignment`` scores steps, with the heuristic or a trained neural
PRM; ``evaluation`` runs experiments over all of them; ``demo`` and ``plots`` sit on top. A lazy
import inside a function counts too: it hides a cycle from Python, not from the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import course_lib

PACKAGE = Path(course_lib.__file__).parent
LAYERS = {"data": 0, "models": 1, "training": 2, "credit_assignment": 3, "evaluation": 4}
TOP = 5  # course_lib/__init__.py, demo.py, plots.py
# the step-text helpers, defined once in course_lib/data/step_text.py (old private names included)
STEP_TEXT = {
    "NUMBER",
    "AMOUNT",
    "OPERATOR",
    "CANONICAL_OP",
    "WRONG_OPS",
    "CLAIM",
    "ANSWER",
    "format_number",
    "calculate",
    "apply_op",
    "parse_number",
    "split_steps",
    "extract_answer",
    "arithmetic_claims",
    "check_arithmetic",
    "_NUM",
    "_OP",
    "_CLAIM",
    "_ANSWER",
    "_CANONICAL_OP",
    "_WRONG_OPS",
    "_fmt",
    "_apply",
    "_evaluate",
    "_holds",
}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), filename=str(path))
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], TOP) if len(parts) > 1 else TOP


def _imports(tree: ast.Module) -> set[str]:
    """The course_lib modules a module imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib"):
            found |= {
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("course_lib")}
    return found


GRAPH = {name: _imports(tree) for name, tree in MODULES.items()}


def test_the_layers_cover_every_folder():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(LAYERS), f"give each folder of course_lib a layer: {sorted(folders ^ set(LAYERS))}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module):
    upward = sorted(t for t in GRAPH[module] if _layer(t) > _layer(module))
    assert not upward, (
        f"{module} (layer {_layer(module)}) imports {upward} from a layer above; "
        "move what it needs down (step-text helpers belong in course_lib.data.step_text)"
    )


def test_no_import_cycle():
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                cycle = path[path.index(target) :] + [target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_step_text_helpers_are_defined_only_in_step_text():
    where = {}
    for module, tree in MODULES.items():
        for node in tree.body:
            names = set()
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = {node.name}
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
            for name in names & STEP_TEXT:
                where.setdefault(name, []).append(module)
    copies = {name: modules for name, modules in where.items() if modules != ["course_lib.data.step_text"]}
    assert not copies, f"step-text helpers defined outside course_lib.data.step_text: {copies}; import them from there"
