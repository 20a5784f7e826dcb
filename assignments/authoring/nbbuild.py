"""Write nbgrader source notebooks (cell metadata schema 3) from a Python description.

    python assignments/authoring/ps1.py   # rewrites assignments/source/ps1_bradley_terry/ps1_bradley_terry.ipynb

Each ``psN.py`` lists the cells of one assignment with the helpers below; the written notebook in
``source/`` is what nbgrader and the autograder read. Instructor-only: never released.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SOURCE = Path(__file__).resolve().parents[1] / "source"


def meta(grade_id, *, grade=False, solution=False, locked=False, points=None, tags=None):
    m = {
        "nbgrader": {
            "grade": grade,
            "grade_id": grade_id,
            "locked": locked,
            "schema_version": 3,
            "solution": solution,
            "task": False,
        }
    }
    if points is not None:
        m["nbgrader"]["points"] = points
    if tags:
        m["tags"] = list(tags)
    return m


def md(text, grade_id=None):
    c = new_markdown_cell(text.strip("\n"))
    if grade_id:
        c.metadata = meta(grade_id, locked=True)
    return c


def rules(tools, allowed="", notes=""):
    """The intro's rules paragraph, the same in every problem set; `tools` says what to write the answers with."""
    return (
        "\n**Rules.** Write your code between the `# YOUR CODE HERE` markers and delete the `raise NotImplementedError()`.\n"
        f"{tools}; do not import the answers from `course_lib` (they are disabled while grading, so importing them "
        f"earns nothing{allowed}).\n{notes}"
        "The visible tests are a first check only: hidden tests grade your functions on other inputs.\n"
        "Points: 8 for code (autograded), 2 for the written question (graded by hand)."
    )


def readonly(grade_id, src, skip=False):
    return new_code_cell(
        src.strip("\n"), metadata=meta(grade_id, locked=True, tags=["autograde-skip"] if skip else None)
    )


def answer(grade_id, src):
    return new_code_cell(src.strip("\n"), metadata=meta(grade_id, solution=True))


def tests(grade_id, src, points):
    return new_code_cell(src.strip("\n"), metadata=meta(grade_id, grade=True, locked=True, points=points))


def written(grade_id, prompt_and_rubric, points):
    c = new_markdown_cell(prompt_and_rubric.strip("\n"))
    c.metadata = meta(grade_id, grade=True, solution=True, points=points)
    return c


def save(cells, path):
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, path)
