"""course_lib.training.kl_optimum: the KL-regularised optimum pi* ~ pi_ref exp(r / beta)."""

import pytest
import torch

from course_lib.training.kl_optimum import kl_regularized_optimum


def test_tilts_the_reference_by_the_reward():
    ref, r = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.0, 1.0, 2.0])
    expected = ref * torch.exp(r / 0.5)
    assert torch.allclose(kl_regularized_optimum(ref, r, 0.5), expected / expected.sum())


def test_is_the_maximiser_of_reward_minus_beta_kl():
    ref, r, beta = torch.tensor([0.6, 0.3, 0.1]), torch.tensor([0.0, 0.5, 2.0]), 0.7

    def objective(p):
        return (p * r).sum() - beta * (p * (p / ref).log()).sum()

    best = objective(kl_regularized_optimum(ref, r, beta))
    for other in torch.distributions.Dirichlet(torch.ones(3)).sample((200,)):
        assert objective(other) <= best + 1e-6


def test_small_beta_picks_the_best_and_large_beta_keeps_the_reference():
    ref, r = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.0, 1.0, 3.0])
    assert kl_regularized_optimum(ref, r, 1e-3).tolist() == pytest.approx([0.0, 0.0, 1.0])
    assert kl_regularized_optimum(ref, r, 1e6).tolist() == pytest.approx(ref.tolist(), abs=1e-5)


def test_stable_in_log_space_and_batched():
    out = kl_regularized_optimum([[0.5, 0.5], [0.25, 0.75]], [[1e4, -1e4], [0.0, 0.0]], beta=1.0)
    assert torch.isfinite(out).all() and out.flatten().tolist() == pytest.approx([1.0, 0.0, 0.25, 0.75])
    assert out.sum(-1).tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    "ref, rewards, beta, message",
    [
        ([0.5, 0.5], [1.0, 0.0], 0.0, "beta must be > 0"),
        ([0.5, 0.5], [1.0, 0.0], -1.0, "beta must be > 0"),
        ([0.5, 0.5], [1.0, 0.0, 2.0], 1.0, "same non-empty shape"),
        ([1.5, -0.5], [1.0, 0.0], 1.0, "must be >= 0"),
        ([0.5, 0.6], [1.0, 0.0], 1.0, "sum to 1"),
    ],
)
def test_bad_input_is_refused(ref, rewards, beta, message):
    with pytest.raises(ValueError, match=message):
        kl_regularized_optimum(ref, rewards, beta)
