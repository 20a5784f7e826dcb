"""Process rewards: scoring a solution step by step (book chapters 8 and 9).

An outcome reward model (ORM) gives one number for a whole solution; a process reward model (PRM)
gives one per step (Lightman et al., 2023). This module has the pieces the course builds on; the
step-text helpers (:func:`split_steps`, :func:`check_arithmetic`, :func:`extract_answer`, ...) live
in :mod:`course_lib.data.step_text` and are re-exported here, where chapter 3 and ps2-ps3 import them.

* :func:`split_steps`: a solution's steps are its non-empty lines.
* :func:`assign_step_rewards`: without step labels, spread an outcome reward backwards with a
  decay, ``r_i = outcome_reward * decay**(T-1-i)`` (chapter 9).
* :func:`check_arithmetic`, :func:`extract_answer`, :func:`score_steps`: a heuristic PRM that
  checks every ``a op b = c`` claim and compares the final answer with the ground truth (chapter 8).
* :func:`aggregate_steps` (min, prod, last, mean) and :func:`first_error_step`.
* :class:`StepRewardModel`: the heuristic, or a trained neural PRM (chapter 10), behind one API.

Example:
    >>> solution = "Step 1: 45 - 18 = 27.\\nThe answer is: 27"
    >>> [(step, round(r, 2)) for step, r in assign_step_rewards(solution, outcome_reward=1.0, decay=0.5)]
    [('Step 1: 45 - 18 = 27.', 0.5), ('The answer is: 27', 1.0)]
    >>> first_error_step("Step 1: 45 - 18 = 28.\\nThe answer is: 28", ground_truth=27)
    0
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from course_lib.data.step_text import (
    CLAIM,
    NUMBER,
    arithmetic_claims,
    check_arithmetic,
    extract_answer,
    parse_number,
    split_steps,
)

__all__ = [
    "AGGREGATIONS",
    "StepRewardModel",
    "aggregate_steps",
    "arithmetic_claims",
    "assign_step_rewards",
    "check_arithmetic",
    "extract_answer",
    "first_error_step",
    "parse_number",
    "score_step",
    "score_steps",
    "split_steps",
]

# Heuristic step scores, on PRM800K's scale of "this step is correct".
SCORE_WRONG_ANSWER = 0.0
SCORE_WRONG_ARITHMETIC = 0.1
SCORE_NEUTRAL = 0.7  # a step with nothing to check
SCORE_RIGHT_ARITHMETIC = 0.9
SCORE_RIGHT_ANSWER = 1.0
AGGREGATIONS = ("min", "prod", "last", "mean")


def assign_step_rewards(solution: str, outcome_reward: float = 1.0, decay: float = 0.9) -> list[tuple[str, float]]:
    """Interpolate an outcome reward backwards over the steps: step ``i`` of ``T`` gets ``R * decay**(T-1-i)``.

    The last step gets the full outcome reward; earlier steps get geometrically less, because they
    are further from the outcome that the reward judged. ``decay=1`` gives every step the outcome.
    """
    if not (isinstance(decay, (int, float)) and 0.0 < decay <= 1.0):
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    steps = split_steps(solution)
    if not steps:
        raise ValueError("solution has no steps (no non-empty lines); nothing to reward")
    T = len(steps)
    return [(step, float(outcome_reward) * decay ** (T - 1 - i)) for i, step in enumerate(steps)]


def _answer_matches(answer: float, ground_truth: float) -> bool:
    return math.isclose(answer, float(ground_truth), rel_tol=1e-6, abs_tol=1e-6)


def score_step(step: str, ground_truth: float | None = None) -> float:
    """Heuristic score of one step in [0, 1]: >= 0.5 means the step looks right."""
    answer = extract_answer(step)
    if answer is not None and ground_truth is not None:
        return SCORE_RIGHT_ANSWER if _answer_matches(answer, ground_truth) else SCORE_WRONG_ANSWER
    verdict = check_arithmetic(step)
    if verdict is None:
        return SCORE_NEUTRAL
    return SCORE_RIGHT_ARITHMETIC if verdict else SCORE_WRONG_ARITHMETIC


def score_steps(solution: str, ground_truth: float | None = None) -> list[tuple[str, float]]:
    """Heuristic PRM: ``[(step, score)]`` with arithmetic checked and the final answer compared."""
    return [(step, score_step(step, ground_truth)) for step in split_steps(solution)]


def aggregate_steps(scores: Sequence[float], method: str = "min") -> float:
    """One solution score from step scores: ``min`` (weakest step), ``prod`` (all steps right), ``last`` or ``mean``.

    >>> aggregate_steps([0.9, 0.5, 1.0], "min"), aggregate_steps([0.9, 0.5, 1.0], "prod")
    (0.5, 0.45)
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"method must be one of {AGGREGATIONS}, got {method!r}")
    values = [float(s) for s in scores]
    if not values:
        raise ValueError("scores is empty; a solution needs at least one step score")
    if method == "min":
        return min(values)
    if method == "prod":
        return math.prod(values)
    return values[-1] if method == "last" else sum(values) / len(values)


def first_error_step(solution: str, ground_truth: float | None = None, threshold: float = 0.5) -> int | None:
    """0-based index of the first step scoring below ``threshold`` (heuristic PRM), or None if none does."""
    for i, (_, score) in enumerate(score_steps(solution, ground_truth)):
        if score < threshold:
            return i
    return None


class StepRewardModel:
    """Step-level scores behind one API: the arithmetic heuristic, or a trained neural PRM.

    ``StepRewardModel(use_heuristic=True)`` needs nothing else. ``StepRewardModel(use_heuristic=False,
    model=prm, tokenizer=tok)`` scores each step with :class:`course_lib.models.neural_prm.NeuralPRM`
    at the step's newline token (chapter 10). With ``problem=`` the heuristic also flags operands
    that appear neither in the problem nor in an earlier step (a copied wrong number).
    """

    def __init__(self, use_heuristic: bool = True, model=None, tokenizer=None):
        if not use_heuristic and (model is None or tokenizer is None):
            raise ValueError("use_heuristic=False needs model= (a NeuralPRM) and tokenizer=")
        self.use_heuristic = use_heuristic
        self.model, self.tokenizer = model, tokenizer

    def score_solution(
        self, solution: str, ground_truth: float | None = None, problem: str | None = None
    ) -> list[tuple[str, float]]:
        if not self.use_heuristic:
            from course_lib.models.neural_prm import score_solution_steps

            return score_solution_steps(self.model, self.tokenizer, solution, prompt=problem or "")
        scored = score_steps(solution, ground_truth)
        if problem is None:
            return scored
        known = {parse_number(n) for n in re.findall(NUMBER, problem)}
        out = []
        for step, score in scored:
            claims = list(CLAIM.finditer(step))
            operands = [parse_number(n) for m in claims for n in re.findall(NUMBER, m["lhs"])]
            if score >= 0.5 and claims and not all(x in known for x in operands):
                score = 0.3  # uses a number that came from nowhere
            known.update(parse_number(m["rhs"]) for m in claims)
            out.append((step, score))
        return out
