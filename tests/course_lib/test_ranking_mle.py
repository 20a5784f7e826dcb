"""course_lib.training.ranking_mle: a reward table fitted to rankings by penalised maximum likelihood."""

import pytest
import torch

from course_lib.data.rankings import Rankings, all_pairs, sample_rankings
from course_lib.training.ranking_mle import (
    RankingFitConfig,
    fit_reward_table,
    penalized_nll,
    ranking_nll,
    reward_covariance,
)


def _centred(r):
    return r - r.mean(-1, keepdim=True)


def test_recovers_the_true_rewards_from_many_rankings():
    truth = torch.tensor([[1.0, 0.0, -1.0, 0.5], [3.0, 2.0, 2.5, 1.0]])  # prompt 1 sits 2 higher
    rankings = sample_rankings(truth, 400, 4, torch.Generator().manual_seed(0))
    fitted = fit_reward_table(rankings, 2, 4, RankingFitConfig(prior_precision=1e-2))
    assert torch.allclose(_centred(fitted), _centred(truth), atol=0.2)
    assert fitted.mean(1).abs().max() < 0.05  # the prior picks mean 0 per prompt, not the true offset


def test_fewer_labels_give_a_worse_fit():
    truth = torch.tensor([[1.0, 0.0, -1.0, 0.5]]).repeat(30, 1)
    g = torch.Generator().manual_seed(1)
    err = [
        (_centred(fit_reward_table(sample_rankings(truth, n, 4, g), 30, 4)) - _centred(truth)).pow(2).mean()
        for n in (2, 64)
    ]
    assert err[1] < err[0] / 3


def test_likelihood_ignores_a_constant_per_prompt_and_counts_weigh_rows():
    rewards = torch.randn(3, 4)
    rankings = sample_rankings(rewards, 5, 3, torch.Generator().manual_seed(0))
    shifted = rewards + torch.tensor([[10.0], [-4.0], [0.5]])
    assert ranking_nll(shifted, rankings).item() == pytest.approx(ranking_nll(rewards, rankings).item(), rel=1e-5)
    once = Rankings(torch.tensor([0]), torch.tensor([[1, 0]]), torch.tensor([3]))
    thrice = Rankings(torch.tensor([0, 0, 0]), torch.tensor([[1, 0]] * 3))
    assert ranking_nll(rewards, once).item() == pytest.approx(ranking_nll(rewards, thrice).item())


def test_covariance_is_the_inverse_hessian_per_prompt():
    rewards = torch.randn(2, 3)
    rankings = all_pairs(sample_rankings(rewards, 6, 3, torch.Generator().manual_seed(3)))
    cov = reward_covariance(rewards, rankings, 0.5)
    full = torch.autograd.functional.hessian(lambda r: penalized_nll(r.view(2, 3), rankings, 0.5), rewards.reshape(-1))
    for p in range(2):
        block = full[3 * p : 3 * p + 3, 3 * p : 3 * p + 3]
        assert torch.allclose(cov[p], torch.linalg.inv(block), atol=1e-4)
    assert torch.allclose(full[:3, 3:], torch.zeros(3, 3))  # prompts share nothing


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: RankingFitConfig(prior_precision=0.0), "prior_precision must be > 0"),
        (lambda: fit_reward_table(Rankings(torch.tensor([2]), torch.tensor([[0, 1]])), 2, 2), "outside a table"),
        (lambda: fit_reward_table(Rankings(torch.tensor([0]), torch.tensor([[0, 3]])), 1, 2), "outside a table"),
        (
            lambda: reward_covariance(
                torch.zeros(1, 2), Rankings(torch.zeros(0).long(), torch.zeros(0, 2).long()), 1.0
            ),
            "empty",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
