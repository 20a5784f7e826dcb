"""course_lib.data.arithmetic: seeded problems, correct solutions and wrong ones with a known first error."""

import random

import pytest

from course_lib.credit_assignment.process_reward import (
    StepRewardModel,
    check_arithmetic,
    extract_answer,
    first_error_step,
)
from course_lib.data.arithmetic import ERROR_KINDS, GeneratorConfig, ProblemGenerator, miscopy


def _problems(seed: int, n: int):
    gen = ProblemGenerator(seed=seed)
    return gen, [gen.problem() for _ in range(n)]


def test_same_seed_same_problems_solutions_and_wrong_solutions():
    def run(seed):
        gen, problems = _problems(seed, 20)
        return problems, [gen.correct_solution(p) for p in problems], [gen.wrong_solution(p) for p in problems]

    assert run(3) == run(3)
    assert run(3)[0] != run(4)[0]


def test_problem_chain_is_consistent_and_states_its_numbers():
    _, problems = _problems(0, 50)
    config = GeneratorConfig()
    for p in problems:
        assert config.min_steps <= len(p.operations) <= config.max_steps
        assert p.answer == float(p.operations[-1].result)
        assert p.numbers[0] == p.start
        for n in p.numbers:
            assert f"{n:,}" in p.question


def test_correct_solution_checks_out_step_by_step():
    gen, problems = _problems(1, 50)
    for p in problems:
        s = gen.correct_solution(p)
        assert s.is_correct and s.first_error is None and s.error_kind is None
        assert s.text == "\n".join(s.steps) and len(s.steps) == len(p.operations) + 2
        assert all(check_arithmetic(step) in (True, None) for step in s.steps)
        assert extract_answer(s.text) == p.answer == s.final_answer
        assert s.step_labels == [True] * len(s.steps)


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_wrong_solution_labels_from_the_first_error(kind):
    gen, problems = _problems(2, 40)
    for p in problems:
        s = gen.wrong_solution(p, kind)
        assert s.error_kind == kind and 1 <= s.first_error <= len(p.operations)
        assert s.step_labels == [i < s.first_error for i in range(len(s.steps))]
        assert s.is_correct == (kind == "lucky")
        assert (s.final_answer == p.answer) == (kind == "lucky")


def test_lucky_solutions_reach_the_answer_through_two_cancelling_slips():
    gen, problems = _problems(8, 60)
    for p in problems:
        s = gen.wrong_solution(p, "lucky")
        wrong = [i for i, step in enumerate(s.steps) if check_arithmetic(step) is False]
        assert wrong == [s.first_error, s.first_error + 1], s.text  # the slip, then the one that cancels it
        assert extract_answer(s.text) == p.answer == s.final_answer
        assert s.steps[-2].endswith(f"= {s.steps[-1].split(': ')[1]}."), s.text  # the last line follows


def test_lucky_solution_needs_two_operations():
    gen = ProblemGenerator(seed=0, config=GeneratorConfig(min_steps=1, max_steps=1))
    with pytest.raises(ValueError, match="at least 2 operations"):
        gen.wrong_solution(gen.problem(), "lucky")


@pytest.mark.parametrize("kind", ["arithmetic_slip", "lucky"])
def test_known_first_wrong_step_agrees_with_first_error_step(kind):
    gen, problems = _problems(5, 60)
    for p in problems:
        s = gen.wrong_solution(p, kind)
        assert first_error_step(s.text, ground_truth=p.answer) == s.first_error, s.text


def test_copied_wrong_number_is_caught_when_the_heuristic_reads_the_problem():
    gen, problems = _problems(6, 100)
    model, agree = StepRewardModel(), 0
    for p in problems:
        s = gen.wrong_solution(p, "copied_wrong_number")
        scores = [score for _, score in model.score_solution(s.text, p.answer, problem=p.question)]
        flagged = next(i for i, score in enumerate(scores) if score < 0.5)
        assert flagged >= s.first_error  # never blames a correct step before the error
        agree += flagged == s.first_error
    assert agree >= 90  # misses only when the wrong number happens to equal an earlier value


def test_wrong_operation_is_only_caught_at_the_final_answer():
    gen, problems = _problems(7, 40)
    for p in problems:
        s = gen.wrong_solution(p, "wrong_operation")
        assert all(check_arithmetic(step) in (True, None) for step in s.steps)  # the arithmetic is right
        assert first_error_step(s.text, ground_truth=p.answer) == len(s.steps) - 1


def test_sample_solutions_mixes_correct_and_wrong():
    gen, problems = _problems(8, 1)
    sols = gen.sample_solutions(problems[0], 40, p_correct=0.5)
    assert len(sols) == 40 and 5 < sum(s.first_error is None for s in sols) < 35
    assert all(s.first_error is None for s in gen.sample_solutions(problems[0], 5, p_correct=1.0))


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda g, p: g.wrong_solution(p, "typo"), "kind must be one of"),
        (lambda g, p: g.sample_solutions(p, 3, p_correct=1.5), r"p_correct must be in \[0, 1\], got 1.5"),
        (lambda g, p: ProblemGenerator(config=GeneratorConfig(min_steps=3, max_steps=2)), "min_steps <= max_steps"),
    ],
)
def test_bad_input(call, error):
    gen, problems = _problems(0, 1)
    with pytest.raises(ValueError, match=error):
        call(gen, problems[0])


def test_miscopy_is_near_the_number_and_never_an_avoided_one():
    rng = random.Random(0)
    copies = {miscopy(45, avoid=(45, 18, 47), rng=rng) for _ in range(200)}
    assert copies == {54, 42, 43, 44, 46, 48, 55}  # digits swapped, or off by 1-3 or 10
    assert miscopy(45, (45,), random.Random(7)) == miscopy(45, (45,), random.Random(7))


def test_miscopy_says_when_every_candidate_is_avoided():
    with pytest.raises(ValueError, match=r"every miscopy of 2 is in avoid=\(3, 4, 5, 12\)"):
        miscopy(2, avoid=(3, 4, 5, 12), rng=random.Random(0))
