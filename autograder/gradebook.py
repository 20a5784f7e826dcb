"""Scores into nbgrader's gradebook (SQLite by default, any SQLAlchemy URL), through nbgrader's own API.

After :func:`sync_gradebook`, ``nbgrader formgrade``, ``generate_feedback`` and ``export`` see the
autograder's scores exactly as if ``nbgrader autograde`` had written them: one submission per
student, an ``auto_score`` on every autograder test cell, and written answers left for manual
grading. Running it again updates the same rows; nothing is duplicated. Under the course's
``nbgrader_config.py``, ``nbgrader autograde`` and formgrader's Autograde button write their rows
through this same function (``autograder/nbgrader_plugin.py``).
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from nbgrader.api import (
    Assignment,
    Comment,
    Grade,
    Gradebook,
    GradeCell,
    MissingEntry,
    Notebook,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
)
from nbgrader.utils import parse_utc
from sqlalchemy.exc import SAWarning

from autograder.assignment import SetupError
from autograder.results import SubmissionResult


def default_db_url(course_dir: Path) -> str:
    return f"sqlite:///{(course_dir / 'gradebook.db').resolve()}"


def register_students(course_dir: Path, names: dict[str, tuple[str, str]], db_url: str | None = None) -> None:
    """Give students first and last names (formgrader lists them; without names it shows "None, None").

    Creates the students (and the gradebook) if needed; grading later keeps the names.
    """
    db_url = db_url or default_db_url(course_dir)
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore", SAWarning)
        for student, (first, last) in sorted(names.items()):
            gb.update_or_create_student(student, first_name=first, last_name=last)


def sync_gradebook(
    course_dir: Path,
    assignment: str,
    results: dict[str, SubmissionResult],
    timestamps: dict[str, str | None],
    roles: dict[str, dict],
    db_url: str | None = None,
) -> None:
    """Write every student's scores for ``assignment``; the assignment must already be in the gradebook."""
    db_url = db_url or default_db_url(course_dir)
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        # nbgrader 0.9's models trip SQLAlchemy 2's autoflush warnings; the rows are written
        warnings.simplefilter("ignore", SAWarning)
        try:
            spec = gb.find_assignment(assignment)
        except MissingEntry:
            raise SetupError(
                f"{assignment} is not in the gradebook {db_url}; run `nbgrader generate_assignment {assignment}` "
                "in the course directory first (it records the notebook's graded cells)"
            ) from None
        submissions = _submissions(gb, spec, sorted(results))  # no commit per student, as nbgrader's calls do
        for student, submission in submissions.items():
            stamp = timestamps.get(student)
            if stamp:  # an unreadable timestamp.txt is the student's problem: keep the old value
                with contextlib.suppress(ValueError, OverflowError):
                    submission.timestamp = parse_utc(stamp)
        gb.db.flush()
        grades = _grades(gb, assignment)  # one query, not one per student and cell
        for student, result in sorted(results.items()):
            scores = result.cell_scores()
            for grade_id, role in roles.items():
                if role["role"] not in ("test", "written"):
                    continue
                grade = grades.get((student, grade_id)) or gb.find_grade(grade_id, assignment, assignment, student)
                if role["role"] == "test":
                    grade.auto_score = 0.0 if result.error else scores.get(grade_id, (0.0, 0.0))[0]
                    grade.needs_manual_grade = grade.manual_score is not None
                else:
                    grade.auto_score = None
                    grade.needs_manual_grade = grade.manual_score is None
        gb.db.commit()  # once: a batch rebuilds the gradebook from its records, so a lost sync is redone


def _submissions(gb: Gradebook, spec: Assignment, students: list[str]) -> dict[str, SubmittedAssignment]:
    """Each student's submission of the assignment ``spec``, created where missing, uncommitted.

    What ``gb.update_or_create_student`` and ``gb.add_submission`` do, with two queries in all instead
    of two queries and a commit (an fsync) per student: the new submission mirrors the assignment's
    notebooks with an empty grade per grade cell and a comment per solution cell, as nbgrader's does.
    """
    known = {s.id for s in gb.db.query(Student.id)}  # whole tables: no IN list past SQLite's bound on parameters
    gb.db.add_all(Student(id=s) for s in students if s not in known)
    found = gb.db.query(SubmittedAssignment).filter(SubmittedAssignment.assignment_id == spec.id)
    submissions = {s.student_id: s for s in found}
    for student in students:
        if student in submissions:
            continue
        submission = submissions[student] = SubmittedAssignment(assignment=spec, student_id=student)
        for notebook in spec.notebooks:
            nb = SubmittedNotebook(notebook=notebook, assignment=submission)
            for cell in notebook.grade_cells:
                Grade(cell_id=cell.id, notebook=nb)
            for cell in [*notebook.solution_cells, *notebook.task_cells]:
                Comment(cell_id=cell.id, notebook=nb)
            for cell in notebook.task_cells:
                Grade(cell_id=cell.id, notebook=nb)
        gb.db.add(submission)
    return submissions


def _grades(gb: Gradebook, assignment: str) -> dict[tuple[str, str], Grade]:
    """Every grade of ``assignment``'s notebook (named as the assignment), by (student, grade cell name)."""
    rows = (
        gb.db.query(Grade, GradeCell.name, Student.id)
        .join(GradeCell, GradeCell.id == Grade.cell_id)
        .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
        .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
        .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
        .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
        .join(Student, Student.id == SubmittedAssignment.student_id)
        .filter(Notebook.name == assignment, Assignment.name == assignment)
    )
    return {(student, name): grade for grade, name, student in rows}
