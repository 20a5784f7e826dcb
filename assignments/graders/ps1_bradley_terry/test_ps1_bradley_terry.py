"""Hidden grader for ps1_bradley_terry (never released; runs in the judge, not in the sandbox).

Points: bradley_terry_loss 4, preference_probability + pairwise_accuracy 2, loss_vs_gap 2.
"""

import math

import numpy as np
import torch

from autograder.probes import call, points, to_tensor
from course_lib.training.reward_model import bradley_terry_loss as ref_loss
from course_lib.training.reward_model import pairwise_accuracy as ref_accuracy
from course_lib.training.reward_model import preference_probability as ref_probability

REFERENCE = [
    "course_lib.training.reward_model.bradley_terry_loss",
    "course_lib.training.reward_model.preference_probability",
    "course_lib.training.reward_model.pairwise_accuracy",
]
COURSE_LIB = []  # the notebook uses nothing of course_lib
T = torch.tensor
CHOSEN = T([2.0, -1.0, 0.5, 3.0, -0.25])
REJECTED = T([0.5, 0.2, 0.5, -1.0, 1.75])
MARGINS = T([0.0, 0.5, 1.0, 2.0, 0.25])
HUGE_C, HUGE_R = T([1e4, -1e4, 0.0, 5e3]), T([0.0, 0.0, 1e4, -5e3])

# -- probes: run in the sandbox ---------------------------------------------------------------
loss_mean = call("bradley_terry_loss", CHOSEN, REJECTED, grad=(0, 1))
loss_sum = call("bradley_terry_loss", CHOSEN, REJECTED, reduction="sum")
loss_none = call("bradley_terry_loss", CHOSEN, REJECTED, reduction="none")
loss_margin = call("bradley_terry_loss", CHOSEN, REJECTED, margin=0.75, reduction="none")
loss_margin_tensor = call("bradley_terry_loss", CHOSEN, REJECTED, margin=MARGINS, reduction="none")
loss_huge = call("bradley_terry_loss", HUGE_C, HUGE_R, reduction="none", grad=(0, 1))
loss_lists = call("bradley_terry_loss", [1.0, 0.0], [0.0, 1.0])
loss_numpy = call("bradley_terry_loss", np.array([1.0, 0.0]), np.array([0.0, 1.0]), reduction="none")
loss_2d = call("bradley_terry_loss", CHOSEN[:4].reshape(2, 2), REJECTED[:4].reshape(2, 2), reduction="none")
loss_mismatch = call("bradley_terry_loss", T([1.0, 2.0]), T([1.0]))
loss_bad_reduction = call("bradley_terry_loss", CHOSEN, REJECTED, reduction="max")
prob_typical = call("preference_probability", CHOSEN, REJECTED)
prob_huge = call("preference_probability", HUGE_C, HUGE_R)
acc_typical = call("pairwise_accuracy", CHOSEN, REJECTED)
acc_ties = call("pairwise_accuracy", T([1.0, 2.0, 3.0, 4.0]), T([1.0, 1.0, 3.0, 5.0]))
acc_mismatch = call("pairwise_accuracy", T([1.0, 2.0]), T([1.0]))
gap_values = call("loss_vs_gap", torch.linspace(-8, 8, 33))
gap_huge = call("loss_vs_gap", T([-1e4, -50.0, 50.0, 1e4]))


def close(got, expected, atol=1e-5, rtol=1e-4) -> bool:
    got, expected = to_tensor(got), to_tensor(expected)
    return got.shape == expected.shape and bool(torch.allclose(got, expected, atol=atol, rtol=rtol))


def expect_tensor(outcome, expected, what: str) -> None:
    """Messages say which case and what is wrong, never a value: feedback must not hand out the answers."""
    got = outcome.tensor()
    assert got.shape == expected.shape, f"{what}: wrong shape"
    assert bool(torch.isfinite(got).all()), f"{what}: contains inf or nan"
    assert close(got, expected), f"{what}: wrong values"


# -- bradley_terry_loss: 4 points ---------------------------------------------------------------
CELL = "test_bradley_terry_loss"


@points(0.5, cell=CELL)
def test_loss_mean_value(student):
    expect_tensor(student[loss_mean], ref_loss(CHOSEN, REJECTED), "bradley_terry_loss with the default mean reduction")


@points(0.5, cell=CELL)
def test_loss_gradient(student):
    grads = student[loss_mean].gradients()
    gap = CHOSEN - REJECTED
    expected = (torch.sigmoid(gap) - 1) / len(gap)  # d mean(-logsigmoid(gap)) / d r_chosen
    assert close(grads[0], expected) and close(grads[1], -expected), (
        "bradley_terry_loss: wrong gradient (the mean loss has d/d reward_chosen = (sigmoid(gap) - 1) / N)"
    )


@points(0.5, cell=CELL)
def test_loss_reductions(student):
    expect_tensor(
        student[loss_sum], ref_loss(CHOSEN, REJECTED, reduction="sum"), "bradley_terry_loss with reduction='sum'"
    )
    expect_tensor(
        student[loss_none], ref_loss(CHOSEN, REJECTED, reduction="none"), "bradley_terry_loss with reduction='none'"
    )


@points(0.5, cell=CELL)
def test_loss_margin(student):
    expect_tensor(
        student[loss_margin], ref_loss(CHOSEN, REJECTED, 0.75, "none"), "bradley_terry_loss with a float margin"
    )
    expect_tensor(
        student[loss_margin_tensor],
        ref_loss(CHOSEN, REJECTED, MARGINS, "none"),
        "bradley_terry_loss with a tensor of per-pair margins",
    )


@points(1.0, cell=CELL)
def test_loss_stable_for_huge_gaps(student):
    outcome = student[loss_huge]
    expect_tensor(outcome, ref_loss(HUGE_C, HUGE_R, reduction="none"), "bradley_terry_loss on huge reward gaps")
    assert close(outcome.gradients()[0], torch.sigmoid(HUGE_C - HUGE_R) - 1), (
        "bradley_terry_loss: wrong gradient on huge reward gaps"
    )


@points(0.25, cell=CELL)
def test_loss_accepts_lists_arrays_and_2d(student):
    assert close(student[loss_lists].tensor(), ref_loss([1.0, 0.0], [0.0, 1.0])), (
        "bradley_terry_loss on Python lists: wrong value"
    )
    assert close(student[loss_numpy].tensor(), ref_loss(T([1.0, 0.0]), T([0.0, 1.0]), reduction="none")), (
        "bradley_terry_loss on numpy arrays: wrong values"
    )
    expected_2d = ref_loss(CHOSEN[:4].reshape(2, 2), REJECTED[:4].reshape(2, 2), reduction="none")
    expect_tensor(student[loss_2d], expected_2d, "bradley_terry_loss on 2-D rewards with reduction='none'")


@points(0.25, cell=CELL)
def test_loss_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_tensor(student[loss_none], ref_loss(CHOSEN, REJECTED, reduction="none"), "bradley_terry_loss")
    assert student[loss_mismatch].raises("ValueError"), "bradley_terry_loss: a shape mismatch must raise ValueError"
    assert student[loss_bad_reduction].raises("ValueError"), (
        "bradley_terry_loss: an unknown reduction must raise ValueError"
    )


@points(0.5, cell=CELL)
def test_loss_is_log2_at_equal_rewards_and_decreasing(student):
    losses = student[loss_none].tensor()
    assert losses.shape == CHOSEN.shape, "bradley_terry_loss with reduction='none': wrong shape"
    gaps = CHOSEN - REJECTED
    order = torch.argsort(gaps)
    assert bool((losses[order][1:] < losses[order][:-1]).all()), (
        "bradley_terry_loss: the loss must fall as the gap grows"
    )
    equal = gaps == 0
    assert close(losses[equal], torch.full((int(equal.sum()),), math.log(2))), (
        "bradley_terry_loss: equal rewards must give log 2"
    )


# -- preference_probability and pairwise_accuracy: 2 points --------------------------------------
CELL2 = "test_preference_metrics"


@points(0.5, cell=CELL2)
def test_probability(student):
    expect_tensor(student[prob_typical], ref_probability(CHOSEN, REJECTED), "preference_probability")


@points(0.5, cell=CELL2)
def test_probability_huge_gaps(student):
    expect_tensor(student[prob_huge], ref_probability(HUGE_C, HUGE_R), "preference_probability on huge reward gaps")


@points(0.5, cell=CELL2)
def test_accuracy_is_a_float(student):
    got = student[acc_typical].float()
    assert math.isclose(got, ref_accuracy(CHOSEN, REJECTED), abs_tol=1e-6), "pairwise_accuracy: wrong value"


@points(0.5, cell=CELL2)
def test_accuracy_ties_are_wrong_and_bad_shapes_raise(student):
    got = student[acc_ties].float()
    assert math.isclose(got, 0.25, abs_tol=1e-6), "pairwise_accuracy with ties: wrong value (a tie is not a win)"
    assert student[acc_mismatch].raises("ValueError"), "pairwise_accuracy: a shape mismatch must raise ValueError"


# -- loss_vs_gap: 2 points -------------------------------------------------------------------
CELL3 = "test_loss_vs_gap"


@points(1.0, cell=CELL3)
def test_loss_vs_gap_values(student):
    gaps = torch.linspace(-8, 8, 33)
    expect_tensor(student[gap_values], torch.nn.functional.softplus(-gaps), "loss_vs_gap on moderate gaps")


@points(1.0, cell=CELL3)
def test_loss_vs_gap_extreme(student):
    gaps = T([-1e4, -50.0, 50.0, 1e4])
    expect_tensor(student[gap_huge], torch.nn.functional.softplus(-gaps), "loss_vs_gap on huge gaps")
    got = student[gap_huge].tensor()
    assert float(got[-1]) < 1e-12 and float(got[0]) > 9e3, (
        "loss_vs_gap: the loss must vanish for large gaps and grow like -gap for very negative ones"
    )
