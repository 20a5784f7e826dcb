"""What a batch leaves for people: scores CSV, results JSON, per-student feedback, an instructor report.

``reports/<assignment>/report.html`` (:mod:`autograder.report_page`) is the page an instructor opens
first: one file, images inlined, links relative, so the course folder can move with it.
``report_students.csv``, ``report_questions.csv`` and ``report_tests.csv`` hold what it shows. A
similarity run rewrites the page from ``results.json`` (:func:`refresh_report`), so its top pairs
appear whichever command ran last. Student feedback shows test names, the cells they count toward
and the grader's messages, never hidden test code or inputs, and never the captured output (that is
for the instructor). Cells are named one way everywhere (:func:`autograder.notebook.cell_label`).
Every string that reaches a page is escaped unless this package wrote it
(:class:`~autograder.report_html.Html`), and each page carries a Content-Security-Policy that allows
no script at all.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.files import atomic_write
from autograder.report_html import CSP, STYLE, Html, esc, page, table
from autograder.report_items import analyse
from autograder.report_page import CSV_FILES, cell_text, instructor_report, student_rows
from autograder.results import SubmissionResult

__all__ = ["CSP", "STYLE", "instructor_report", "refresh_report", "student_feedback", "write_outputs"]


def student_feedback(assignment: str, student: str, r: SubmissionResult) -> str:
    rows = [
        [
            t.name,
            r.cell_name(t.cell),
            f"{t.score:g}/{t.max_score:g}",
            Html('<span class="ok">passed</span>' if t.status == "passed" else '<span class="bad">failed</span>'),
            t.output,
        ]
        for t in r.tests
    ]
    head = f"<p>Autograded score: <b>{r.score:g} / {r.max_score:g}</b> (written answers are graded by hand).</p>"
    if r.error:
        head += f'<p class="bad">Your notebook could not be graded: {esc(r.error)}</p>'
    skipped = [
        f"<li>{esc(cell_text(c))} was not run to the end: {esc(c.get('error', ''))}</li>"
        for c in r.cells
        if c.get("status") == "skipped"
    ]
    if skipped:
        head += f'<p class="bad">Cells of your notebook that were stopped:</p><ul>{"".join(skipped)}</ul>'
    return page(
        f"{assignment}: feedback for {student}", head + table(["test", "cell", "points", "result", "message"], rows)
    )


def _csv(rows: list[list]) -> str:
    """CSV text; a text field a spreadsheet would run as a formula gets a leading apostrophe."""

    def safe(v):
        if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + v
        return f"{v:g}" if isinstance(v, float) else v

    buf = io.StringIO()
    csv.writer(buf).writerows([[safe(v) for v in row] for row in rows])
    return buf.getvalue()


def write_report(out: Path, assignment: str, results: dict[str, SubmissionResult], isolation: str, layers=()) -> Path:
    """report.html and the CSVs of what it shows, in ``out``; returns the page's path."""
    items = analyse(results)
    students = [
        ["student", "score", "max_score", "tests_failed", "seconds", "problem", "notes", "feedback", "notebook"]
    ]
    students += [[*row[:4], round(row[4], 3), *row[5:]] for row in student_rows(assignment, results, out)]
    questions = [["question", "cell", "points", "graded", "all_points", "no_points", "mean", "distribution"]]
    questions += [
        [
            q.cell,
            q.name,
            q.points,
            q.n,
            q.full,
            q.zero,
            "n/a" if q.mean is None else round(q.mean, 4),
            " ".join(f"{s:g}:{k}" for s, k in q.distribution),
        ]
        for q in items.questions
    ]
    tests = [["test", "question", "points", "graded", "passed", "difficulty", "discrimination", "flags"]]
    tests += [
        [
            t.name,
            t.cell,
            t.points,
            t.n,
            t.passed,
            "n/a" if t.difficulty is None else round(t.difficulty, 4),
            "n/a" if t.discrimination is None else round(t.discrimination, 4),
            "; ".join(t.flags),
        ]
        for t in items.tests
    ]
    for key, rows in (("students", students), ("questions", questions), ("tests", tests)):
        atomic_write(out / CSV_FILES[key], _csv(rows))
    atomic_write(out / "report.html", instructor_report(assignment, results, isolation, layers, out))
    return out / "report.html"


def refresh_report(out: Path) -> Path | None:
    """Rewrite report.html (and its CSVs) in ``out`` from results.json, e.g. after a similarity run; None without one."""
    try:
        payload = json.loads((out / "results.json").read_text())
    except FileNotFoundError:
        return None
    results = {}
    for d in payload["submissions"]:
        r = SubmissionResult.from_dict(d)
        results[r.student] = r
    return write_report(out, payload["assignment"], results, payload["isolation"], payload.get("layers", []))


def write_outputs(
    paths, assignment: str, results: dict[str, SubmissionResult], isolation: str, layers: list[str] = ()
) -> dict:
    """Write CSV, JSON, feedback and report under ``reports/<assignment>/``; returns their paths."""
    out = paths.reports
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", "score", "max_score", "error", "seconds"])
    for student, r in sorted(results.items()):
        writer.writerow([student, f"{r.score:g}", f"{r.max_score:g}", r.error or "", f"{r.seconds:.3f}"])
    atomic_write(out / "scores.csv", buf.getvalue())
    payload = {
        "assignment": assignment,
        "isolation": isolation,
        "layers": list(layers),
        "submissions": [r.to_dict() for _, r in sorted(results.items())],
    }
    atomic_write(out / "results.json", json.dumps(payload, indent=1))
    for student, r in results.items():
        atomic_write(out / "feedback" / f"{student}.html", student_feedback(assignment, student, r))
    write_report(out, assignment, results, isolation, layers)
    return {
        "scores": out / "scores.csv",
        "results": out / "results.json",
        "feedback": out / "feedback",
        "report": out / "report.html",
    }
