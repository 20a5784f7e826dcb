"""nbgrader's own commands under the course config: same grader as ``batch``, no unsandboxed student code.

The stock pipeline is shown to be dangerous first (a temp copy of the course with nbgrader's default
autograde pipeline: the hostile example student ``fay`` writes a marker into the course directory and
prints a hidden grader's first line). Under the course's ``nbgrader_config.py`` ``nbgrader autograde``
must write exactly what ``python -m autograder batch`` writes (records with notes, autograded
notebooks, gradebook rows), with one warm grader for the whole run, and ``nbgrader validate`` refuses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.nbgrader_plugin import UnsandboxedExecution, refuse_unsandboxed_execution
from tests.support import COURSE, ROOT, released_course

slow = pytest.mark.slow  # each nbgrader or batch command costs seconds; the hook tests are fast
ASSIGNMENT = "ps1_bradley_terry"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
GRADED = ["ada", "ben", "cy", "eve", "fay", "zed"]  # dee loops until the cell time limit: too slow here


def load_examples():
    """assignments/examples/build_examples.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("build_examples", COURSE / "examples" / "build_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = load_examples()


def run(*args, cwd, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def nbgrader(*args, cwd, check=True) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "nbgrader", *args, cwd=cwd, check=check)


def add_students(course: Path, students: list[str]) -> None:
    """The example students named in ``students``, with their names; ``zed`` hands in a damaged notebook
    and ``ben`` adds a link to the hidden grader next to his."""
    EXAMPLES.write_examples(course, [ASSIGNMENT])
    for folder in (course / "submitted").iterdir():
        if folder.name not in students:
            shutil.rmtree(folder)
    if "zed" in students:
        folder = course / "submitted" / "zed" / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [')
        (folder / "timestamp.txt").write_text(EXAMPLES.STAMP + "\n")
    if "ben" in students:  # an extra file that is a link to the hidden grader
        (course / "submitted" / "ben" / ASSIGNMENT / "notes.txt").symlink_to(
            course / "graders" / ASSIGNMENT / f"test_{ASSIGNMENT}.py"
        )
    EXAMPLES.register_students(course, {**EXAMPLES.NAMES, "zed": ("Zed", "Broken")})


def grader_first_line(course: Path) -> str:
    """The hidden grader's first line, without its docstring quotes (so JSON escaping cannot hide it)."""
    return (course / "graders" / ASSIGNMENT / f"test_{ASSIGNMENT}.py").read_text().splitlines()[0].strip('"')


def snapshot(course: Path) -> dict:
    """Everything grading wrote: records (minus timings), autograded notebooks and the other files next to
    them, gradebook rows."""
    records = {}
    for path in sorted((course / "reports" / ASSIGNMENT / "records").glob("*.json")):
        record = json.loads(path.read_text())
        record["result"].pop("seconds")
        record["result"].pop("execution_time")
        records[path.stem] = record
    notebooks = {
        p.parent.parent.name: nbformat.reads(p.read_text(), as_version=4)
        for p in sorted((course / "autograded").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    }
    folders = {
        p.name: {f.name: f.read_bytes() for f in sorted((p / ASSIGNMENT).iterdir()) if f.suffix != ".ipynb"}
        for p in sorted((course / "autograded").iterdir())
    }
    rows = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(ASSIGNMENT):
            (nb,) = sub.notebooks
            rows[sub.student.id] = {
                "name": (sub.student.first_name, sub.student.last_name),
                "timestamp": str(sub.timestamp),
                "score": sub.score,
                "late_penalty": nb.late_submission_penalty,
                "grades": {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in nb.grades},
                "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
            }
    return {"records": records, "notebooks": notebooks, "folders": folders, "gradebook": rows}


@pytest.fixture(scope="module")
def stock(tmp_path_factory) -> Path:
    """A copy of the course with nbgrader's default autograde pipeline, after autograding fay."""
    course = released_course(tmp_path_factory.mktemp("stock") / "course", stock=True)
    add_students(course, ["fay"])
    nbgrader("autograde", ASSIGNMENT, "--student", "fay", "--log-level=WARN", cwd=course)
    return course


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """The same submissions graded twice in one course: by batch, then (fresh gradebook) by nbgrader autograde."""
    course = released_course(tmp_path_factory.mktemp("ours") / "course")
    add_students(course, GRADED)
    pristine = course.parent / "gradebook.pristine.db"
    shutil.copy(course / "gradebook.db", pristine)
    start = time.perf_counter()
    run(sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(course), "--jobs", "1", cwd=ROOT)
    batch_s = time.perf_counter() - start
    by_batch = snapshot(course)
    shutil.copy(pristine, course / "gradebook.db")
    shutil.rmtree(course / "autograded")
    shutil.rmtree(course / "reports")
    start = time.perf_counter()
    proc = nbgrader("autograde", ASSIGNMENT, "--log-level=INFO", cwd=course)
    nbgrader_s = time.perf_counter() - start
    print(f"\n{len(GRADED)} submissions: batch {batch_s:.1f} s, nbgrader autograde {nbgrader_s:.1f} s (both cold)")
    return {"course": course, "batch": by_batch, "nbgrader": snapshot(course), "log": proc.stdout + proc.stderr}


@slow
def test_stock_nbgrader_lets_a_submission_write_and_read_the_course(stock):
    assert (stock / EXAMPLES.MARKER).exists(), "fay's marker is missing: the stock pipeline did not run her code"
    nb = (stock / "autograded" / "fay" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert grader_first_line(stock) in nb, "the stock pipeline should print the hidden grader's first line"


@slow
def test_nbgrader_autograde_writes_exactly_what_batch_writes(graded):
    ours, theirs = graded["nbgrader"], graded["batch"]
    assert sorted(theirs["records"]) == sorted(theirs["notebooks"]) == sorted(theirs["gradebook"]) == GRADED
    scores = {s: r["score"] for s, r in theirs["gradebook"].items()}
    assert scores["ada"] == scores["fay"] == 8.0 and scores["eve"] == scores["zed"] == 0.0 and scores["ben"] < 8.0
    assert "not valid JSON" in theirs["records"]["zed"]["result"]["error"]
    for part in ("records", "notebooks", "folders", "gradebook"):
        for student in GRADED:
            assert ours[part].get(student) == theirs[part][student], f"{part} of {student} differ"


@slow
def test_our_config_keeps_the_submission_out_of_the_course(graded):
    course = graded["course"]
    assert not (course / EXAMPLES.MARKER).exists()
    secret = grader_first_line(course)
    fay = graded["nbgrader"]["records"]["fay"]["result"]
    assert "could not write into the course directory" in fay["student_output"]
    written = [p for p in (course / "autograded").rglob("*") if p.is_file()]
    written += [p for p in (course / "reports").rglob("*") if p.is_file()]
    for path in written:
        assert secret not in path.read_text(errors="replace"), f"{path} holds the hidden grader's first line"
    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        dump = "\n".join(db.iterdump())
    assert secret not in dump and "written by a submission" not in dump


@slow
def test_one_warm_grader_for_the_whole_run(graded):
    log = graded["log"]
    assert log.count("starting the sandboxed grader") == 1, log[-3000:]
    assert log.count("graded in the sandbox") == len(GRADED), log[-3000:]


@slow
def test_example_students_carry_names(graded):
    names = {s: row["name"] for s, row in graded["nbgrader"]["gradebook"].items()}
    assert names["ada"] == ("Ada", "Lovelace") and names["fay"] == ("Fay", "Snoop")
    assert all(first and last for first, last in names.values()), names


@slow
def test_validate_refuses_and_names_the_safe_command(graded):
    course = graded["course"]
    notebook = course / "submitted" / "fay" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    proc = nbgrader("validate", str(notebook), cwd=course, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "python -m autograder grade" in out, out[-3000:]
    assert not (course / EXAMPLES.MARKER).exists()


@pytest.mark.parametrize(
    "mode, fix", [("validate", "python -m autograder grade"), ("autograde", "python -m autograder batch")]
)
def test_execute_refuses_student_notebooks_and_names_the_safe_command(monkeypatch, mode, fix):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(UnsandboxedExecution, match=fix):
        refuse_unsandboxed_execution(cell=None, cell_index=0)


def test_execute_still_runs_the_instructors_own_notebooks(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)  # generate_solution runs source/ notebooks
    assert refuse_unsandboxed_execution(cell=None, cell_index=0) is None
