"""course_lib.training.rl_rewards: the outcome reward, step rewards, and their four aggregations."""

import math

import pytest

from course_lib.training.rl_rewards import aggregate_step_rewards, claim_steps, outcome_reward, step_rewards

SOLUTION = "Step 1: We start with 45 apples.\nStep 2: It sells 18. So 45 - 18 = 27.\nThe answer is: 27"


class FakeJudge:
    """A judge that finds every result likely except 28."""

    def __call__(self, lhs, rhs):
        return (math.log(0.1), -3.0) if rhs == "28" else (math.log(0.9), 0.0)


def test_outcome_reward_reads_the_final_answer():
    assert outcome_reward(SOLUTION, 27.0) == 1.0
    assert outcome_reward(SOLUTION, 28.0) == 0.0
    assert outcome_reward("Step 1: We start with 45 apples.", 45.0) == 0.0  # no answer, no reward


def test_step_rewards_score_claim_steps_only():
    assert claim_steps(SOLUTION) == ["Step 2: It sells 18. So 45 - 18 = 27."]
    slipped = SOLUTION.replace("= 27.", "= 28.") + "\n27 + 1 = 28"
    assert step_rewards(SOLUTION, FakeJudge()) == pytest.approx([0.9])
    assert step_rewards(slipped, FakeJudge()) == pytest.approx([0.1, 0.1])


def test_aggregations():
    r = [0.9, 0.2, 0.9]
    assert aggregate_step_rewards(r, "sum") == pytest.approx(2.0)
    assert aggregate_step_rewards(r, "mean") == pytest.approx(2.0 / 3)
    assert aggregate_step_rewards(r, "clip", eta=0.5) == pytest.approx(-0.3)
    assert aggregate_step_rewards(r, "delta") == pytest.approx(0.9)
    assert all(aggregate_step_rewards([], how) == 0.0 for how in ("sum", "mean", "clip", "delta"))


def test_the_fixes_pay_nothing_for_extra_steps():
    """Repeating a good step raises the sum, but neither clip nor delta."""
    short, padded = [0.95, 0.8], [0.95, 0.8] + [0.99] * 5
    assert aggregate_step_rewards(padded, "sum") > aggregate_step_rewards(short, "sum") + 4
    assert aggregate_step_rewards(padded, "clip", eta=0.5) == aggregate_step_rewards(short, "clip", eta=0.5) == 0.0
    assert aggregate_step_rewards(padded, "delta") == aggregate_step_rewards(short, "delta") == 0.95


def test_bad_aggregation_is_named():
    with pytest.raises(ValueError, match="how must be one of"):
        aggregate_step_rewards([0.5], "max")
