"""Shared test helpers: build student submissions from the trusted source notebooks."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
ASSIGNMENTS = (
    "ps1_bradley_terry",
    "ps2_step_rewards",
    "ps3_first_error",
    "ps4_neural_prm",
    "ps5_calibration",
    "ps6_policy_from_reward",
)


def source_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def reference_answer(assignment: str, grade_id: str) -> str:
    """The source of one cell of the instructor's notebook (the reference answer, for answer cells)."""
    cells = [
        c for c in source_notebook(assignment).cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    ]
    if not cells:
        raise KeyError(f"no cell {grade_id!r} in {assignment}")
    return cells[0].source


def answer_ids(assignment: str) -> list[str]:
    """grade_ids of the code answer cells (solution: true) in the source notebook."""
    return [
        c.metadata["nbgrader"]["grade_id"]
        for c in source_notebook(assignment).cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    ]


def make_submission(assignment: str, path: Path, answers: dict[str, str] | None = None, edit=None) -> Path:
    """Write a submission: the source notebook with some answer cells replaced by ``answers[grade_id]``.

    Cells not named in ``answers`` keep the reference solution. ``edit(nb)`` may change anything else
    (metadata, extra cells) before the notebook is written.
    """
    nb = copy.deepcopy(source_notebook(assignment))
    answers = dict(answers or {})
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers.pop(grade_id)
    if answers:
        raise KeyError(f"no answer cells {sorted(answers)} in {assignment}")
    if edit is not None:
        edit(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


SANDBOX_LINES = ("from autograder.nbgrader_plugin import use_sandbox\n", "use_sandbox(c)\n")


def released_course(root: Path, assignment: str = "ps1_bradley_terry", stock: bool = False) -> Path:
    """A course directory with ``assignment`` and its grader, released by ``nbgrader generate_assignment``.

    ``stock``: nbgrader's own autograde pipeline (the course config without ``use_sandbox(c)``), to show
    what our config prevents.
    """
    import subprocess
    import sys

    root.mkdir(parents=True, exist_ok=True)
    config = (COURSE / "nbgrader_config.py").read_text()
    if stock:
        for line in SANDBOX_LINES:
            if line not in config:
                raise AssertionError(f"the course config no longer has {line!r}; update SANDBOX_LINES")
            config = config.replace(line, "")
    (root / "nbgrader_config.py").write_text(config)
    shutil.copytree(COURSE / "source" / assignment, root / "source" / assignment)
    (root / "graders").mkdir()
    shutil.copy(COURSE / "graders" / "conftest.py", root / "graders")
    shutil.copytree(COURSE / "graders" / assignment, root / "graders" / assignment)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # nbgrader runs alembic
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--log-level=WARN"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    return root
