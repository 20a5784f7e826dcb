"""Stub submissions: every graded function or class of an assignment, replaced by one that raises."""

from __future__ import annotations

import ast

from tests.support import answer_ids, reference_answer


def raising_answers(assignment: str, exception: str = "ValueError") -> dict[str, str]:
    """``{grade_id: source}``: each answer cell defines its functions and classes, and each only raises.

    A submission built from this implements nothing, so it must score exactly 0; a test that checks
    only "bad input raises" would otherwise pay for it.
    """
    answers = {}
    for grade_id in answer_ids(assignment):
        names = [
            node.name
            for node in ast.parse(reference_answer(assignment, grade_id)).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        ]
        answers[grade_id] = "".join(
            f"def {name}(*args, **kwargs):\n    raise {exception}('not implemented')\n\n\n" for name in names
        )
    return answers
