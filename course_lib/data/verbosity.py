"""Longer solutions that say nothing more: filler steps, for measuring length bias (book chapter 16).

A reward model should not care how long a solution is, only whether it is right. To test that, we need
pairs whose lengths we control without changing what the solutions compute: :func:`add_filler_steps`
inserts ``k`` steps that check nothing ("Step 3: Let me check that step again.") after randomly chosen
operation steps, renumbers the steps, and moves ``first_error`` along with the inserted steps. The
final answer, its correctness and the first wrong *operation* stay the same.

Example:
    >>> import random
    >>> from course_lib.data.arithmetic import ProblemGenerator
    >>> gen = ProblemGenerator(seed=0)
    >>> solution = gen.correct_solution(gen.problem())
    >>> longer = add_filler_steps(solution, 2, random.Random(0))
    >>> len(longer.steps) - len(solution.steps), longer.final_answer == solution.final_answer
    (2, True)
    >>> [s.split(":")[0] for s in longer.steps[:-1]] == [f"Step {i}" for i in range(1, len(longer.steps))]
    True
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from course_lib.data.arithmetic import Solution

FILLER = "Let me check that step again."
_NUMBERED = re.compile(r"^Step \d+: ")


def add_filler_steps(solution: Solution, k: int, rng: random.Random, filler: str = FILLER) -> Solution:
    """``solution`` with ``k`` filler steps, each right after a random operation step (one may follow another).

    Steps are renumbered; ``first_error`` points at the same wrong step as before.
    """
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")
    steps = list(solution.steps)
    if len(steps) < 3 or not all(_NUMBERED.match(s) for s in steps[:-1]):
        raise ValueError("solution needs numbered steps ('Step 1: ...') and an answer line, as generated ones have")
    positions = sorted(rng.randint(1, len(steps) - 2) for _ in range(k))  # after operation step p (index >= 1)
    body = [_NUMBERED.sub("", s) for s in steps[:-1]]
    marked: list[tuple[str, bool]] = []  # (text without its number, is filler)
    for i, text in enumerate(body):
        marked.append((text, False))
        marked += [(filler, True)] * positions.count(i)
    new_steps = [f"Step {n}: {text}" for n, (text, _) in enumerate(marked, start=1)] + [steps[-1]]
    first_error = solution.first_error
    if first_error is not None:  # the original step's new index: count non-filler steps
        originals = [n for n, (_, is_filler) in enumerate(marked) if not is_filler]
        first_error = originals[first_error] if first_error < len(originals) else len(new_steps) - 1
    return replace(solution, text="\n".join(new_steps), first_error=first_error, steps=tuple(new_steps))
