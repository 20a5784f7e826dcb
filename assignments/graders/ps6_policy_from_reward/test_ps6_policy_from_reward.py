"""Hidden grader for ps6_policy_from_reward (never released; runs in the judge, not in the sandbox).

Points: plackett_luce_loss 3, dpo_loss 2, implicit_reward_accuracy 1, kl_regularized_optimum 2.
``dpo_loss`` is called positionally: the notebook names its arguments as the contract does
(``policy_chosen_logps``, ...), course_lib's reference as ``policy_chosen``, ...
"""

import math

import torch
import torch.nn.functional as F

from autograder.probes import call, driver, points, to_tensor
from autograder.worker import need  # drivers run in the sandbox with need() in scope
from course_lib.training.dpo import dpo_loss as ref_dpo
from course_lib.training.dpo import implicit_reward_accuracy as ref_accuracy
from course_lib.training.kl_optimum import kl_regularized_optimum as ref_optimum
from course_lib.training.plackett_luce import plackett_luce_loss as ref_pl

REFERENCE = [
    "course_lib.training.plackett_luce.plackett_luce_loss",
    "course_lib.training.dpo.dpo_loss",
    "course_lib.training.dpo.implicit_reward_accuracy",
    "course_lib.training.kl_optimum.kl_regularized_optimum",
]
COURSE_LIB = []  # the notebook's demos use only the student's functions and torch


@driver
def dpo_gradients(ns, policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    """d loss / d (policy_chosen, policy_rejected) of the student's ``dpo_loss``, or None if it has no gradient."""
    chosen = policy_chosen.clone().requires_grad_(True)
    rejected = policy_rejected.clone().requires_grad_(True)
    loss = need(ns, "dpo_loss")(chosen, rejected, ref_chosen, ref_rejected, beta=beta)[0]
    if not (isinstance(loss, torch.Tensor) and loss.requires_grad and loss.dim() == 0):
        return None
    grads = torch.autograd.grad(loss, [chosen, rejected], allow_unused=True)
    return [None if g is None else g.detach() for g in grads]


T = torch.tensor
# -- Plackett-Luce inputs: rankings that are not their own inverse, so "ranks" and "order" differ
REWARDS = T([[0.5, -1.0, 2.0, 0.0], [1.5, 1.5, -0.5, 0.25], [0.0, 3.0, -2.0, 1.0]])
RANKING = T([[2, 0, 3, 1], [1, 3, 0, 2], [3, 1, 0, 2]])
ONE_REWARDS, ONE_RANKING = [0.3, -0.7, 1.1, 0.0, 2.2], [4, 2, 0, 3, 1]
PAIR_REWARDS = T([[2.0, 0.5], [-1.0, 0.2], [0.5, 0.5], [3.0, -1.0]])
PAIR_RANKING = T([[0, 1], [1, 0], [0, 1], [1, 0]])
HUGE_REWARDS = T([[1e4, -1e4, 0.0, 5e3], [-1e4, 1e4, -5e3, 0.0]])
HUGE_RANKING = T([[0, 3, 2, 1], [0, 2, 3, 1]])
REPEATED = T([[2, 0, 3, 1], [1, 1, 0, 2], [3, 1, 0, 2]])
# -- DPO inputs: summed log-probs of five pairs
PC = T([-12.5, -8.0, -20.25, -5.5, -9.0])
PR = T([-13.0, -7.5, -22.0, -6.25, -9.0])
RC = T([-12.0, -9.0, -21.0, -5.0, -9.5])
RR = T([-12.25, -7.0, -20.5, -7.0, -8.75])
# log-ratios of +-1e4: chosen 1e4, -1e4, 0; rejected 0, 0, -1e4 (exact in float32)
PC_H, RC_H = T([-1.0, -2e4, -5.0]), T([-1e4 - 1.0, -1e4, -5.0])
PR_H, RR_H = T([-3.0, -3.0, -3e4]), T([-3.0, -3.0, -2e4])
# -- accuracy inputs
WIN_C, WIN_R = T([0.5, -0.2, 1.25, -1.0, 0.7, 2.0]), T([0.1, 0.4, 1.0, -2.0, 0.9, -0.5])
TIE_C, TIE_R = T([0.5, -0.2, 0.0, 1.25, 0.3, -1.0, 0.7]), T([0.1, 0.4, 0.0, 1.0, 0.3, -2.0, 0.9])
# -- KL-optimum inputs
REF = T([0.1, 0.2, 0.3, 0.4])
REW = T([1.0, 0.0, -1.0, 2.0])
REF_B = T([[0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]])  # zeros: never chosen
REW_B = T([[5.0, 1.0, 0.0, 3.0], [0.0, -1.0, 2.0, 0.5], [-1.0, 1.0, 0.5, 0.0]])
REW_H = T([1e4, -1e4, 0.0, 5e3])
REW_LOW = T([-1e4, -9999.0, -9998.0, -9999.5])  # a shifted moderate reward: the same pi*

# -- probes: run in the sandbox ---------------------------------------------------------------
pl_batch = call("plackett_luce_loss", REWARDS, RANKING, grad=(0,))
pl_lists = call("plackett_luce_loss", ONE_REWARDS, ONE_RANKING)
pl_one = call("plackett_luce_loss", T(ONE_REWARDS), T(ONE_RANKING))
pl_pairs = call("plackett_luce_loss", PAIR_REWARDS, PAIR_RANKING)
pl_huge = call("plackett_luce_loss", HUGE_REWARDS, HUGE_RANKING, grad=(0,))
pl_bad = {
    "a ranking with a repeated index": call("plackett_luce_loss", REWARDS, REPEATED),
    "a ranking with an index out of range": call("plackett_luce_loss", REWARDS, RANKING + 1),
    "a ranking whose shape differs from the rewards'": call("plackett_luce_loss", REWARDS, RANKING[0]),
}
dpo_default = call("dpo_loss", PC, PR, RC, RR)
dpo_beta = call("dpo_loss", PC, PR, RC, RR, beta=0.5, grad=(0, 1))  # the rewards must come back detached
dpo_grads = dpo_gradients.probe(PC, PR, RC, RR, 0.5)
dpo_huge = call("dpo_loss", PC_H, PR_H, RC_H, RR_H, beta=1.0)
dpo_huge_grads = dpo_gradients.probe(PC_H, PR_H, RC_H, RR_H, 1.0)
dpo_bad = {
    "beta = 0": call("dpo_loss", PC, PR, RC, RR, beta=0.0),
    "a negative beta": call("dpo_loss", PC, PR, RC, RR, beta=-0.5),
    "reference log-probs of another shape": call("dpo_loss", PC, PR, RC[:1], RR[:1]),
}
acc_wins = call("implicit_reward_accuracy", WIN_C, WIN_R)
acc_ties = call("implicit_reward_accuracy", TIE_C, TIE_R)
acc_mismatch = call("implicit_reward_accuracy", T([1.0, 2.0]), T([1.0]))
kl_typical = call("kl_regularized_optimum", REF, REW, 0.5)
kl_large_beta = call("kl_regularized_optimum", REF, REW, 100.0)
kl_batched = call("kl_regularized_optimum", REF_B, REW_B, 1.0)
kl_huge = call("kl_regularized_optimum", REF, REW_H, 1.0)
kl_small_beta = call("kl_regularized_optimum", REF, REW, 1e-3)
kl_low = call("kl_regularized_optimum", REF, REW_LOW, 1.0)
kl_bad = {
    "beta = 0": call("kl_regularized_optimum", REF, REW, 0.0),
    "a negative beta": call("kl_regularized_optimum", REF, REW, -1.0),
    "rewards of another shape": call("kl_regularized_optimum", REF, REW[:3], 1.0),
    "a negative reference probability": call("kl_regularized_optimum", T([-0.1, 0.6, 0.3, 0.2]), REW, 1.0),
    "reference probabilities that do not sum to 1": call("kl_regularized_optimum", T([0.1, 0.2, 0.3, 0.5]), REW, 1.0),
    "a batch with one row that does not sum to 1": call(
        "kl_regularized_optimum", T([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.0]]), REW.expand(2, 4), 1.0
    ),
}


def close(got, expected, atol=1e-5, rtol=1e-4) -> bool:
    got, expected = to_tensor(got), to_tensor(expected)
    return got.shape == expected.shape and bool(torch.allclose(got, expected, atol=atol, rtol=rtol))


def expect_tensor(got, expected, what: str, atol=1e-5) -> None:
    """Messages say which case and what is wrong, never a value: feedback must not hand out the answers."""
    assert isinstance(got, torch.Tensor), f"{what}: must return a tensor"
    assert got.shape == expected.shape, f"{what}: wrong shape"
    assert bool(torch.isfinite(got).all()), f"{what}: contains inf or nan"
    assert close(got, expected, atol=atol), f"{what}: wrong values"


def pl_gradient(rewards, ranking) -> torch.Tensor:
    r = rewards.clone().requires_grad_(True)
    ref_pl(r, ranking).backward()
    return r.grad


# -- plackett_luce_loss: 3 points -------------------------------------------------------------------
CELL = "test_plackett_luce_loss"


@points(0.75, cell=CELL)
def test_pl_batch_value(student):
    expect_tensor(
        student[pl_batch].tensor(),
        ref_pl(REWARDS, RANKING),
        "plackett_luce_loss on a batch of rankings (the mean over the batch, ranking lists indices best first)",
    )


@points(0.5, cell=CELL)
def test_pl_gradient(student):
    grads = student[pl_batch].gradients()
    assert grads[0] is not None and close(grads[0], pl_gradient(REWARDS, RANKING)), (
        "plackett_luce_loss: wrong gradient with respect to the rewards"
    )


@points(0.25, cell=CELL)
def test_pl_one_ranking_and_lists(student):
    expected = ref_pl(T(ONE_REWARDS), T(ONE_RANKING))
    expect_tensor(student[pl_one].tensor(), expected, "plackett_luce_loss on one ranking ([K] tensors)")
    expect_tensor(student[pl_lists].tensor(), expected, "plackett_luce_loss on Python lists")


@points(0.25, cell=CELL)
def test_pl_two_responses_is_bradley_terry(student):
    best = PAIR_REWARDS.gather(-1, PAIR_RANKING)  # [B, 2], best first
    expected = F.softplus(-(best[:, 0] - best[:, 1])).mean()
    expect_tensor(student[pl_pairs].tensor(), expected, "plackett_luce_loss with K = 2 (the Bradley-Terry loss)")


@points(0.75, cell=CELL)
def test_pl_stable_for_huge_rewards(student):
    outcome = student[pl_huge]
    expect_tensor(outcome.tensor(), ref_pl(HUGE_REWARDS, HUGE_RANKING), "plackett_luce_loss on huge rewards")
    grads = outcome.gradients()
    assert grads[0] is not None and bool(torch.isfinite(to_tensor(grads[0])).all()), (
        "plackett_luce_loss: the gradient on huge rewards contains inf or nan"
    )
    assert close(grads[0], pl_gradient(HUGE_REWARDS, HUGE_RANKING), atol=1e-3), (
        "plackett_luce_loss: wrong gradient on huge rewards"
    )


@points(0.5, cell=CELL)
def test_pl_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_tensor(student[pl_batch].tensor(), ref_pl(REWARDS, RANKING), "plackett_luce_loss on a batch of rankings")
    for what, probe in pl_bad.items():
        assert student[probe].raises("ValueError"), f"plackett_luce_loss: {what} must raise ValueError"


# -- dpo_loss: 2 points ----------------------------------------------------------------------------
CELL = "test_dpo_loss"


def dpo_parts(outcome, what: str):
    got = outcome.of_type(tuple, list)
    assert len(got) == 3, f"{what}: must return (loss, chosen_rewards, rejected_rewards)"
    return got


@points(0.5, cell=CELL)
def test_dpo_loss_value(student):
    for probe, beta in ((dpo_default, 0.1), (dpo_beta, 0.5)):
        what = "dpo_loss with the default beta" if probe is dpo_default else "dpo_loss with another beta"
        loss = dpo_parts(student[probe], what)[0]
        expect_tensor(loss, ref_dpo(PC, PR, RC, RR, beta)[0], f"{what}: the loss (mean over the pairs)")
        assert loss.shape == (), f"{what}: the loss must be a scalar tensor"


@points(0.5, cell=CELL)
def test_dpo_implicit_rewards(student):
    _, expected_chosen, expected_rejected = ref_dpo(PC, PR, RC, RR, 0.5)
    _, chosen, rejected = dpo_parts(student[dpo_beta], "dpo_loss")
    expect_tensor(chosen, expected_chosen, "dpo_loss: chosen_rewards (beta * (policy - reference log-probs))")
    expect_tensor(rejected, expected_rejected, "dpo_loss: rejected_rewards (beta * (policy - reference log-probs))")
    assert not chosen.requires_grad and not rejected.requires_grad, (
        "dpo_loss: the implicit rewards must be detached (they are for reading, not for training)"
    )


def dpo_expected_gradient(pc, pr, rc, rr, beta):
    chosen, rejected = pc.clone().requires_grad_(True), pr.clone().requires_grad_(True)
    return torch.autograd.grad(ref_dpo(chosen, rejected, rc, rr, beta)[0], [chosen, rejected])


def expect_gradient(outcome, expected, what: str, atol=1e-5) -> None:
    got = outcome.returned()
    assert got is not None and len(got) == 2 and all(g is not None for g in got), (
        f"{what}: the loss is not differentiable with respect to the policy log-probs"
    )
    assert all(bool(torch.isfinite(to_tensor(g)).all()) for g in got), f"{what}: the gradient contains inf or nan"
    assert close(got[0], expected[0], atol=atol) and close(got[1], expected[1], atol=atol), (
        f"{what}: wrong gradient with respect to the policy log-probs"
    )


@points(0.5, cell=CELL)
def test_dpo_gradient(student):
    expect_gradient(student[dpo_grads], dpo_expected_gradient(PC, PR, RC, RR, 0.5), "dpo_loss")


@points(0.25, cell=CELL)
def test_dpo_stable_for_huge_log_ratios(student):
    what = "dpo_loss on log-ratios of +-1e4"
    loss, chosen, rejected = dpo_parts(student[dpo_huge], what)
    expected = ref_dpo(PC_H, PR_H, RC_H, RR_H, 1.0)
    expect_tensor(loss, expected[0], f"{what}: the loss")
    expect_tensor(chosen, expected[1], f"{what}: chosen_rewards")
    expect_tensor(rejected, expected[2], f"{what}: rejected_rewards")
    expect_gradient(student[dpo_huge_grads], dpo_expected_gradient(PC_H, PR_H, RC_H, RR_H, 1.0), what)


@points(0.25, cell=CELL)
def test_dpo_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    loss = dpo_parts(student[dpo_default], "dpo_loss")[0]
    expect_tensor(loss, ref_dpo(PC, PR, RC, RR)[0], "dpo_loss with the default beta")
    for what, probe in dpo_bad.items():
        assert student[probe].raises("ValueError"), f"dpo_loss: {what} must raise ValueError"


# -- implicit_reward_accuracy: 1 point ---------------------------------------------------------------
CELL = "test_implicit_reward_accuracy"


@points(0.5, cell=CELL)
def test_accuracy_value(student):
    got = student[acc_wins].float()
    assert math.isclose(got, ref_accuracy(WIN_C, WIN_R), abs_tol=1e-6), "implicit_reward_accuracy: wrong value"


@points(0.5, cell=CELL)
def test_accuracy_ties_are_wrong_and_bad_shapes_raise(student):
    got = student[acc_ties].float()
    assert math.isclose(got, ref_accuracy(TIE_C, TIE_R), abs_tol=1e-6), (
        "implicit_reward_accuracy with ties: wrong value (a tie is not a correct ranking)"
    )
    assert student[acc_mismatch].raises("ValueError"), (
        "implicit_reward_accuracy: a shape mismatch must raise ValueError"
    )


# -- kl_regularized_optimum: 2 points -------------------------------------------------------------
CELL = "test_kl_regularized_optimum"


@points(0.5, cell=CELL)
def test_kl_typical(student):
    expect_tensor(student[kl_typical].tensor(), ref_optimum(REF, REW, 0.5), "kl_regularized_optimum")
    expect_tensor(
        student[kl_large_beta].tensor(),
        ref_optimum(REF, REW, 100.0),
        "kl_regularized_optimum with a large beta (close to the reference)",
    )


@points(0.5, cell=CELL)
def test_kl_batched_with_zero_reference_probabilities(student):
    got = student[kl_batched].tensor()
    expect_tensor(
        got,
        ref_optimum(REF_B, REW_B, 1.0),
        "kl_regularized_optimum on a batch (responses on the last dimension), with zero reference probabilities",
    )
    assert bool((got[REF_B == 0] == 0).all()), "kl_regularized_optimum: a response pi_ref never gives must get 0"


@points(0.5, cell=CELL)
def test_kl_stable(student):
    for probe, rewards, beta, what in [
        (kl_huge, REW_H, 1.0, "rewards of +-1e4"),
        (kl_small_beta, REW, 1e-3, "a tiny beta"),
        (kl_low, REW_LOW, 1.0, "rewards all near -1e4 (a constant shift changes nothing)"),
    ]:
        got = student[probe].tensor()
        expect_tensor(got, ref_optimum(REF, rewards, beta), f"kl_regularized_optimum with {what}", atol=2e-3)


@points(0.5, cell=CELL)
def test_kl_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_tensor(student[kl_typical].tensor(), ref_optimum(REF, REW, 0.5), "kl_regularized_optimum")
    for what, probe in kl_bad.items():
        assert student[probe].raises("ValueError"), f"kl_regularized_optimum: {what} must raise ValueError"
