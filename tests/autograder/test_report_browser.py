"""The batch's instructor report in a real browser: Debian's chromium, opened from disk, network off.

A small course (ps1: a complete, a buggy, an empty, a copied and a partly solved submission, and one
that is not a notebook) is graded by ``python -m autograder batch --similarity``. Chromium opens
``reports/ps1_bradley_terry/report.html`` as a file: no console error, no request that is not a
``file:`` or ``data:`` URL, the histogram drawn, every link naming a file that exists (and every HTML
page it links opening as cleanly). A screenshot is saved under ``_build/screenshots/``, with the
book's, for a human to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from tests.support import ROOT, make_submission, released_course

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ASSIGNMENT = "ps1_bradley_terry"
SHOTS = ROOT / "_build" / "screenshots"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
UNSTABLE = {  # fine for small gaps, inf for large ones
    "bradley_terry_loss": "def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction='mean'):\n"
    "    d = torch.as_tensor(reward_chosen) - torch.as_tensor(reward_rejected) - margin\n"
    "    loss = -torch.log(torch.sigmoid(d))\n"
    "    return {'mean': loss.mean(), 'sum': loss.sum(), 'none': loss}[reduction]\n"
}
NOTHING = {
    "bradley_terry_loss": "def bradley_terry_loss(*a, **k):\n    raise NotImplementedError()\n",
    "preference_metrics": "def preference_probability(*a, **k):\n    return None\n\n"
    "def pairwise_accuracy(*a, **k):\n    return 0.5\n",
    "loss_vs_gap": "def loss_vs_gap(gaps):\n    raise NotImplementedError()\n",
}
PARTLY = {"loss_vs_gap": NOTHING["loss_vs_gap"]}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = released_course(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    for student, answers in {"ada": None, "ben": UNSTABLE, "cy": NOTHING, "dan": None, "eve": PARTLY}.items():
        make_submission(ASSIGNMENT, root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", answers)
    broken = root / "submitted" / "zed" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not a notebook")
    cmd = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(root), "--jobs", "2"]
    proc = subprocess.run([*cmd, "--similarity"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"batch exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return root / "reports" / ASSIGNMENT / "report.html"


class Tab:
    """One page with every request that is not ``file:`` or ``data:`` aborted and recorded, and its errors."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else self.outside.append(r.url))
        self.context.route("**/*", self._route)

    def _route(self, route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="load")
        assert not self.errors, f"console errors on {url}: {self.errors}"
        assert not self.outside, f"{url} asked for {self.outside}"


def test_the_report_opens_cleanly_and_every_link_answers(chromium, report):
    tab = Tab(chromium)
    try:
        tab.open(report.as_uri())
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.page.screenshot(path=str(SHOTS / "autograder_report.png"), full_page=True)
        body = tab.page.inner_text("body")
        for heading in ("Check first", "Scores", "Questions", "Tests", "Similarity", "Students (6)", "Slowest"):
            assert heading in body, heading
        assert "1 submission(s) could not be graded: zed" in body and "nan" not in body.lower()
        assert "cell 5 (test_bradley_terry_loss)" in body, "questions are named as the notebook has them"
        assert "ada" in body and "dan" in body and "flagged" in body, "the copied pair is in the similarity table"
        drawn = tab.page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
        assert drawn == [True], "the histogram is drawn"
        links = tab.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        assert len([u for u in links if "/feedback/" in u]) == 6, "a feedback page for everyone"
        assert len([u for u in links if u.endswith(".ipynb")]) == 6, "an autograded notebook for everyone"
        assert any(u.endswith("/similarity.html") for u in links) and any(u.endswith(".csv") for u in links)
        for url in links:
            parsed = urlparse(url)
            assert parsed.scheme == "file", f"a link off the disk: {url}"
            assert Path(url2pathname(parsed.path)).is_file(), f"{url} answers nothing"
        for url in sorted({u for u in links if u.endswith(".html")}):
            tab.open(url)  # feedback pages and the similarity report open as cleanly
    finally:
        tab.context.close()
