"""The instructor report's maths and page, fast: item analysis, histogram, links, similarity, CSV exports.

No sandbox here: results are built by hand. The batch's own report is checked in a real browser by
test_report_browser.py.
"""

from __future__ import annotations

import csv
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.report import refresh_report, student_feedback, write_report
from autograder.report_html import histogram_figure
from autograder.report_items import (
    MIN_DISCRIMINATION,
    analyse,
    flags_for,
    grid_step,
    histogram_edges,
    point_biserial,
    shown,
)
from autograder.report_page import instructor_report
from autograder.results import SubmissionResult
from autograder.results import TestResult as Check  # not "Test*": pytest would try to collect it

ASSIGNMENT = "ps1"


def result(student: str, passed: dict[str, bool], error: str | None = None, **kw) -> SubmissionResult:
    """A submission: ``passed`` test name -> whether it passed. t1 and t2 count 1 point each toward q1,
    t3 2 points and t4 1 point toward q2; q1's test cell is cell 4 of the notebook, q2's cell 9."""
    points = {"t1": (1.0, "q1"), "t2": (1.0, "q1"), "t3": (2.0, "q2"), "t4": (1.0, "q2")}
    tests = [
        Check(
            n,
            points[n][0] if ok and not error else 0.0,
            points[n][0],
            "passed" if ok and not error else "failed",
            "",
            points[n][1],
        )
        for n, ok in passed.items()
    ]
    top = sum(t.max_score for t in tests)
    r = SubmissionResult(
        f"{student}.ipynb", sum(t.score for t in tests), top, tests, error=error, student=student, **kw
    )
    if not error:
        r.positions = {"q1": 4, "q2": 9}
    return r


# -- the maths ---------------------------------------------------------------------------------------


def test_point_biserial_on_a_hand_computed_example():
    # x = 1 1 0 0, y = 3 2 1 0: cov = 2, sxx = 1, syy = 5, r = 2 / sqrt(5)
    assert point_biserial([1, 1, 0, 0], [3, 2, 1, 0]) == pytest.approx(2 / math.sqrt(5))
    # the point-biserial formula (M1 - M0) / sd * sqrt(p q), sd over all: same number
    m1, m0, sd = 2.5, 0.5, math.sqrt(5 / 4)
    assert point_biserial([1, 1, 0, 0], [3, 2, 1, 0]) == pytest.approx((m1 - m0) / sd * math.sqrt(0.25))
    assert point_biserial([0, 0, 1, 1], [3, 2, 1, 0]) == pytest.approx(-2 / math.sqrt(5))  # the stronger fail it


@pytest.mark.parametrize(
    "passed, rest",
    [([1, 1, 1], [0, 1, 2]), ([0, 0, 0, 0], [3, 1, 2, 0]), ([1, 0, 1], [2, 2, 2]), ([1], [3]), ([], [])],
)
def test_point_biserial_is_none_when_nothing_varies(passed, rest):
    assert point_biserial(passed, rest) is None


def test_point_biserial_names_mismatched_input():
    with pytest.raises(ValueError, match="3 passed values, 2 rest scores"):
        point_biserial([1, 0, 1], [1, 2])


def test_difficulty_and_discrimination_over_graded_submissions():
    results = {
        "a": result("a", {"t1": True, "t2": True, "t3": True}),
        "b": result("b", {"t1": True, "t2": True, "t3": False}),
        "c": result("c", {"t1": True, "t2": False, "t3": False}),
        "d": result("d", {"t1": False, "t2": False, "t3": True}),
        "e": result("e", {"t1": False, "t2": False, "t3": False}),
        "x": result("x", {"t1": True, "t2": True, "t3": True}, error="not valid JSON"),  # left out
    }
    items = analyse(results)
    assert (items.graded, items.ungraded) == (5, 1)
    t1, t2, t3 = items.tests
    assert (t1.n, t1.passed, t1.difficulty) == (5, 3, 0.6)
    assert t2.difficulty == 0.4 and t3.difficulty == 0.4
    # t1's rest (total minus t1's points): a 3, b 1, c 0, d 2, e 0; passing 1 1 1 0 0
    assert t1.discrimination == pytest.approx(point_biserial([1, 1, 1, 0, 0], [3, 1, 0, 2, 0]))
    assert not any(t.flags for t in items.tests)
    q1, q2 = items.questions
    assert (q1.cell, q1.name, q1.points, q1.n, q1.full, q1.zero) == ("q1", "cell 4 (q1)", 2.0, 5, 2, 2)
    assert q1.distribution == ((0.0, 2), (1.0, 1), (2.0, 2)) and q1.mean == pytest.approx(1.0)
    assert q2.name == "cell 9 (q2)" and (q2.full, q2.zero) == (2, 3)


def test_flags_a_test_nobody_passes_and_one_the_stronger_fail():
    plan = {  # t2: nobody passes; t1: passed by two of the weakest only (negative discrimination)
        "a": (False, True, True),
        "b": (False, True, True),
        "c": (False, True, True),
        "d": (True, False, False),
        "e": (True, False, True),
        "f": (False, False, False),
    }
    results = {s: result(s, {"t1": t1, "t2": False, "t3": t3, "t4": t4}) for s, (t1, t3, t4) in plan.items()}
    t1, t2, t3, t4 = analyse(results).tests
    assert t1.discrimination < 0 and any("stronger submissions fail it more often" in f for f in t1.flags)
    assert t2.discrimination is None
    assert t2.flags == ("no graded submission passes it: check the test and the reference solution",)
    assert shown(t3.discrimination) == "+0.00" and t3.flags == ()  # unrelated to the rest: no flag
    assert t4.discrimination > 0.5 and t4.flags == ()


def test_flag_rules_at_their_edges():
    assert flags_for(1, 0, None) == ()  # one submission failing a test says nothing
    assert flags_for(6, 1, -0.004) == ()  # shown as +0.00: not negative
    assert flags_for(6, 1, -0.005) != ()  # shown as -0.01
    assert shown(-0.005) == "-0.01" and shown(1e-17) == "+0.00" and shown(None) == "n/a"


def test_too_few_students_or_no_variance_say_n_a_never_nan():
    few = {s: result(s, {"t1": s == "a", "t2": True, "t3": s != "a"}) for s in "abcd"[: MIN_DISCRIMINATION - 1]}
    items = analyse(few)
    assert all(t.discrimination is None for t in items.tests)
    page = instructor_report(ASSIGNMENT, few, "namespaces")
    assert "n/a" in page and not re.search(r"\bnan\b", page, re.I)
    everybody = {s: result(s, {"t1": True, "t2": True, "t3": True}) for s in "abcdef"}
    assert all(t.discrimination is None and t.difficulty == 1.0 for t in analyse(everybody).tests)


def test_empty_results_make_a_page_not_a_crash(tmp_path):
    items = analyse({})
    assert (items.graded, items.ungraded, items.questions, items.tests) == (0, 0, [], [])
    page = instructor_report(ASSIGNMENT, {}, "namespaces")
    assert "<b>0</b> submissions" in page and "nan" not in page.lower()
    write_report(tmp_path, ASSIGNMENT, {}, "namespaces")
    assert (tmp_path / "report_tests.csv").read_text().splitlines() == [
        "test,question,points,graded,passed,difficulty,discrimination,flags"
    ]


def test_only_ungraded_submissions():
    bad = {"a": result("a", {"t1": False, "t2": False, "t3": False}, error="not a notebook")}
    items = analyse(bad)
    assert items.graded == 0 and all(t.difficulty is None and t.flags == () for t in items.tests)
    assert "could not be graded: a" in instructor_report(ASSIGNMENT, bad, "namespaces")


# -- the histogram ----------------------------------------------------------------------------------


def test_grid_and_bins_are_the_possible_scores():
    assert (
        grid_step([0.5, 0.25, 1, 2.75]) == 0.25
        and grid_step([1, 2, 4]) == 1
        and grid_step([1 / 3, 1]) == pytest.approx(1 / 3)
    )
    edges = histogram_edges(4, 0.5)
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    assert centres == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]
    many = histogram_edges(100, 0.5)  # 201 possible scores: runs of 6, at most 40 bars, edges between scores
    assert len(many) - 1 <= 40 and all(((e / 0.5) - 0.5) % 1 == 0 for e in many)
    with pytest.raises(ValueError, match="positive, got 0"):
        histogram_edges(4, 0)


def test_histogram_counts_whole_submissions_and_marks_mean_and_median():
    import matplotlib.pyplot as plt

    scores = [0, 2.5, 2.5, 3, 4]
    fig = histogram_figure(scores, 4, 0.5)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    bars = {round(p.get_x() + p.get_width() / 2, 6): p.get_height() for p in ax.patches}
    assert bars[2.5] == 2 and bars[0] == 1 and bars[3.5] == 0 and set(bars) == {x / 2 for x in range(9)}
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["mean 2.40", "median 2.5", "submissions"] or set(labels) == {
        "mean 2.40",
        "median 2.5",
        "submissions",
    }
    plt.close(fig)


# -- the page: links, similarity, exports ------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [v for k, v in attrs if k == "href"]


def hrefs(page: str) -> list[str]:
    parser = Links()
    parser.feed(page)
    return parser.hrefs


def course_with_outputs(tmp_path: Path, results: dict[str, SubmissionResult]) -> Path:
    """reports/ps1/ with feedback for each student and autograded notebooks for all but the last."""
    out = tmp_path / "reports" / ASSIGNMENT
    for s in list(results)[:-1]:
        nb = tmp_path / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        nb.parent.mkdir(parents=True)
        nb.write_text("{}")
    for s, r in results.items():
        (out / "feedback").mkdir(parents=True, exist_ok=True)
        (out / "feedback" / f"{s}.html").write_text(student_feedback(ASSIGNMENT, s, r))
    payload = {
        "assignment": ASSIGNMENT,
        "isolation": "namespaces",
        "layers": ["x"],
        "submissions": [r.to_dict() for r in results.values()],
    }
    (out / "results.json").write_text(json.dumps(payload))
    return out


STUDENTS = {
    "ada": result("ada", {"t1": True, "t2": True, "t3": True}),
    "b c#d%": result("b c#d%", {"t1": True, "t2": False, "t3": False}),  # a folder name that needs quoting
    "eve": result("eve", {"t1": False, "t2": False, "t3": False}),
}


def test_every_link_of_the_page_answers_and_the_folder_can_move(tmp_path):
    from urllib.parse import unquote

    out = course_with_outputs(tmp_path / "a", STUDENTS)
    write_report(out, ASSIGNMENT, STUDENTS, "namespaces")
    moved = tmp_path / "elsewhere"
    (tmp_path / "a").rename(moved)
    folder = moved / "reports" / ASSIGNMENT
    links = hrefs((folder / "report.html").read_text())
    assert links and "similarity.html" not in links, "no similarity run: no link to it"
    for link in links:
        assert not re.match(r"[a-z]+:", link) and not link.startswith("/"), f"not relative: {link}"
        assert (folder / unquote(link)).is_file(), f"{link} answers nothing"
    assert "feedback/b%20c%23d%25.html" in links and "../../autograded/ada/ps1/ps1.ipynb" in links
    assert "../../autograded/eve/ps1/ps1.ipynb" not in links, "eve has no autograded notebook here"
    assert {"report_students.csv", "report_questions.csv", "report_tests.csv"} <= set(links)


def test_similarity_top_pairs_and_link_only_when_run(tmp_path):
    out = course_with_outputs(tmp_path, STUDENTS)
    pairs = [{"a": "ada", "b": f"s{i}", "score": 1 - i / 20, "flagged": i < 3, "cells": ["q1"]} for i in range(12)]
    (out / "similarity.json").write_text(json.dumps({"pairs": pairs}))
    page = instructor_report(ASSIGNMENT, STUDENTS, "namespaces", folder=out)
    assert "12 pairs compared, <b>3</b> flagged" in page and "s9" in page and "s10" not in page  # the top 10
    assert "3 pair(s) of submissions flagged as similar" in page
    assert 'href="similarity.html"' not in page and 'href="similarity.json"' in page
    (out / "similarity.html").write_text("<p>pairs</p>")
    assert refresh_report(out) == out / "report.html"  # what a similarity run does once it has written its pages
    assert 'href="similarity.html"' in (out / "report.html").read_text()
    (out / "similarity.json").write_text("{not json")
    assert "similarity.json could not be read" in instructor_report(ASSIGNMENT, STUDENTS, "namespaces", folder=out)


def test_refresh_without_a_batch_writes_nothing(tmp_path):
    assert refresh_report(tmp_path) is None and not list(tmp_path.iterdir())


def test_csv_exports_hold_what_the_page_shows(tmp_path):
    out = course_with_outputs(tmp_path, STUDENTS)
    STUDENTS["eve"].notes = ["=HYPERLINK(1)"]  # a note a spreadsheet would run
    try:
        write_report(out, ASSIGNMENT, STUDENTS, "namespaces")
    finally:
        STUDENTS["eve"].notes = []
    page = (out / "report.html").read_text()
    students = list(csv.DictReader((out / "report_students.csv").open()))
    assert [r["student"] for r in students] == ["ada", "b c#d%", "eve"]
    assert (
        students[1]["score"] == "1" and students[1]["tests_failed"] == "2" and students[2]["notes"] == "'=HYPERLINK(1)"
    )
    assert students[0]["feedback"] == "feedback/ada.html" and students[2]["notebook"] == ""
    questions = {r["question"]: r for r in csv.DictReader((out / "report_questions.csv").open())}
    assert questions["q1"]["cell"] == "cell 4 (q1)" and questions["q1"]["distribution"] == "0:1 1:1 2:1"
    tests = {r["test"]: r for r in csv.DictReader((out / "report_tests.csv").open())}
    assert tests["t1"]["passed"] == "2" and tests["t1"]["discrimination"] == "n/a"  # 3 students: too few
    for row in [*questions.values(), *tests.values()]:
        assert row.get("cell", row.get("question")) and (row.get("cell") or "") in page


def test_flagged_tests_come_first_on_the_page():
    results = {s: result(s, {"t1": True, "t2": False, "t3": s in "ab"}) for s in "abcde"}
    page = instructor_report(ASSIGNMENT, results, "namespaces")
    check = page.index("<h2>Check first</h2>")
    assert page.index("test <b>t2</b> of cell 4 (q1): no graded submission passes it", check) < page.index(
        "<h2>Scores"
    )
    assert '<tr class="flag"><td>t2</td>' in page


def test_feedback_names_cells_as_the_report_does():
    r = result("ada", {"t1": True, "t2": True, "t3": False})
    r.cells = [
        {
            "label": "cell 8 (answer_q2)",
            "origin": "student",
            "status": "skipped",
            "error": "it ran past its time limit (30 s)",
        }
    ]
    page = student_feedback(ASSIGNMENT, "ada", r)
    assert "<td>cell 4 (q1)</td>" in page and "<td>cell 9 (q2)</td>" in page
    assert "cell 8 (answer_q2) was not run to the end: it ran past its time limit (30 s)" in page


def test_a_student_id_cannot_break_out_of_a_link(tmp_path):
    evil = 'x" onmouseover="alert(1)<b>'  # a folder name may hold quotes and angle brackets
    results = {evil: result(evil, {"t1": True}), "zz": result("zz", {"t1": False})}
    out = course_with_outputs(tmp_path, results)
    page = instructor_report(ASSIGNMENT, results, "namespaces", folder=out)
    attributes = []

    class Attrs(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes.extend((tag, k) for k, _ in attrs)

    Attrs().feed(page)
    assert ("a", "onmouseover") not in attributes and not any(k.startswith("on") for _, k in attributes)
    assert "feedback/x%22%20onmouseover%3D%22alert%281%29%3Cb%3E.html" in hrefs(page)
    assert "<b>" not in page.replace("<b>0</b>", "").split("<h2>Students")[1].split("</table>")[0]
