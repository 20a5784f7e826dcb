"""course_lib.data.rankings: simulated rankings with known true rewards, and what a label costs."""

import itertools
import math

import pytest
import torch

from course_lib.data.rankings import (
    Rankings,
    RankingSimConfig,
    all_pairs,
    labelling_cost,
    sample_rankings,
    side_by_side,
    tally,
    true_rewards,
)
from course_lib.training.plackett_luce import plackett_luce_loss


def test_true_rewards_have_a_shape_and_a_per_prompt_offset():
    r = true_rewards(RankingSimConfig(n_prompts=400, n_responses=5, reward_std=0.1, offset_std=3.0, seed=1))
    assert r.shape == (400, 5)
    assert r.std(1).mean() < 0.2 < 2.0 < r.mean(1).std()  # small spread inside a prompt, large across
    assert torch.equal(
        r, true_rewards(RankingSimConfig(n_prompts=400, n_responses=5, reward_std=0.1, offset_std=3.0, seed=1))
    )


def test_rankings_are_permutations_of_distinct_responses():
    rankings = sample_rankings(torch.randn(7, 6), per_prompt=5, k=4, generator=torch.Generator().manual_seed(0))
    assert len(rankings) == 35 and rankings.k == 4 and rankings.n_labels == 35
    assert torch.equal(rankings.prompt, torch.arange(7).repeat_interleave(5))
    assert all(len(set(row)) == 4 and max(row) < 6 for row in rankings.order.tolist())


def test_gumbel_max_rankings_follow_plackett_luce():
    r = torch.tensor([0.8, 0.0, -1.0])
    rankings = sample_rankings(r[None], 30_000, 3, torch.Generator().manual_seed(0))
    for order in itertools.permutations(range(3)):
        sampled = (rankings.order == torch.tensor(order)).all(1).float().mean().item()
        assert sampled == pytest.approx(math.exp(-plackett_luce_loss(r, list(order)).item()), abs=0.012)


def test_pairs_follow_bradley_terry():
    r = torch.tensor([[1.0, 0.0]])
    pairs = sample_rankings(r, 20_000, 2, torch.Generator().manual_seed(2))
    assert (pairs.order[:, 0] == 0).float().mean().item() == pytest.approx(1 / (1 + math.exp(-1.0)), abs=0.01)


def test_all_pairs_lists_every_winner_loser_pair_once():
    rankings = Rankings(torch.tensor([3]), torch.tensor([[2, 0, 1]]))
    pairs = all_pairs(rankings)
    assert pairs.order.tolist() == [[2, 0], [2, 1], [0, 1]] and pairs.prompt.tolist() == [3, 3, 3]


def test_tally_merges_identical_rows_and_keeps_the_likelihood():
    rewards = torch.tensor([[0.5, -0.2, 0.1]])
    rankings = sample_rankings(rewards, 50, 3, torch.Generator().manual_seed(0))
    merged = tally(rankings)
    assert len(merged) <= 6 and merged.n_labels == 50

    def nll(data):
        ranked = rewards[data.prompt[:, None], data.order]
        return (data.count * plackett_luce_loss(ranked, torch.arange(3).expand_as(ranked), reduction="none")).sum()

    assert nll(merged).item() == pytest.approx(nll(rankings).item(), rel=1e-5)


def test_labelling_cost_in_reads_and_comparisons():
    assert [labelling_cost(k, "reads") for k in (2, 4, 9)] == [2, 4, 9]
    assert [labelling_cost(k, "comparisons") for k in (2, 3, 4, 5, 8)] == [1, 3, 5, 7, 16]


def test_side_by_side_puts_parts_on_separate_prompts():
    a = Rankings(torch.tensor([0, 1]), torch.tensor([[0, 1], [1, 0]]))
    b = Rankings(torch.tensor([1]), torch.tensor([[1, 0]]), torch.tensor([3]))
    both = side_by_side([a, b], n_prompts=2)
    assert both.prompt.tolist() == [0, 1, 3] and both.count.tolist() == [1, 1, 3]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: RankingSimConfig(n_responses=1), "n_responses >= 2"),
        (lambda: RankingSimConfig(offset_std=-1.0), "offset_std"),
        (lambda: sample_rankings(torch.randn(2, 3), 1, 4), "k must be in"),
        (lambda: sample_rankings(torch.randn(3), 1, 2), "rewards must be"),
        (lambda: sample_rankings(torch.randn(2, 3), 0, 2), "per_prompt"),
        (lambda: Rankings(torch.tensor([0, 1]), torch.tensor([[0, 1]])), "prompt must be"),
        (lambda: Rankings(torch.tensor([0]), torch.tensor([[0, 1]]), torch.tensor([0])), "count"),
        (lambda: labelling_cost(1), "k >= 2"),
        (lambda: labelling_cost(4, "minutes"), "unit must be one of"),
        (lambda: side_by_side([], 2), "parts is empty"),
        (lambda: side_by_side([Rankings(torch.tensor([5]), torch.tensor([[0, 1]]))], 2), "outside"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
