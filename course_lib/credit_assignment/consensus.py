"""Consensus filtering of Monte-Carlo step labels (book chapter 16; Zhang et al., 2025).

Rollout labels (chapter 9) are noisy in both directions: a wrong step can still reach the right
answer (a later slip cancels it), and a right step can fail because its completions slip. Zhang et
al. (2025) keep a training solution only where the Monte-Carlo estimate and an LLM-as-a-judge agree
on where the first error is (or agree that there is none), trading data for precision.

* :func:`mc_first_error`: the first step whose hard rollout label is 0 (no completion succeeded);
* :func:`judge_first_error`: the first step whose arithmetic claim the course-pretrained LM doubts
  (its own first choice for the result differs from the written one by more than ``doubt`` of
  :data:`~course_lib.models.step_verifier.SURPRISE_CAP` nats): a judge that reads claims and
  nothing else;
* :func:`consensus_keep`: which solutions both locate the same way.

Example:
    >>> from course_lib.credit_assignment.rollouts import RolloutLabels
    >>> mc_first_error(RolloutLabels(soft=[0.9, 0.5, 0.0, 0.0], hard=[1, 1, 0, 0]))
    2
    >>> consensus_keep([2, None, 1], [2, None, 3])
    [True, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

from course_lib.credit_assignment.rollouts import RolloutLabels
from course_lib.models.likelihood import ClaimLikelihood
from course_lib.models.step_verifier import claim_features

JUDGE_DOUBT = 0.1  # flag a claim when the LM's own result is ahead of the written one by > 2 nats


def mc_first_error(labels: RolloutLabels) -> int | None:
    """Index of the first step with hard label 0 (no rollout from it reached the answer), or None."""
    return next((i for i, h in enumerate(labels.hard) if h == 0), None)


def judge_first_error(steps: Sequence[str], judge: ClaimLikelihood, doubt: float = JUDGE_DOUBT) -> int | None:
    """Index of the first step whose claim ``judge`` doubts by more than ``doubt`` (in [0, 1)), or None."""
    if not 0.0 <= doubt < 1.0:
        raise ValueError(f"doubt must be in [0, 1), got {doubt}")
    for i, step in enumerate(steps):
        checked, _, step_doubt = claim_features(step, judge)
        if checked and step_doubt > doubt:
            return i
    return None


def consensus_keep(mc: Sequence[int | None], judge: Sequence[int | None]) -> list[bool]:
    """Per solution: do the two annotators name the same first error (or both none)?"""
    if len(mc) != len(judge):
        raise ValueError(f"mc has {len(mc)} entries but judge has {len(judge)}; give one per solution")
    return [m == j for m, j in zip(mc, judge)]
