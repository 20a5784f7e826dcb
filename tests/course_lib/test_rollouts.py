"""Monte-Carlo step labels (chapter 9)."""

import dataclasses

import pytest

from course_lib.credit_assignment.rollouts import (
    LabelAgreement,
    RolloutConfig,
    RolloutLabels,
    compare_with_true,
    label_agreement,
    rollout_step_labels,
)
from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.policy import PolicyConfig, SimulatedPolicy


def test_rollout_labels_find_errors_better_than_chance():
    gen, policy = ProblemGenerator(seed=1), SimulatedPolicy(seed=1)
    agreements = []
    for i in range(30):
        problem = gen.problem()
        solution = gen.wrong_solution(problem, "arithmetic_slip") if i % 2 else gen.correct_solution(problem)
        labels = rollout_step_labels(problem, solution, policy, RolloutConfig(n_rollouts=8))
        assert len(labels.soft) == len(labels.hard) == len(solution.steps)
        assert all(0.0 <= s <= 1.0 for s in labels.soft) and set(labels.hard) <= {0, 1}
        assert labels.soft[-1] == float(solution.is_correct)
        agreements.append(compare_with_true(labels, solution.step_labels))
        assert agreements[-1].soft == label_agreement([int(s >= 0.5) for s in labels.soft], solution.step_labels)
    assert sum(a.soft for a in agreements) / len(agreements) > 0.75
    assert sum(a.hard for a in agreements) / len(agreements) > 0.75


def test_a_policy_without_mistakes_or_luck_gives_the_true_labels():
    exact = PolicyConfig(slip_rate=(0.0, 0.0), wrong_operation_rate=0.0, copy_rate=0.0, misconception_rate=0.0)
    policy = SimulatedPolicy(seed=0, config=dataclasses.replace(exact, lucky_rate=0.0))
    gen = ProblemGenerator(seed=4)
    for kind in ("arithmetic_slip", "wrong_operation", "copied_wrong_number", None):
        problem = gen.problem()
        solution = gen.wrong_solution(problem, kind) if kind else gen.correct_solution(problem)
        labels = rollout_step_labels(problem, solution, policy, RolloutConfig(n_rollouts=3))
        assert labels.hard == [int(y) for y in solution.step_labels], kind
        assert labels.soft == [float(y) for y in solution.step_labels], kind
        assert compare_with_true(labels, solution.step_labels) == LabelAgreement(hard=1.0, soft=1.0)


def test_hard_label_is_any_and_soft_is_the_fraction():
    policy = SimulatedPolicy(seed=0, config=PolicyConfig(slip_rate=(0.5, 0.5), lucky_rate=0.0))
    gen = ProblemGenerator(seed=6)
    problem = gen.problem()
    labels = rollout_step_labels(problem, gen.correct_solution(problem), policy, RolloutConfig(n_rollouts=16))
    assert all(s in {k / 16 for k in range(17)} for s in labels.soft)
    assert labels.hard == [int(s > 0) for s in labels.soft]
    assert 0 < labels.soft[0] < 1  # a right first step whose completions often slip


def test_rollouts_are_reproducible():
    gen = ProblemGenerator(seed=2)
    problem = gen.problem()
    solution = gen.wrong_solution(problem)
    first = rollout_step_labels(problem, solution, SimulatedPolicy(seed=3))
    assert first == rollout_step_labels(problem, solution, SimulatedPolicy(seed=3))


def test_bad_input():
    with pytest.raises(ValueError, match="n_rollouts must be"):
        RolloutConfig(n_rollouts=0)
    gen = ProblemGenerator(seed=0)
    problem = gen.problem()
    no_steps = dataclasses.replace(gen.correct_solution(problem), steps=())
    with pytest.raises(ValueError, match="must have its steps"):
        rollout_step_labels(problem, no_steps, SimulatedPolicy(seed=0))
    with pytest.raises(ValueError, match="differ in length"):
        label_agreement([1, 0], [True])
    with pytest.raises(ValueError, match="no labels"):
        label_agreement([], [])
    assert label_agreement([1, 0, 1], [True, True, True]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="threshold must be in"):
        compare_with_true(RolloutLabels(soft=[1.0], hard=[1]), [True], threshold=0.0)
