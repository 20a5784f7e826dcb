"""Hidden grader for ps3_first_error (never released; runs in the judge, not in the sandbox).

Points: check_arithmetic 3, extract_answer 1, score_steps + first_error_step 3, aggregate_steps 1.
Expected values come from ``course_lib.credit_assignment.process_reward``; step scores are judged
on the contract (a float in [0, 1], >= 0.5 for a right step, < 0.5 for a wrong one), not on values.
"""

import math

from autograder.probes import call, points
from course_lib.credit_assignment.process_reward import aggregate_steps as ref_aggregate
from course_lib.credit_assignment.process_reward import check_arithmetic as ref_check
from course_lib.credit_assignment.process_reward import first_error_step as ref_first_error
from course_lib.credit_assignment.process_reward import score_steps as ref_score_steps
from course_lib.data.arithmetic import ERROR_KINDS, ProblemGenerator

REFERENCE = [
    "course_lib.data.step_text.check_arithmetic",
    "course_lib.data.step_text.extract_answer",
    "course_lib.credit_assignment.process_reward.score_steps",
    "course_lib.credit_assignment.process_reward.first_error_step",
    "course_lib.credit_assignment.process_reward.aggregate_steps",
]
COURSE_LIB = []  # the notebook uses nothing of course_lib
STEPS = {
    "right": ["So 45 - 18 = 27.", "So 7 * 8 = 56.", "So 96 / 4 = 24.", "So 2 + 3 + 4 = 9.", "So 13 x 3 = 39."],
    "wrong": ["So 45 - 18 = 28.", "So 7 * 8 = 54.", "So 96 / 4 = 23.", "So 2 + 3 + 4 = 10.", "So 13 x 3 = 36."],
    "commas": ["So 1,200 + 800 = 2,000.", "So 1,250 x 4 = 5,000.", "So 1,200 + 800 = 2,100."],
    "rounding": ["So 10 / 3 = 3.33.", "So 2 / 3 = 0.667.", "So 10 / 3 = 3.4.", "So 7 / 2 = 3.5."],
    "negative": ["So 5 - 8 = -3.", "So 5 - 8 = 3."],
    "two_claims": [
        "So 3 x 4 = 12 and 27 + 12 = 39.",
        "So 3 x 4 = 12 and 27 + 12 = 40.",
        "So 3 x 4 = 13 and 27 + 13 = 40.",
    ],
    "precedence": ["So 2 + 3 * 4 = 14.", "So 2 + 3 * 4 = 20."],
    "none": ["We start with 45 apples.", "Step 3: It buys 4 more.", "The shop has 1,200 boxes."],
}
KIND_OF_STEP = {  # what feedback says about each kind of step: never the step itself
    "right": "a correct claim",
    "wrong": "a wrong claim",
    "commas": "numbers with thousands separators",
    "rounding": "a result rounded to the decimals it shows",
    "negative": "a negative result",
    "two_claims": "a step with two claims",
    "precedence": "* and / before + and -",
    "none": "a step with no claim (None)",
}
ANSWERS = [
    "Step 1: ...\nThe answer is: 1,200",
    "So the answer is $27.",
    "THE ANSWER IS 3.5",
    "The answer is: 10\nWait, the answer is: 12",
    "no final answer here",
    "The answer is: -4",
]
KIND_OF_ANSWER = [
    "a thousands separator",
    "a dollar sign",
    "upper case without a colon",
    "two answers (the last one counts)",
    "no answer (None)",
    "a negative answer",
]


def _solutions():
    """``(text, ground truth, description)``: solutions with a known first wrong step (two per error kind), right ones."""
    gen, out = ProblemGenerator(seed=20261125), []
    for kind in ERROR_KINDS:
        for _ in range(2):
            problem = gen.problem()
            text = gen.wrong_solution(problem, kind).text
            out.append((text, problem.answer, f"a solution with an error of kind {kind}"))
    for _ in range(2):
        problem = gen.problem()
        out.append((gen.correct_solution(problem).text, problem.answer, "a correct solution"))
    crlf = "Step 1: We start with 1,000 coins.\r\n\r\nStep 2: It spends 250. So 1,000 - 250 = 750.\r\nThe answer is: $750\r\n"
    out += [
        (crlf, 750.0, "a correct solution with \\r\\n line ends"),
        (crlf, 760.0, "a solution whose only error is its final answer"),
        (
            "Step 1: So 2 + 2 = 5.\nStep 2: So 5 + 1 = 6.\nThe answer is: 6",
            5.0,
            "a solution wrong from its first step",
        ),
    ]
    return out


SOLUTIONS = _solutions()
SCORE_LISTS = [[0.9, 0.5, 1.0], [0.2], [1.0, 1.0, 0.7, 0.7], [0.6, 0.1, 0.9]]

# -- probes: run in the sandbox ---------------------------------------------------------------
check = {kind: [call("check_arithmetic", s) for s in steps] for kind, steps in STEPS.items()}
answers = [call("extract_answer", text) for text in ANSWERS]
scores = [call("score_steps", text, truth) for text, truth, _ in SOLUTIONS]
first = [call("first_error_step", text, truth) for text, truth, _ in SOLUTIONS]
aggregates = {m: [call("aggregate_steps", s, method=m) for s in SCORE_LISTS] for m in ("min", "prod", "last", "mean")}
aggregate_default = call("aggregate_steps", [0.8, 0.3, 0.9])
aggregate_empty = call("aggregate_steps", [])
aggregate_unknown = call("aggregate_steps", [0.5], method="max")
aggregate_tuple = call("aggregate_steps", (0.5, 0.25), method="prod")


def expect_checks(student, kind: str) -> None:
    """Messages name the kind of step, never the step or the expected verdict: feedback must not hand out answers."""
    for probe, step in zip(check[kind], STEPS[kind]):
        got = student[probe].returned()
        assert got is None or type(got) is bool, (
            f"check_arithmetic returned a {type(got).__name__}; it must return True, False or None"
        )
        assert got is ref_check(step), f"check_arithmetic on {KIND_OF_STEP[kind]}: wrong verdict"


# -- check_arithmetic: 3 points -------------------------------------------------------------------
CELL = "test_check_arithmetic"


@points(0.5, cell=CELL)
def test_check_right_and_wrong(student):
    expect_checks(student, "right")
    expect_checks(student, "wrong")


@points(0.5, cell=CELL)
def test_check_no_claim_is_none(student):
    expect_checks(student, "none")


@points(0.5, cell=CELL)
def test_check_thousands_separators(student):
    expect_checks(student, "commas")


@points(0.5, cell=CELL)
def test_check_rounding_tolerance(student):
    expect_checks(student, "rounding")


@points(0.5, cell=CELL)
def test_check_two_claims_and_negative(student):
    expect_checks(student, "two_claims")
    expect_checks(student, "negative")


@points(0.5, cell=CELL)
def test_check_precedence(student):
    expect_checks(student, "precedence")


# -- extract_answer: 1 point ----------------------------------------------------------------------
@points(1, cell="test_extract_answer")
def test_extract_answer(student):
    for probe, kind, expected in zip(answers, KIND_OF_ANSWER, [1200.0, 27.0, 3.5, 12.0, None, -4.0]):
        got = student[probe].returned()
        if expected is None:
            assert got is None, f"extract_answer on {kind}: must return None"
        else:
            assert type(got) is float, f"extract_answer on {kind}: returned a {type(got).__name__}, must be a float"
            assert math.isclose(got, expected), f"extract_answer on {kind}: wrong value"


# -- score_steps and first_error_step: 3 points -----------------------------------------------
CELL = "test_first_error_step"


@points(1, cell=CELL)
def test_score_steps_contract(student):
    for probe, (text, truth, kind) in zip(scores, SOLUTIONS):
        got = student[probe].of_type(list)
        expected = ref_score_steps(text, truth)
        what = f"score_steps on {kind}"
        assert len(got) == len(expected), f"{what}: wrong number of steps (one per non-empty line)"
        for item, (step, ref_score) in zip(got, expected):
            assert type(item) is tuple and len(item) == 2, f"{what}: must return (step, score) tuples"
            assert item[0] == step, f"{what}: wrong step text (the stripped line)"
            score = item[1]
            assert type(score) is float and 0.0 <= score <= 1.0, f"{what}: every score must be a float in [0, 1]"
            assert (score >= 0.5) == (ref_score >= 0.5), (
                f"{what}: a right step must score >= 0.5 and a wrong one < 0.5"
            )


@points(2, cell=CELL)
def test_first_error_step(student):
    for probe, (text, truth, kind) in zip(first, SOLUTIONS):
        got = student[probe].returned()
        assert got is None or type(got) is int, (
            f"first_error_step returned a {type(got).__name__}; it must return an int or None"
        )
        assert got == ref_first_error(text, truth), (
            f"first_error_step on {kind}: wrong result (the 0-based index of the first wrong step, None if none)"
        )


# -- aggregate_steps: 1 point -------------------------------------------------------------------
CELL = "test_aggregate_steps"


def expect_aggregates(student, method: str) -> None:
    for probe, values in zip(aggregates[method], SCORE_LISTS):
        got = student[probe].float()
        assert math.isclose(got, ref_aggregate(values, method), rel_tol=1e-9), (
            f"aggregate_steps with method={method!r}: wrong value"
        )


@points(0.5, cell=CELL)
def test_aggregate_methods(student):
    assert math.isclose(student[aggregate_default].float(), 0.3), "aggregate_steps: the default method is min"
    for method in aggregates:
        expect_aggregates(student, method)
    assert math.isclose(student[aggregate_tuple].float(), 0.125), "aggregate_steps: a tuple of scores works too"


@points(0.5, cell=CELL)
def test_aggregate_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_aggregates(student, "min")
    assert student[aggregate_empty].raises("ValueError"), "aggregate_steps: an empty list must raise ValueError"
    assert student[aggregate_unknown].raises("ValueError"), "aggregate_steps: an unknown method must raise ValueError"
