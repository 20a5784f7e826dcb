"""The similarity page: ranked pairs, each against the class, and the matching regions side by side.

Everything a student wrote is escaped (:func:`~autograder.report_html.esc`, quotes included) piece by piece around the
``<mark>`` tags this module adds; no student text goes into an attribute, and anchors are named by
rank, not by student id. The page carries the instructor report's Content-Security-Policy (no
script, no remote load), and its images are inline: a PNG data URI from matplotlib and small SVGs
drawn here from numbers.

>>> marked("a<b>", [(1, 2)])
'a<mark>&lt;</mark>b&gt;'
"""

from __future__ import annotations

import bisect
import math

from autograder.report_html import esc, page, png_base64, pyplot

EXTRA_STYLE = """
body { max-width: 90em; } mark { background: #ffe08a; } .side { width: 50%; vertical-align: top; }
.side pre { margin: 0; font-size: 85%; } .flag { color: #a00; font-weight: bold; } td svg { display: block; }
"""
BINS = 20  # of the small per-pair histograms


def marked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` escaped, with each ``(start, end)`` span in ``<mark>``."""
    out, pos = [], 0
    for start, end in spans:
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        out += [esc(text[pos:start]), "<mark>", esc(text[start:end]), "</mark>"]
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def histogram_png(scores: list[float], threshold: float, marks: list[float]) -> str:
    """All pair scores (log counts past 100 pairs), the threshold, and a tick for each pair in ``marks``."""
    fig, ax = pyplot().subplots(figsize=(7, 2.8))
    many = len(scores) > 100  # log counts, or the few pairs that matter vanish next to the thousands near 0
    ax.hist(scores, bins=50, range=(0, 1), color="steelblue", edgecolor="white", log=many)
    ax.axvline(threshold, color="#a00", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    if marks:
        ax.plot(marks, [0.7 if many else 0] * len(marks), "|", color="#a00", markersize=12, label="flagged pairs")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0.5 if many else 0)
    ax.set_xlabel("pair score")
    ax.set_ylabel("pairs (log scale)" if many else "pairs")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return png_base64(fig)


def bin_counts(scores: list[float]) -> list[int]:
    counts = [0] * BINS
    for s in scores:
        counts[min(int(s * BINS), BINS - 1)] += 1
    return counts


def spark(counts: list[int], score: float) -> str:
    """A small SVG: the class's pair scores (log heights) and a red line where this pair sits.

    >>> spark([1] + [0] * 19, 0.5).count("<rect")
    1
    """
    width, height = 120, 24
    top = math.log1p(max(counts) or 1)
    bars = "".join(
        f'<rect x="{i * width / BINS:.1f}" y="{height - height * math.log1p(n) / top:.1f}" '
        f'width="{width / BINS - 1:.1f}" height="{height * math.log1p(n) / top:.1f}" fill="#9bb7d4"/>'
        for i, n in enumerate(counts)
        if n
    )
    x = min(max(score, 0.0), 1.0) * width
    line = f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="#a00" stroke-width="2"/>'
    return f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">{bars}{line}</svg>'


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _side_by_side(pair, students: dict, matches, order: dict[str, int]) -> str:
    (code_a, code_b), (text_a, text_b) = matches
    a, b = students[pair.a], students[pair.b]
    marks_a, marks_b = {**code_a, **text_a}, {**code_b, **text_b}
    cells = set(marks_a) | set(marks_b) | set(pair.cells)
    rows = []
    for cell in sorted(cells, key=lambda c: (order.get(c, len(order)), c)):
        src_a = a.code.get(cell, a.written.get(cell, ""))
        src_b = b.code.get(cell, b.written.get(cell, ""))
        rows.append(
            f'<tr><th colspan="2">{esc(cell)}</th></tr><tr>'
            f'<td class="side"><pre>{marked(src_a, marks_a.get(cell, []))}</pre></td>'
            f'<td class="side"><pre>{marked(src_b, marks_b.get(cell, []))}</pre></td></tr>'
        )
    head = f'<tr><th class="side">{esc(pair.a)}</th><th class="side">{esc(pair.b)}</th></tr>'
    return f"<table>{head}{''.join(rows)}</table>"


def similarity_page(
    assignment: str, config, students: list, pairs: list, details: dict, skipped: dict, order: dict[str, int]
) -> str:
    """The whole page; ``details`` maps (a, b) to ``(code marks, written marks)`` for the pairs shown side by side.

    ``order`` ranks the cell labels as in the source notebook.
    """
    scores = [p.score for p in pairs]
    ascending = sorted(scores)
    counts = bin_counts(scores)
    flagged = [p for p in pairs if p.flagged]
    by_name = {s.name: s for s in students}
    parts = [
        f"<p><b>{len(students)}</b> submissions compared, <b>{len(pairs)}</b> pairs; "
        f'<span class="flag">{len(flagged)} flagged</span> at score &ge; {config.threshold:g}. '
        "A score is the share of the smaller side's answers found in the other (code: copydetect fingerprints "
        "of the normalised token stream, insensitive to names, comments, layout and function order; written "
        "answers: shared words and word pairs). The release's code and text are subtracted, and so is what more "
        f"than {config.common_share:.0%} of the class wrote. Similarity is a reason to look, not a finding: "
        "read the pairs side by side. Grades are unchanged.</p>",
        f'<h2>Pair scores against the class</h2><img alt="histogram of pair scores" '
        f'src="data:image/png;base64,{histogram_png(scores, config.threshold, [p.score for p in flagged])}">',
    ]
    if skipped:
        items = "".join(f"<li>{esc(s)}: {esc(why)}</li>" for s, why in sorted(skipped.items()))
        parts.append(f"<h2>Not compared ({len(skipped)})</h2><ul>{items}</ul>")
    notes = [(s.name, n) for s in students for n in s.notes]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(s)}: {esc(n)}</li>" for s, n in notes) + "</ul>")
    shown = {key: i for i, key in enumerate(details)}
    rows = []
    table = pairs[: max(config.table_pairs, len(flagged))]
    for rank, p in enumerate(table, 1):
        below = math.floor(1000 * bisect.bisect_left(ascending, p.score) / len(ascending)) / 10
        link = f'<a href="#pair-{rank}">view</a>' if (p.a, p.b) in shown else ""
        flag = '<span class="flag">flagged</span>' if p.flagged else ""
        rows.append(
            f"<tr><td>{rank}</td><td>{esc(p.a)}</td><td>{esc(p.b)}</td><td>{_pct(p.score)}</td>"
            f"<td>{_pct(p.code)}</td><td>{_pct(p.written)}</td><td>{flag}</td><td>{esc(', '.join(p.cells))}</td>"
            f"<td>{spark(counts, p.score)}above {below:.1f}% of pairs</td><td>{link}</td></tr>"
        )
    header = "".join(
        f"<th>{h}</th>"
        for h in ("#", "student", "student", "score", "code", "written", "", "cells", "against the class", "")
    )
    parts.append(
        f"<h2>Pairs, most similar first ({len(table)} of {len(pairs)}; similarity.json has every pair)</h2>"
        f"<table><tr>{header}</tr>{''.join(rows)}</table>"
    )
    views = []
    for rank, p in enumerate(table, 1):
        if (p.a, p.b) in shown:
            summary = f"#{rank} {esc(p.a)} and {esc(p.b)}: {_pct(p.score)}" + (" (flagged)" if p.flagged else "")
            body = _side_by_side(p, by_name, details[p.a, p.b], order)
            views.append(
                f'<details id="pair-{rank}"{" open" if p.flagged else ""}><summary>{summary}</summary>{body}</details>'
            )
    if views:
        parts.append("<h2>Side by side (matching regions marked)</h2>" + "".join(views))
    return page(f"Similarity across submissions: {assignment}", "".join(parts), EXTRA_STYLE)
