"""The autograded notebook nbgrader's formgrader and ``generate_feedback`` read.

Written to ``autograded/<student>/<assignment>/<assignment>.ipynb``: the student's notebook with
every nbgrader cell's metadata, and the text of every read-only cell, taken from the trusted
source (as nbgrader's OverwriteCells does), cells the student deleted put back, and each
autograder test cell's output replaced by what the hidden tests found for it. Hidden test code
never appears; a submission that could not be read is replaced by the source's cells with its
answers blanked and the reason shown.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_output

from autograder.files import atomic_write
from autograder.notebook import SubmissionError, read_notebook
from autograder.results import SubmissionResult

READ_ONLY = ("instructor", "skip", "test", "text")


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


def _blank_answers(nb, roles) -> None:
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        role = roles.get(grade_id, {}).get("role")
        if role == "answer":
            cell.source = "# (the submitted notebook could not be read)"
        elif role == "written":
            cell.source = "(the submitted notebook could not be read)"


def build_autograded(
    submission_path: Path | None, result: SubmissionResult, source_nb, roles
) -> nbformat.NotebookNode:
    nb = None
    if submission_path is not None and not result.error:
        try:
            nb = read_notebook(submission_path)
        except SubmissionError:
            nb = None
    if nb is None:
        nb = copy.deepcopy(source_nb)
        _blank_answers(nb, roles)
    seen = set()
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id not in roles or grade_id in seen:
            cell.get("metadata", {}).pop("nbgrader", None)  # unknown or duplicated: not a graded cell
            continue
        seen.add(grade_id)
        role = roles[grade_id]
        cell.metadata["nbgrader"] = copy.deepcopy(role["metadata"])
        if role["role"] in READ_ONLY:
            cell.source = role["source"]
        if role["role"] == "test":
            cell.outputs = [new_output("stream", name="stdout", text=_test_output(grade_id, result))]
            cell.execution_count = None
    for cell in source_nb.cells:  # put back graded cells the student deleted, at the end
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in roles and grade_id not in seen and roles[grade_id]["role"] in ("test", "written", "answer"):
            restored = copy.deepcopy(cell)
            if roles[grade_id]["role"] == "test":
                restored.outputs = [new_output("stream", name="stdout", text=_test_output(grade_id, result))]
            elif roles[grade_id]["role"] == "answer":
                restored.source = "# (this answer cell was missing from the submission)"
            else:
                restored.source = "(this answer cell was missing from the submission)"
            nb.cells.append(restored)
    return nb


def write_autograded_notebook(folder: Path, submission, result: SubmissionResult, grader) -> Path:
    """Write the autograded notebook (and ``timestamp.txt``) for one student."""
    nb = build_autograded(submission.notebook, result, grader.source_nb, grader.source_roles)
    path = folder / f"{grader.assignment.name}.ipynb"
    atomic_write(path, nbformat.writes(nb))
    if submission.timestamp:
        atomic_write(folder / "timestamp.txt", submission.timestamp + "\n")
    return path
