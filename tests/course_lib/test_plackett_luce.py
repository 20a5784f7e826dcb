"""course_lib.training.plackett_luce: the Plackett-Luce ranking loss."""

import itertools
import math

import pytest
import torch

from course_lib.training.plackett_luce import plackett_luce_loss
from course_lib.training.reward_model import bradley_terry_loss


def test_matches_the_product_of_softmax_choices():
    r = [1.0, -0.5, 2.0, 0.3]
    order = [2, 0, 3, 1]
    expected = 0.0
    for i, idx in enumerate(order):
        rest = [r[j] for j in order[i:]]
        expected -= r[idx] - math.log(sum(math.exp(x) for x in rest))
    assert plackett_luce_loss(r, order).item() == pytest.approx(expected, rel=1e-6)


def test_probabilities_of_all_rankings_sum_to_one():
    r = torch.tensor([0.7, -1.2, 0.1])
    total = sum(math.exp(-plackett_luce_loss(r, list(p)).item()) for p in itertools.permutations(range(3)))
    assert total == pytest.approx(1.0, rel=1e-5)


def test_two_responses_give_the_bradley_terry_loss_and_batches_are_averaged():
    r = torch.tensor([[2.0, 0.5], [0.0, 1.0], [-3.0, 4.0]])
    ranking = torch.tensor([[0, 1], [1, 0], [0, 1]])
    chosen, rejected = r.gather(1, ranking[:, :1]).squeeze(1), r.gather(1, ranking[:, 1:]).squeeze(1)
    assert plackett_luce_loss(r, ranking).item() == pytest.approx(
        bradley_terry_loss(chosen, rejected).item(), rel=1e-6
    )


def test_stable_and_differentiable_for_huge_rewards():
    r = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = plackett_luce_loss(r, [[1, 0, 2]])
    loss.backward()
    assert loss.item() == pytest.approx(2e4) and r.grad.tolist() == [[1.0, -1.0, 0.0]]
    assert plackett_luce_loss([1e4, -1e4], [0, 1]).item() == 0.0


def test_a_per_prompt_constant_does_not_change_the_loss():
    r = torch.tensor([[0.3, 1.0, -2.0], [1.0, 0.0, 0.5]])
    shifted = r + torch.tensor([[100.0], [-7.0]])
    ranking = [[1, 0, 2], [2, 1, 0]]
    assert plackett_luce_loss(shifted, ranking).item() == pytest.approx(
        plackett_luce_loss(r, ranking).item(), rel=1e-5
    )


@pytest.mark.parametrize(
    "rewards, ranking, message",
    [
        ([1.0, 2.0, 3.0], [0, 0, 1], "permutation of 0..2"),
        ([1.0, 2.0, 3.0], [0, 1, 3], "permutation of 0..2"),
        ([1.0, 2.0, 3.0], [0, 1], "same shape|shape of rewards"),
        ([[1.0, 2.0]], [0, 1], "shape of rewards"),
        ([1.0, 2.0], [0.0, 1.0], "integer"),
        ([], [], "K >= 1"),
    ],
)
def test_bad_rankings_are_refused(rewards, ranking, message):
    with pytest.raises(ValueError, match=message):
        plackett_luce_loss(rewards, ranking)


def test_reduction_sum_and_none():
    r = torch.tensor([[2.0, 0.5, 1.0], [0.0, 1.0, -1.0]])
    ranking = torch.tensor([[0, 2, 1], [1, 0, 2]])
    each = plackett_luce_loss(r, ranking, reduction="none")
    assert each.shape == (2,)
    assert each[0].item() == pytest.approx(plackett_luce_loss(r[0], ranking[0]).item(), rel=1e-6)
    assert plackett_luce_loss(r, ranking, reduction="sum").item() == pytest.approx(each.sum().item(), rel=1e-6)
    assert plackett_luce_loss(r, ranking).item() == pytest.approx(each.mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="reduction must be one of"):
        plackett_luce_loss(r, ranking, reduction="max")
