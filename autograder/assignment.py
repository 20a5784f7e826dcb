"""An assignment as the judge sees it: trusted source notebook, hidden grader, sandbox settings.

Layout inside the nbgrader course directory::

    source/<name>/<name>.ipynb          the instructor notebook (solutions, points)
    graders/<name>/test_<name>.py       the hidden pytest grader (never released, never sandboxed)

Module-level settings a grader may define:

* ``REFERENCE``: dotted names in ``course_lib`` that *are* the answer (``"course_lib.training.
  reward_model.bradley_terry_loss"``). The sandbox gets a copy of ``course_lib`` in which they raise
  a clear error, so importing the answer earns nothing.
* ``PRELOAD``: extra modules for the warm zygote (for example the GPT-2 model code).
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASE_PRELOAD = [
    "torch",
    "torch.fx.experimental.symbolic_shapes",  # torch.autograd.grad imports it (and sympy) on first use
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "IPython.core.inputtransformer2",
]


class SetupError(RuntimeError):
    """The course directory or grader is not usable (an instructor error: exit non-zero)."""


@dataclass
class Assignment:
    name: str
    course_dir: Path
    source_notebook: Path
    grader_path: Path
    probes: list = field(default_factory=list)  # grading.Probe
    drivers: dict[str, str] = field(default_factory=dict)
    reference: list[str] = field(default_factory=list)
    preload: list[str] = field(default_factory=list)

    def probe_specs(self) -> list[dict]:
        return [p.spec(i) for i, p in enumerate(self.probes)]


def assignment_paths(name: str, course_dir: str | Path) -> tuple[Path, Path, Path]:
    """``(course_dir, source notebook, grader)`` for ``name``, or a SetupError that says what is missing."""
    course_dir = Path(course_dir).resolve()
    source = course_dir / "source" / name / f"{name}.ipynb"
    grader = course_dir / "graders" / name / f"test_{name}.py"
    if not course_dir.is_dir():
        raise SetupError(f"course directory {course_dir} does not exist; pass --course-dir")
    for path, what in ((source, "source notebook"), (grader, "grader")):
        if not path.is_file():
            known = sorted(p.name for p in (course_dir / "source").glob("*") if p.is_dir())
            raise SetupError(f"no {what} for {name!r} at {path}; assignments here: {', '.join(known) or 'none'}")
    return course_dir, source, grader


def preload_modules(grader: Path) -> list[str]:
    """The zygote's modules, read from the grader's ``PRELOAD`` literal without importing the grader.

    So the zygote can start importing torch while the judge imports the grader (and torch) itself.
    """
    for node in ast.parse(grader.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PRELOAD" for t in node.targets):
            try:
                return BASE_PRELOAD + list(ast.literal_eval(node.value))
            except ValueError:
                raise SetupError(f"{grader}: PRELOAD must be a literal list of module names") from None
    return list(BASE_PRELOAD)


def load_assignment(name: str, course_dir: str | Path = "assignments") -> Assignment:
    """Find and import the grader of ``name``; collect its probes, drivers and settings."""
    from autograder.probes import Driver, module_probes  # imports torch: only once a grader is loaded

    course_dir, source, grader = assignment_paths(name, course_dir)
    module = _import_grader(grader)
    drivers = {}
    probes = module_probes(module)
    for value in vars(module).values():
        if isinstance(value, Driver):
            drivers[value.name] = value.source
    unknown = {p.driver for p in probes} - set(drivers) - {"call"}
    if unknown:
        raise SetupError(f"{grader}: probes use drivers {sorted(unknown)} that are not @driver functions")
    return Assignment(
        name=name,
        course_dir=course_dir,
        source_notebook=source,
        grader_path=grader,
        probes=probes,
        drivers=drivers,
        reference=list(getattr(module, "REFERENCE", [])),
        preload=preload_modules(grader),
    )


def _import_grader(path: Path):
    spec = importlib.util.spec_from_file_location(f"_grader_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise SetupError(f"the grader {path} failed to import: {type(err).__name__}: {err}") from err
    return module


# -- the student copy of course_lib ------------------------------------------------------------


def _disable(tree: ast.Module, names: set[str], message: str) -> set[str]:
    done = set()
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            stub = ast.parse(
                f"def {node.name}(*args, **kwargs):\n    raise NotImplementedError({message.format(name=node.name)!r})"
            ).body[0]
            tree.body[i] = ast.copy_location(stub, node)
            done.add(node.name)
    return done


def student_course_lib(package_dir: Path, dest: Path, reference: list[str], assignment: str) -> Path:
    """Copy ``course_lib`` to ``dest`` with every name in ``reference`` replaced by a stub that explains."""
    out = dest / "course_lib"
    shutil.copytree(package_dir, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    by_module: dict[str, set[str]] = {}
    for dotted in reference:
        module, _, attr = dotted.rpartition(".")
        if not module.startswith("course_lib"):
            raise SetupError(f"REFERENCE entry {dotted!r} is not inside course_lib")
        by_module.setdefault(module, set()).add(attr)
    for module, names in by_module.items():
        path = out.joinpath(*module.split(".")[1:]).with_suffix(".py")
        if not path.is_file():
            raise SetupError(f"REFERENCE entry in {module!r}: no such module in course_lib")
        tree = ast.parse(path.read_text())
        message = (
            f"{module}.{{name}} is the reference answer for {assignment}; it is disabled while grading. "
            "Write your own implementation in the notebook."
        )
        missing = names - _disable(tree, names, message)
        if missing:
            raise SetupError(f"REFERENCE names {sorted(missing)} are not defined at the top of {module}")
        path.write_text(ast.unparse(tree))
    return out


def course_lib_dir() -> Path:
    spec = importlib.util.find_spec("course_lib")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError("course_lib is not installed in this environment; run the setup command first")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def sandbox_binds() -> list[str]:
    """Host paths the sandbox sees read-only: the system and this Python, nothing of the course."""
    paths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", sys.base_prefix, sys.prefix]
    autograder_dir = str(Path(__file__).resolve().parent)
    return list(dict.fromkeys(paths + [autograder_dir]))
