"""Filler steps that lengthen a solution without changing it (chapter 16)."""

import random

import pytest

from course_lib.data.arithmetic import ProblemGenerator, Solution
from course_lib.data.step_parser import parse_step
from course_lib.data.verbosity import FILLER, add_filler_steps


@pytest.mark.parametrize("kind", ["arithmetic_slip", "wrong_operation", "copied_wrong_number"])
def test_filler_keeps_the_answer_and_the_first_error(kind):
    gen, rng = ProblemGenerator(seed=3), random.Random(3)
    for _ in range(20):
        wrong = gen.wrong_solution(gen.problem(), kind)
        longer = add_filler_steps(wrong, 3, rng)
        assert len(longer.steps) == len(wrong.steps) + 3
        assert (longer.final_answer, longer.is_correct, longer.error_kind) == (
            wrong.final_answer,
            wrong.is_correct,
            wrong.error_kind,
        )
        assert longer.steps[longer.first_error].split(": ", 1)[1] == wrong.steps[wrong.first_error].split(": ", 1)[1]
        assert [s.split(":")[0] for s in longer.steps[:-1]] == [f"Step {i}" for i in range(1, len(longer.steps))]
        assert longer.text == "\n".join(longer.steps)
        fillers = [s for s in longer.steps if s.endswith(FILLER)]
        assert len(fillers) == 3 and all(parse_step(s).kind == "other" for s in fillers)
        assert not longer.steps[1].endswith(FILLER)  # filler follows operation steps, never the start


def test_zero_filler_changes_nothing():
    gen = ProblemGenerator(seed=4)
    solution = gen.correct_solution(gen.problem())
    assert add_filler_steps(solution, 0, random.Random(0)) == solution


def test_bad_input():
    gen = ProblemGenerator(seed=5)
    solution = gen.correct_solution(gen.problem())
    with pytest.raises(ValueError, match="k must be"):
        add_filler_steps(solution, -1, random.Random(0))
    with pytest.raises(ValueError, match="numbered steps"):
        add_filler_steps(Solution("x", 1.0, True, steps=("x", "y", "The answer is: 1")), 1, random.Random(0))
