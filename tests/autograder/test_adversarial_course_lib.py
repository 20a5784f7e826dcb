"""The sandbox's ``course_lib`` holds nothing that computes a graded answer (issue 12, item 5).

For each assignment the sandbox copy is built as the Autograder builds it, imported in a subprocess
that cannot see the real ``course_lib``, and every callable in it (functions, classes, methods of
classes and of their no-argument instances; not the reference stubs) is called on every probe's
inputs. None may return the reference notebook's result for that probe. A glue-code submission
that rebuilds ps3's answers from whatever helpers the sandbox's ``course_lib`` has must earn nothing.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import pytest

from autograder.assignment import DISABLED, course_lib_dir, load_assignment, student_course_lib
from autograder.service import Autograder
from tests.support import ASSIGNMENTS, COURSE, make_submission

pytestmark = pytest.mark.slow

# Runs in a subprocess with PYTHONPATH = the sandbox copy: imports every module of it, calls every
# callable on every case, reports which calls returned the reference result.
SCAN = r"""
import copy, inspect, itertools, json, math, os, pickle, pkgutil, signal, sys
import numpy as np
import torch

stub_dir, cases_path, out_path = sys.argv[1:4]
import course_lib
assert course_lib.__file__.startswith(stub_dir), f"the real course_lib was imported: {course_lib.__file__}"
with open(cases_path, "rb") as f:
    reference, cases = pickle.load(f)
modules = [course_lib] + [
    __import__(m.name, fromlist=["_"]) for m in pkgutil.walk_packages(course_lib.__path__, "course_lib.")
]


def same(got, want):
    if isinstance(want, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == want.shape and bool(
            torch.allclose(got.detach().double(), want.double(), rtol=1e-5, atol=1e-8))
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.shape == want.shape and np.allclose(got, want)
    if isinstance(want, float):
        return isinstance(got, float) and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(want, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(got) == len(want) and all(map(same, got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


class Slow(BaseException):
    pass


def on_alarm(*_):
    raise Slow()


signal.signal(signal.SIGALRM, on_alarm)


def attempt(fn, args, kwargs):
    try:  # outermost, so that an alarm firing in the handler or before alarm(0) is caught too (a loaded machine)
        signal.alarm(3)
        try:
            return True, fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        finally:
            signal.alarm(0)
    except BaseException:
        return False, None


callables = {}
for module in modules:
    for name, obj in vars(module).items():
        dotted = f"{module.__name__}.{name}"
        if not callable(obj) or getattr(obj, "__module__", None) != module.__name__ or dotted in reference:
            continue
        callables[dotted] = obj
        if inspect.isclass(obj):
            made, instance = attempt(obj, (), {})
            for attr in vars(obj):
                if attr.startswith("__"):
                    continue
                callables[f"{dotted}.{attr}"] = getattr(obj, attr)
                if made and callable(getattr(instance, attr, None)):
                    callables[f"{dotted}().{attr}"] = getattr(instance, attr)
stubs = {}
for dotted in reference:
    module, _, attr = dotted.rpartition(".")
    try:
        getattr(__import__(module, fromlist=["_"]), attr)()
        stubs[dotted] = "returned"
    except BaseException as err:
        stubs[dotted] = f"{type(err).__name__}: {err}"
matches = []
for probe, function, argument_lists, want, informative in cases:
    for dotted, fn in callables.items():
        for args, kwargs in argument_lists:
            ok, got = attempt(fn, args, kwargs)
            if ok and same(got, want):
                matches.append([probe, function, dotted, informative])
                break
with open(out_path, "w") as f:
    json.dump({"callables": sorted(callables), "stubs": stubs, "matches": matches}, f)
"""


def informative(value) -> bool:
    """True when matching ``value`` by chance is implausible: it holds a non-integer float or an 8+ character string."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().double().numpy()
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f" and bool((value != np.round(value)).any())
    if isinstance(value, float):
        return value != int(value)
    if isinstance(value, str):
        return len(value) >= 8
    if isinstance(value, (list, tuple)):
        return any(informative(v) for v in value)
    if isinstance(value, dict):
        return any(informative(v) for v in value.values())
    return False


def argument_lists(probe) -> list[tuple[tuple, dict]]:
    """A call probe's own arguments; for a driver, every ordered subset of its non-string arguments."""
    if probe.driver == "call":
        return [(tuple(probe.args), dict(probe.kwargs))]
    values = [a for a in probe.args if not isinstance(a, str)]
    subsets = [tuple(values[i] for i in range(len(values)) if mask >> i & 1) for mask in range(1, 2 ** len(values))]
    return [(s, {}) for s in subsets]


def scan(lib, reference: set[str], cases: list, work) -> dict:
    """Run SCAN over the ``course_lib`` at ``lib`` in a subprocess that sees only it; its report."""
    run = work / "run"
    run.mkdir(parents=True)  # callables that write files write them here
    (work / "cases.pkl").write_bytes(pickle.dumps((reference, cases)))
    done = subprocess.run(
        [sys.executable, "-c", SCAN, str(lib.parent), str(work / "cases.pkl"), str(work / "found.json")],
        cwd=run,
        env={"PYTHONPATH": str(lib.parent), "PATH": "/usr/bin:/bin", "HOME": str(run)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((work / "found.json").read_text())


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def scanned(request, tmp_path_factory):
    """One assignment: its sandbox course_lib called on every probe's inputs; the calls that gave the reference result."""
    name = request.param
    work = tmp_path_factory.mktemp(name)
    with Autograder(name, COURSE, jobs=1, self_check=False) as grader:
        reference = grader.run_sandbox(grader.assignment.source_notebook)
    statuses = {k: (o.status, o.message[:200]) for k, o in reference.outcomes.items()}
    assert reference.error is None and all(s in ("returned", "raised") for s, _ in statuses.values()), (
        f"{name}: the reference notebook did not run in the sandbox: {reference.error} {statuses} {reference.notes}"
    )
    assignment = load_assignment(name, COURSE)
    # exactly the runner's call (runner.py), so the test sees what the sandbox sees
    stub = student_course_lib(
        course_lib_dir(), work / "student", assignment.reference, assignment.name, assignment.course_lib
    )
    cases = [
        (p.name, p.function or p.driver, argument_lists(p), outcome.value, informative(outcome.value))
        for p in assignment.probes
        if (outcome := reference.outcomes.get(p.name)) is not None and outcome.status == "returned"
    ]
    assert cases, f"{name}: the reference notebook returned nothing for any probe"
    # the control: the same scan over a plain copy of course_lib, answers included, must find them
    with_answers = work / "answers" / "course_lib"
    shutil.copytree(course_lib_dir(), with_answers, ignore=shutil.ignore_patterns("__pycache__"))
    found = scan(stub, set(assignment.reference), cases, work / "sandbox")
    control = scan(with_answers, set(), cases, work / "control")
    return name, assignment, cases, found, control


def test_reference_names_stay_as_stubs_that_explain(scanned):
    """Every module of the copy imports without the real one; each REFERENCE name raises the stub's exception."""
    name, assignment, _, found, _ = scanned
    for dotted in assignment.reference:
        message = found["stubs"][dotted]
        assert message.startswith(f"{DISABLED}: ") and "is the reference answer" in message, (
            f"{name}: calling {dotted} in the sandbox gave {message!r}, not the stub's explanation"
        )


def test_nothing_in_the_sandbox_course_lib_reproduces_a_graded_function(scanned):
    """No callable returns a probe's reference result: for informative results (non-integer floats, long
    strings) no single match; for bools, ints and None, no callable that matches every probe of a function."""
    name, _, cases, found, _ = scanned
    single = [m for m in found["matches"] if m[3]]
    trivial = {}
    for probe, function, dotted, is_informative in found["matches"]:
        if not is_informative:
            trivial.setdefault((function, dotted), set()).add(probe)
    whole = []
    for (function, dotted), probes in trivial.items():
        of_function = [c for c in cases if c[1] == function]
        results = {repr(c[3]) for c in of_function}
        if len(probes) == len(of_function) and len(results) > 1:
            whole.append((function, dotted))
    assert not single and not whole, (
        f"{name}: the sandbox's course_lib reproduces graded results: {single[:10]} {whole[:10]}; "
        "remove what computes them from the grader's COURSE_LIB (the sandbox keeps only what COURSE_LIB needs)"
    )


GLUE_PS3 = {
    "check_arithmetic": """
import course_lib.credit_assignment.process_reward as pr


def check_arithmetic(step):
    claims = pr.arithmetic_claims(step)
    if not claims:
        return None
    return all(pr._holds(*claim) for claim in claims)
""",
    "extract_answer": """
def extract_answer(solution):
    found = list(pr._ANSWER.finditer(solution))
    return pr.parse_number(found[-1]["num"]) if found else None
""",
    "score_steps": """
pr.check_arithmetic, pr.extract_answer = check_arithmetic, extract_answer  # revive the helpers that use them


def score_steps(solution, ground_truth):
    return [(step, pr.score_step(step, ground_truth)) for step in pr.split_steps(solution)]


def first_error_step(solution, ground_truth):
    for i, (_, score) in enumerate(score_steps(solution, ground_truth)):
        if score < 0.5:
            return i
    return None
""",
    "aggregate_steps": "def aggregate_steps(scores, method='min'):\n    raise NotImplementedError()\n",
}


def test_glue_code_over_course_lib_helpers_earns_nothing(tmp_path):
    """ps3 rebuilt from process_reward's helpers (claims, rounding check, answer regex, per-step scorer): 7/8 before."""
    path = make_submission("ps3_first_error", tmp_path / "glue.ipynb", GLUE_PS3)
    with Autograder("ps3_first_error", COURSE, jobs=1, self_check=False) as grader:
        result = grader.grade(path)
    paid = [(t.name, t.score) for t in result.tests if t.score > 0]
    assert result.score == 0, (
        f"glue code over the sandbox's course_lib scored {result.score}/{result.max_score} from {paid}; "
        "the sandbox's course_lib must not hold the helpers of a graded function"
    )


def test_the_scan_finds_the_reference_functions_when_they_are_there(scanned):
    """The scan can fail: over a plain copy of course_lib it finds each reference function a probe calls directly."""
    name, assignment, cases, _, control = scanned
    found = {dotted for _, function, dotted, _ in control["matches"] if dotted.endswith(f".{function}")}
    probed = {p.function for p in assignment.probes if p.driver == "call"}
    expected = {d for d in assignment.reference if d.rpartition(".")[2] in probed}
    assert expected and expected <= found, (
        f"{name}: over course_lib with the answers the scan finds only {sorted(found)}, not {sorted(expected - found)}"
    )


def test_a_reexported_reference_answer_resolves_to_its_stub(tmp_path):
    """``from <module that re-exports it> import answer`` gets the stub (its exception says why), not ImportError."""
    src = tmp_path / "src" / "course_lib"
    (src / "data").mkdir(parents=True)
    for init in (src / "__init__.py", src / "data" / "__init__.py"):
        init.write_text("")
    (src / "data" / "text.py").write_text("def answer(s):\n    return s.split()\n")
    (src / "data" / "facade.py").write_text("from course_lib.data.text import answer\n\ndef other():\n    return 1\n")
    out = student_course_lib(src, tmp_path / "out", ["course_lib.data.text.answer"], "ps0", [])
    facade = (out / "data" / "facade.py").read_text()
    assert "from course_lib.data.text import answer" in facade and "def other" not in facade
    run = subprocess.run(
        [sys.executable, "-c", "from course_lib.data.facade import answer\nanswer('a b')"],
        cwd=out.parent,
        capture_output=True,
        text=True,
    )
    assert DISABLED in run.stderr, run.stderr
