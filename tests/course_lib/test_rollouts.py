"""Monte-Carlo step labels (chapter 9)."""

import dataclasses

import pytest

from course_lib.credit_assignment.rollouts import RolloutConfig, label_agreement, rollout_step_labels
from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.policy import SimulatedPolicy


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
        agreements.append(label_agreement([int(s >= 0.5) for s in labels.soft], solution.step_labels))
    assert sum(agreements) / len(agreements) > 0.75


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
