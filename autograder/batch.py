"""Batch grading of ``submitted/<student>/<assignment>/`` into nbgrader's gradebook, resumable.

Each graded submission gets a record (``reports/<assignment>/records/<student>.json``) written
atomically, after its autograded notebook. A record carries the digest of the notebook it graded,
so a rerun skips what is done and regrades only new or changed submissions; an interrupted batch
loses at most the submissions that were in flight. The gradebook, CSV, feedback and report are
then rebuilt from all records, which is idempotent: nothing is lost or counted twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from autograder.assignment import SetupError
from autograder.files import atomic_write
from autograder.results import SubmissionResult


@dataclass(frozen=True)
class Submission:
    student: str
    folder: Path
    notebook: Path | None  # None when the folder holds no <assignment>.ipynb
    timestamp: str | None

    def digest(self) -> str:
        h = hashlib.sha256()
        if self.notebook is not None:
            h.update(self.notebook.read_bytes())
        h.update((self.timestamp or "").encode())
        return h.hexdigest()


@dataclass(frozen=True)
class BatchPaths:
    course_dir: Path
    assignment: str

    @property
    def reports(self) -> Path:
        return self.course_dir / "reports" / self.assignment

    def record(self, student: str) -> Path:
        return self.reports / "records" / f"{student}.json"

    def autograded(self, student: str) -> Path:
        return self.course_dir / "autograded" / student / self.assignment


def find_submissions(course_dir: Path, assignment: str) -> list[Submission]:
    """Every ``submitted/<student>/<assignment>/`` folder, sorted by student id."""
    out = []
    for folder in sorted((course_dir / "submitted").glob(f"*/{assignment}")):
        if not folder.is_dir():
            continue
        notebook = folder / f"{assignment}.ipynb"
        stamp = folder / "timestamp.txt"
        timestamp = stamp.read_text(errors="replace").strip()[:64] if stamp.is_file() else None
        out.append(Submission(folder.parent.name, folder, notebook if notebook.is_file() else None, timestamp))
    return out


def load_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing or unreadable: grade again


def run_batch(args) -> int:
    """``python -m autograder batch``: grade what is new, then rebuild gradebook, CSV, feedback, report."""
    from autograder.cli import open_grader
    from autograder.gradebook import sync_gradebook
    from autograder.report import write_outputs

    course_dir = args.course_dir.resolve()
    paths = BatchPaths(course_dir, args.assignment)
    submissions = find_submissions(course_dir, args.assignment)
    if not submissions:
        raise SetupError(f"no submissions in {course_dir}/submitted/*/{args.assignment}/; collect them first")
    digests = {s.student: s.digest() for s in submissions}
    todo = [
        s
        for s in submissions
        if args.force or (load_record(paths.record(s.student)) or {}).get("digest") != digests[s.student]
    ]
    print(f"{args.assignment}: {len(submissions)} submissions, {len(submissions) - len(todo)} already graded")
    isolation = None
    with open_grader(args) as grader:
        by_path = {str(s.notebook): s for s in todo if s.notebook is not None}
        bar = tqdm(total=len(todo), desc=f"grading {args.assignment}", unit="nb")
        for s in todo:
            if s.notebook is None:
                result = grader.judge_error(str(s.folder), f"no {args.assignment}.ipynb in the submission folder")
                _save(paths, s, digests[s.student], result, grader)
                bar.update()
        for result in grader.grade_many(list(by_path)):
            _save(paths, by_path[result.path], digests[by_path[result.path].student], result, grader)
            bar.update()
        bar.close()
        isolation = grader.isolation
        records = {s.student: load_record(paths.record(s.student)) for s in submissions}
        results = {student: SubmissionResult.from_dict(rec["result"]) for student, rec in records.items() if rec}
        stamps = {s.student: s.timestamp for s in submissions}
        sync_gradebook(course_dir, args.assignment, results, stamps, grader.source_roles, db_url=args.db)
        outputs = write_outputs(paths, args.assignment, results, isolation)
    for name, path in outputs.items():
        print(f"{name}: {path}")
    return 0


def _save(paths: BatchPaths, s: Submission, digest: str, result: SubmissionResult, grader) -> None:
    from autograder.autograded import write_autograded_notebook

    result.student = s.student
    write_autograded_notebook(paths.autograded(s.student), s, result, grader)
    record = {"student": s.student, "digest": digest, "timestamp": s.timestamp, "result": result.to_dict()}
    atomic_write(paths.record(s.student), json.dumps(record, indent=1))
