"""formgrader's Autograde button, clicked in a real browser, grades through the sandbox.

Formgrader runs on 127.0.0.1 for a temp course (ps1, the example students ``ada`` and ``fay``, named,
nothing graded yet); Debian's chromium logs in with the token as a browser would, opens "Manage
Submissions" and clicks Autograde on ``fay``, whose notebook writes a marker into the course directory
and prints a hidden grader wherever it runs unsandboxed. The row must show the score batch gives her,
the marker must not exist, the page must log no console errors, and a second click must find the
grader warm (no second cold start in the server).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.autograder.formgrader_server import formgrader
from tests.autograder.test_nbgrader_paths import ASSIGNMENT, EXAMPLES, add_students, grader_first_line
from tests.support import released_course

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STUDENT = "fay"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = released_course(tmp_path_factory.mktemp("button") / "course")
    add_students(course, ["ada", STUDENT])
    return course


def click_autograde(page, row) -> tuple[str, float]:
    """Click the row's Autograde button; return the success dialog's text and the seconds it took."""
    start = time.perf_counter()
    row.locator("td.autograde a").click()
    modal = page.locator("#success-modal, #error-modal")
    modal.wait_for(state="visible", timeout=300_000)
    seconds = time.perf_counter() - start
    text = modal.text_content()  # the log panel is collapsed: inner_text would skip it
    assert page.locator("#success-modal").count(), f"formgrader reported an error:\n{text[-3000:]}"
    modal.locator(".modal-footer button", has_text="OK").click()
    modal.wait_for(state="detached", timeout=10_000)
    return text, seconds


def test_autograde_button_grades_a_hostile_student_in_the_sandbox(course, chromium):
    with formgrader(course) as server:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.login_url, wait_until="load")
        assert page.url.startswith(f"{server.url}/formgrader"), f"token login failed: {page.url}"
        page.goto(f"{server.url}/formgrader/manage_submissions/{ASSIGNMENT}", wait_until="load")
        row = page.locator("#main-table tr", has=page.locator("td.student-id", has_text=STUDENT))
        row.wait_for(timeout=30_000)
        assert row.locator("td.student-name").inner_text() == "Snoop, Fay"
        assert "needs autograding" in row.locator("td.status").inner_text()

        cold_log, cold_s = click_autograde(page, row)
        assert "starting the sandboxed grader" in cold_log and "graded in the sandbox" in cold_log, cold_log
        record = json.loads((course / "reports" / ASSIGNMENT / "records" / f"{STUDENT}.json").read_text())
        assert record["result"]["score"] == 8.0, record["result"]["output"]
        score = row.locator("td.score")
        score.filter(has_text="8 / 10").wait_for(timeout=30_000)  # 8 automatic points of 10; 2 are written
        assert not (course / EXAMPLES.MARKER).exists(), "fay's code wrote into the course directory"
        autograded = (course / "autograded" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
        assert grader_first_line(course) not in autograded

        warm_log, warm_s = click_autograde(page, row)
        assert "graded in the sandbox" in warm_log and "starting the sandboxed grader" not in warm_log, warm_log
        score.filter(has_text="8 / 10").wait_for(timeout=30_000)
        print(f"\nAutograde button: first click {cold_s:.1f} s (cold grader), second {warm_s:.1f} s (warm)")
        assert not errors, f"console errors: {errors}"
        context.close()
