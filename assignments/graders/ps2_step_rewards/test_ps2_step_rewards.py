"""Hidden grader for ps2_step_rewards (never released; runs in the judge, not in the sandbox).

Points: split_steps 2, assign_step_rewards 4, decay_sweep 2.
"""

import math

from autograder.probes import call, points
from course_lib.credit_assignment.process_reward import assign_step_rewards as ref_assign
from course_lib.credit_assignment.process_reward import split_steps as ref_split

REFERENCE = [
    "course_lib.data.step_text.split_steps",
    "course_lib.credit_assignment.process_reward.assign_step_rewards",
]
COURSE_LIB = []  # the notebook uses nothing of course_lib
FIVE = "Step 1: We start with 120 pencils.\nStep 2: It gives away 35. So 120 - 35 = 85.\n\nStep 3: It buys 2 packs of 10. So 85 + 20 = 105.\nStep 4: It splits them into 5 boxes. So 105 / 5 = 21.\nThe answer is: 21"
CRLF = (
    "  Step 1: We start with 7 cards.  \r\n\r\nStep 2: It gets 5 more. So 7 + 5 = 12.\r\n   \r\nThe answer is: 12\r\n"
)
ONE = "The answer is: 4"

# -- probes: run in the sandbox ---------------------------------------------------------------
split_five = call("split_steps", FIVE)
split_crlf = call("split_steps", CRLF)
split_blank = call("split_steps", "\n  \n\t\n")
split_one = call("split_steps", ONE)
assign_default = call("assign_step_rewards", FIVE)
assign_decay = call("assign_step_rewards", FIVE, outcome_reward=2.0, decay=0.5)
assign_negative = call("assign_step_rewards", CRLF, outcome_reward=-1.0, decay=0.8)
assign_one = call("assign_step_rewards", FIVE, decay=1.0)
assign_single = call("assign_step_rewards", ONE, outcome_reward=0.3, decay=0.7)
assign_decay_zero = call("assign_step_rewards", FIVE, decay=0.0)
assign_decay_big = call("assign_step_rewards", FIVE, decay=1.5)
assign_decay_negative = call("assign_step_rewards", FIVE, decay=-0.1)
assign_empty = call("assign_step_rewards", "\n \n")
sweep_four = call("decay_sweep", FIVE, [0.5, 0.8, 0.9, 1.0])
sweep_reward = call("decay_sweep", CRLF, (0.25, 1.0), outcome_reward=-2.0)


def expect_pairs(outcome, expected, what: str) -> None:
    """Messages say which case and what is wrong, never a value: feedback must not hand out the answers."""
    got = outcome.of_type(list)
    what = f"assign_step_rewards {what}"
    assert len(got) == len(expected), f"{what}: wrong number of steps (one pair per non-empty line)"
    for item, (step, reward) in zip(got, expected):
        assert type(item) is tuple and len(item) == 2, f"{what}: each item must be a (step, reward) tuple"
        assert item[0] == step, f"{what}: wrong step text (the stripped line)"
        assert type(item[1]) is float, f"{what}: a reward is a {type(item[1]).__name__}, must be a float"
        assert math.isclose(item[1], reward, rel_tol=1e-9, abs_tol=1e-12), f"{what}: wrong reward"


# -- split_steps: 2 points ----------------------------------------------------------------------
CELL = "test_split_steps"


@points(1, cell=CELL)
def test_split_typical(student):
    assert student[split_five].of_type(list) == ref_split(FIVE), (
        "split_steps on a typical solution: wrong steps (blank lines are not steps)"
    )
    assert student[split_one].of_type(list) == [ONE], "split_steps: a one-line solution has one step"


@points(1, cell=CELL)
def test_split_crlf_and_blank(student):
    assert student[split_crlf].of_type(list) == ref_split(CRLF), (
        "split_steps with \\r\\n line ends and surrounding spaces: wrong steps"
    )
    assert student[split_blank].of_type(list) == [], "split_steps: whitespace-only text has no steps"


# -- assign_step_rewards: 4 points ---------------------------------------------------------------
CELL = "test_assign_step_rewards"


@points(1, cell=CELL)
def test_assign_default(student):
    expect_pairs(student[assign_default], ref_assign(FIVE), "with the default arguments")


@points(1, cell=CELL)
def test_assign_decay_and_reward(student):
    expect_pairs(student[assign_decay], ref_assign(FIVE, 2.0, 0.5), "with a custom outcome reward and decay")
    expect_pairs(student[assign_negative], ref_assign(CRLF, -1.0, 0.8), "with a negative outcome reward")


@points(1, cell=CELL)
def test_assign_edges(student):
    expect_pairs(
        student[assign_one], ref_assign(FIVE, 1.0, 1.0), "without decay (decay=1: every step gets the outcome reward)"
    )
    expect_pairs(
        student[assign_single], ref_assign(ONE, 0.3, 0.7), "on a one-step solution (the step gets the outcome reward)"
    )


@points(1, cell=CELL)
def test_assign_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_pairs(student[assign_default], ref_assign(FIVE), "with the default arguments")
    for probe in (assign_decay_zero, assign_decay_big, assign_decay_negative):
        assert student[probe].raises("ValueError"), "assign_step_rewards: a decay outside (0, 1] must raise ValueError"
    assert student[assign_empty].raises("ValueError"), (
        "assign_step_rewards: a solution with no steps must raise ValueError"
    )


# -- decay_sweep: 2 points -------------------------------------------------------------------------
CELL = "test_decay_sweep"


def expect_sweep(outcome, solution, decays, outcome_reward, what):
    """Messages say which case and what is wrong, never a value: feedback must not hand out the answers."""
    got = outcome.of_type(dict)
    what = f"decay_sweep {what}"
    assert list(got) == list(decays), f"{what}: the keys must be the decays given, in their order"
    for decay in decays:
        expected = [r for _, r in ref_assign(solution, outcome_reward, decay)]
        rewards = got[decay]
        assert type(rewards) is list and all(type(r) is float for r in rewards), (
            f"{what}: values must be lists of floats"
        )
        assert len(rewards) == len(expected), f"{what}: wrong number of rewards (one per step)"
        assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(rewards, expected)), (
            f"{what}: wrong rewards"
        )


@points(1, cell=CELL)
def test_sweep_four_decays(student):
    expect_sweep(student[sweep_four], FIVE, [0.5, 0.8, 0.9, 1.0], 1.0, "on a typical solution")


@points(1, cell=CELL)
def test_sweep_outcome_reward(student):
    expect_sweep(student[sweep_reward], CRLF, (0.25, 1.0), -2.0, "with a negative outcome reward")
