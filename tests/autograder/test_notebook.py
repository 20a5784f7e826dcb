"""Reading untrusted notebooks and choosing the code that runs, by the trusted source."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.notebook import SKIP_TAG, SubmissionError, program_cells, read_notebook_bytes, source_roles
from tests.support import source_notebook

ASSIGNMENT = "ps1_bradley_terry"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"cells": [', "not valid JSON"),
        (b"[]", "not a notebook"),
        (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat 3"),
        (
            json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": "no", "metadata": {}}).encode(),
            "not a valid notebook",
        ),
        (b" " * (11 * 2**20), "MiB"),
    ],
)
def test_bad_notebooks_raise_a_readable_error(data, message):
    with pytest.raises(SubmissionError, match=message):
        read_notebook_bytes(data, "nb.ipynb")


def test_a_valid_notebook_reads():
    nb = read_notebook_bytes(nbformat.writes(source_notebook(ASSIGNMENT)).encode())
    assert nb.nbformat == 4 and len(nb.cells) > 5


def test_roles_come_from_the_source():
    roles = source_roles(source_notebook(ASSIGNMENT))
    assert roles["imports"]["role"] == "instructor"
    assert roles["bradley_terry_loss"]["role"] == "answer"
    assert roles["test_bradley_terry_loss"]["role"] == "test" and roles["test_bradley_terry_loss"]["points"] == 4
    assert roles["plot_loss_vs_gap"]["role"] == "skip"
    assert roles["written_gradient"]["role"] == "written"


def _ids(cells):
    return [c.label.split("(")[-1].rstrip(")") for c in cells]


def test_program_runs_student_answers_and_source_instructor_cells_only():
    source = source_notebook(ASSIGNMENT)
    sub = source_notebook(ASSIGNMENT)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in sub.cells}
    by_id["imports"].source = "import os\nos._exit(1)"  # edits to read-only cells are ignored
    by_id["bradley_terry_loss"].source = "def bradley_terry_loss(*a):\n    return 'mine'"
    by_id["test_bradley_terry_loss"].source = "print('tests are never run')"
    by_id["bradley_terry_loss"].metadata["nbgrader"].update(locked=True, grade=True, points=99)  # tampering
    sub.cells.insert(5, new_code_cell("helper = 1"))
    cells, notes = program_cells(sub, source)
    sources = {label: c.source for label, c in zip(_ids(cells), cells)}
    assert "os._exit" not in "".join(sources.values())
    original = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    assert sources["imports"] == original.source
    assert sources["bradley_terry_loss"].endswith("return 'mine'")
    assert "tests are never run" not in "".join(sources.values())
    assert "added" in _ids(cells)
    assert all(SKIP_TAG not in c.source for c in cells) and "plt.show()" not in "".join(sources.values())
    assert any("edited" in n for n in notes)


def test_deleted_instructor_cells_are_restored_and_missing_answers_noted():
    source = source_notebook(ASSIGNMENT)
    sub = source_notebook(ASSIGNMENT)
    sub.cells = [
        c for c in sub.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in ("imports", "loss_vs_gap")
    ]
    cells, notes = program_cells(sub, source)
    assert cells[0].label == "restored cell (imports)" and cells[0].origin == "source"
    assert any("loss_vs_gap" in n and "missing" in n for n in notes)
