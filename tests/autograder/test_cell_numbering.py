"""One numbering of cells: what the notes, the report and the feedback say about a cell names it as the
student's notebook has it (``cell 11 (loss_vs_gap)``: its place counting every cell from 1, and its
grade_id), never by its index among the cells the sandbox ran.

The bug this pins: a note said "cell 9 (answer loss_vs_gap) was skipped: cell 3 ran past its time
limit", the first number counting the notebook's cells from 0, the second the code cells run.
"""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from autograder.notebook import cell_positions, program_cells, source_roles
from autograder.report import student_feedback
from autograder.report_page import instructor_report
from tests.support import COURSE, make_submission, source_notebook

ASSIGNMENT = "ps1_bradley_terry"
LOOP = "def loss_vs_gap(gaps):\n    return gaps\n\nwhile True:\n    pass\n"


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def test_positions_count_every_cell_from_one():
    source = source_notebook(ASSIGNMENT)
    positions = cell_positions(source, source_roles(source))
    by_hand = {_grade_id(c): i for i, c in enumerate(source.cells, start=1) if _grade_id(c)}
    assert positions == by_hand and positions["loss_vs_gap"] > 1
    cells, _ = program_cells(source, source)
    assert f"cell {positions['loss_vs_gap']} (loss_vs_gap)" in [c.label for c in cells]


@pytest.mark.slow
def test_a_cell_past_its_time_limit_is_named_by_its_place_in_the_notebook(tmp_path):
    from autograder.service import Autograder

    def edit(nb):  # the student's own notes on top: every place shifts by one, the cells run do not
        nb.cells.insert(0, new_markdown_cell("My notes for this problem set."))

    path = make_submission(ASSIGNMENT, tmp_path / "nb.ipynb", {"loss_vs_gap": LOOP}, edit=edit)
    nb = nbformat.read(path, as_version=4)
    place = {_grade_id(c): i for i, c in enumerate(nb.cells, start=1) if _grade_id(c)}
    run_index = [c.label for c in program_cells(nb, source_notebook(ASSIGNMENT))[0]].index(
        f"cell {place['loss_vs_gap']} (loss_vs_gap)"
    )
    assert run_index not in (place["loss_vs_gap"], place["loss_vs_gap"] - 1), "the two counts must differ here"
    with Autograder(ASSIGNMENT, COURSE, jobs=1, self_check=False, cell_timeout=2) as grader:
        result = grader.grade(path)
    cell = f"cell {place['loss_vs_gap']} (loss_vs_gap)"
    assert f"{cell} was skipped: it ran past its time limit (2 s)" in result.notes, result.notes
    assert not any(f"cell {run_index} " in note for note in result.notes), result.notes
    assert [c["label"] for c in result.cells if c["status"] == "skipped"] == [cell]
    assert result.positions == place
    feedback = student_feedback(ASSIGNMENT, "ada", result)
    assert f"<td>cell {place['test_loss_vs_gap']} (test_loss_vs_gap)</td>" in feedback
    assert f"{cell} was not run to the end: it ran past its time limit (2 s)" in feedback
    report = instructor_report(ASSIGNMENT, {"ada": result}, "namespaces")
    assert f"{cell} was skipped" in report and f"{cell} (skipped):" in report
    assert f"cell {place['test_loss_vs_gap']} (test_loss_vs_gap)" in report
