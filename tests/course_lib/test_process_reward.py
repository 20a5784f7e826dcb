"""course_lib.credit_assignment.process_reward: steps, decayed step rewards, the heuristic PRM, aggregation."""

import math

import pytest

from course_lib.credit_assignment.process_reward import (
    SCORE_NEUTRAL,
    StepRewardModel,
    aggregate_steps,
    arithmetic_claims,
    assign_step_rewards,
    check_arithmetic,
    extract_answer,
    first_error_step,
    parse_number,
    score_step,
    score_steps,
    split_steps,
)
from course_lib.demo import SEED_SOLUTION
from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.neural_prm import NeuralPRM


def test_split_steps_handles_crlf_blank_lines_and_spaces():
    assert split_steps("a = 1\r\n\r\n  b = 2  \r\nThe answer is: 2\r\n") == ["a = 1", "b = 2", "The answer is: 2"]
    assert split_steps("one\rtwo\nthree") == ["one", "two", "three"]
    assert split_steps("") == []


def test_split_steps_bad_input():
    with pytest.raises(TypeError, match="solution must be a str, got list"):
        split_steps(["a", "b"])


def test_assign_step_rewards_decay_point_nine():
    rewards = [r for _, r in assign_step_rewards("\n".join(f"step {i}" for i in range(4)), 1.0, 0.9)]
    assert rewards == pytest.approx([0.729, 0.81, 0.9, 1.0])
    assert [r for _, r in assign_step_rewards("a\nb\nc", outcome_reward=2.0, decay=1)] == [2.0, 2.0, 2.0]
    assert assign_step_rewards("a\r\n\r\nb", -1.0, 0.5) == [("a", -0.5), ("b", -1.0)]


@pytest.mark.parametrize("decay", [0.0, -0.5, 1.5, "0.9", float("nan")])
def test_assign_step_rewards_bad_decay(decay):
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\], got"):
        assign_step_rewards("a\nb", 1.0, decay)


@pytest.mark.parametrize("solution", ["", "\n  \r\n"])
def test_assign_step_rewards_no_steps(solution):
    with pytest.raises(ValueError, match="solution has no steps"):
        assign_step_rewards(solution)


def test_parse_number_and_arithmetic_claims():
    assert parse_number("1,200") == 1200.0 and parse_number("$27") == 27.0
    assert arithmetic_claims("So 2 + 3 * 4 = 14 and 10 / 4 = 2.5.") == [(14.0, 14.0, "14"), (2.5, 2.5, "2.5")]
    assert arithmetic_claims("Step 2: nothing to check.") == []
    with pytest.raises(ValueError):
        parse_number("twelve")


@pytest.mark.parametrize(
    "step, verdict",
    [
        ("So 45 - 18 = 27.", True),
        ("So 45 - 18 = 28.", False),
        ("So 1,000 x 3 = 3,000.", True),
        ("So 10 / 3 = 3.33.", True),
        ("So 10 / 3 = 3.4.", False),
        ("So 7 × 6 = 42 and 42 + 1 = 44.", False),
        ("Step 3: The remaining count is 27.", None),
    ],
)
def test_check_arithmetic(step, verdict):
    assert check_arithmetic(step) is verdict


def test_extract_answer():
    assert extract_answer("...\nThe answer is: 1,200") == 1200.0
    assert extract_answer("#### 72") == 72.0
    assert extract_answer("The answer is 3. No wait, the answer is: 4") == 4.0
    assert extract_answer("no final answer") is None


def test_score_step_and_score_steps():
    assert score_step("So 45 - 18 = 27.") >= 0.5 > score_step("So 45 - 18 = 28.")
    assert score_step("The answer is: 27", ground_truth=27) == 1.0
    assert score_step("The answer is: 28", ground_truth=27) == 0.0
    assert score_step("Nothing to check.") == SCORE_NEUTRAL
    assert [s for _, s in score_steps(SEED_SOLUTION, ground_truth=27)] == pytest.approx([0.7, 0.9, 0.7, 0.9, 1.0])


def test_first_error_step():
    assert first_error_step(SEED_SOLUTION, 27) is None
    assert first_error_step(SEED_SOLUTION.replace("= 27.\nStep 3", "= 28.\nStep 3"), 27) == 1
    assert first_error_step(SEED_SOLUTION, 26) == 4
    assert first_error_step(SEED_SOLUTION, 27, threshold=0.8) == 0


@pytest.mark.parametrize("method, expected", [("min", 0.5), ("prod", 0.45), ("last", 1.0), ("mean", 0.8)])
def test_aggregate_steps(method, expected):
    assert aggregate_steps([0.9, 0.5, 1.0], method) == pytest.approx(expected)


def test_aggregate_steps_prod_is_probability_all_steps_right():
    assert aggregate_steps([0.5] * 10, "prod") == pytest.approx(0.5**10)
    assert aggregate_steps([0.2], "mean") == aggregate_steps([0.2], "last") == 0.2


@pytest.mark.parametrize("scores, method, message", [([0.5], "max", "method must be one of"), ([], "min", "empty")])
def test_aggregate_steps_bad_input(scores, method, message):
    with pytest.raises(ValueError, match=message):
        aggregate_steps(scores, method)


def test_heuristic_model_correct_steps_high_wrong_steps_low():
    model = StepRewardModel()
    scores = [s for _, s in model.score_solution(SEED_SOLUTION, ground_truth=27)]
    assert all(s >= 0.5 for s in scores)
    wrong = SEED_SOLUTION.replace("45 - 18 = 27", "45 - 18 = 28")
    scored = model.score_solution(wrong, ground_truth=27)
    assert scored[1][1] < 0.5 and all(s >= 0.5 for _, s in scored[:1])


def test_heuristic_model_with_the_problem_flags_numbers_from_nowhere():
    problem = "A store has 45 apples. It sells 18 of them. How many are left?"
    solution = "Step 1: We start with 45.\nStep 2: So 45 - 81 = -36.\nThe answer is: -36"
    model = StepRewardModel()
    assert model.score_solution(solution, problem=problem)[1][1] < 0.5
    assert model.score_solution(solution)[1][1] >= 0.5  # without the problem the claim itself holds
    ok = "Step 1: We start with 45.\nStep 2: So 45 - 18 = 27.\nStep 3: So 27 + 27 = 54."
    assert all(s >= 0.5 for _, s in model.score_solution(ok, problem=problem))  # 27 came from step 2


def test_neural_model_path_needs_a_model_and_tokenizer():
    with pytest.raises(ValueError, match="use_heuristic=False needs model="):
        StepRewardModel(use_heuristic=False)
    backbone, tokenizer = build_tiny_backbone()
    model = StepRewardModel(use_heuristic=False, model=NeuralPRM(backbone), tokenizer=tokenizer)
    scored = model.score_solution(SEED_SOLUTION, ground_truth=27, problem="A store has 45 apples.")
    assert [s for s, _ in scored] == split_steps(SEED_SOLUTION)
    assert all(0.0 < p < 1.0 and math.isfinite(p) for _, p in scored)
