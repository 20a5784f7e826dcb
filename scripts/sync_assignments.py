"""Write each assignment's nbgrader notebook from its MyST markdown source, the one the instructor edits.

``assignments/notebooks/<ps>.md`` is the source of truth: a MyST markdown notebook (read by jupytext, as
the book's chapters are) whose cells carry their nbgrader metadata, reference solutions between
``### BEGIN SOLUTION`` / ``### END SOLUTION``. ``assignments/source/<ps>/<ps>.ipynb`` is what nbgrader and
the autograder read; this script writes it, and nothing else should. The markdown is kept out of
``source/<ps>/`` because ``nbgrader generate_assignment`` releases every file there: a ``.md`` beside the
notebook would hand students the solutions.

    .venv/bin/python scripts/sync_assignments.py                      # rewrite every source notebook
    .venv/bin/python scripts/sync_assignments.py ps1_bradley_terry    # just one
    .venv/bin/python scripts/sync_assignments.py --check              # exit 1 if any is out of date

Written notebooks number their cells ``cell-00``, ``cell-01``... and take the markdown header's
``kernelspec`` (``language_info`` defaults to its language). Exit status 2 is an error that says what
to fix, for example a markdown notebook with no header.
"""

from __future__ import annotations

import argparse
import re
import string
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
FORMAT = "md:myst"

# The paragraph that ends every assignment's intro cell; only the {slots} differ between assignments.
# This script checks each intro against it; tests/assignments/test_sources.py also checks that the
# points it states are those of the notebook's graded cells.
RULES = (
    "**Rules.** Write your code between the `# YOUR CODE HERE` markers and delete the `raise NotImplementedError()`.\n"
    "{tools}; do not import the answers from `course_lib` (they are disabled while grading, so importing them "
    "earns nothing{allowed}).\n{notes}"
    "The visible tests are a first check only: hidden tests grade your functions on other inputs.\n"
    "Points: {code_points} for code (autograded), {written_points} for the written question (graded by hand)."
)
_POINTS = r"\d+(?:\.\d+)?"
_SLOTS = {
    "tools": r"[^\n]+?",
    "allowed": r"[^\n]*?",
    "notes": r"(?:[^\n]+\n)*?",
    "code_points": _POINTS,
    "written_points": _POINTS,
}


class SyncError(Exception):
    """A markdown source that cannot be turned into a source notebook; the message says how to fix it."""


def rules_slots(intro: str) -> dict[str, str] | None:
    """What an intro puts in RULES' slots, or None when it does not end with the rules paragraph.

    >>> slots = dict(tools="Use `torch`", allowed="", notes="", code_points=8, written_points=2)
    >>> rules_slots("# PS\\n\\n" + RULES.format(**slots))["code_points"]
    '8'
    """
    pattern = "".join(
        re.escape(text) + (f"(?P<{slot}>{_SLOTS[slot]})" if slot else "")
        for text, slot, _, _ in string.Formatter().parse(RULES)
    )
    match = re.search(rf"(?:\A|\n\n){pattern}\Z", intro)
    return match.groupdict() if match else None


def from_markdown(text: str, name: str = "the notebook") -> nbformat.NotebookNode:
    """The nbgrader source notebook that the MyST markdown ``text`` describes (``name`` is for errors)."""
    nb = jupytext.reads(text, fmt=FORMAT)
    metadata = {key: value for key, value in nb.metadata.items() if key != "jupytext"}
    kernelspec = metadata.get("kernelspec")
    if not kernelspec or "language" not in kernelspec:
        raise SyncError(
            f"{name} has no kernelspec with a language in its header; start it as the other assignments do:\n"
            "---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---"
        )
    metadata.setdefault("language_info", {"name": kernelspec["language"]})
    nb.metadata = metadata
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        raise SyncError(f"{name} does not make a valid notebook: {err.message}") from err
    return nb


def differences(expected: nbformat.NotebookNode, actual: nbformat.NotebookNode) -> list[str]:
    """What differs between two notebooks, cell by cell (empty when they are equal as nbformat reads them).

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("a")])
    >>> other = nbformat.from_dict({**nb, "cells": [{**nb.cells[0], "source": "b"}]})
    >>> differences(nb, other)
    ['cell 0: source differs']
    """
    found = []
    for key in ("nbformat", "nbformat_minor", "metadata"):
        if expected.get(key) != actual.get(key):
            found.append(f"notebook {key} differs: {expected.get(key)!r} != {actual.get(key)!r}")
    if len(expected.cells) != len(actual.cells):
        found.append(f"{len(expected.cells)} cells != {len(actual.cells)} cells")
    for i, (want, got) in enumerate(zip(expected.cells, actual.cells)):
        keys = sorted(set(want) | set(got), key=lambda k: (k != "id", k))
        found += [f"cell {i}: {key} differs" for key in keys if want.get(key) != got.get(key)]
    return found


def assignments(course_dir: Path) -> list[str]:
    """Every assignment with a markdown source or a source folder, so that neither can be forgotten."""
    names = {p.stem for p in (course_dir / "notebooks").glob("*.md")}
    names |= {p.name for p in (course_dir / "source").glob("*") if p.is_dir()}
    return sorted(names)


def sync(name: str, course_dir: Path = COURSE, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) ``source/<name>/<name>.ipynb``; return what was out of date."""
    markdown = course_dir / "notebooks" / f"{name}.md"
    target = course_dir / "source" / name / f"{name}.ipynb"
    if not markdown.is_file():
        if not target.parent.is_dir():
            known = ", ".join(assignments(course_dir)) or "none"
            raise SyncError(f"no assignment {name!r} in {course_dir}; assignments here: {known}")
        raise SyncError(f"source/{name}/ has no markdown source: write notebooks/{name}.md (see README.md)")
    stray = sorted(p.name for p in target.parent.glob(f"{name}.*") if p.suffix != ".ipynb")
    if stray:
        raise SyncError(
            f"source/{name}/ holds {', '.join(stray)}: nbgrader would release it to students; "
            f"delete it (the markdown source is notebooks/{name}.md)"
        )
    nb = from_markdown(markdown.read_text(encoding="utf-8"), f"notebooks/{name}.md")
    if not nb.cells or rules_slots(nb.cells[0].source) is None:
        raise SyncError(
            f"the intro (first cell) of notebooks/{name}.md does not end with the shared rules paragraph; "
            f"copy it from another assignment, changing only what is in {{braces}} here:\n{RULES}"
        )
    if target.is_file():
        found = differences(nb, nbformat.read(target, as_version=nbformat.NO_CONVERT))
    else:
        found = [f"source/{name}/{name}.ipynb does not exist"]
    if found and not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="assignments to sync (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    parser.add_argument("--course-dir", type=Path, default=COURSE, help="the nbgrader course directory")
    args = parser.parse_args(argv)
    course_dir = args.course_dir.resolve()
    stale = 0
    try:
        for name in args.names or assignments(course_dir):
            found = sync(name, course_dir, check=args.check)
            stale += bool(found)
            if not found:
                print(f"{name}: up to date")
            elif args.check:
                print(f"{name}: OUT OF DATE, run scripts/sync_assignments.py: " + "; ".join(found[:5]))
            else:
                print(f"{name}: wrote source/{name}/{name}.ipynb")
    except SyncError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
