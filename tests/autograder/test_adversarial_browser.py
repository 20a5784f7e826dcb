"""A hostile student's script must never run for an instructor: formgrader and feedback, in a real browser.

One course directory (ps1, an honest and a hostile student) is graded by ``python -m autograder batch``;
nbgrader's formgrader serves it on 127.0.0.1 and ``nbgrader generate_feedback`` writes its feedback.
The hostile notebook carries forged outputs (``text/html`` with ``<script>``, ``application/javascript``,
``<img onerror>``, ``<svg onload>``, ``<iframe srcdoc>``, ``image/svg+xml``, ``text/markdown``), raw
HTML in markdown and raw cells, a ``javascript:`` link, and prints and raises HTML for the batch's
own report. Every payload would set ``window.__pwned``, retitle the page, ``alert()`` and fetch a
URL on the recorder this test serves; Debian's chromium opens each page and none of that may happen.
"""

from __future__ import annotations

import functools
import html
import http.server
import os
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output, new_raw_cell
from playwright.sync_api import Error as PlaywrightError

from autograder.autograded import safe_markdown
from tests.autograder.formgrader_server import Formgrader, formgrader
from tests.support import ROOT, make_submission, released_course, source_notebook

SLOW = pytest.mark.slow  # the batch, formgrader and chromium; the safe_markdown tests are fast


def browser_test(f):
    return pytest.mark.browser(SLOW(f))


ASSIGNMENT = "ps1_bradley_terry"
HOSTILE = "mallory"
SVG = 'xmlns="http://www.w3.org/2000/svg"'
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def payload(recorder_url: str, name: str, win: str = "window") -> str:
    """Script with no spaces (it also fits a ``javascript:`` URL) that leaves every trace we look for."""
    return (
        f"{win}.__pwned=({win}.__pwned||[]).concat(['{name}']);{win}.document.title='PWNED';"
        f"fetch('{recorder_url}/pwned/{name}');{win}.alert('{name}')"
    )


class Recorder:
    """An HTTP server on 127.0.0.1 that serves a folder and records every request to ``/pwned/<name>``."""

    def __init__(self, folder: Path):
        self.hits: list[str] = []
        recorder = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/pwned/"):
                    recorder.hits.append(self.path.removeprefix("/pwned/"))
                    self.send_response(204)
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def js(self, name: str, win: str = "window") -> str:
        return payload(self.url, name, win)

    def wait_for(self, marker: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.hits:
            assert time.monotonic() < deadline, f"the page never fetched /pwned/{marker}"
            time.sleep(0.02)


def hostile_edit(js):
    """``edit=`` for make_submission: forged outputs, raw HTML, hidden-source and widget metadata.

    ``js(name, window="window")`` is the payload script (:meth:`Recorder.js`).
    """

    def html_out(markup: str):
        return new_output("display_data", data={"text/html": markup})

    def edit(nb):
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
        iframe = html.escape(f"<script>{js('output_iframe_srcdoc', 'parent')}</script>")
        cells["bradley_terry_loss"].outputs = [
            html_out(f"<script>{js('output_html_script')}</script>"),
            new_output("display_data", data={"application/javascript": js("output_javascript")}),
            html_out(f'<img src="x" onerror="{js("output_img_onerror")}">'),
            html_out(f'<svg onload="{js("output_svg_onload")}"></svg>'),
            html_out(f'<iframe srcdoc="{iframe}"></iframe>'),
            html_out(f'<a href="javascript:{js("output_link")}">click the output link</a>'),
            new_output("display_data", data={"image/svg+xml": f'<svg {SVG} onload="{js("output_svg_mime")}"/>'}),
            new_output("display_data", data={"text/markdown": f'<img src="x" onerror="{js("output_markdown")}">'}),
        ]
        cells["bradley_terry_loss"].execution_count = 7
        cells["bradley_terry_loss"].metadata["jupyter"] = {"source_hidden": True}
        cells["test_bradley_terry_loss"].outputs = [html_out(f"<script>{js('test_cell_output')}</script>")]
        cells["written_gradient"].source = (
            "The gradient is $\\sigma(\\Delta) - 1$, so it tends to $0$ when $\\Delta > 0$ grows.\n\n"
            f'<img src="x" onerror="{js("markdown_img_onerror")}">\n\n'
            f"<script>{js('markdown_script')}</script>\n\n"
            f'<svg onload="{js("markdown_svg_onload")}"></svg>\n\n'
            f'<iframe srcdoc="{iframe.replace("output", "markdown")}"></iframe>\n\n'
            f"[click me](javascript:{js('markdown_link')};void(0))\n"
        )
        cells["written_gradient"].attachments = {
            "evil.svg": {"image/svg+xml": f'<svg {SVG} onload="{js("attachment")}"/>'}
        }
        raw = new_raw_cell(f'<img src="x" onerror="{js("raw_cell")}">')
        raw.metadata["raw_mimetype"] = "text/html"
        added_md = new_markdown_cell(f'Added cell <img src="x" onerror="{js("added_markdown")}">')
        # run in the sandbox: the batch's report shows captured output and errors, its feedback test messages
        printed = f"<script>{js('printed')}</script>"
        raised = f'<img src="x" onerror="{js("raised")}">'
        noisy = new_code_cell(f"print({printed!r})\nraise ValueError({raised!r})\n")
        nb.cells[4:4] = [raw, added_md, noisy]
        nb.metadata["widgets"] = {
            "application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}
        }

    return edit


def run(*args, cwd) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@dataclass
class Course:
    root: Path
    recorder: Recorder
    formgrader: Formgrader


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """ps1 released, an honest and a hostile submission, batch-graded, nbgrader feedback, formgrader serving it."""
    root = released_course(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    rec = Recorder(root)
    message = f'<img src="x" onerror="{rec.js("test_message")}">'
    hostile = {"loss_vs_gap": f"def loss_vs_gap(gaps):\n    raise ValueError({message!r})\n"}
    for student, answers, edit in [("alice", None, None), (HOSTILE, hostile, hostile_edit(rec.js))]:
        folder = root / "submitted" / student / ASSIGNMENT
        make_submission(ASSIGNMENT, folder / f"{ASSIGNMENT}.ipynb", answers, edit=edit)
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC\n")
    batch = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(root), "--jobs", "2"]
    grading = subprocess.Popen(batch, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with formgrader(root) as fg:  # starts while the batch runs; it reads the gradebook only when asked
            out, _ = grading.communicate(timeout=600)
            assert grading.returncode == 0, f"batch exited {grading.returncode}:\n{out[-3000:]}"
            run(sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, cwd=root)
            yield Course(root, rec, fg)
    finally:
        if grading.poll() is None:
            grading.kill()
            grading.wait()
        rec.server.shutdown()


class Visit:
    """One browser context; every request off 127.0.0.1 is blocked; dialogs and errors are recorded."""

    def __init__(self, browser, rec: Recorder):
        self.rec = rec
        # bypass_csp: our pages' Content-Security-Policy must not be what stops a payload here
        self.context = browser.new_context(viewport={"width": 1280, "height": 1600}, bypass_csp=True)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.traces: list[str | None] = []
        self.bad_links: list[str] = []
        self.errors_on_load: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "file://", "data:", "about:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def settle(self) -> None:
        """Wait until a fetch the page sends now has arrived: the payloads' own fetches were sent before it."""
        marker = f"settled-{time.monotonic_ns()}"
        for _ in range(3):  # a click may have started a navigation that destroys the context
            self.page.wait_for_load_state("load")
            try:
                self.page.evaluate("url => fetch(url)", f"{self.rec.url}/pwned/{marker}")
                break
            except PlaywrightError:
                continue
        self.rec.wait_for(marker)

    def load(self, url: str) -> None:
        """Open ``url`` and note what the payloads left behind, the page's console errors and its link schemes."""
        self.page.goto(url, wait_until="load")
        self.settle()
        self.traces.append(self._traces(url))
        explained = ("net::ERR_FAILED", "MathJax is not defined") if self.blocked else ()  # MathJax is off-site
        self.errors_on_load = [e for e in self.errors if not any(x in e for x in explained)]
        schemes = self.page.eval_on_selector_all("a[href]", "links => links.map(a => a.protocol)")
        self.bad_links += [p for p in schemes if p not in ("http:", "https:", "mailto:")]

    def click(self, text: str) -> None:
        """Click the first link that says ``text`` (it may navigate away) and note what happened."""
        self.page.get_by_text(text).first.click(no_wait_after=True)
        self.settle()
        self.traces.append(self._traces(f"after clicking {text!r}"))

    def _traces(self, where: str) -> str | None:
        pwned = self.page.evaluate("() => window.__pwned || null")
        title = self.page.title()
        return f"{where}: window.__pwned={pwned}, title {title!r}" if pwned or title == "PWNED" else None

    def assert_nothing_ran(self) -> None:
        hits = [h for h in self.rec.hits if not h.startswith("settled-")]
        traces = [t for t in self.traces if t]
        assert not (hits or traces or self.dialogs or self.bad_links), (
            f"student script ran: fetched {hits}; dialogs {self.dialogs}; {traces}; link schemes {self.bad_links}"
        )
        assert not self.errors_on_load, f"console errors: {self.errors_on_load}"

    def close(self):
        self.context.close()


@pytest.fixture
def visit(chromium, course):
    course.recorder.hits.clear()
    v = Visit(chromium, course.recorder)
    yield v
    v.close()


def submission_id(course_dir: Path, student: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        return gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).id


def assert_only_sandbox_text(nb) -> None:
    """No output but the judge's text, no metadata but nbgrader's, no attachments, no live markup."""
    nbformat.validate(nb)
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    for cell in nb.cells:
        assert set(cell.metadata) <= {"nbgrader"}, cell.metadata
        assert "attachments" not in cell and cell.cell_type in ("code", "markdown")
        if cell.cell_type == "code":
            assert cell.execution_count is None
            assert all(o.output_type == "stream" for o in cell.outputs), cell.outputs
            assert not cell.outputs or cell.metadata["nbgrader"]["grade"], "only test cells carry output"
    markdown = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for marker in ("<script", "<img", "<svg", "<iframe", "javascript:"):
        assert marker not in markdown, marker
    assert "widget" not in nbformat.writes(nb)


def test_autograded_notebook_is_rebuilt_from_trusted_parts(tmp_path):
    from autograder.autograded import build_autograded
    from autograder.notebook import source_roles
    from autograder.results import SubmissionResult, TestResult

    source = source_notebook(ASSIGNMENT)
    roles = source_roles(source)

    def edit(nb):
        hostile_edit(functools.partial(payload, "http://127.0.0.1:9"))(nb)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_loss_vs_gap"]
        nb.cells.append(nbformat.from_dict({**nb.cells[0], "id": "dup"}))  # a second "intro": not graded

    path = make_submission(ASSIGNMENT, tmp_path / "nb.ipynb", edit=edit)
    result = SubmissionResult(str(path), 7.0, 8.0, [TestResult("test_a", 2, 2, "passed", cell="test_loss_vs_gap")])
    nb = build_autograded(path, result, source, roles)
    assert_only_sandbox_text(nb)
    assert nbformat.writes(nb) == nbformat.writes(build_autograded(path, result, source, roles)), "deterministic"
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert by_id["intro"].source == roles["intro"]["source"], "read-only text is the instructor's, unescaped"
    assert "The gradient is $\\sigma(\\Delta) - 1$" in by_id["written_gradient"].source
    assert "Hidden tests for this cell: 2 / 2 points" in by_id["test_loss_vs_gap"].outputs[0].text  # restored
    (dup,) = [c for c in nb.cells if c.id == "dup"]
    assert dup.metadata == {} and dup.source == roles["intro"]["source"]
    (raw,) = [c for c in nb.cells if "raw_cell" in c.source]
    assert raw.cell_type == "markdown" and raw.source.startswith("<\u200bimg")
    unreadable = tmp_path / "bad.ipynb"
    unreadable.write_text("{not json")
    fallback = build_autograded(unreadable, result, source, roles)
    assert_only_sandbox_text(fallback)
    assert "def bradley_terry_loss(" not in nbformat.writes(fallback), "no reference answer"


@SLOW
def test_autograded_notebook_keeps_only_sandbox_text(course):
    nb = nbformat.read(course.root / "autograded" / HOSTILE / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert_only_sandbox_text(nb)


@browser_test
def test_formgrader_runs_no_student_script(course, visit, tmp_path):
    fg = course.formgrader
    visit.page.goto(fg.login_url, wait_until="load")
    assert visit.page.url.startswith(f"{fg.url}/formgrader"), f"token login failed: {visit.page.url}"
    visit.load(fg.submission_url(submission_id(course.root, HOSTILE)))
    shot = tmp_path / "formgrader.png"
    visit.page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    body = visit.page.inner_text("body")
    assert "def bradley_terry_loss" in body and "Student's answer" in body, "formgrader did not render the notebook"
    assert "Hidden tests for this cell" in body and "The gradient is" in body
    visit.click("click me")
    visit.assert_nothing_ran()


@browser_test
def test_nbgrader_feedback_runs_no_student_script(course, visit):
    visit.load(f"{course.recorder.url}/feedback/{HOSTILE}/{ASSIGNMENT}/{ASSIGNMENT}.html")
    assert "Hidden tests for this cell" in visit.page.inner_text("body")
    visit.click("click me")
    visit.assert_nothing_ran()


@browser_test
@pytest.mark.parametrize("page", [f"feedback/{HOSTILE}.html", "report.html"])
def test_batch_feedback_and_report_run_no_student_script(course, visit, page):
    visit.load(f"{course.recorder.url}/reports/{ASSIGNMENT}/{page}")
    text = visit.page.text_content("body")
    assert HOSTILE in text
    if page == "report.html":
        assert "onerror" in text and "<script>" in text, "the captured output is shown, as text"
    visit.assert_nothing_ran()


# safe_markdown, fast: what the renderers behind formgrader and feedback (nbconvert's mistune) and
# JupyterLab-like ones (markdown-it) make of neutralised markdown contains no script.
MARKDOWN_TAGS = {"p", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "hr", "br", "del", "img"}
MARKDOWN_TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "div", "span"}
MARKDOWN_TAGS |= {"input", "dl", "dt", "dd"}  # task lists and definition lists (mistune plugins)
HOSTILE_MARKDOWN = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<!-- --><details open ontoggle=alert(1)>",
    "[a](javascript:alert(1)) [b](JaVa\\Script:x) [c](<java\tscript:x>) [d](data:text/html,x) [e]( javascript:x)",
    "[l]\n\n[l]: javascript:alert(1)",
    "[x](&#106;avascript:a) [y](javascript&#58;a) [z](javascript&colon;a) [w](&#x6A;avascript:a) [v](javascript\\:a)",
    "[x](&amp;#106;avascript:a) <javascript:alert(1)>",
    "`` <img src=x onerror=a> `` \\`<img src=x onerror=a>` ```<svg onload=a>",
    "```\n</code></pre><img src=x onerror=a>\n```\n<img src=x onerror=a>",
    "$a<img src=x onerror=a>$ $$</p><script>a()</script>$$ \\(<svg onload=a>\\)",
    "    <img src=x onerror=a>\n\n- <img src=x onerror=a>\n\n> <script>a()</script>",
    "| a | b |\n|---|---|\n| <img src=x onerror=a> | [x](javascript:a) |",
    "<a href='javascript:a'>x</a> <A HREF=JAVASCRIPT:a>y</A> <math><mtext><script>a()</script>",
]
# a random mixture: script URLs and tags, each in a random markdown context, with stray syntax between
SCHEMES = ["javascript:a()", "JaVaScRiPt:a()", "java\tscript:a()", "&#106;avascript:a()", "javascript&#58;a()"]
SCHEMES += [
    "javascript&colon;a()",
    "&amp;#106;avascript:a()",
    "javascript\\:a()",
    " javascript:a()",
    "data:text/html,x",
]
TAGS = [
    "<img src=x onerror=a>",
    "<svg onload=a>",
    "<script>a()</script>",
    "</code><img src=x onerror=a>",
    "<!-- x -->",
]
JUNK = [
    "`",
    "``",
    "$",
    "$$",
    "\\",
    "\n",
    "\n\n",
    "    ",
    "<",
    "&",
    "*",
    "[",
    "]",
    "(",
    ")",
    "\\(",
    "```\n",
    "- ",
    "> ",
    "|",
]
CONTEXTS = ["{}", "[x]({})", "[x](<{}>)", "[l]\n\n[l]: {}", "`{}`", "${}$", "```\n{}\n```", "![x]({})", "<{}>"]


def _mixture(rng: random.Random) -> str:
    parts = [rng.choice(CONTEXTS).format(rng.choice(SCHEMES + TAGS)) for _ in range(rng.randint(1, 3))]
    return "".join(p + "".join(rng.choice(JUNK) for _ in range(rng.randint(0, 3))) for p in parts)


def _renderers():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = [markdown2html_mistune]
    try:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": True}).enable("table")
        md.validateLink = lambda url: True  # judge the links ourselves
        out.append(md.render)
    except ImportError:
        pass
    return out


def _unsafe(rendered: str, tags=MARKDOWN_TAGS, schemes=("http", "https", "mailto")) -> list:
    """Tags, event handlers and URL schemes in ``rendered`` that markdown alone never produces."""
    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in tags:
                found.append(tag)
            for name, value in attrs:
                if name.startswith("on") or name in ("srcdoc", "formaction"):
                    found.append(f"{tag} {name}")
                if name in ("href", "src") and value:
                    url = "".join(ch for ch in value.lstrip("\x00 \t\n\f\r") if ch not in "\t\n\r")
                    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
                    if scheme and scheme.group(1).lower() not in schemes:
                        found.append(f"{tag} {name}={value}")

    Parser().feed(rendered)
    return found


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
def test_safe_markdown_leaves_no_html_or_script_url(text):
    assert _unsafe(markdown2html_mistune(text)), "the payload must be live before neutralising"
    for render in _renderers():
        assert not _unsafe(render(safe_markdown(text))), render


def test_safe_markdown_holds_for_random_mixtures():
    rng = random.Random(12)
    for _ in range(400):
        text = _mixture(rng)
        for render in _renderers():
            assert not _unsafe(render(safe_markdown(text))), (text, render)


def test_safe_markdown_keeps_ordinary_markdown_readable():
    text = (
        "**Bold** and *em*, `x < y && z`, $p(a<b) = \\sigma(\\Delta)$ and [docs](https://pytorch.org).\n\n"
        "- one & two\n- 3 < 4, <div> & &amp;\n\n> quoted\n\n```python\nif a<b:\n    pass\n```\n"
    )
    rendered = markdown2html_mistune(safe_markdown(text))
    assert "<strong>Bold</strong>" in rendered and "<em>em</em>" in rendered and "<blockquote>" in rendered
    assert "<code>x &lt; y &amp;&amp; z</code>" in rendered and '<a href="https://pytorch.org">docs</a>' in rendered
    assert "$p(a&lt;\u200bb) = \\sigma(\\Delta)$" in rendered  # the zero-width space is invisible to MathJax
    assert "<li>3 &lt; 4, &lt;\u200bdiv&gt; &amp; &amp;\u200bamp;</li>" in rendered  # what the student typed
    assert 'if</span> <span class="n">a</span><span class="o">&lt;</span>' in rendered  # code stays code
    unchanged = "plain *text*, [a link](https://x.org), lists, $x^2$, `code` and a < b stay as they are"
    assert safe_markdown(unchanged) == unchanged


def test_safe_markdown_takes_linear_time():
    start = time.perf_counter()
    for text in ("\\[" * 200_000, "`" * 200_000, "<a&b" * 100_000, "j" + " " * 400_000 + "x"):
        safe_markdown(text)
    assert time.perf_counter() - start < 10


REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "table", "tr", "th", "td"}
REPORT_TAGS |= {"span", "img", "details", "summary", "pre", "ul", "li", "a", "code"}


def test_report_and_feedback_escape_every_student_string():
    from autograder.report import instructor_report, student_feedback
    from autograder.results import SubmissionResult, TestResult

    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    test = TestResult(evil, 0.0, 1.0, "failed", output=evil, cell=evil)
    result = SubmissionResult(evil, 0.0, 1.0, [test], error=evil, notes=[evil], student_output=evil, student=evil)
    result.cells = [{"label": evil, "origin": "student", "status": "error", "error": evil}]
    pages = [instructor_report(evil, {evil: result}, evil), student_feedback(evil, evil, result)]
    for page in pages:
        assert not _unsafe(page, REPORT_TAGS, schemes=("data",)), page  # the histogram is a data: image
        assert html.escape(evil) in page and "Content-Security-Policy" in page
