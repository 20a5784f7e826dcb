"""The pieces of the batch's pages: escaping, tables, relative links and the score histogram.

Every string put into a page is escaped unless this package wrote it (:class:`Html`); each page
carries a Content-Security-Policy that allows no script, frame, form or remote load; images are
``data:`` URIs. Links are relative to the page and name only files that exist when it is written,
so a ``reports/`` folder moved with its course still works and no link leads nowhere.

>>> table(["student"], [["<b>"]])
'<table><tr><th>student</th></tr><tr><td>&lt;b&gt;</td></tr></table>'
>>> href("..", "autograded", "a b?", "ps1.ipynb")
'../autograded/a%20b%3F/ps1.ipynb'
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from pathlib import Path
from urllib.parse import quote

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 76em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f3f3f3; } .bad { color: #a00; } .ok { color: #070; } pre { white-space: pre-wrap; background: #f7f7f7; padding: .5em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.flag td { background: #fff3f3; }
.bar { display: inline-flex; width: 8em; height: .8em; background: #eee; vertical-align: middle; }
.bar span { height: 100%; } .full { background: #4a4; } .part { background: #eb4; } .zero { background: #d55; }
"""


# No script, frame, form or remote load, whatever a page contains: escaping is the first defence, this the second.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


class Html(str):
    """Markup this package wrote itself; every other string put into a page is escaped."""


def esc(value) -> str:
    return value if isinstance(value, Html) else html.escape(str(value))


def page(title: str, body: str, style: str = "") -> str:
    """A whole page: the CSP, :data:`STYLE` plus ``style``, the title escaped, ``body`` as given."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>{esc(title)}</title>'
        f"<style>{STYLE}{style}</style></head><body><h1>{esc(title)}</h1>{body}</body></html>"
    )


def table(header: list[str], rows: list[list], row_class: list[str] | None = None) -> str:
    """A table; cells are escaped unless they are :class:`Html`; ``row_class`` names a class per row."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    classes = row_class or [""] * len(rows)
    body = "".join(
        (f'<tr class="{c}">' if c else "<tr>") + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
        for row, c in zip(rows, classes)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def href(*parts: str) -> str:
    """A relative URL from path parts, each percent-encoded whole (a student id cannot add a part)."""
    return "/".join(p if p == ".." else quote(p, safe="") for p in parts)


def link(folder: Path | None, text: str, *parts: str) -> Html | str:
    """``<a>`` to ``parts`` (relative to ``folder``, the page's folder) if that file exists, else ""."""
    if folder is None or not folder.joinpath(*parts).is_file():
        return ""
    return Html(f'<a href="{esc(href(*parts))}">{esc(text)}</a>')


def share_bar(full: int, partial: int, zero: int) -> Html:
    """A bar split into all points (green), some (amber) and none (red), in proportion."""
    n = max(1, full + partial + zero)
    spans = "".join(
        f'<span class="{c}" style="width:{100 * k / n:.1f}%"></span>'
        for c, k in zip(("full", "part", "zero"), (full, partial, zero))
        if k
    )
    return Html(f'<span class="bar">{spans}</span>')


def pyplot():
    """matplotlib's pyplot on the Agg backend: the pages' figures need no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_base64(fig) -> str:
    """``fig`` as a base64 PNG, for a ``data:`` URI; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def histogram_figure(scores: list[float], max_score: float, step: float):
    """The score histogram: one bar per possible score (multiples of ``step``, or runs of them; see
    :func:`~autograder.report_items.histogram_edges`), counts in whole submissions, mean and median marked."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    from autograder.report_items import histogram_edges

    edges = histogram_edges(max_score, step)
    fig, ax = plt.subplots(figsize=(7.5, 3))
    ax.hist(scores, bins=edges, color="steelblue", edgecolor="white", label="submissions")
    mean, median = statistics.mean(scores), statistics.median(scores)
    ax.axvline(mean, color="#c33", linestyle="-", linewidth=2, label=f"mean {mean:.2f}")
    ax.axvline(median, color="#222", linestyle="--", linewidth=2, label=f"median {median:g}")
    ax.set_xlim(edges[0], edges[-1])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 2.5, 5, 10], integer=step >= 1))
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def histogram_png(scores: list[float], max_score: float, step: float) -> str:
    """:func:`histogram_figure` as base64 PNG, for a ``data:`` URI."""
    return png_base64(histogram_figure(scores, max_score, step))
