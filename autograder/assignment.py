"""An assignment as the judge sees it: trusted source notebook, hidden grader, sandbox settings.

Layout inside the nbgrader course directory::

    source/<name>/<name>.ipynb          the instructor notebook (solutions, points)
    graders/<name>/test_<name>.py       the hidden pytest grader (never released, never sandboxed)

Module-level settings a grader may define:

* ``REFERENCE``: dotted names in ``course_lib`` that *are* the answer (``"course_lib.training.
  reward_model.bradley_terry_loss"``). In the sandbox they raise a clear error, so importing the
  answer earns nothing.
* ``COURSE_LIB``: the dotted names of ``course_lib`` the notebook may use (``"course_lib.models.
  backbone.build_tiny_backbone"``). The sandbox's ``course_lib`` holds only these and what they
  need (:func:`student_course_lib`), so no helper of an answer is left to glue together.
* ``PRELOAD``: extra modules for the warm zygote (for example the GPT-2 model code), never
  ``course_lib``: the zygote would keep the real one, not the sandbox's copy.
"""

from __future__ import annotations

import ast
import copy
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
    course_lib: list[str] = field(default_factory=list)  # what of course_lib the notebook may use
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
                extra = list(ast.literal_eval(node.value))
            except ValueError:
                raise SetupError(f"{grader}: PRELOAD must be a literal list of module names") from None
            for module in extra:
                if module.split(".")[0] == "course_lib":
                    raise SetupError(
                        f"{grader}: PRELOAD names {module}; the zygote must never import course_lib (it would "
                        "keep the real one, answers included, instead of the sandbox's copy): remove it"
                    )
            return BASE_PRELOAD + extra
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
    assignment = Assignment(
        name=name,
        course_dir=course_dir,
        source_notebook=source,
        grader_path=grader,
        probes=probes,
        drivers=drivers,
        reference=list(getattr(module, "REFERENCE", [])),
        course_lib=list(getattr(module, "COURSE_LIB", [])),
        preload=preload_modules(grader),
    )
    return assignment


def _import_grader(path: Path):
    spec = importlib.util.spec_from_file_location(f"_grader_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise SetupError(f"the grader {path} failed to import: {type(err).__name__}: {err}") from err
    return module


# -- the student copy of course_lib ------------------------------------------------------------

DISABLED = "CourseLibReferenceAnswerDisabled"  # what a REFERENCE name raises in the sandbox


def student_course_lib(
    package_dir: Path, dest: Path, reference: list[str], assignment: str, allowed: list[str]
) -> Path:
    r"""Write the sandbox's ``course_lib`` to ``dest``: what ``allowed`` needs, and stubs for ``reference``.

    Tree-shaking on the AST: start from the ``allowed`` names (the grader's ``COURSE_LIB``); in each module keep the top-level
    statements that bind a needed name (def, class, assignment, import) and follow every name they
    use, in the module and across ``from course_lib.x import y``. Every other statement, and every
    module never reached, is left out, so no helper of a graded answer reaches the sandbox. Each
    ``reference`` name becomes a stub that says "write your own". An allowed name that needs a
    reference name is a SetupError naming the chain.

    >>> import tempfile
    >>> src = Path(tempfile.mkdtemp()) / "course_lib"
    >>> src.mkdir(); _ = (src / "__init__.py").write_text("")
    >>> _ = (src / "m.py").write_text("import re\nW = re.compile('x')\ndef answer(s):\n    return W.sub('', s)\n"
    ...                               "def tool(s):\n    return s.upper()\n")
    >>> out = student_course_lib(src, src.parent / "out", ["course_lib.m.answer"], "ps0", ["course_lib.m.tool"])
    >>> print((out / "m.py").read_text().rstrip())  # doctest: +ELLIPSIS
    def tool(s):
        return s.upper()
    <BLANKLINE>
    class CourseLibReferenceAnswerDisabled(NotImplementedError):
        pass
    <BLANKLINE>
    def answer(*args, **kwargs):
        raise CourseLibReferenceAnswerDisabled('course_lib.m.answer is the reference answer for ps0; ... Write your own ...')
    """
    banned = {_split(d, "REFERENCE") for d in reference}
    trees: dict[str, ast.Module] = {}
    needed: dict[str, set[str]] = {m: set() for m, _ in banned}
    todo = [(*_split(d, "COURSE_LIB"), (d,)) for d in allowed]
    while todo:
        module, name, chain = todo.pop()
        if (module, name) in banned:
            raise SetupError(
                f"COURSE_LIB for {assignment}: {' -> '.join(chain)} reaches a REFERENCE answer; "
                f"remove {chain[0]} from COURSE_LIB or make it independent of {module}.{name}"
            )
        if name in needed.setdefault(module, set()):
            continue
        needed[module].add(name)
        tree = trees.get(module) or trees.setdefault(module, _parse(package_dir, module))
        binders = [stmt for stmt in tree.body if name in _binds(stmt)]
        if not binders:
            raise SetupError(f"{' -> '.join(chain)}: {module} has no top-level {name}")
        for stmt in binders:
            for dep in _uses(stmt, name, module, {n for s in tree.body for n in _binds(s)}):
                todo.append((*dep, (*chain, ".".join(dep))))
    for path in sorted(package_dir.rglob("*.py")):  # modules that re-export an answer come, to hold its stub
        module = ".".join(("course_lib", *path.relative_to(package_dir).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        tree = trees.get(module) or trees.setdefault(module, _parse(package_dir, module))
        if _reexports_of(tree, banned):
            needed.setdefault(module, set())
    out = dest / "course_lib"
    for module in list(needed):  # parent packages, even when none of their names is needed
        for i in range(1, module.count(".") + 1):
            needed.setdefault(module.rsplit(".", i)[0], set())
    for module, names in needed.items():
        tree = trees.get(module) or _parse(package_dir, module)
        body = [s for s in tree.body if _is_header(s, tree)]
        body += [_only(s, names) for s in tree.body if names & _binds(s) and not _is_header(s, tree)]
        body += _reexports_of(tree, banned)  # a re-exported answer resolves to its stub, not to ImportError
        stubs = sorted(stub for stub_module, stub in banned if stub_module == module)
        if stubs:  # students see only an exception's type, so its name says what happened
            body += ast.parse(f"class {DISABLED}(NotImplementedError):\n    pass").body
        for stub in stubs:
            message = (
                f"{module}.{stub} is the reference answer for {assignment}; it is disabled while grading. "
                "Write your own implementation in the notebook."
            )
            body += ast.parse(f"def {stub}(*args, **kwargs):\n    raise {DISABLED}({message!r})").body
        src = _module_path(package_dir, module)
        target = out / src.relative_to(package_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n")
        if src.name == "__init__.py":  # a package's data files (sample .jsonl) come with it
            for data in src.parent.iterdir():
                if data.is_file() and data.suffix not in (".py", ".pyc"):
                    shutil.copy(data, target.parent / data.name)
    return out


def _reexports_of(tree: ast.Module, banned: set[tuple[str, str]]) -> list[ast.stmt]:
    """``from course_lib.x import answer`` statements of ``tree`` that re-export a REFERENCE name, kept alone."""
    kept = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            names = [a for a in stmt.names if (stmt.module, a.name) in banned]
            if names:
                kept.append(ast.ImportFrom(module=stmt.module, names=names, level=0))
    return kept


def _split(dotted: str, setting: str) -> tuple[str, str]:
    module, _, name = dotted.rpartition(".")
    if not module.startswith("course_lib") or not name:
        raise SetupError(f"{setting} entry {dotted!r} is not a name inside course_lib (course_lib.<module>.<name>)")
    return module, name


def _module_path(package_dir: Path, module: str) -> Path:
    base = package_dir.joinpath(*module.split(".")[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    raise SetupError(f"no module {module} in course_lib ({package_dir})")


def _parse(package_dir: Path, module: str) -> ast.Module:
    return ast.parse(_module_path(package_dir, module).read_text())


def _is_header(stmt: ast.stmt, tree: ast.Module) -> bool:
    """The module docstring and ``from __future__`` imports: always kept."""
    docstring = stmt is tree.body[0] and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
    return docstring or (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__")


def _binds(stmt: ast.stmt) -> set[str]:
    """Module-level names a top-level statement binds (not those inside its functions and classes)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names} - {"annotations"}
    found, stack = set(), [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _uses(stmt: ast.stmt, name: str, module: str, top: set[str]) -> list[tuple[str, str]]:
    """``(module, name)`` pairs that keeping ``stmt`` for ``name`` needs: module globals and course_lib imports."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        nodes = [stmt]
        aliases = {id(a) for a in stmt.names if (a.asname or a.name).split(".")[0] == name}
    else:
        nodes, aliases = list(ast.walk(stmt)), None
    deps = [(module, n.id) for n in nodes if isinstance(n, ast.Name) and n.id in top and n.id != name]
    for node in nodes:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "course_lib" for a in node.names):
            raise SetupError(f"{module}: use 'from course_lib.x import y', not 'import course_lib.x'")
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "course_lib"):
            if node.level:
                raise SetupError(f"{module}: relative imports are not supported in course_lib")
            deps += [(node.module, a.name) for a in node.names if aliases is None or id(a) in aliases]
    return deps


def _only(stmt: ast.stmt, names: set[str]) -> ast.stmt:
    """``stmt``, an import reduced to the aliases that bind ``names``."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        stmt = copy.copy(stmt)
        stmt.names = [a for a in stmt.names if (a.asname or a.name).split(".")[0] in names]
    return stmt


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
