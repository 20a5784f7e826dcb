"""What a batch leaves for people: scores CSV, results JSON, per-student feedback, an instructor report.

The report (one HTML file, images inlined so it opens anywhere) shows the isolation in force, the
score histogram, each test's pass rate, the submissions that failed or could not be graded and the
slowest ones. Student feedback shows test names and messages, never hidden test code or inputs,
and never the captured output (that is for the instructor). Every string that reaches a page is
escaped unless this module wrote it (:class:`Html`), and each page carries a Content-Security-Policy
that allows no script at all.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import statistics

from autograder.files import atomic_write
from autograder.results import SubmissionResult

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f3f3f3; } .bad { color: #a00; } .ok { color: #070; } pre { white-space: pre-wrap; background: #f7f7f7; padding: .5em; }
"""


# No script, frame, form or remote load, whatever a page contains: escaping is the first defence, this the second.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


class Html(str):
    """Markup this module wrote itself; every other string put into a page is escaped."""


def _esc(value) -> str:
    return value if isinstance(value, Html) else html.escape(str(value))


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>{_esc(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>{body}</body></html>"
    )


def _histogram_png(scores: list[float], max_score: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(scores, bins=max(5, min(20, len(scores))), range=(0, max_score or 1), color="steelblue", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("submissions")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _table(header: list[str], rows: list[list]) -> str:
    """A table; cells are escaped unless they are :class:`Html`."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def instructor_report(
    assignment: str, results: dict[str, SubmissionResult], isolation: str, layers: list[str] = ()
) -> str:
    rs = sorted(results.items())
    max_score = max((r.max_score for _, r in rs), default=0.0)
    scores = [r.score for _, r in rs]
    parts = [
        f"<p><b>{len(rs)}</b> submissions; isolation in force: <b>{_esc(isolation)}</b>"
        + (
            f"; mean score {statistics.mean(scores):.2f} / {max_score:g}, median {statistics.median(scores):g}"
            if rs
            else ""
        )
        + "</p>"
    ]
    parts.append(
        '<p><a href="similarity.html">Similarity across submissions</a> (after <code>batch --similarity</code> or <code>python -m autograder similarity</code>)</p>'
    )
    if layers:  # what isolated every sandbox; a missing layer is named, in capitals
        items = "".join(f"<li>{_esc(layer)}</li>" for layer in layers)
        parts.append(
            f"<details><summary>Isolation layers in force ({len(layers)})</summary><ul>{items}</ul></details>"
        )
    if rs:
        parts.append(
            f'<h2>Scores</h2><img alt="score histogram" src="data:image/png;base64,{_histogram_png(scores, max_score)}">'
        )
    names = [t.name for t in rs[0][1].tests] if rs else []
    rows = []
    for name in names:
        outcomes = [next((t for t in r.tests if t.name == name), None) for _, r in rs]
        passed = sum(1 for t in outcomes if t and t.status == "passed")
        cell = next((t.cell for t in outcomes if t), "")
        pts = next((t.max_score for t in outcomes if t), 0.0)
        rows.append([name, cell, f"{pts:g}", f"{passed}/{len(rs)} ({passed / len(rs):.0%})"])
    parts.append("<h2>Tests</h2>" + _table(["test", "cell", "points", "passed"], rows))
    failing = [(s, r) for s, r in rs if r.error or r.score < r.max_score]
    rows = [
        [
            s,
            f"{r.score:g}/{r.max_score:g}",
            (r.error or ", ".join(t.name for t in r.tests if t.status != "passed"))[:400],
            "; ".join(r.notes)[:600],
        ]
        for s, r in failing
    ]
    parts.append(
        f"<h2>Failing or ungraded ({len(failing)})</h2>" + _table(["student", "score", "problem", "notes"], rows)
    )
    slow = sorted(rs, key=lambda x: -x[1].seconds)[:10]
    rows = [[s, f"{r.seconds:.2f} s", f"{r.score:g}/{r.max_score:g}"] for s, r in slow]
    parts.append("<h2>Slowest</h2>" + _table(["student", "grading time", "score"], rows))
    details = []
    for s, r in rs:
        errors = [c for c in r.cells if c.get("status") == "error"]
        if errors or r.student_output.strip():
            cell_text = "".join(
                f"<p>cell {_esc(c.get('label', ''))}:</p><pre>{_esc(c.get('error', ''))}</pre>" for c in errors
            )
            out = (
                f"<p>output (capped):</p><pre>{_esc(r.student_output[:4000])}</pre>"
                if r.student_output.strip()
                else ""
            )
            details.append(f"<details><summary>{_esc(s)}</summary>{cell_text}{out}</details>")
    if details:
        parts.append("<h2>Cell errors and captured output</h2>" + "".join(details))
    return _page(f"Autograder report: {assignment}", "".join(parts))


def student_feedback(assignment: str, student: str, r: SubmissionResult) -> str:
    rows = [
        [
            t.name,
            f"{t.score:g}/{t.max_score:g}",
            Html('<span class="ok">passed</span>' if t.status == "passed" else '<span class="bad">failed</span>'),
            t.output,
        ]
        for t in r.tests
    ]
    head = f"<p>Autograded score: <b>{r.score:g} / {r.max_score:g}</b> (written answers are graded by hand).</p>"
    if r.error:
        head += f'<p class="bad">Your notebook could not be graded: {_esc(r.error)}</p>'
    return _page(f"{assignment}: feedback for {student}", head + _table(["test", "points", "result", "message"], rows))


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
    atomic_write(out / "report.html", instructor_report(assignment, results, isolation, layers))
    return {
        "scores": out / "scores.csv",
        "results": out / "results.json",
        "feedback": out / "feedback",
        "report": out / "report.html",
    }
