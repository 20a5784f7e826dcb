"""Code fingerprints for :mod:`autograder.similarity`, by copydetect (winnowing, as MOSS), one unit at a time.

A cell is cut into its top-level functions and classes (and runs of other statements), and each
unit is fingerprinted alone: copydetect tokenises it with pygments, replaces every identifier and
string by a placeholder, drops comments and whitespace, and hashes the k-grams of what is left.
So renamed variables, new comments, a new layout and a new order of functions change nothing.

>>> a = code_fingerprints({"c": "def f(x):\\n    return [x * i for i in range(10) if i % 2]\\n"}, 25, 1)
>>> b = code_fingerprints({"c": "def g(n):  # mine\\n    return [n * k for k in range(10) if k % 2]\\n"}, 25, 1)
>>> a[1]["c"] == b[1]["c"] and len(a[1]["c"]) > 0
True
"""

from __future__ import annotations

import ast
import io
import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as Python's tokenizer counts lines


@dataclass
class Chunk:
    """One unit of a code cell, where it starts in the cell, and its copydetect fingerprint."""

    cell: str
    offset: int
    fingerprint: object  # copydetect.CodeFingerprint: .hashes (set), .hash_idx, .raw_code


def chunks_of(src: str) -> list[tuple[int, str]]:
    """``(offset, text)`` of each top-level function or class of ``src``, and of each run of other statements.

    Unparsable code (a syntax error, IPython magics) is one unit.

    >>> [text.split("(")[0] for _, text in chunks_of("import re\\nx = 1\\ndef f(a):\\n    return a\\n")]
    ['import re\\nx = 1\\n', 'def f']
    """
    try:
        body = ast.parse(src).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [(0, src)] if src.strip() else []
    starts = [0] + [m.end() for m in _LINE_BREAK.finditer(src)]  # starts[i]: offset of line i + 1
    spans, run = [], None
    for node in body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        span = (starts[first - 1], starts[node.end_lineno] if node.end_lineno < len(starts) else len(src))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            spans += [run, span] if run else [span]
            run = None
        else:
            run = (run[0], span[1]) if run else span
    spans += [run] if run else []
    return [(start, src[start:end]) for start, end in spans]


def _fingerprint(text: str, k: int, window: int, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("cell.py", k, window, boilerplate=boilerplate, fp=io.StringIO(text), language="python")


def boilerplate_hashes(code: list[str], k: int):
    """Every k-gram hash of the given code (whole cells and their units), as copydetect takes boilerplate."""
    import numpy as np

    hashes: set[int] = set()
    for src in code:
        for text in [src, *(t for _, t in chunks_of(src))]:
            hashes |= _fingerprint(text, k, 1).hashes
    return np.array(sorted(hashes), dtype=np.int64)


def code_fingerprints(
    code: dict[str, str], k: int, window: int, boilerplate=None
) -> tuple[list[Chunk], dict[str, set[int]]]:
    """The fingerprinted units of each cell, and each cell's set of fingerprints, boilerplate removed."""
    chunks, cell_fps = [], {}
    for cell, src in code.items():
        fps = cell_fps.setdefault(cell, set())
        for offset, text in chunks_of(src):
            fp = _fingerprint(text, k, window, boilerplate)
            if fp.hashes:
                chunks.append(Chunk(cell, offset, fp))
                fps |= fp.hashes
    return chunks, cell_fps


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ``(start, end)`` spans joined, in order."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def code_matches(chunks_a: list[Chunk], chunks_b: list[Chunk]) -> tuple[dict[str, list], dict[str, list]]:
    """``{cell: [(start, end), ...]}`` of the matched code on each side, from copydetect's ``compare_files``."""
    from copydetect import compare_files

    marks: tuple[dict, dict] = ({}, {})
    for ca in chunks_a:
        for cb in chunks_b:
            if not ca.fingerprint.hashes & cb.fingerprint.hashes:
                continue
            overlap, _, slices = compare_files(ca.fingerprint, cb.fingerprint)
            if not overlap:
                continue
            for side, chunk, sl in ((0, ca, slices[0]), (1, cb, slices[1])):
                spans = marks[side].setdefault(chunk.cell, [])
                spans.extend((chunk.offset + int(s), chunk.offset + int(e)) for s, e in zip(sl[0], sl[1]))
    return {c: merge(s) for c, s in marks[0].items()}, {c: merge(s) for c, s in marks[1].items()}
