"""The built book in a real browser: Debian's chromium driven by Playwright, network off.

Every page of ``_build/html`` is served from 127.0.0.1; any request to another host is blocked and
recorded. Each page must load without console errors, typeset its math (MathJax, served by the
site itself), load every image, and link only to pages that exist. A screenshot of every page is
saved under ``_build/screenshots/`` for a human to look at.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser, pytest.mark.slow]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
SOURCES = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "references.bib", *sorted((ROOT / "book").glob("*.md"))]


def _stale() -> bool:
    index = HTML / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    return any(p.stat().st_mtime > built for p in SOURCES + list((ROOT / "course_lib").rglob("*.py")))


@pytest.fixture(scope="session")
def site():
    """Build the book if needed (cached execution keeps rebuilds fast), then serve it locally."""
    if _stale():
        done = subprocess.run([str(ROOT / "scripts" / "build_book.sh")], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"the book does not build:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def pages() -> list[str]:
    return sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html") if "_static" not in p.parts)


def visit(browser, site: str, page: str) -> dict:
    """Load one page with every non-local request blocked; return what happened."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors, outside, failed = [], [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("requestfailed", lambda r: failed.append(r.url) if r.url.startswith(site) else None)

    def route(r):
        if r.request.url.startswith(site) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    tab.route("**/*", route)
    response = tab.goto(f"{site}/{page}", wait_until="networkidle")
    if tab.locator("mjx-container").count() or "\\(" in tab.content():
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
        tab.evaluate("() => MathJax.startup.promise")
    info = {
        "status": response.status if response else None,
        "errors": errors,
        "outside": outside,
        "failed": failed,
        "math": tab.locator("mjx-container").count(),
        "text": tab.inner_text("article") if tab.locator("article").count() else tab.inner_text("body"),
        "broken_images": tab.evaluate(
            "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        ),
        "links": tab.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"),
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / (page.replace("/", "__") + ".png")), full_page=False)
    context.close()
    return info


@pytest.fixture(scope="session")
def visited(site, chromium):
    return {page: visit(chromium, site, page) for page in pages()}


def test_every_chapter_is_built(site):
    built = set(pages())
    for md in (ROOT / "book").glob("*.md"):
        assert f"book/{md.stem}.html" in built, f"{md.name} has no page"
    assert "search.html" in built and "genindex.html" in built


def test_no_chapter_failed_to_execute(site):
    failed = sorted(p.relative_to(HTML).as_posix() for p in (HTML / "reports").rglob("*.err.log"))
    assert not failed, f"chapters failed to execute (see the logs, then run scripts/build_book.sh): {failed}"


def test_pages_load_offline_without_errors(visited):
    for page, info in visited.items():
        assert info["status"] == 200, page
        assert not info["outside"], f"{page} tried to reach the network: {info['outside'][:5]}"
        assert not info["failed"], f"{page}: local requests failed: {info['failed'][:5]}"
        assert not info["errors"], f"{page}: console errors {info['errors'][:5]}"


def test_math_is_typeset(visited):
    with_math = [p for p, i in visited.items() if p.startswith("book/") and i["math"]]
    assert len(with_math) >= 10, with_math
    for page, info in visited.items():
        assert "$$" not in info["text"], f"{page} shows raw $$"
        assert "\\begin{" not in info["text"], f"{page} shows raw LaTeX"
        assert not re.search(r"\\\(|\\\[", info["text"]), f"{page} shows untypeset math delimiters"


def test_images_load(visited):
    for page, info in visited.items():
        assert not info["broken_images"], f"{page}: broken images {info['broken_images']}"


def test_chapters_have_figures(chromium, site):
    context = chromium.new_context()
    tab = context.new_page()
    for md in sorted((ROOT / "book").glob("[0-9]*.md")):
        if md.stem.startswith("18"):
            continue
        tab.goto(f"{site}/book/{md.stem}.html")
        assert tab.locator("article img").count() >= 1, f"{md.stem} has no figure"
    context.close()


def test_links_resolve(visited, site):
    checked = set()
    for page, info in visited.items():
        for href in info["links"]:
            url = urllib.parse.urldefrag(href).url
            if not url.startswith(site) or url in checked:
                continue
            checked.add(url)
            try:
                with urllib.request.urlopen(url, timeout=10) as reply:
                    status = reply.status
            except urllib.error.HTTPError as err:
                status = err.code
            assert status == 200, f"{page} links to {url}: HTTP {status} from the local server"
    assert len(checked) >= len(list((ROOT / "book").glob("*.md")))  # every chapter is linked from somewhere


def test_next_and_previous_links(chromium, site):
    context = chromium.new_context()
    tab = context.new_page()
    tab.goto(f"{site}/book/02_bradley_terry.html")
    assert tab.locator("a.left-prev").get_attribute("href").endswith("01_why_reward_models.html")
    assert tab.locator("a.right-next").get_attribute("href").endswith("03_preference_data.html")
    tab.locator("a.right-next").click()
    tab.wait_for_load_state()
    assert tab.url.endswith("03_preference_data.html")
    context.close()


def test_search_finds_bradley(chromium, site):
    context = chromium.new_context()
    tab = context.new_page()
    tab.goto(f"{site}/search.html?q=Bradley", wait_until="networkidle")
    tab.wait_for_selector("#search-results li", timeout=20000)
    results = tab.inner_text("#search-results")
    assert "Bradley" in results or "Bradley–Terry" in results
    context.close()
