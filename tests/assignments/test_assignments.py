"""The assignments, graded through the project's autograder: reference, release, right and wrong answers.

Each ``cases_<assignment>.py`` next to this file lists alternative correct implementations (full
marks), typical wrong ones (each must lose points) and re-exports of the course_lib reference (no
points for those tests). All of an assignment's cases are graded by one warm ``Autograder``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from autograder.assignment import DISABLED
from autograder.service import Autograder
from tests.support import ASSIGNMENTS, COURSE, ROOT, make_submission, source_notebook

pytestmark = pytest.mark.slow
RELEASED = [a for a in ASSIGNMENTS if (COURSE / "source" / a).is_dir()]


def cases(assignment: str):
    return importlib.import_module(f"tests.assignments.cases_{assignment}")


def unsolved(assignment: str) -> dict[str, str]:
    """What the release has in every code answer cell."""
    return {
        c.metadata["nbgrader"]["grade_id"]: "# YOUR CODE HERE\nraise NotImplementedError()"
        for c in source_notebook(assignment).cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }


def without_course_lib(source: str) -> str:
    """A re-export cell with its course_lib imports removed: the functions it re-exported are undefined."""
    return "\n".join(line for line in source.splitlines() if "course_lib" not in line) + "\n"


@pytest.fixture(scope="module", params=RELEASED)
def graded(request, tmp_path_factory):
    """Grade every case of one assignment in one warm grader: {case name: SubmissionResult}."""
    assignment = request.param
    module = cases(assignment)
    work = tmp_path_factory.mktemp(assignment)
    plans = {"reference": {}, "release": unsolved(assignment)}
    plans.update({f"alternative:{k}": v for k, v in module.ALTERNATIVES.items()})
    plans.update({f"wrong:{k}": v for k, v in module.WRONG.items()})
    plans.update({f"reexport:{k}": {k: v} for k, v in module.REEXPORT.items()})
    plans.update({f"without:{k}": {k: without_course_lib(v)} for k, v in module.REEXPORT.items()})
    paths = {
        name: make_submission(assignment, work / f"{i}.ipynb", answers)
        for i, (name, answers) in enumerate(plans.items())
    }
    with Autograder(assignment, COURSE, jobs=2) as grader, ThreadPoolExecutor(2) as pool:
        runs = dict(zip(paths, pool.map(grader.run_sandbox, paths.values())))
        results = {name: grader.judge(run) for name, run in runs.items()}
        # the same outcomes judged in a pytest session, as the judge does for tests it cannot call directly
        sessions = {name: grader._judge._pytest(run.outcomes) for name, run in runs.items() if not run.error}
        max_score = grader.max_score
        called_directly = set(grader._judge.direct) == {t.name for t in grader.tests}
    return assignment, module, results, max_score, (sessions, called_directly)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_has_a_notebook_grader_and_cases(assignment):
    """The tests below cover what exists; this one says when an assignment of the course is missing."""
    assert (COURSE / "source" / assignment / f"{assignment}.ipynb").is_file(), f"no source notebook for {assignment}"
    assert (COURSE / "graders" / assignment / f"test_{assignment}.py").is_file(), f"no hidden grader for {assignment}"
    assert assignment == cases(assignment).ASSIGNMENT


def test_cases_are_enough(graded):
    _, module, _, _, _ = graded
    assert len(module.ALTERNATIVES) >= 2 and len(module.WRONG) >= 6 and module.REEXPORT


def test_reference_gets_full_marks(graded):
    _, _, results, max_score, _ = graded
    r = results["reference"]
    assert r.error is None and r.score == max_score > 0, [(t.name, t.output) for t in r.tests if t.status != "passed"]


def test_release_gets_zero(graded):
    _, _, results, _, _ = graded
    assert results["release"].score == 0


def test_alternative_solutions_get_full_marks(graded):
    _, _, results, max_score, _ = graded
    for name, r in results.items():
        if name.startswith("alternative:"):
            failing = [(t.name, t.output[:300]) for t in r.tests if t.status != "passed"]
            assert r.score == max_score, f"{name} scored {r.score}/{max_score}: {failing}"


def test_wrong_implementations_lose_points(graded):
    _, _, results, max_score, _ = graded
    for name, r in results.items():
        if name.startswith("wrong:"):
            assert r.error is None, f"{name}: {r.error}"
            assert r.score < max_score, f"{name} was not caught: it scored {r.score}/{max_score}"


def test_tests_called_directly_judge_as_a_pytest_session_does(graded):
    """The judge calls ``student``-only tests as plain functions; pytest, given the same outcomes, agrees
    on every test's status, points and message, for every case (right, wrong, release, re-exports)."""
    _, _, results, _, (sessions, called_directly) = graded
    assert called_directly, "every grader test asks only for `student`, so the judge calls each one directly"
    assert len(sessions) == len(results)
    for name, session in sessions.items():
        direct = {t.name: t for t in results[name].tests}
        assert {t.name: t for t in session} == direct, name
        explained = [t.output for t in session if "where" in t.output and "assert" in t.output]
        assert not explained, f"{name}: pytest explained an assert to the student (rewritten grader): {explained}"


def test_reexporting_the_reference_earns_nothing(graded):
    """A re-export earns exactly what leaving those functions undefined earns, and says why (the stub's exception)."""
    _, module, results, max_score, _ = graded
    for cell in module.REEXPORT:
        r, undefined = results[f"reexport:{cell}"], results[f"without:{cell}"]
        assert r.score == undefined.score < max_score, f"re-exporting course_lib in {cell} earned {r.score}"
        missing = {t.name for t in undefined.tests if "does not define" in t.output}
        assert missing, f"{cell}: no test noticed the functions were undefined"
        for t in r.tests:
            if t.name in missing:
                assert t.score == 0 and DISABLED in t.output, f"{cell}/{t.name}: {t.score}, {t.output[:200]}"


def test_grader_points_match_the_notebook(graded):
    assignment, _, results, max_score, _ = graded
    nb_points = sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    )
    assert max_score == nb_points
    per_cell: dict[str, float] = {}
    for t in results["reference"].tests:
        per_cell[t.cell] = per_cell.get(t.cell, 0) + t.max_score
    expected = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    }
    assert per_cell == pytest.approx(expected)


@pytest.mark.parametrize("assignment", RELEASED)
def test_graders_run_directly_with_pytest(assignment, tmp_path):
    grader = COURSE / "graders" / assignment
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(grader)]
    ok = subprocess.run([*cmd, "--submission", "reference"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-2000:]
    name, answers = next(iter(cases(assignment).WRONG.items()))
    wrong = make_submission(assignment, tmp_path / "wrong.ipynb", answers)
    bad = subprocess.run([*cmd, "--submission", str(wrong)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "failed" in bad.stdout, f"{name}: {bad.stdout[-2000:]}"


@pytest.mark.parametrize("assignment", RELEASED)
def test_the_cli_grades_reference_wrong_and_release(assignment, tmp_path):
    """``python -m autograder grade ... --json``, as an instructor runs it: the scores the API test expects."""
    name, answers = next(iter(cases(assignment).WRONG.items()))
    notebooks = [
        make_submission(assignment, tmp_path / "reference.ipynb", {}),
        make_submission(assignment, tmp_path / "wrong.ipynb", answers),
        make_submission(assignment, tmp_path / "release.ipynb", unsolved(assignment)),
    ]
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "autograder", "grade", assignment, *map(str, notebooks), "--json", str(out)]
    done = subprocess.run(
        [*cmd, "--course-dir", str(COURSE), "--jobs", "2"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    reference, wrong, release = json.loads(out.read_text())["submissions"]
    assert reference["score"] == reference["max_score"] > 0, [t for t in reference["tests"] if t["status"] != "passed"]
    assert wrong["score"] < wrong["max_score"], f"{name} was not caught through the CLI"
    assert release["score"] == 0
    assert all(s["max_score"] == reference["max_score"] for s in (wrong, release))


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A copy of the course directory after ``nbgrader generate_assignment`` of every assignment.

    The copy holds what an instructor's does: ``notebooks/`` (the markdown sources) and ``graders/`` too.
    """
    course = tmp_path_factory.mktemp("course") / "assignments"
    for folder in ("source", "notebooks", "graders"):
        shutil.copytree(COURSE / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(COURSE / "nbgrader_config.py", course)
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    for assignment in RELEASED:
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--log-level=ERROR"],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return course


def solution_lines(assignment: str) -> set[str]:
    """Distinctive lines between BEGIN/END SOLUTION markers of the source notebook."""
    lines = set()
    for cell in source_notebook(assignment).cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.add(line.strip())
    return lines


@pytest.mark.parametrize("assignment", RELEASED)
def test_release_holds_no_solutions_tests_graders_or_rubric(released, assignment):
    folder = released / "release" / assignment
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [f"{assignment}.ipynb"], files
    text = (folder / f"{assignment}.ipynb").read_text()
    nb = nbformat.reads(text, as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    for marker in ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "Rubric", "REFERENCE =", "from autograder"]:
        assert marker not in sources, f"{marker!r} in the release"
    leaked = [line for line in solution_lines(assignment) if line in sources]
    assert not leaked, f"solution code in the release: {leaked[:3]}"
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    assert answers and all(re.search(r"raise NotImplementedError\(\)", c.source) for c in answers)


def test_release_holds_no_markdown_source(released):
    """The markdown sources (``notebooks/<ps>.md``, solutions included) stay with the instructor."""
    files = [p for p in (released / "release").rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted(f"{a}.ipynb" for a in RELEASED)
    text = "\n".join(p.read_text() for p in files)
    for assignment in RELEASED:
        markdown = (released / "notebooks" / f"{assignment}.md").read_text()
        assert "### BEGIN SOLUTION" in markdown and "### BEGIN SOLUTION" not in text
        leaked = [line for line in solution_lines(assignment) if line in markdown and line in text]
        assert not leaked, f"{assignment}: solution text of its markdown source in the release: {leaked[:3]}"


@pytest.mark.parametrize("assignment", RELEASED)
def test_reference_notebook_runs_top_to_bottom(assignment, tmp_path):
    """The complete notebook, plots and training included, runs without error (bench/ times it)."""
    from nbclient import NotebookClient

    nb = source_notebook(assignment)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("visible tests passed" in o.get("text", "") for o in outputs) >= 3
