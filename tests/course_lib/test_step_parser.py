"""course_lib.data.step_parser: the fields of a generated step, read back as written."""

import pytest

from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.policy import SimulatedPolicy
from course_lib.data.step_parser import ParsedStep, parse_step


@pytest.mark.parametrize(
    "step, expected",
    [
        ("Step 1: We start with 45 apples.", ParsedStep("start", 45.0)),
        ("Step 1: We start with $1,200.", ParsedStep("start", 1200.0)),
        (
            "Step 2: It sells 18. So 45 - 18 = 28.",  # a wrong claim is read as written
            ParsedStep("operation", 28.0, "It sells 18", "-", 45.0, 18.0),
        ),
        (
            "Step 3: The order needs 7 times as many. So 1,017 x 7 = 7,119.",
            ParsedStep("operation", 7119.0, "The order needs 7 times as many", "*", 1017.0, 7.0),
        ),
        (
            "Step 4: She shares it among 4 friends. So $90 / 4 = 22.50.",
            ParsedStep("operation", 22.5, "She shares it among 4 friends", "/", 90.0, 4.0),
        ),
        ("The answer is: 1,200", ParsedStep("answer", 1200.0)),
        ("  The answer is: 27  ", ParsedStep("answer", 27.0)),
        ("Let me think about this.", ParsedStep("other")),
        ("Step 2: So 45 - 18 = 27.", ParsedStep("other")),  # no phrase before "So"
        ("", ParsedStep("other")),
    ],
)
def test_parse_step(step, expected):
    assert parse_step(step) == expected


def test_every_step_of_generated_solutions_parses_to_its_operation():
    gen, policy = ProblemGenerator(seed=3), SimulatedPolicy(seed=3)
    for _ in range(40):
        problem = gen.problem()
        for solution in [gen.correct_solution(problem), *policy.sample(problem, 3)]:
            parsed = [parse_step(s) for s in solution.steps]
            assert [p.kind for p in parsed] == ["start"] + ["operation"] * len(problem.operations) + ["answer"]
            assert parsed[0].result == problem.start and parsed[-1].result == solution.final_answer
            for before, step in zip(parsed, parsed[1:-1]):
                assert step.lhs == before.result  # each step continues from the value the one before claims
        correct = [parse_step(s) for s in gen.correct_solution(problem).steps]
        for step, op in zip(correct[1:-1], problem.operations):
            assert (step.op, step.operand, step.result) == (op.op, op.operand, op.result)


@pytest.mark.parametrize("bad", [None, 3, ["Step 1: We start with 4 eggs."]])
def test_parse_step_rejects_non_strings(bad):
    with pytest.raises(TypeError, match="step must be a str"):
        parse_step(bad)
