"""The assignments' markdown sources (``assignments/notebooks/<ps>.md``) and the notebooks nbgrader reads.

``scripts/sync_assignments.py`` writes ``source/<ps>/<ps>.ipynb`` from the markdown. Each test here
regenerates the notebook in memory and compares it with the committed one, so an edit to either side
alone fails until the script is run; and shows, on edited copies, that the comparison does fail.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder.batch import _course_inodes
from tests.support import ASSIGNMENTS, COURSE, ROOT

spec = importlib.util.spec_from_file_location("sync_assignments", ROOT / "scripts" / "sync_assignments.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)

SCRIPT = ROOT / "scripts" / "sync_assignments.py"
PS1 = "ps1_bradley_terry"
IGNORED = {".ipynb_checkpoints", "__pycache__"}  # never released (nbgrader_config.py ignores them)


def markdown(assignment: str) -> str:
    return (COURSE / "notebooks" / f"{assignment}.md").read_text(encoding="utf-8")


def committed(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=nbformat.NO_CONVERT)


def edit(text: str, old: str, new: str) -> str:
    """``text`` with its first ``old`` replaced; fails if ``old`` is not there (so no edit is silently a no-op)."""
    assert old in text, f"{old!r} is no longer in the markdown source; update this test"
    return text.replace(old, new, 1)


def test_every_assignment_has_a_markdown_source_and_releases_only_its_notebook():
    assert sync.assignments(COURSE) == sorted(ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        assert (COURSE / "notebooks" / f"{assignment}.md").is_file()
        files = sorted(p.name for p in (COURSE / "source" / assignment).iterdir() if p.name not in IGNORED)
        assert files == [f"{assignment}.ipynb"], f"nbgrader releases every file of source/{assignment}/: {files}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_is_the_markdown_regenerated(assignment):
    """Cells, sources, cell and notebook metadata, ids: all as the script would write them."""
    nb, ipynb = sync.from_markdown(markdown(assignment), assignment), committed(assignment)
    assert nb == ipynb, (
        f"source/{assignment}/{assignment}.ipynb is out of sync with notebooks/{assignment}.md; "
        f"run `.venv/bin/python scripts/sync_assignments.py`: {sync.differences(nb, ipynb)[:5]}"
    )
    assert [c.id for c in ipynb.cells] == [f"cell-{i:02d}" for i in range(len(ipynb.cells))]
    assert ipynb.metadata == {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }


EDITS = {  # an edit of the markdown source -> what the comparison must report
    "solution line": ('    if reduction == "mean":\n        return loss.mean()', "    return loss.sum()", "source"),
    "points": ("  points: 4\n", "  points: 5\n", "metadata"),
    "tag": ("tags: [autograde-skip]\n", "", "metadata"),
    "markdown text": ("## Problem 2 (2 points)", "## Problem 2 (3 points)", "source"),
    "new cell": ("+++ {", "```{code-cell} ipython3\nx = 1\n```\n\n+++ {", "cells !="),
}


@pytest.mark.parametrize("change", EDITS)
def test_an_edited_markdown_source_is_out_of_sync(change):
    old, new, reported = EDITS[change]
    text = markdown(PS1)
    assert sync.differences(sync.from_markdown(text), committed(PS1)) == []  # the control: unedited, equal
    nb = sync.from_markdown(edit(text, old, new))
    assert nb != committed(PS1)
    found = sync.differences(nb, committed(PS1))
    assert found and any(reported in line for line in found), found


def test_check_reports_a_stale_notebook_and_the_script_rewrites_it(tmp_path):
    course = tmp_path / "assignments"
    for folder in ("notebooks", "source"):
        shutil.copytree(COURSE / folder, course / folder, ignore=shutil.ignore_patterns(*IGNORED))
    md = course / "notebooks" / f"{PS1}.md"
    md.write_text(edit(md.read_text(encoding="utf-8"), "return loss.mean()", "return loss.mean() * 2"))

    def run(*args):
        cmd = [sys.executable, str(SCRIPT), *args, "--course-dir", str(course)]
        return subprocess.run(cmd, capture_output=True, text=True)

    stale = run("--check")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert f"{PS1}: OUT OF DATE" in stale.stdout and "ps2_step_rewards: up to date" in stale.stdout
    assert "loss.mean() * 2" not in (course / "source" / PS1 / f"{PS1}.ipynb").read_text(), "--check wrote"
    wrote = run()
    assert wrote.returncode == 0 and f"{PS1}: wrote" in wrote.stdout, wrote.stdout + wrote.stderr
    assert "loss.mean() * 2" in (course / "source" / PS1 / f"{PS1}.ipynb").read_text()
    again = run("--check")
    assert again.returncode == 0, again.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_intro_ends_with_the_shared_rules_paragraph(assignment):
    intro = sync.from_markdown(markdown(assignment)).cells[0]
    assert intro.metadata["nbgrader"]["grade_id"] == "intro"
    slots = sync.rules_slots(intro.source)
    assert slots is not None, f"notebooks/{assignment}.md: the intro does not end with sync_assignments.RULES"
    assert slots["tools"] and "\n" not in slots["tools"]
    # one word changed in the shared text is caught
    assert sync.rules_slots(edit(intro.source, "delete the `raise", "remove the `raise")) is None
    assert sync.rules_slots(edit(intro.source, "for code (autograded)", "for code")) is None


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_intro_states_the_points_of_the_graded_cells(assignment):
    nb = sync.from_markdown(markdown(assignment))
    slots = sync.rules_slots(nb.cells[0].source)
    graded = [c for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    code = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "code")
    written = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "markdown")
    stated = float(slots["code_points"]), float(slots["written_points"])
    assert stated == (code, written), (
        f"notebooks/{assignment}.md: the intro says {stated} points, the cells {code, written}"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_cells_hold_the_reference_between_nbgrader_markers(assignment):
    cells = [c for c in sync.from_markdown(markdown(assignment)).cells if c.metadata["nbgrader"]["solution"]]
    assert cells
    for cell in cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        assert re.search(r"### BEGIN SOLUTION\n.+### END SOLUTION", cell.source, re.DOTALL), grade_id


def test_sync_refuses_what_would_leak_or_is_broken(tmp_path):
    course = tmp_path / "assignments"
    shutil.copytree(COURSE / "notebooks", course / "notebooks")
    shutil.copytree(COURSE / "source" / PS1, course / "source" / PS1)
    md = course / "notebooks" / f"{PS1}.md"
    text = md.read_text(encoding="utf-8")
    # a markdown copy beside the notebook would be released with it
    shutil.copy(md, course / "source" / PS1)
    with pytest.raises(sync.SyncError, match=rf"source/{PS1}/ holds {PS1}.md: nbgrader would release it"):
        sync.sync(PS1, course)
    (course / "source" / PS1 / f"{PS1}.md").unlink()
    md.write_text(edit(text, "delete the `raise", "remove the `raise"))
    with pytest.raises(sync.SyncError, match="does not end with the shared rules paragraph"):
        sync.sync(PS1, course)
    md.write_text(edit(text, "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n", ""))
    with pytest.raises(sync.SyncError, match="no kernelspec"):
        sync.sync(PS1, course)
    with pytest.raises(sync.SyncError, match="no assignment 'ps9'.*ps1_bradley_terry"):
        sync.sync("ps9", course)
    assert sync.main(["--check", "--course-dir", str(course), "ps9"]) == 2


def test_the_batch_refuses_a_submission_hard_linked_to_a_markdown_source():
    """The markdown holds the solutions, as the source notebook does: both are course files to the batch."""
    st = (COURSE / "notebooks" / f"{PS1}.md").stat()
    assert (st.st_dev, st.st_ino) in _course_inodes(COURSE, PS1)


def test_the_script_docstring_examples_hold():
    """scripts/ is not among pytest's doctest paths, so its examples are run here."""
    result = doctest.testmod(sync)
    assert result.attempted >= 2 and result.failed == 0
