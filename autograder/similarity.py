"""Similarity across submissions: the pairs of students whose answers look copied, for an instructor to read.

    python -m autograder similarity ps1_bradley_terry --course-dir assignments   # after a batch
    python -m autograder batch ps1_bradley_terry --similarity                      # or as its last step

It writes ``reports/<assignment>/similarity.json`` (every pair, highest score first) and
``similarity.html`` (the top pairs side by side, a histogram of all pair scores), and where a batch
has run, rewrites its ``report.html`` from ``results.json`` to show the top pairs
(:func:`autograder.report.refresh_report`): no grade, record, score or gradebook row changes. ``submitted/`` is read as the batch reads it
(:func:`autograder.batch.find_submissions`: no link followed, each notebook read once under a size cap).

Code (:mod:`autograder.similarity_code`): a student's answer cells (``solution: true`` code in the
trusted source) and the code cells they added, cut into top-level definitions, each fingerprinted by
`copydetect`_ (MOSS's winnowing: pygments tokens with every identifier, string and comment
normalised, hashes of k-grams of that stream). Renamed variables, comments and layout change
nothing; a reordered function is a whole unit, so its order changes nothing either. Fingerprints of
the release's code (the cells as students got them: the stubs, the ``def`` lines and docstrings
around ``### BEGIN SOLUTION``, the read-only cells) are subtracted as boilerplate, so filling in the
same blanks is no match; so are fingerprints that a large share of the class has
(``common_share``, like MOSS's ``-m``): an idiom everybody writes is no evidence. Score: the shared
fingerprints over those of the smaller side, the smaller side counted as at least
``min_fingerprints`` (a few lines of code), so a submission that is mostly copied scores near 1 and
two tiny answers cannot.

Written answers (``solution: true`` markdown; :mod:`autograder.similarity_text`): lower-case content
words (stop words dropped, light suffix stemming) minus the words of the question and the release;
the score is the mean of the containments of word sets and of pairs of nearby words, the smaller
side counted as at least ``min_shingles``. A light paraphrase (a few words swapped, a clause moved)
keeps most words and many pairs: the test's paraphrase scores 0.77; independent answers to the same question
stay below 0.2.

A pair's score is the higher of its code and written scores; ``flagged`` means score >=
``threshold`` (0.7: on the course's alternative and mistaken answers, independent pairs reach
0.54 at most, copies with renamed variables, reordered functions and new comments score 1.0).
``cells`` names the cells where most of one side's material is in the other side.

Why copydetect, not Dolos: both implement winnowing and are MIT-licensed. Dolos (npm,
``@dodona/dolos``) is the more active project (releases through 2026) and parses with tree-sitter,
but it is a Node program with native tree-sitter modules: a second runtime and toolchain in a Python
course, and a subprocess with files in and CSV out per run. copydetect (PyPI, 0.5.0, March 2024; a
small, stable library) is pure Python on numpy and pygments, which the course already has, and its
``CodeFingerprint``/``compare_files`` API takes text in memory and gives back fingerprint sets and
matched slices, which is what a per-pair index and a side-by-side view need. Its default thresholds
(noise = guarantee = 25 characters of normalised code) keep every k-gram: scores are then
deterministic, where a larger winnowing window picks fingerprints by Python's per-process string
hash and would move scores from run to run.

.. _copydetect: https://github.com/blingenf/copydetect

>>> SimilarityConfig(threshold=0.8).window
1
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import SetupError
from autograder.files import owned_name
from autograder.similarity_code import Chunk, boilerplate_hashes, code_fingerprints, code_matches
from autograder.similarity_text import Words, content_words, shingles, written_index, written_matches

STUB = "# YOUR CODE HERE\nraise NotImplementedError()"  # nbgrader's (and the course config's) code stub
TEXT_STUB = "YOUR ANSWER HERE"
ADDED = "added cells"  # label of the code cells a student added (no grade_id of the source)
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[^\n]*\n?", re.S | re.M)


@dataclass(frozen=True)
class SimilarityConfig:
    """How pairs are scored and shown. The defaults are calibrated in the module docstring."""

    threshold: float = 0.7  # a pair with score >= threshold is flagged
    noise: int = 25  # k: the shortest match counted, in characters of normalised code (copydetect's noise_t)
    guarantee: int = 25  # matches this long are always found: winnowing window = guarantee - noise + 1
    min_fingerprints: int = 80  # the smaller side counts as at least this many code fingerprints (~4 lines)
    min_shingles: int = 10  # likewise for the words and word pairs of written answers
    min_cell_fingerprints: int = 20  # a cell is named in ``cells`` only with at least this many (~1 line)
    common_share: float = 0.25  # fingerprints or words in more than this share of submissions are ignored,
    common_min: int = 10  # ... and only once more than this many submissions have them
    max_cell_chars: int = 20_000  # longer cells are cut (a notebook may hold 10 MiB)
    detail_pairs: int = 50  # pairs shown side by side besides the flagged ones
    max_details: int = 200  # at most this many side-by-side views in all
    table_pairs: int = 300  # rows of the ranked table (similarity.json has every pair)

    def __post_init__(self):
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}; 0.7 is the default")
        if not 1 <= self.noise <= self.guarantee:
            raise ValueError(f"need 1 <= noise <= guarantee, got noise={self.noise!r}, guarantee={self.guarantee!r}")
        if not 0 < self.common_share <= 1:
            raise ValueError(f"common_share must be in (0, 1], got {self.common_share!r}; 1 keeps every fingerprint")

    @property
    def window(self) -> int:
        return self.guarantee - self.noise + 1


@dataclass
class Student:
    """One submission's answers and their fingerprints (after boilerplate and common ones are removed)."""

    name: str
    code: dict[str, str] = field(default_factory=dict)  # cell label -> source
    written: dict[str, str] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    cell_fps: dict[str, set[int]] = field(default_factory=dict)
    words: dict[str, Words] = field(default_factory=dict)
    cell_uni: dict[str, set[str]] = field(default_factory=dict)
    cell_bi: dict[str, set[str]] = field(default_factory=dict)
    fps: set[int] = field(default_factory=set)
    uni: set[str] = field(default_factory=set)
    bi: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    score: float
    code: float
    written: float
    flagged: bool
    cells: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "score": round(self.score, 4),
            "flagged": self.flagged,
            "cells": list(self.cells),
            "code_score": round(self.code, 4),
            "written_score": round(self.written, 4),
        }


# -- reading --------------------------------------------------------------------------------------


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    return meta if isinstance(meta, dict) else {}


def _text(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def source_notebook(course_dir: Path, assignment: str):
    """The trusted source notebook, or a SetupError naming the assignments there are."""
    import nbformat

    if not course_dir.is_dir():
        raise SetupError(f"course directory {course_dir} does not exist; pass --course-dir")
    path = course_dir / "source" / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        known = sorted(p.name for p in (course_dir / "source").glob("*") if p.is_dir())
        raise SetupError(
            f"no assignment {assignment!r}: {path} does not exist; assignments here: {', '.join(known) or 'none'} "
            "(or pass the right --course-dir)"
        )
    return nbformat.read(path, as_version=4)


def template_cells(course_dir: Path, assignment: str, source_nb) -> tuple[list[str], list[str]]:
    """(code, text) as students were given them: the release if there is one, and the source with solutions cleared.

    Both, since the release on disk may be older or newer than the source; either way only what a
    student was given is in it.
    """
    import nbformat

    code, text = [], []
    notebooks = [source_nb]
    release = course_dir / "release" / assignment / f"{assignment}.ipynb"
    if release.is_file():
        notebooks.append(nbformat.read(release, as_version=4))
    for nb in notebooks:
        for cell in nb.cells:
            src = _text(cell)
            if cell.get("cell_type") == "code":
                code.append(_SOLUTION.sub(lambda m: _indent(STUB, m.group(1)), src))
            elif cell.get("cell_type") == "markdown":
                text.append(TEXT_STUB if _nbgrader(cell).get("solution") else src)
    return code, text


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line + "\n" for line in text.split("\n"))


def student_answers(name: str, nb, roles: dict, cap: int) -> Student:
    """The answer code, added code and written answers of a parsed submission, matched on grade_id.

    Each is cut at ``cap`` characters (with a note): a notebook may hold 10 MiB.
    """
    code: dict[str, list[str]] = {}
    written: dict[str, list[str]] = {}
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        role = roles.get(grade_id, {}).get("role") if isinstance(grade_id, str) else None
        if cell.get("cell_type") == "code" and role in ("answer", None):
            code.setdefault(grade_id if role == "answer" else ADDED, []).append(_text(cell))
        elif cell.get("cell_type") == "markdown" and role == "written":
            written.setdefault(grade_id, []).append(_text(cell))
    student = Student(name)
    for parts, answers in ((code, student.code), (written, student.written)):
        for label, texts in parts.items():
            src = "\n".join(texts)
            answers[label] = src[:cap]
            if len(src) > cap:
                student.notes.append(f"{label} is {len(src)} characters long; only the first {cap} were compared")
    return student


def read_students(course_dir: Path, assignment: str, roles: dict, cap: int) -> tuple[list[Student], dict[str, str]]:
    """Every submission that can be read, and {student: why not} for the others (refused links, bad JSON, ...)."""
    from autograder.batch import find_submissions
    from autograder.notebook import SubmissionError, read_notebook

    students, skipped = [], {}
    with tempfile.TemporaryDirectory(prefix=owned_name("similarity-")) as spool:
        found, bad_names = find_submissions(course_dir, assignment, Path(spool))
        for line in bad_names:
            print(f"skipped {line}", file=sys.stderr)
        for sub in found:
            if sub.error is not None or sub.notebook is None:
                skipped[sub.student] = sub.error or "nothing to read"
                continue
            try:
                nb = read_notebook(sub.notebook)
            except SubmissionError as err:
                skipped[sub.student] = str(err)
                continue
            students.append(student_answers(sub.student, nb, roles, cap))
    return students, skipped


# -- scoring --------------------------------------------------------------------------------------


def drop_common(students: list[Student], config: SimilarityConfig) -> int:
    """Remove what more than ``common_share`` of the class has (and more than ``common_min`` students); the count."""
    limit = max(config.common_min, config.common_share * len(students))
    removed = 0
    for attr in ("cell_fps", "cell_uni", "cell_bi"):
        df = Counter(x for s in students for x in set().union(*getattr(s, attr).values()))
        common = {x for x, n in df.items() if n > limit}
        removed += len(common)
        for s in students:
            for items in getattr(s, attr).values():
                items -= common
            if attr == "cell_fps":
                for chunk in s.chunks:  # so that compare_files highlights only what is scored
                    chunk.fingerprint.hashes -= common
    for s in students:
        s.fps = set().union(*s.cell_fps.values())
        s.uni = set().union(*s.cell_uni.values())
        s.bi = set().union(*s.cell_bi.values())
    return removed


def _containment(x: set, y: set, floor: int) -> float:
    if not x or not y:
        return 0.0
    return len(x & y) / max(min(len(x), len(y)), floor)


def written_score(a: Student, b: Student, floor: int) -> float:
    return (_containment(a.uni, b.uni, floor) + _containment(a.bi, b.bi, floor)) / 2


def _cells(a: Student, b: Student, shared: set[int], config: SimilarityConfig, order: dict[str, int]) -> tuple:
    """Cells where most of one side's material (code fingerprints, or written words) is in the other side."""
    cells = set()
    if shared:
        for x in (a, b):
            for cell, fps in x.cell_fps.items():
                if fps and len(fps & shared) / max(len(fps), config.min_cell_fingerprints) >= config.threshold:
                    cells.add(cell)
    if a.uni and b.uni:
        for x, y in ((a, b), (b, a)):
            for cell in x.cell_uni:
                uni = _containment(x.cell_uni[cell], y.uni, config.min_shingles)
                bi = _containment(x.cell_bi[cell], y.bi, config.min_shingles)
                if (uni + bi) / 2 >= config.threshold:
                    cells.add(cell)
    return tuple(sorted(cells, key=lambda c: (order.get(c, len(order)), c)))


def score_pairs(students: list[Student], config: SimilarityConfig, order: dict[str, int]) -> list[Pair]:
    """Every pair, highest score first (ties by name)."""
    pairs = []
    for i, a in enumerate(students):
        for b in students[i + 1 :]:
            shared = a.fps & b.fps
            code = len(shared) / max(min(len(a.fps), len(b.fps)), config.min_fingerprints) if shared else 0.0
            written = written_score(a, b, config.min_shingles) if a.uni and b.uni else 0.0
            score = round(max(code, written), 4)  # as similarity.json has it, so flagged agrees with it
            cells = _cells(a, b, shared, config, order) if shared or (a.uni & b.uni) else ()
            pairs.append(Pair(a.name, b.name, score, code, written, score >= config.threshold, cells))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs


# -- the command ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarityReport:
    html: Path
    json: Path
    pairs: list[Pair]  # every pair, highest score first
    not_compared: dict[str, str]  # student -> why their submission could not be read


def run_similarity(course_dir: Path, assignment: str, config: SimilarityConfig | None = None) -> SimilarityReport:
    """Compare every pair of submissions; write similarity.json and similarity.html, and refresh report.html."""
    from autograder.files import atomic_write
    from autograder.notebook import source_roles
    from autograder.report import refresh_report
    from autograder.similarity_html import similarity_page

    config = config or SimilarityConfig()
    course_dir = Path(course_dir).resolve()
    source_nb = source_notebook(course_dir, assignment)
    roles = source_roles(source_nb)
    order = {gid: i for i, gid in enumerate(g for g, r in roles.items() if r["role"] in ("answer", "written"))}
    students, skipped = read_students(course_dir, assignment, roles, config.max_cell_chars)
    if len(students) < 2:
        found = ", ".join(s.name for s in students) or "none"
        raise SetupError(
            f"need at least two readable submissions of {assignment!r} in {course_dir}/submitted/*/{assignment}/ "
            f"to compare, found {found}" + (f" ({len(skipped)} unreadable)" if skipped else "") + "; collect them "
            "first (nbgrader collect), or pass the right --course-dir"
        )
    code_template, text_template = template_cells(course_dir, assignment, source_nb)
    boilerplate = boilerplate_hashes(code_template, config.noise)
    given = shingles([w for text in text_template for w in content_words(text)])
    for s in students:
        s.chunks, s.cell_fps = code_fingerprints(s.code, config.noise, config.window, boilerplate)
        s.words, s.cell_uni, s.cell_bi = written_index(s.written, given)
    drop_common(students, config)
    pairs = score_pairs(students, config, order)
    shown = [p for p in pairs if p.flagged][: config.max_details]
    shown += [p for p in pairs[: config.detail_pairs] if not p.flagged][: max(0, config.max_details - len(shown))]
    by_name = {s.name: s for s in students}
    details = {}
    for p in shown:
        a, b = by_name[p.a], by_name[p.b]
        details[p.a, p.b] = (code_matches(a.chunks, b.chunks), written_matches(a.words, b.words, a.bi & b.bi))
    out = course_dir / "reports" / assignment
    payload = {
        "assignment": assignment,
        "threshold": config.threshold,
        "students": sorted(by_name),
        "not_compared": skipped,
        "pairs": [p.to_dict() for p in pairs],
    }
    atomic_write(out / "similarity.json", json.dumps(payload, indent=1))
    atomic_write(
        out / "similarity.html", similarity_page(assignment, config, students, pairs, details, skipped, order)
    )
    refresh_report(out)  # the batch's report.html shows the top pairs and links here
    return SimilarityReport(out / "similarity.html", out / "similarity.json", pairs, skipped)
