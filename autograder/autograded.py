"""The autograded notebook nbgrader's formgrader and ``generate_feedback`` read.

Written to ``autograded/<student>/<assignment>/<assignment>.ipynb``. Formgrader shows it on the
instructor's Jupyter origin and feedback is HTML, so nothing in it may carry a student's script:
the notebook is rebuilt from scratch rather than copied. It keeps, in the student's order, each
cell's source and nothing else the student wrote:

* no saved outputs or execution counts (``nbgrader autograde`` clears them too); each autograder
  test cell gets one plain-text ``stream`` output saying what the hidden tests found for it;
* every nbgrader cell's type, metadata and (for read-only cells) text taken from the trusted source,
  as nbgrader's OverwriteCells does; no other cell or notebook metadata, no attachments;
* markdown the student wrote (written answers, added cells, raw cells, which become markdown) made
  inert by :func:`safe_markdown`;
* cells the student deleted put back. Hidden test code never appears; a submission that could not
  be read is replaced by the source's cells with its answers blanked and the reason shown.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

from autograder.files import atomic_write
from autograder.notebook import SubmissionError, read_notebook
from autograder.results import SubmissionResult

READ_ONLY = ("instructor", "skip", "test", "text")
NOTEBOOK_METADATA = ("kernelspec", "language_info")
ZWSP = "\u200b"
# what stands in for an answer the student deleted, or that could not be read
MISSING = {
    "answer": "# (this answer cell was missing from the submission)",
    "written": "(this answer cell was missing from the submission)",
}
UNREADABLE = {
    "answer": "# (the submitted notebook could not be read)",
    "written": "(the submitted notebook could not be read)",
}
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")

# What could open an HTML tag, comment or declaration (HTML and CommonMark alike), or a character reference.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_REF_OPEN = re.compile(r"&(?=[#A-Za-z])")
# A URL scheme that runs or smuggles content; browsers drop tabs, newlines and leading blanks in URLs.
_SCHEME = re.compile(
    r"(?i)\b(" + "|".join(r"[\x00-\x20\\]*".join(w) for w in ("javascript", "vbscript", "data", "file")) + r")"
    r"(?=[\x00-\x20\\]*:)"
)


def safe_markdown(text: str) -> str:
    """Markdown that renders as the student wrote it but cannot produce raw HTML or a script URL.

    A ``<`` that could open a tag (``<`` then a letter, ``/``, ``!`` or ``?``) and an ``&`` that could
    start a character reference get an invisible zero-width space after them, in text, code and math
    alike: renderers then show them as the characters they are, and no tag and no encoded character
    of the student's is left, however a renderer splits the text (mistune even decodes link targets
    twice). Then ``javascript:``, ``vbscript:``, ``data:`` and ``file:`` get a zero-width space before
    the colon, which makes them no URL scheme at all. Linear time; nothing else changes, so emphasis,
    lists, quotes, tables, http(s) links, math and code keep their meaning and look.
    """
    text = _REF_OPEN.sub("&" + ZWSP, _TAG_OPEN.sub("<" + ZWSP, text))
    return _SCHEME.sub(lambda m: m.group(1) + ZWSP, text)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None  # the student's metadata may hold anything


def _test_output(grade_id: str, result: SubmissionResult) -> str:
    tests = [t for t in result.tests if t.cell == grade_id]
    if result.error:
        return f"Not graded: {result.error}\n"
    score = sum(t.score for t in tests)
    total = sum(t.max_score for t in tests)
    lines = [f"Hidden tests for this cell: {score:g} / {total:g} points"]
    for t in tests:
        mark = "passed" if t.status == "passed" else "FAILED"
        lines.append(f"  [{mark}] {t.name} ({t.score:g}/{t.max_score:g})" + (f": {t.output}" if t.output else ""))
    return "\n".join(lines) + "\n"


class _Builder:
    """Assembles the clean notebook cell by cell; cell ids are kept when valid, else made up, never random."""

    def __init__(self, source_nb, roles, result: SubmissionResult):
        self.roles, self.result = roles, result
        meta = {k: source_nb.metadata[k] for k in NOTEBOOK_METADATA if k in source_nb.metadata}
        self.nb = new_notebook(metadata=nbformat.from_dict(meta))
        self.ids: set[str] = set()
        # instructor-written markdown (read-only text, ungraded cells) may stay as it is
        self.trusted_markdown = {
            _source(c)
            for c in source_nb.cells
            if c.get("cell_type") == "markdown" and roles.get(_grade_id(c), {}).get("role") != "written"
        }

    def add(self, cell_type: str, source: str, grade_id: str | None = None, cell_id=None) -> None:
        role = self.roles.get(grade_id) if grade_id is not None else None
        metadata = {}
        if role is not None:
            metadata = {"nbgrader": nbformat.from_dict(role["metadata"])}
            cell_type = role["cell_type"]  # a written answer stays markdown, an answer stays code
            if role["role"] in READ_ONLY:
                source = role["source"]
        # plain nodes: nbformat's new_*_cell validate each cell (40% of a batch's saving time); the whole
        # notebook is validated once, when nbformat.writes writes it
        if cell_type == "code":
            outputs = []
            if role is not None and role["role"] == "test":
                text = _test_output(grade_id, self.result)
                outputs = [{"output_type": "stream", "name": "stdout", "text": text}]
            cell = {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": outputs}
        else:  # markdown, and raw cells (which nbconvert would paste into the HTML as they are)
            trusted = (role is not None and role["role"] in READ_ONLY) or source in self.trusted_markdown
            cell = {"cell_type": "markdown", "metadata": metadata}
            source = source if trusted else safe_markdown(source)
        cell = nbformat.from_dict({**cell, "source": source})
        if not (isinstance(cell_id, str) and _CELL_ID.fullmatch(cell_id)) or cell_id in self.ids:
            cell_id = next(f"cell-{n}" for n in range(len(self.ids) + 1) if f"cell-{n}" not in self.ids)
        cell.id = cell_id
        self.ids.add(cell_id)
        self.nb.cells.append(cell)


def _blank_answers(cells, roles) -> list:
    roles_of = [roles.get(_grade_id(c), {}).get("role") for c in cells]
    return [{**c, "source": UNREADABLE[r]} if r in UNREADABLE else c for c, r in zip(cells, roles_of)]


def build_autograded(
    submission_path: Path | None, result: SubmissionResult, source_nb, roles
) -> nbformat.NotebookNode:
    nb = None
    if submission_path is not None and not result.error:
        try:
            nb = read_notebook(submission_path)
        except SubmissionError:
            nb = None
    cells = nb.cells if nb is not None else _blank_answers(source_nb.cells, roles)
    out = _Builder(source_nb, roles, result)
    seen = set()
    for cell in cells:
        grade_id = _grade_id(cell)
        if grade_id not in roles or grade_id in seen:
            grade_id = None  # unknown or duplicated: not a graded cell
        else:
            seen.add(grade_id)
        out.add(cell.get("cell_type", "markdown"), _source(cell), grade_id, cell.get("id"))
    for cell in source_nb.cells:  # put back graded cells the student deleted, at the end
        grade_id = _grade_id(cell)
        role = roles.get(grade_id, {}).get("role")
        if grade_id not in seen and role in ("test", "written", "answer"):
            out.add(cell.cell_type, MISSING.get(role, ""), grade_id, f"restored-{len(out.nb.cells)}")
    return out.nb


def write_autograded_notebook(folder: Path, submission, result: SubmissionResult, grader) -> Path:
    """Write the autograded notebook (and ``timestamp.txt``) for one student."""
    nb = build_autograded(submission.notebook, result, grader.source_nb, grader.source_roles)
    path = folder / f"{grader.assignment.name}.ipynb"
    atomic_write(path, nbformat.writes(nb))
    if submission.timestamp:
        atomic_write(folder / "timestamp.txt", submission.timestamp + "\n")
    return path
