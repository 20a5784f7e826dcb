"""Consensus filtering of Monte-Carlo step labels (chapter 16)."""

import pytest

from course_lib.credit_assignment.consensus import consensus_keep, judge_first_error, mc_first_error
from course_lib.credit_assignment.rollouts import RolloutLabels


class FakeJudge:
    """A claim judge that doubts exactly the claims whose result is wrong: (log p, gap) per claim."""

    def __call__(self, lhs, rhs):
        right = eval(lhs.replace("x", "*")) == float(rhs)  # the test's claims are plain integers
        return (-0.1, 0.0) if right else (-8.0, -6.0)


def test_mc_first_error_is_the_first_hard_zero():
    assert mc_first_error(RolloutLabels(soft=[1.0, 0.5, 0.0, 0.2], hard=[1, 1, 0, 1])) == 2
    assert mc_first_error(RolloutLabels(soft=[1.0, 0.5], hard=[1, 1])) is None


def test_judge_flags_the_first_doubted_claim():
    steps = [
        "Step 1: We start with 45 apples.",
        "Step 2: It sells 18. So 45 - 18 = 27.",
        "Step 3: It sells 2. So 27 - 2 = 26.",
        "Step 4: It sells 1. So 26 - 1 = 24.",
        "The answer is: 24",
    ]
    assert judge_first_error(steps, FakeJudge()) == 2
    assert judge_first_error(steps[:2], FakeJudge()) is None
    assert judge_first_error(steps, FakeJudge(), doubt=0.5) is None  # a gap of 6 nats is 0.3 of the cap
    with pytest.raises(ValueError, match="doubt"):
        judge_first_error(steps, FakeJudge(), doubt=1.0)


def test_consensus_keeps_agreement_including_no_error():
    assert consensus_keep([2, None, 1, None], [2, None, 3, 1]) == [True, True, False, False]
    with pytest.raises(ValueError, match="one per solution"):
        consensus_keep([1], [1, 2])
