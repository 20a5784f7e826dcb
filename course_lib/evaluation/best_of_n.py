"""Best-of-N selection: pick one of N candidate solutions (book chapters 7 and 11).

Given N sampled solutions to one problem, a selector returns the index of the one to submit:

* :func:`select_majority`: the most common final answer (self-consistency; no reward model).
* :func:`select_orm`: the highest outcome reward.
* :func:`select_prm`: the highest aggregate of step rewards (``min`` or ``prod``, Lightman et al., 2023).

Example:
    >>> select_majority([27.0, 26.0, 27.0, None])
    0
    >>> select_orm([0.1, 0.7, 0.3])
    1
    >>> select_prm([[0.9, 0.2], [0.8, 0.7], [1.0, 0.1]], method="min")
    1
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from course_lib.credit_assignment.process_reward import aggregate_steps


def _check_nonempty(values: Sequence, name: str) -> None:
    if len(values) == 0:
        raise ValueError(f"{name} is empty; best-of-N needs at least one candidate")


def select_majority(answers: Sequence[float | None]) -> int:
    """Index of the first candidate whose answer is the most common one (``None`` answers never win)."""
    _check_nonempty(answers, "answers")
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return 0
    top = max(votes.values())
    winner = next(a for a in answers if a is not None and votes[a] == top)
    return list(answers).index(winner)


def select_orm(scores: Sequence[float]) -> int:
    """Index of the highest outcome reward (first one on ties)."""
    _check_nonempty(scores, "scores")
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def select_prm(step_scores: Sequence[Sequence[float]], method: str = "min") -> int:
    """Index of the candidate whose step scores aggregate highest (``min``, ``prod``, ``last``, ``mean``)."""
    _check_nonempty(step_scores, "step_scores")
    return select_orm([aggregate_steps(s, method) for s in step_scores])


def select_weighted_majority(answers: Sequence[float | None], scores: Sequence[float]) -> int:
    """Math-Shepherd's verifier-weighted vote: the answer with the largest summed score wins."""
    _check_nonempty(answers, "answers")
    if len(answers) != len(scores):
        raise ValueError(f"answers and scores must have the same length, got {len(answers)} and {len(scores)}")
    totals: Counter = Counter()
    for a, s in zip(answers, scores):
        if a is not None:
            totals[a] += float(s)
    if not totals:
        return 0
    best = max(totals.values())
    return next(i for i, a in enumerate(answers) if a is not None and totals[a] == best)
