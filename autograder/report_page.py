"""The instructor's page of a batch, ``reports/<assignment>/report.html``: what to look at first, then the detail.

Top down: what needs a look (tests that look like grader problems, submissions that could not be
graded, pairs that look copied), the score histogram, each question's pass rate and distribution of
points, each test's item analysis (:mod:`autograder.report_items`), the top pairs of the similarity
report once it has run, every student with links to their feedback and autograded notebook, the
slowest submissions, the isolation in force, and the cells that failed and the output captured. Links
are relative and only to files that exist (:func:`autograder.report_html.link`); every string from a
submission is escaped.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from autograder.report_html import Html, esc, histogram_png, href, link, page, share_bar, table
from autograder.report_items import MIN_DISCRIMINATION, Analysis, analyse, grid_step, histogram_edges, shown
from autograder.results import SubmissionResult

SIMILARITY_TOP = 10  # pairs of similarity.json shown
CSV_FILES = {"students": "report_students.csv", "questions": "report_questions.csv", "tests": "report_tests.csv"}


def _pct(k: int, n: int) -> str:
    return f"{k}/{n}\u00a0({k / n:.0%})" if n else "n/a"  # no break inside


def cell_text(c: dict) -> str:
    label = str(c.get("label", ""))
    return label if label.startswith(("cell", "restored")) else f"cell {label}"  # records of older batches


def student_rows(assignment: str, results: dict[str, SubmissionResult], folder: Path | None) -> list[list]:
    """One row per student: id, score, failed tests, seconds, problem, notes, feedback and notebook links.

    A link is a path relative to ``folder`` (the report's), or "" where that file does not exist.
    """
    rows = []
    for s, r in sorted(results.items()):
        failed = [t.name for t in r.tests if t.status != "passed"]
        links = [("feedback", f"{s}.html"), ("..", "..", "autograded", s, assignment, f"{assignment}.ipynb")]
        paths = ["/".join(p) if folder is not None and folder.joinpath(*p).is_file() else "" for p in links]
        problem = r.error or (f"failed: {', '.join(failed)}" if failed else "")
        rows.append([s, r.score, r.max_score, len(failed), r.seconds, problem, "; ".join(r.notes), *paths])
    return rows


def _similarity(folder: Path | None) -> tuple[str, int]:
    """The similarity section (top pairs of similarity.json, a link to similarity.html) and its flagged pairs."""
    if folder is None or not (folder / "similarity.json").is_file():
        return "", 0
    try:
        data = json.loads((folder / "similarity.json").read_text())
        pairs = [
            (str(p["a"]), str(p["b"]), float(p["score"]), bool(p["flagged"]), p.get("cells", []))
            for p in data["pairs"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return (
            f'<h2>Similarity</h2><p class="bad">similarity.json could not be read ({esc(err)}); run the similarity command again.</p>',
            0,
        )
    rows = [
        [
            a,
            b,
            Html(f'<b class="bad">{score:.2f}</b>') if f else f"{score:.2f}",
            "flagged" if f else "",
            ", ".join(map(str, cells)),
        ]
        for a, b, score, f, cells in pairs[:SIMILARITY_TOP]
    ]
    flagged = sum(1 for p in pairs if p[3])
    full = link(folder, "the similarity report", "similarity.html")
    head = (
        f"<h2>Similarity</h2><p>{len(pairs)} pairs compared, <b>{flagged}</b> flagged (a reason to read them, not a finding); "
        f"the top {min(SIMILARITY_TOP, len(pairs))} as of the last <code>similarity</code> run"
        + (f"; all of them side by side in {esc(full)}" if full else "")
        + f" ({link(folder, 'every pair as JSON', 'similarity.json')}).</p>"
    )
    return head + table(["student", "student", "score", "", "cells"], rows), flagged


def instructor_report(
    assignment: str,
    results: dict[str, SubmissionResult],
    isolation: str,
    layers: list[str] = (),
    folder: Path | None = None,
) -> str:
    """The instructor's page; ``folder`` (where it is written) to link the files next to it that exist."""
    rs = sorted(results.items())
    items = analyse(results)
    max_score = max((r.max_score for _, r in rs), default=0.0)
    scores = [r.score for _, r in rs]
    similarity, copied = _similarity(folder)
    exports = " · ".join(x for x in (link(folder, name, name) for name in CSV_FILES.values()) if x)
    parts = [
        f"<p><b>{len(rs)}</b> submissions ({items.graded} graded, {items.ungraded} could not be graded)"
        + (
            f"; mean score {statistics.mean(scores):.2f} / {max_score:g}, median {statistics.median(scores):g}"
            if rs
            else ""
        )
        + f"; isolation in force: <b>{esc(isolation)}</b>.</p>"
        + (f"<p>As CSV: {exports}</p>" if exports else "")
    ]
    parts.append(_checks(items, rs, copied))
    if rs:
        step = grid_step([t.max_score for _, r in rs for t in r.tests] + scores + [max_score])
        edges = histogram_edges(max_score, step)
        parts.append(
            f'<h2>Scores</h2><img alt="score histogram" src="data:image/png;base64,{histogram_png(scores, max_score, step)}">'
            f"<p>Scores are multiples of {step:g}; each bar counts the submissions within {(edges[1] - edges[0]) / 2:g} of its centre.</p>"
        )
    parts.append(_questions(items))
    parts.append(_tests(items))
    parts.append(similarity)
    rows, row_class = [], []
    for s, score, top, failed, seconds, problem, notes, feedback, notebook in student_rows(
        assignment, results, folder
    ):
        fb = Html(f'<a href="{esc(_quote(feedback))}">feedback</a>') if feedback else ""
        nb = Html(f'<a href="{esc(_quote(notebook))}">notebook</a>') if notebook else ""
        rows.append(
            [s, f"{score:g}/{top:g}", failed, f"{seconds:.2f} s", _cap(problem, 300), _cap(notes, 600), fb, nb]
        )
        row_class.append("flag" if results[s].error else "")
    header = ["student", "score", "tests failed", "grading time", "problem", "notes", "feedback", "autograded"]
    parts.append(f"<h2>Students ({len(rs)})</h2>" + table(header, rows, row_class))
    slow = sorted(rs, key=lambda x: -x[1].seconds)[:10]
    rows = [[s, f"{r.seconds:.2f} s", f"{r.score:g}/{r.max_score:g}"] for s, r in slow]
    parts.append("<h2>Slowest</h2>" + table(["student", "grading time", "score"], rows))
    if layers:  # what isolated every sandbox; a missing layer is named, in capitals
        entries = "".join(f"<li>{esc(layer)}</li>" for layer in layers)
        parts.append(
            f"<details><summary>Isolation layers in force ({len(layers)})</summary><ul>{entries}</ul></details>"
        )
    parts.append(_details(rs))
    return page(f"Autograder report: {assignment}", "".join(parts))


def _cap(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _quote(path: str) -> str:
    return href(*path.split("/"))


def _checks(items: Analysis, rs, copied: int) -> str:
    """What needs a look first: tests that look wrong, submissions not graded, pairs that look copied."""
    question = {q.cell: q.name for q in items.questions}
    lines = [
        f"test <b>{esc(t.name)}</b> of {esc(question.get(t.cell, t.cell))}: {esc('; '.join(t.flags))}"
        for t in items.tests
        if t.flags
    ]
    ungraded = [s for s, r in rs if r.error]
    if ungraded:
        lines.append(f"{len(ungraded)} submission(s) could not be graded: {esc(', '.join(ungraded))} (see Students)")
    if copied:
        lines.append(f"{copied} pair(s) of submissions flagged as similar (see Similarity)")
    if not lines:
        return '<h2>Check first</h2><p class="ok">Nothing: no test looks wrong, every submission was graded.</p>'
    return "<h2>Check first</h2><ul>" + "".join(f'<li class="bad">{x}</li>' for x in lines) + "</ul>"


def _questions(items: Analysis) -> str:
    rows = []
    for q in items.questions:
        spread = ", ".join(f"{score:g} pts × {k}" for score, k in q.distribution)
        mean = "n/a" if q.mean is None else f"{q.mean:.2f}"
        rows.append(
            [
                q.name,
                f"{q.points:g}",
                Html(f"{share_bar(q.full, q.n - q.full - q.zero, q.zero)} {esc(_pct(q.full, q.n))}"),
                _pct(q.zero, q.n),
                mean,
                spread,
            ]
        )
    head = f"<h2>Questions</h2><p>A question is a graded cell; over the {items.graded} graded submissions.</p>"
    return head + table(["question", "points", "all points", "no points", "mean", "points × submissions"], rows)


def _tests(items: Analysis) -> str:
    question = {q.cell: q.name for q in items.questions}
    rows = [
        [
            t.name,
            question.get(t.cell, t.cell),
            f"{t.points:g}",
            _pct(t.passed, t.n),
            "n/a" if t.difficulty is None else f"{t.difficulty:.2f}",
            shown(t.discrimination),
            "; ".join(t.flags),
        ]
        for t in items.tests
    ]
    head = (
        "<h2>Tests</h2><p>Difficulty: the share of graded submissions that pass. Discrimination: the correlation "
        "between passing and the rest of the score (point-biserial; below 0, stronger students fail it more often; "
        f"n/a with fewer than {MIN_DISCRIMINATION} graded submissions or when nothing varies).</p>"
    )
    header = ["test", "question", "points", "passed", "difficulty", "discrimination", "check"]
    return head + table(header, rows, ["flag" if t.flags else "" for t in items.tests])


def _details(rs) -> str:
    details = []
    for s, r in rs:
        trouble = [c for c in r.cells if c.get("status") in ("error", "skipped")]
        if trouble or r.student_output.strip():
            cells = "".join(
                f"<p>{esc(cell_text(c))} ({esc(c.get('status'))}):</p><pre>{esc(c.get('error', ''))}</pre>"
                for c in trouble
            )
            out = (
                f"<p>output (capped):</p><pre>{esc(r.student_output[:4000])}</pre>" if r.student_output.strip() else ""
            )
            details.append(f"<details><summary>{esc(s)}</summary>{cells}{out}</details>")
    return "<h2>Cell errors and captured output</h2>" + "".join(details) if details else ""
