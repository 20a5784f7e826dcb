"""Reading an untrusted submission and deciding which code runs in the sandbox.

The submission is checked step by step (size, UTF-8, JSON, nbformat 4, schema) and every failure
becomes a :class:`SubmissionError` with a message a student can act on. The code to run is chosen
by the *trusted* source notebook, matched on nbgrader's ``grade_id``, never by the submission's own
metadata:

* the student's version of every answer cell (``solution: true`` in the source);
* the source's version of every read-only instructor cell (imports, helpers), even if the
  student edited or deleted it;
* code cells the student added (no ``grade_id`` known to the source), in place;
* never test cells (``grade: true``) or cells tagged ``autograde-skip`` (plots, demos).

Points and max scores come from the source and the graders, so edited metadata changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

MAX_BYTES = 10 * 2**20
SKIP_TAG = "autograde-skip"


class SubmissionError(ValueError):
    """The submission cannot be graded (it scores zero, with this message)."""


@dataclass(frozen=True)
class Cell:
    label: str  # :func:`cell_label`, e.g. "cell 4 (bradley_terry_loss)"
    source: str
    origin: str  # "student" or "source"


def read_notebook_bytes(data: bytes, name: str = "submission") -> nbformat.NotebookNode:
    """Parse notebook bytes defensively; raise SubmissionError with the reason."""
    if len(data) > MAX_BYTES:
        raise SubmissionError(
            f"{name} is {len(data) / 2**20:.1f} MiB; the limit is {MAX_BYTES // 2**20} MiB (clear large outputs)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SubmissionError(f"{name} is not UTF-8 text (byte {err.start}); save it from Jupyter again") from None
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise SubmissionError(f"{name} is not valid JSON ({getattr(err, 'msg', err)}); the file is damaged") from None
    if not isinstance(raw, dict):
        raise SubmissionError(f"{name} is JSON but not a notebook (top level is {type(raw).__name__})")
    major = raw.get("nbformat")
    if major != 4:
        raise SubmissionError(
            f"{name} has nbformat {major!r}; only nbformat 4 notebooks (Jupyter 4.0 and later) are graded"
        )
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises many kinds
        raise SubmissionError(f"{name} is not a valid notebook: {str(err).splitlines()[0][:300]}") from None
    return nb


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SubmissionError(f"{path.name} is {size / 2**20:.1f} MiB; the limit is {MAX_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as err:
        raise SubmissionError(f"cannot read {path}: {err.strerror}") from None
    return read_notebook_bytes(data, path.name)


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def source_roles(source_nb) -> dict[str, dict]:
    """grade_id -> {"role", "source", "points", "cell_type"} for every nbgrader cell of the trusted source.

    Roles: ``answer`` (autograded answer code), ``test`` (autograder tests, with points),
    ``instructor`` (read-only code), ``skip`` (read-only code tagged autograde-skip), ``written``
    (manually graded answer), ``text`` (read-only markdown).
    """
    roles = {}
    for cell in source_nb.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        if cell.cell_type != "code":
            role = "written" if meta.get("solution") else "text"
        elif meta.get("solution"):
            role = "answer"
        elif meta.get("grade"):
            role = "test"
        elif SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            role = "skip"
        else:
            role = "instructor"
        roles[grade_id] = {
            "role": role,
            "source": _source(cell),
            "points": float(meta.get("points") or 0),
            "cell_type": cell.cell_type,
            "metadata": dict(meta),
        }
    return roles


def cell_label(position: int | None, grade_id: str | None = None) -> str:
    """How every page and note names a cell of a student's notebook: its position and its grade_id.

    The position counts every cell of the student's notebook (markdown too) from 1, as a reader
    counts them; a cell with no grade_id the source knows is "added"; a graded cell that is not in
    the notebook (deleted, and put back by the autograder) has no position. One numbering for the
    report, the notes, the student's feedback and the sandbox's tracebacks.

    >>> cell_label(7, "test_bradley_terry_loss"), cell_label(5), cell_label(None, "imports")
    ('cell 7 (test_bradley_terry_loss)', 'cell 5 (added)', 'restored cell (imports)')
    """
    if position is None:
        return f"restored cell ({grade_id})"
    return f"cell {position} ({grade_id or 'added'})"


def cell_positions(submission_nb, roles: dict[str, dict]) -> dict[str, int]:
    """grade_id -> position (from 1, as :func:`cell_label`) of each graded cell in the student's notebook.

    Only grade_ids of the source count, each at its first cell, as the autograded notebook keeps them.
    """
    positions: dict[str, int] = {}
    for i, cell in enumerate(submission_nb.cells, start=1):
        grade_id = _nbgrader(cell).get("grade_id")
        if isinstance(grade_id, str) and grade_id in roles and grade_id not in positions:
            positions[grade_id] = i
    return positions


def program_cells(submission_nb, source_nb) -> tuple[list[Cell], list[str]]:
    """The cells to run and notes for the report (missing answer cells, replaced instructor cells)."""
    roles = source_roles(source_nb)
    cells, notes, seen = [], [], set()
    for i, cell in enumerate(submission_nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        grade_id = _nbgrader(cell).get("grade_id")
        role = roles.get(grade_id, {}).get("role") if grade_id else None
        if role == "answer":
            cells.append(Cell(cell_label(i, grade_id), _source(cell), "student"))
        elif role == "instructor":
            if grade_id not in seen:
                cells.append(Cell(cell_label(i, grade_id), roles[grade_id]["source"], "source"))
                if _source(cell) != roles[grade_id]["source"]:
                    notes.append(f"read-only cell {grade_id} was edited; the original was run")
        elif role is None:
            cells.append(Cell(cell_label(i), _source(cell), "student"))
        if grade_id:
            seen.add(grade_id)
    missing_instructor = [g for g, r in roles.items() if r["role"] == "instructor" and g not in seen]
    if missing_instructor:  # deleted imports or helpers: run them first
        cells = [Cell(cell_label(None, g), roles[g]["source"], "source") for g in missing_instructor] + cells
        notes.append(f"restored deleted read-only cell(s) {', '.join(missing_instructor)}")
    missing_answers = [g for g, r in roles.items() if r["role"] == "answer" and g not in seen]
    if missing_answers:
        notes.append(f"answer cell(s) {', '.join(missing_answers)} are missing from the submission")
    return cells, notes
