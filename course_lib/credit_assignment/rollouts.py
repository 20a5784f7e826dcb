"""Monte-Carlo step labels: judge a step by how often its continuations succeed (book chapter 9).

Math-Shepherd (Wang et al., 2024) labels steps without annotators: from the prefix that ends at
step ``i``, let the policy finish the solution ``n`` times; the step's **soft** label is the fraction
of completions that reach the right answer, its **hard** label is 1 if any does. A step after an
error rarely leads to the right answer again, so the labels find the first wrong step, up to luck
(a wrong chain that still lands on the right answer) and noise (a right prefix whose completions all
slip).

Example:
    >>> from course_lib.data.arithmetic import ProblemGenerator
    >>> from course_lib.data.policy import SimulatedPolicy
    >>> gen = ProblemGenerator(seed=0)
    >>> problem = gen.problem()
    >>> wrong = gen.wrong_solution(problem, "arithmetic_slip")
    >>> labels = rollout_step_labels(problem, wrong, SimulatedPolicy(seed=0), RolloutConfig(n_rollouts=8))
    >>> len(labels.soft) == len(wrong.steps), labels.soft[0] > labels.soft[wrong.first_error]
    (True, True)
    >>> agreement = compare_with_true(labels, wrong.step_labels)  # how close to the true step labels
    >>> 0.0 <= agreement.hard <= 1.0 and 0.0 <= agreement.soft <= 1.0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.data.arithmetic import ArithmeticProblem, Solution
from course_lib.data.policy import SimulatedPolicy


@dataclass
class RolloutConfig:
    """How many completions estimate each step's label."""

    n_rollouts: int = 8

    def __post_init__(self):
        if not isinstance(self.n_rollouts, int) or self.n_rollouts < 1:
            raise ValueError(f"n_rollouts must be an int >= 1, got {self.n_rollouts!r}")


@dataclass
class RolloutLabels:
    """Per step: ``soft`` = fraction of completions that reach the right answer, ``hard`` = any did (0/1)."""

    soft: list[float]
    hard: list[int]


def rollout_step_labels(
    problem: ArithmeticProblem, solution: Solution, policy: SimulatedPolicy, config: RolloutConfig | None = None
) -> RolloutLabels:
    """Monte-Carlo labels for every step of ``solution`` (the answer line is judged by the answer itself)."""
    config = config or RolloutConfig()
    steps = list(solution.steps)
    if not steps or not steps[0].startswith("Step 1:"):
        raise ValueError("solution must have its steps (generated solutions do), starting with 'Step 1:'")
    soft = []
    for i in range(len(steps) - 1):  # every step but the answer line
        completions = policy.complete(problem, steps[: i + 1], config.n_rollouts)
        soft.append(sum(c.is_correct for c in completions) / config.n_rollouts)
    soft.append(float(solution.is_correct))
    return RolloutLabels(soft=soft, hard=[int(s > 0) for s in soft])


def label_agreement(estimated: Sequence[int], true: Sequence[bool]) -> float:
    """Fraction of steps where an estimated 0/1 label equals the true step label."""
    if len(estimated) != len(true):
        raise ValueError(f"estimated and true labels differ in length: {len(estimated)} vs {len(true)}")
    if not estimated:
        raise ValueError("no labels to compare")
    return sum(int(e) == int(t) for e, t in zip(estimated, true)) / len(estimated)


@dataclass(frozen=True)
class LabelAgreement:
    """Agreement of rollout labels with the true step labels: the hard label, and the soft one thresholded."""

    hard: float
    soft: float


def compare_with_true(labels: RolloutLabels, true: Sequence[bool], threshold: float = 0.5) -> LabelAgreement:
    """How well rollout labels approximate true step labels: ``hard`` as is, ``soft >= threshold`` as 1."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return LabelAgreement(
        hard=label_agreement(labels.hard, true),
        soft=label_agreement([int(s >= threshold) for s in labels.soft], true),
    )
