"""``python -m autograder batch`` and ``grade``: gradebook, export, feedback, resume after a kill, CLI errors."""

from __future__ import annotations

import csv
import html
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from tests.support import ROOT, make_submission, released_course

pytestmark = pytest.mark.slow
ASSIGNMENT = "ps1_bradley_terry"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
NOTHING = {
    "bradley_terry_loss": "def bradley_terry_loss(*a, **k):\n    raise NotImplementedError()\n",
    "preference_metrics": "def preference_probability(*a, **k):\n    return None\n\n"
    "def pairwise_accuracy(*a, **k):\n    return 0.5\n",
    "loss_vs_gap": "def loss_vs_gap(gaps):\n    raise NotImplementedError()\n",
}
LOOP = {"bradley_terry_loss": "def bradley_terry_loss(*a, **k):\n    while True:\n        pass\n"}


def run(*args, cwd=ROOT, check=True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def autograder(*args, **kwargs):
    return run(sys.executable, "-m", "autograder", *args, **kwargs)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A fresh course directory with ps1 released and five submissions (one slow)."""
    root = released_course(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    plan = {"alice": None, "bob": None, "carol": LOOP, "dave": NOTHING, "erin": None}
    for student, answers in plan.items():
        folder = root / "submitted" / student / ASSIGNMENT
        make_submission(ASSIGNMENT, folder / f"{ASSIGNMENT}.ipynb", answers)
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC\n")
    return root


def records(course: Path) -> dict[str, Path]:
    folder = course / "reports" / ASSIGNMENT / "records"
    return {p.stem: p for p in folder.glob("*.json")} if folder.exists() else {}


@pytest.fixture(scope="module")
def interrupted(course):
    """Start a batch, kill it hard once two submissions are graded, then run it again to the end."""
    cmd = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(course), "--jobs", "1"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while len(records(course)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {s: (p.stat().st_mtime_ns, p.read_text()) for s, p in records(course).items()}

    def left() -> list[str]:  # the killed batch's spool and sandbox folders
        return sorted(p.name for p in Path(tempfile.gettempdir()).glob(f"autograder-{proc.pid}-*"))

    folders = left()
    # the kill is a crash with carol alone in flight: --max-crashes 2 grades her again instead of giving zero
    cmd = [*cmd[:-2], "--jobs", "2", "--max-crashes", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    # the moment it returns, nothing it started is left in its session, not even a zombie
    survivors = subprocess.run(["ps", "-o", "pid,stat,args", "--no-headers", "-s", str(proc.pid)],
                               capture_output=True, text=True).stdout  # fmt: skip
    rerun = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return {"before": before, "rerun": rerun, "folders": folders, "folders_after": left(), "survivors": survivors}


def test_a_killed_batch_left_only_complete_records(interrupted):
    before = interrupted["before"]
    assert 2 <= len(before) < 5, "the kill must land mid-batch"
    for _, text in before.values():
        json.loads(text)  # atomic writes: never half a record


def test_the_next_batch_removes_the_folders_the_killed_one_left(interrupted):
    left = interrupted["folders"]
    assert any("-batch-" in name for name in left) and len(left) >= 2, left  # its spool and sandbox folder
    assert interrupted["folders_after"] == []


def test_nothing_the_batch_started_outlives_it(interrupted):
    assert interrupted["survivors"] == ""


def test_the_rerun_finishes_without_regrading_what_was_done(course, interrupted):
    assert f"{len(interrupted['before'])} already graded" in interrupted["rerun"].stdout
    after = records(course)
    assert sorted(after) == ["alice", "bob", "carol", "dave", "erin"]
    for student, (mtime, text) in interrupted["before"].items():
        assert after[student].stat().st_mtime_ns == mtime and after[student].read_text() == text


def test_gradebook_has_one_submission_per_student_with_scores(course, interrupted):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = gb.assignment_submissions(ASSIGNMENT)
        assert sorted(s.student.id for s in subs) == ["alice", "bob", "carol", "dave", "erin"]
        scores = {s.student.id: s.score for s in subs}
        written = gb.find_grade("written_gradient", ASSIGNMENT, ASSIGNMENT, "alice")
        assert written.needs_manual_grade and written.auto_score is None
    assert scores["alice"] == scores["bob"] == scores["erin"] == 8.0
    assert scores["carol"] == 4.0  # the looping loss costs its own 4 points only
    assert scores["dave"] < 8.0


def test_nbgrader_export_and_feedback_work_after_it(course, interrupted):
    run(sys.executable, "-m", "nbgrader", "export", cwd=course)
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    assert float(rows["alice"]["raw_score"]) == 8.0 and float(rows["alice"]["max_score"]) == 10.0
    assert len(rows) == 5
    run(sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, cwd=course)
    html = (course / "feedback" / "carol" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "Hidden tests for this cell" in html and "time limit" in html
    assert "ref_loss" not in html and "HUGE_C" not in html, "feedback never shows hidden test code"


def test_reports_csv_and_student_feedback(course, interrupted):
    reports = course / "reports" / ASSIGNMENT
    rows = list(csv.DictReader((reports / "scores.csv").open()))
    assert [r["student"] for r in rows] == ["alice", "bob", "carol", "dave", "erin"]
    report = (reports / "report.html").read_text()
    assert "isolation in force: <b>namespaces</b>" in report and "data:image/png;base64" in report
    assert "test_loss_stable_for_huge_gaps" in report
    layers = json.loads((reports / "results.json").read_text())["layers"]
    assert any(layer.startswith("seccomp filter:") for layer in layers), layers  # every layer is named
    assert all(html.escape(layer) in report for layer in layers)
    feedback = (reports / "feedback" / "dave.html").read_text()
    assert "failed" in feedback and "student_output" not in feedback


def test_rerun_skips_everything_and_force_regrades(course, interrupted):
    assert "5 already graded" in autograder("batch", ASSIGNMENT, "--course-dir", str(course)).stdout
    nb = course / "submitted" / "dave" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    make_submission(ASSIGNMENT, nb)  # dave resubmits a full solution
    out = autograder("batch", ASSIGNMENT, "--course-dir", str(course)).stdout
    assert "4 already graded" in out
    assert json.loads(records(course)["dave"].read_text())["result"]["score"] == 8.0


def test_grade_json_is_gradescope_compatible(tmp_path):
    good = make_submission(ASSIGNMENT, tmp_path / "good.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    out = tmp_path / "out.json"
    proc = autograder("grade", ASSIGNMENT, str(good), str(bad), "--json", str(out), "--jobs", "2")
    assert proc.returncode == 0
    subs = json.loads(out.read_text())["submissions"]
    assert [s["score"] for s in subs] == [8.0, 0.0]
    for s in subs:
        assert {"path", "score", "max_score", "tests", "output", "execution_time"} <= set(s)
        for t in s["tests"]:
            assert {"name", "score", "max_score", "status", "output"} <= set(t)
            assert t["status"] in ("passed", "failed")
    assert "not valid JSON" in subs[1]["output"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["grade", "no_such_assignment", "README.md"], "no source notebook"),
        (["grade", ASSIGNMENT, "missing.ipynb"], "no such notebook"),
        (["grade", ASSIGNMENT, "README.md", "--course-dir", "nowhere"], "does not exist"),
        (["grade", ASSIGNMENT, "README.md", "--jobs", "0"], "--jobs must be >= 1"),
        (["batch", ASSIGNMENT, "--course-dir", "tests"], "no submissions"),
        (["batch", ASSIGNMENT, "--max-crashes", "0"], "--max-crashes must be >= 1"),
    ],
)
def test_usage_and_setup_errors_exit_2_with_a_fix(args, message):
    proc = autograder(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert any(part in proc.stderr for part in message.split("|")), proc.stderr
