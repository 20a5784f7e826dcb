"""course_lib.data.policy: a seeded policy whose mistakes are correlated within a problem."""

import dataclasses
from collections import Counter

import pytest

from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.policy import PolicyConfig, SimulatedPolicy
from course_lib.data.step_parser import parse_step
from course_lib.data.step_text import extract_answer, format_number

PERFECT = PolicyConfig(slip_rate=(0.0, 0.0), wrong_operation_rate=0.0, copy_rate=0.0, misconception_rate=0.0)


def _problems(n: int, seed: int = 0):
    gen = ProblemGenerator(seed=seed)
    return [gen.problem() for _ in range(n)]


def _step_is_right(problem, i: int, step: str) -> bool:
    """Step i (0-based) states the problem's start or applies its operation i correctly, from any value."""
    parsed = parse_step(step)
    if i == 0:
        return parsed.result == problem.start
    op = problem.operations[i - 1]
    exact = {"+": parsed.lhs + op.operand, "-": parsed.lhs - op.operand, "*": parsed.lhs * op.operand}
    claimed = exact.get(op.op, parsed.lhs / op.operand)
    return parsed.op == op.op and parsed.operand == op.operand and abs(parsed.result - claimed) < 0.01


def test_samples_are_consistent_with_their_labels():
    policy = SimulatedPolicy(seed=0)
    kinds = Counter()
    for problem in _problems(60):
        for s in policy.sample(problem, 8):
            assert len(s.steps) == len(problem.operations) + 2 and s.text == "\n".join(s.steps)
            assert s.final_answer == parse_step(s.steps[-1]).result
            assert s.is_correct == (s.final_answer == problem.answer)
            right = [_step_is_right(problem, i, step) for i, step in enumerate(s.steps[:-1])]
            assert s.first_error == (None if all(right) else right.index(False))  # the first wrong step, 0-based
            assert (s.error_kind == "lucky") == (s.is_correct and s.first_error is not None)
            kinds[s.error_kind] += 1
    assert set(kinds) == {None, "arithmetic_slip", "wrong_operation", "copied_wrong_number", "lucky"}, kinds


def test_same_seed_same_samples():
    problems = _problems(5)
    first = [SimulatedPolicy(seed=4).sample(p, 6) for p in problems]
    assert first == [SimulatedPolicy(seed=4).sample(p, 6) for p in problems]
    assert first != [SimulatedPolicy(seed=5).sample(p, 6) for p in problems]


def test_no_error_rates_give_correct_solutions():
    policy = SimulatedPolicy(seed=1)
    for problem in _problems(20):
        assert all(s.is_correct and s.first_error is None for s in policy.sample(problem, 4, PERFECT))


def test_misconceptions_make_wrong_answers_agree():
    """A systematic error repeats across samples, so its wrong answer forms a cluster; slips scatter."""

    def largest_wrong_cluster(config: PolicyConfig) -> float:
        policy, sizes = SimulatedPolicy(seed=2, config=config), []
        for problem in _problems(40):
            wrong = Counter(s.final_answer for s in policy.sample(problem, 16) if not s.is_correct)
            sizes.append(max(wrong.values(), default=0) / 16)
        return sum(sizes) / len(sizes)

    scattered = PolicyConfig(slip_rate=(0.15, 0.15), misconception_rate=0.0, lucky_rate=0.0)
    systematic = PolicyConfig(
        slip_rate=(0.15, 0.15), misconception_rate=1.0, misconception_strength=(0.6, 0.6), lucky_rate=0.0
    )
    assert largest_wrong_cluster(systematic) > largest_wrong_cluster(scattered) + 0.15


def test_profile_is_a_fixed_function_of_seed_and_problem():
    problem = _problems(1)[0]
    policy = SimulatedPolicy(seed=7, config=PolicyConfig(misconception_rate=1.0))
    profile = policy.profile(problem)
    policy.sample(problem, 5)
    assert policy.profile(problem) == profile == SimulatedPolicy(seed=7, config=policy.config).profile(problem)
    assert 1 <= profile.misconception_step <= len(problem.operations)
    assert profile.misconception_kind in ("wrong_operation", "copied_wrong_number")
    assert SimulatedPolicy(seed=7).profile(problem, PolicyConfig(misconception_rate=0.0)).misconception_step is None


def test_lucky_chains_cancel_their_error_with_a_second_slip():
    policy = SimulatedPolicy(seed=3, config=PolicyConfig(slip_rate=(0.5, 0.5), lucky_rate=1.0))
    problems = _problems(10)
    samples = [(p, s) for p in problems for s in policy.sample(p, 8)]
    early = [(p, s) for p, s in samples if s.first_error is not None and s.first_error < len(p.operations)]
    assert early and all(s.is_correct and s.error_kind == "lucky" for _, s in early)
    for p, s in early:  # the answer line follows from the last claim, which is the right answer
        assert s.steps[-2].endswith(f"= {format_number(p.answer)}.") and extract_answer(s.text) == p.answer
    assert sum(s.error_kind == "lucky" for _, s in samples) > len(samples) / 2


def test_complete_continues_a_prefix():
    gen = ProblemGenerator(seed=5)
    problem = gen.problem()
    right = gen.correct_solution(problem)
    policy = SimulatedPolicy(seed=0)
    for k in range(1, len(right.steps)):  # every prefix up to the last operation step
        for c in policy.complete(problem, right.steps[:k], 3, PERFECT):
            assert c.steps[:k] == right.steps[:k] and c.is_correct and c.first_error is None
    wrong = gen.wrong_solution(problem, "arithmetic_slip")
    prefix = wrong.steps[: wrong.first_error + 1]
    completions = policy.complete(problem, prefix, 4, dataclasses.replace(PERFECT, lucky_rate=0.0))
    assert all(not c.is_correct and c.first_error == wrong.first_error for c in completions)
    assert all(c.final_answer == wrong.final_answer for c in completions)  # the slipped value is carried on
    assert policy.complete(problem, right.steps[:1], 0) == []


def test_bad_input():
    problem = _problems(1)[0]
    policy = SimulatedPolicy(seed=0)
    steps = ProblemGenerator(seed=0).correct_solution(problem).steps
    with pytest.raises(ValueError, match="n must be an integer >= 0, got -1"):
        policy.sample(problem, -1)
    with pytest.raises(ValueError, match="n must be an integer >= 0, got 2.0"):
        policy.complete(problem, steps[:1], 2.0)
    with pytest.raises(ValueError, match="prefix must be a non-empty list"):
        policy.complete(problem, [], 2)
    with pytest.raises(ValueError, match="pass at most that many"):
        policy.complete(problem, list(steps[:-1]) + ["Step 9: It sells 1. So 1 - 1 = 0."], 2)
    with pytest.raises(ValueError, match="not an operation step"):
        policy.complete(problem, [steps[0], "Let me think.", steps[2]], 2)
    with pytest.raises(ValueError, match="cannot read a running value"):
        policy.complete(problem, [steps[0], steps[-1]], 2)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(slip_rate=(0.3, 0.1)), r"slip_rate must be a range .* got \(0.3, 0.1\)"),
        (dict(misconception_strength=(0.0, 1.5)), "misconception_strength must be a range"),
        (dict(lucky_rate=-0.1), r"lucky_rate must be in \[0, 1\], got -0.1"),
        (dict(misconception_rate=2.0), "misconception_rate must be in"),
    ],
)
def test_bad_config(bad, message):
    with pytest.raises(ValueError, match=message):
        PolicyConfig(**bad)
