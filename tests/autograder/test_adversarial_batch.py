"""Hostile ``submitted/`` folders and crashes, against ``python -m autograder batch`` (issue 12, items 9 and 2).

* Links and special files: a notebook or ``timestamp.txt`` that is a symbolic link, a hard link to a
  course file or a pipe, a student or assignment folder that is a link. Each scores zero with a clear
  error (a bad timestamp is dropped with a note, the notebook graded honestly), the batch goes on, and no
  secret (hidden grader text, reference solution line) reaches the record, autograded notebook,
  feedback, CSV or report. Folder names that cannot be student ids are skipped, never written.
* Crashes: a batch SIGKILLed with submissions in flight keeps every finished record; a rerun grades
  those submissions again alone, and the one that was alone in flight when the batch died again is
  recorded with a clear error and zero, so the batch finishes.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.support import COURSE, ROOT, make_submission, reference_answer, released_course, source_notebook

pytestmark = pytest.mark.slow
ASSIGNMENT = "ps1_bradley_terry"
NB = f"{ASSIGNMENT}.ipynb"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
STAMP = "2026-11-20 10:00:00.000000 UTC\n"
GRADER = COURSE / "graders" / ASSIGNMENT / f"test_{ASSIGNMENT}.py"


def run(*args, cwd=ROOT, timeout=300) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def batch_cmd(course: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(course), *extra]


@pytest.fixture(scope="module")
def base_course(tmp_path_factory) -> Path:
    """A course directory with ps1 released (in the gradebook) and no submissions; copied per test."""
    return released_course(tmp_path_factory.mktemp("base") / "course", ASSIGNMENT)


def new_course(base: Path, where: Path) -> Path:
    course = where / "course"
    shutil.copytree(base, course, symlinks=True)
    return course


def honest(course: Path, student: str, stamp: str | None = STAMP) -> Path:
    folder = course / "submitted" / student / ASSIGNMENT
    make_submission(ASSIGNMENT, folder / NB)
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp)
    return folder


def secrets(course: Path) -> dict[str, list[str]]:
    """Text that only the hidden grader ("grader") or the reference solution ("solution") holds."""
    released = (course / "release" / ASSIGNMENT / NB).read_text()
    source = (course / "source" / ASSIGNMENT / NB).read_text()
    grader = GRADER.read_text()
    lines = [grader[:64].strip()]  # what a linked timestamp.txt used to copy
    lines += [line.strip() for line in grader.splitlines() if line.startswith(("from ", "import "))]
    solution = []
    for cell in source_notebook(ASSIGNMENT).cells:
        if "### BEGIN SOLUTION" in cell.source:
            body = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            solution += [line.strip() for line in body.splitlines() if len(line.strip()) > 12]
    found = {
        "grader": [s for s in dict.fromkeys(lines) if s not in source and s not in released],
        "solution": [s for s in dict.fromkeys(solution) if s not in released],
    }
    assert len(found["grader"]) >= 3 and len(found["solution"]) >= 5, found
    return found


# -- links, special files and odd folder names --------------------------------------------------------

REFUSED = {  # student -> what the error must say (each scores zero)
    "bob": f"submitted/bob/{ASSIGNMENT}/{NB} is a symbolic link; submit the notebook file itself",
    "dave": f"submitted/dave/{ASSIGNMENT} is a symbolic link",
    "erin": "submitted/erin is a symbolic link",
    "frank": f"submitted/frank/{ASSIGNMENT}/{NB} is a named pipe (FIFO); submit the notebook file itself",
    "hank": f"submitted/hank/{ASSIGNMENT}/{NB} is a hard link to a file of the course",
    "judy": f"submitted/judy/{ASSIGNMENT}/{NB} is a folder; submit the notebook file itself",
    "leo": f"submitted/leo/{ASSIGNMENT} is a named pipe (FIFO); not a folder",
}
STAMP_DROPPED = {  # student -> why timestamp.txt was ignored (the notebook is graded as usual)
    "carol": "timestamp.txt is a symbolic link",
    "gina": "timestamp.txt is a named pipe (FIFO)",
    "ivy": "timestamp.txt is a hard link to a file of the course",
    "kim": "timestamp.txt is over 256 bytes",
}
BAD_IDS = {"evil\nname": "control", "x" * 200: "bytes long", ".hidden": "hidden", "=HYPERLINK(1)": "formula"}
ODD_BUT_FINE = ["zoë", "<img src=x onerror=alert(1)>"]


@pytest.fixture(scope="module")
def hostile(base_course, tmp_path_factory):
    """One batch over honest students, every link and special-file trick, and folder names that are not ids."""
    where = tmp_path_factory.mktemp("hostile")
    course = new_course(base_course, where)
    source_nb = course / "source" / ASSIGNMENT / NB
    grader = course / "graders" / ASSIGNMENT / GRADER.name
    sub = course / "submitted"
    honest(course, "alice")
    folder = sub / "bob" / ASSIGNMENT  # the notebook links to the instructor's solution
    folder.mkdir(parents=True)
    (folder / NB).symlink_to(source_nb)
    (folder / "timestamp.txt").write_text(STAMP)
    (honest(course, "carol") / "timestamp.txt").unlink()  # timestamp.txt links to the hidden grader
    (sub / "carol" / ASSIGNMENT / "timestamp.txt").symlink_to(grader)
    (sub / "dave").mkdir()  # the assignment folder links to the source folder
    (sub / "dave" / ASSIGNMENT).symlink_to(course / "source" / ASSIGNMENT, target_is_directory=True)
    elsewhere = where / "elsewhere" / "erin" / ASSIGNMENT  # the student folder links outside submitted/
    elsewhere.mkdir(parents=True)
    shutil.copy(source_nb, elsewhere / NB)
    (sub / "erin").symlink_to(elsewhere.parent, target_is_directory=True)
    (sub / "frank" / ASSIGNMENT).mkdir(parents=True)  # the notebook is a pipe nobody writes to
    os.mkfifo(sub / "frank" / ASSIGNMENT / NB)
    (honest(course, "gina") / "timestamp.txt").unlink()
    os.mkfifo(sub / "gina" / ASSIGNMENT / "timestamp.txt")
    (sub / "hank" / ASSIGNMENT).mkdir(parents=True)  # hard links to course files
    os.link(source_nb, sub / "hank" / ASSIGNMENT / NB)
    (honest(course, "ivy") / "timestamp.txt").unlink()
    os.link(grader, sub / "ivy" / ASSIGNMENT / "timestamp.txt")
    (sub / "judy" / ASSIGNMENT / NB).mkdir(parents=True)  # a folder where the notebook should be
    honest(course, "kim", stamp="2026-11-20 10:00:00 UTC " + "x" * 10_000)
    (sub / "leo").mkdir()
    os.mkfifo(sub / "leo" / ASSIGNMENT)
    for name in [*BAD_IDS, *ODD_BUT_FINE]:
        honest(course, name)
    os.makedirs(os.fsencode(sub) + b"/not-utf8-\xff/" + ASSIGNMENT.encode())  # with no notebook inside
    start = time.monotonic()
    proc = run(*batch_cmd(course, "--jobs", "2"))
    reports = course / "reports" / ASSIGNMENT
    return {
        "course": course,
        "proc": proc,
        "seconds": time.monotonic() - start,
        "records": {p.stem: json.loads(p.read_text()) for p in (reports / "records").glob("*.json")},
        "secrets": secrets(course),
    }


def outputs_of(course: Path, student: str) -> dict[str, str]:
    """Everything the batch wrote about one student, as text."""
    reports = course / "reports" / ASSIGNMENT
    autograded = course / "autograded" / student / ASSIGNMENT
    out = {
        "record": (reports / "records" / f"{student}.json").read_text(),
        "feedback": (reports / "feedback" / f"{student}.html").read_text(),
        "autograded notebook": (autograded / NB).read_text(),
    }
    if (autograded / "timestamp.txt").exists():
        out["autograded timestamp"] = (autograded / "timestamp.txt").read_text()
    return out


def test_every_valid_student_has_a_record_and_nothing_else_does(hostile):
    expected = {"alice", *REFUSED, *STAMP_DROPPED, *ODD_BUT_FINE}
    assert set(hostile["records"]) == expected
    course = hostile["course"]
    assert {p.name for p in (course / "autograded").iterdir()} == expected
    rows = list(csv.DictReader((course / "reports" / ASSIGNMENT / "scores.csv").open(newline="")))
    assert sorted(r["student"] for r in rows) == sorted(expected)
    assert {p.stem for p in (course / "reports" / ASSIGNMENT / "feedback").iterdir()} == expected
    assert not list((course / "reports" / ASSIGNMENT).glob("inflight/*"))


@pytest.mark.parametrize("student", sorted(REFUSED))
def test_links_and_special_files_score_zero_with_a_clear_error(hostile, student):
    result = hostile["records"][student]["result"]
    assert result["score"] == 0.0
    assert REFUSED[student] in (result["error"] or ""), result["error"]
    assert all(t["status"] == "failed" for t in result["tests"])


@pytest.mark.parametrize("student", sorted(STAMP_DROPPED))
def test_a_bad_timestamp_is_dropped_with_a_note_and_the_notebook_graded(hostile, student):
    record = hostile["records"][student]
    assert record["result"]["score"] == record["result"]["max_score"] == 8.0
    assert record["timestamp"] is None
    assert any(STAMP_DROPPED[student] in note for note in record["result"]["notes"]), record["result"]["notes"]


def test_honest_students_are_graded_as_usual(hostile):
    for student in ["alice", *ODD_BUT_FINE]:
        record = hostile["records"][student]
        assert record["result"]["score"] == 8.0 and record["timestamp"] == STAMP.strip(), record


@pytest.mark.parametrize("student", sorted({*REFUSED, *STAMP_DROPPED}))
def test_no_secret_reaches_anything_written_for_the_student(hostile, student):
    """The refused get neither grader nor solution text; the others' notebooks are their own (the reference)."""
    kinds = ["grader", "solution"] if student in REFUSED else ["grader"]
    secret = [s for kind in kinds for s in hostile["secrets"][kind]]
    for where, text in outputs_of(hostile["course"], student).items():
        leaked = [s for s in secret if s in text]
        assert not leaked, f"{where} of {student} holds {leaked[:3]}"


def test_no_secret_reaches_the_csv_the_report_or_results_json(hostile):
    reports = hostile["course"] / "reports" / ASSIGNMENT
    for name in ("scores.csv", "results.json", "report.html"):
        text = (reports / name).read_text()
        leaked = [s for s in hostile["secrets"]["grader"] + hostile["secrets"]["solution"] if s in text]
        assert not leaked, f"{name} holds {leaked[:3]}"


def test_folder_names_that_are_not_ids_are_skipped_and_named(hostile):
    err = hostile["proc"].stderr
    for name, why in BAD_IDS.items():
        assert f"skipped submitted/{ascii(name)[1:-1]}: the folder name cannot be a student id" in err, err
        assert why in err
    assert "not-utf8-\\udcff" in err and "not UTF-8" in err
    report = (hostile["course"] / "reports" / ASSIGNMENT / "report.html").read_text()
    assert "<img src=x" not in report and "&lt;img src=x onerror=alert(1)&gt;" in report


def test_a_fixed_submission_is_graded_on_the_rerun_and_nothing_else(hostile):
    course = hostile["course"]
    link = course / "submitted" / "bob" / ASSIGNMENT / NB
    link.unlink()
    make_submission(ASSIGNMENT, link)  # bob hands in the notebook itself
    out = run(*batch_cmd(course)).stdout
    assert f"{len(hostile['records'])} submissions, {len(hostile['records']) - 1} already graded" in out
    assert json.loads((course / "reports" / ASSIGNMENT / "records" / "bob.json").read_text())["result"]["score"] == 8.0


def test_reading_never_blocks_or_follows(tmp_path):
    """files.read_regular_file and open_folder refuse by kind, before and after opening, and cap the size."""
    from autograder.files import FileTooLarge, NotPlainFile, open_folder, read_regular_file

    (tmp_path / "f").write_bytes(b"x" * 10)
    (tmp_path / "link").symlink_to(tmp_path / "f")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "d").mkdir()
    (tmp_path / "dlink").symlink_to(tmp_path / "d")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_regular_file("f", fd, 10)[0] == b"x" * 10
        with pytest.raises(FileTooLarge):
            read_regular_file("f", fd, 9)
        for name, kind in [("link", "symbolic link"), ("fifo", "named pipe"), ("d", "folder")]:
            with pytest.raises(NotPlainFile, match=kind):
                read_regular_file(name, fd, 100)
        with pytest.raises(FileNotFoundError):
            read_regular_file("missing", fd, 100)
        os.close(open_folder("d", fd))
        with pytest.raises(NotPlainFile, match="symbolic link"):
            open_folder("dlink", fd)
    finally:
        os.close(fd)


# -- crashes ------------------------------------------------------------------------------------------


class FakeGrader:
    """Stands in for the judge: full marks for every path, or KeyboardInterrupt after ``stop_after`` results."""

    def __init__(self, stop_after: int | None = None):
        from types import SimpleNamespace

        from autograder.notebook import source_roles

        self.assignment = SimpleNamespace(name=ASSIGNMENT)
        self.source_nb = source_notebook(ASSIGNMENT)
        self.source_roles = source_roles(self.source_nb)
        self.stop_after = stop_after

    def judge_error(self, path, error):
        from autograder.results import SubmissionResult

        return SubmissionResult(path=path, score=0.0, max_score=8.0, error=error)

    def grade_many(self, paths):
        from autograder.results import SubmissionResult

        for i, path in enumerate(paths):  # lazily, as the batch hands them over
            if i == self.stop_after:
                raise KeyboardInterrupt
            yield SubmissionResult(path=str(path), score=8.0, max_score=8.0)


def test_a_clean_stop_is_no_crash_and_markers_track_history(tmp_path):
    """Ctrl-C puts the markers back as they were; only a death with a submission in flight counts."""
    from autograder.batch import BatchPaths, Crashes, _grade_window, crash_history, find_submissions

    for student in ("ann", "ben", "cat"):
        make_submission(ASSIGNMENT, tmp_path / "submitted" / student / ASSIGNMENT / NB)
    paths = BatchPaths(tmp_path, ASSIGNMENT)
    (tmp_path / "spool").mkdir()
    subs, _ = find_submissions(tmp_path, ASSIGNMENT, tmp_path / "spool")
    ann, ben, cat = subs
    history = {"ann": Crashes(), "ben": Crashes(1, 0), "cat": Crashes()}
    grader = FakeGrader(stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        _grade_window(paths, grader, [ann, ben], history, "boot-1")
    assert paths.record("ann").exists() and not paths.inflight("ann").exists()
    assert json.loads(paths.inflight("ben").read_text()) == {
        "student": "ben",
        "digest": ben.digest,
        "count": 1,
        "alone": 0,
    }
    assert crash_history(paths, ben, None, "boot-1") == Crashes(1, 0), "the stop did not count"
    _grade_window(paths, FakeGrader(), [cat], history, "boot-1")
    assert paths.record("cat").exists() and not paths.inflight("cat").exists()
    # a death with ben alone in flight counts, unless the machine restarted since
    marker = {"student": "ben", "digest": ben.digest, "count": 1, "alone": 0}
    marker["attempt"] = {"alone": True, "with": [], "boot_id": "boot-1"}
    paths.inflight("ben").write_text(json.dumps(marker))
    assert crash_history(paths, ben, None, "boot-1") == Crashes(2, 1)
    assert crash_history(paths, ben, None, "boot-2") == Crashes(1, 0)
    assert crash_history(paths, cat, None, "boot-1") == Crashes(), "another student's marker"


SLOW = "import time\ntime.sleep({})\n"


def _marker(course: Path, student: str) -> dict | None:
    try:
        return json.loads((course / "reports" / ASSIGNMENT / "inflight" / f"{student}.json").read_text())
    except (OSError, ValueError):
        return None


def _records(course: Path) -> dict[str, Path]:
    return {p.stem: p for p in (course / "reports" / ASSIGNMENT / "records").glob("*.json")}


def kill_when(course: Path, ready, *extra: str, limit: float = 180) -> str:
    """Start a batch, SIGKILL its process group once ``ready()`` holds; return what it printed."""
    log = course.parent / f"batch-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            batch_cmd(course, *extra), cwd=ROOT, env=ENV, stdout=out, stderr=out, start_new_session=True
        )
        deadline = time.monotonic() + limit
        try:
            while not ready():
                if proc.poll() is not None:
                    raise AssertionError(f"the batch ended before the crash point:\n{log.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"the crash point never came:\n{log.read_text()}")
                time.sleep(0.02)
            time.sleep(0.5)  # let the sandboxes start
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return log.read_text()


@pytest.fixture(scope="module")
def crashed(base_course, tmp_path_factory):
    """Kill a batch (--jobs 2) with mallory and nina in flight together, then with mallory alone; rerun.

    mallory sleeps 60 s in a cell, standing in for a submission that gets the judge killed; nina
    sleeps 4 s and is honest.
    """
    course = new_course(base_course, tmp_path_factory.mktemp("crash"))
    for student in ("alice", "bob"):
        honest(course, student)
    for student, seconds in (("mallory", 60), ("nina", 4)):
        folder = course / "submitted" / student / ASSIGNMENT
        answers = {"loss_vs_gap": SLOW.format(seconds) + reference_answer(ASSIGNMENT, "loss_vs_gap")}
        make_submission(ASSIGNMENT, folder / NB, answers)
        (folder / "timestamp.txt").write_text(STAMP)
    start = time.monotonic()
    # 1: windows of two, alice+bob then mallory+nina: killed while the second is in flight
    first = kill_when(course, lambda: _marker(course, "mallory") and _marker(course, "nina"), "--jobs", "2")
    after_first = {s: p.stat().st_mtime_ns for s, p in _records(course).items()}
    markers_first = {s: _marker(course, s) for s in ("mallory", "nina")}
    # 2: neither is condemned; each is graded again alone, mallory first: killed again
    second = kill_when(
        course, lambda: ((_marker(course, "mallory") or {}).get("attempt") or {}).get("alone"), "--jobs", "2"
    )
    after_second = set(_records(course))
    # 3: mallory was alone in flight when the batch died: recorded, not graded; nina graded alone
    third = run(*batch_cmd(course, "--jobs", "2"))
    return {
        "course": course,
        "logs": (first, second, third.stdout + third.stderr),
        "after_first": after_first,
        "markers_first": markers_first,
        "after_second": after_second,
        "seconds": time.monotonic() - start,
    }


def test_records_are_saved_before_the_next_submissions_start(crashed):
    assert set(crashed["after_first"]) == {"alice", "bob"}, crashed["logs"][0]
    for student, other in (("mallory", "nina"), ("nina", "mallory")):
        marker = crashed["markers_first"][student]
        assert marker["attempt"]["alone"] is False and marker["attempt"]["with"] == [other]
        assert marker["count"] == marker["alone"] == 0


def test_a_crash_shared_by_two_submissions_condemns_neither(crashed):
    assert crashed["after_second"] == {"alice", "bob"}, crashed["logs"][1]
    assert "2 in flight when a batch died" in crashed["logs"][1]


def test_the_rerun_records_the_culprit_and_grades_everyone_else(crashed):
    course = crashed["course"]
    records = {s: json.loads(p.read_text()) for s, p in _records(course).items()}
    assert set(records) == {"alice", "bob", "mallory", "nina"}
    culprit = records["mallory"]["result"]
    assert culprit["score"] == 0.0
    assert culprit["error"] == (
        "grading this submission crashed the autograder 2 times (the judge process was killed); "
        "it was given zero: check the instructor report"
    )
    assert not culprit["cells"], "it was not graded again"
    assert records["mallory"]["crashes"] == {"count": 2, "alone": 1}
    assert any("--max-crashes 2" in note for note in culprit["notes"])
    assert records["nina"]["result"]["score"] == 8.0
    assert records["alice"]["result"]["score"] == records["bob"]["result"]["score"] == 8.0
    assert not list((course / "reports" / ASSIGNMENT / "inflight").glob("*"))


def test_finished_records_are_kept_not_regraded(crashed):
    records = _records(crashed["course"])
    for student, mtime in crashed["after_first"].items():
        assert records[student].stat().st_mtime_ns == mtime
    assert "2 already graded" in crashed["logs"][2]


def test_every_output_is_written_after_the_crashes(crashed):
    from nbgrader.api import Gradebook

    course = crashed["course"]
    reports = course / "reports" / ASSIGNMENT
    rows = {r["student"]: r for r in csv.DictReader((reports / "scores.csv").open(newline=""))}
    assert sorted(rows) == ["alice", "bob", "mallory", "nina"]
    assert "crashed the autograder" in rows["mallory"]["error"]
    assert "crashed the autograder" in (reports / "feedback" / "mallory.html").read_text()
    assert "crashed the autograder" in (reports / "report.html").read_text()
    nb = nbformat.read(course / "autograded" / "mallory" / ASSIGNMENT / NB, as_version=4)
    assert any("crashed the autograder" in "".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}
    assert scores == {"alice": 8.0, "bob": 8.0, "mallory": 0.0, "nina": 8.0}
    print(f"three batches with two crashes: {crashed['seconds']:.0f} s")
