"""Rewards for RL on the course's arithmetic problems: an outcome reward and shaped step rewards (book chapter 17).

A policy's solution earns

* an **outcome reward**: 1 when its final answer (``The answer is: N``) equals the problem's, else 0,
  the success reward of RL on verifiable answers;
* **step rewards** from a process verifier: here the course-pretrained LM judging each step's claim
  ``a op b = c`` (:class:`~course_lib.models.likelihood.ClaimLikelihood`): the step reward is the
  judge's probability of the least likely token of the written result, in [0, 1]. Steps without a
  claim (the start, the answer) have nothing to check and get none.

:func:`aggregate_step_rewards` turns the step rewards into one number, the four ways of Gao et al.
(2024): ``"sum"`` and ``"mean"``, the natural choices, and their two fixes. ``"clip"`` gives each step
``min(r - eta, 0)``, so a step can lose reward but never add any: the total is at most 0 however
many steps are written. ``"delta"`` gives step k ``r_k - r_{k+1}`` (the last keeps ``r_K``), a sum
that telescopes to ``r_1``: extra steps cancel out.

Example:
    >>> aggregate_step_rewards([0.9, 0.2, 0.9], "sum"), aggregate_step_rewards([0.9, 0.2, 0.9], "clip", eta=0.5)
    (2.0, -0.3)
    >>> aggregate_step_rewards([0.9, 0.2, 0.9], "delta")  # = r_1
    0.9
    >>> outcome_reward("Step 1: ...\\nThe answer is: 27", 27.0)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from course_lib.data.step_text import extract_answer, split_steps
from course_lib.models.likelihood import ClaimLikelihood
from course_lib.models.step_verifier import claim_of

AGGREGATIONS = ("sum", "mean", "clip", "delta")


def outcome_reward(solution: str, answer: float) -> float:
    """1.0 when the solution's final answer equals ``answer`` (to 1e-6), else 0.0 (also when there is none)."""
    written = extract_answer(solution)
    return float(written is not None and math.isclose(written, answer, abs_tol=1e-6))


def claim_steps(solution: str) -> list[str]:
    """The steps (lines) of ``solution`` that write a claim ``a op b = c``: the ones a step reward scores."""
    return [step for step in split_steps(solution) if claim_of(step) is not None]


def step_rewards(solution: str, judge: ClaimLikelihood) -> list[float]:
    """One reward in [0, 1] per claim step: the judge's probability of the result's least likely token.

    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> r = step_rewards("Step 2: It sells 18. So 45 - 18 = 27.\\nThe answer is: 27", ClaimLikelihood(*build_tiny_backbone()))
    >>> len(r), 0.0 <= r[0] <= 1.0
    (1, True)
    """
    return [math.exp(judge(*claim_of(step))[0]) for step in claim_steps(solution)]


def aggregate_step_rewards(rewards: Sequence[float], how: str = "sum", eta: float = 0.5) -> float:
    """One number from the step rewards: ``"sum"``, ``"mean"``, ``"clip"`` (sum of ``min(r - eta, 0)``) or ``"delta"``.

    No steps give 0 for every aggregation. ``eta`` is used by ``"clip"`` only.
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"how must be one of {AGGREGATIONS}, got {how!r}")
    rewards = [float(r) for r in rewards]
    if not rewards:
        return 0.0
    if how == "sum":
        return sum(rewards)
    if how == "mean":
        return sum(rewards) / len(rewards)
    if how == "clip":
        return sum(min(r - eta, 0.0) for r in rewards)
    shaped = [now - after for now, after in zip(rewards, rewards[1:])] + [rewards[-1]]  # delta: telescopes
    return sum(shaped)
