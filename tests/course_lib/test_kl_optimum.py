"""course_lib.training.kl_optimum: the KL-regularised optimum pi* ~ pi_ref exp(r / beta), best-of-N, KL."""

import itertools
import math

import pytest
import torch

from course_lib.training.kl_optimum import best_of_n_policy, kl_divergence, kl_regularized_optimum


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


# -- best-of-N over a finite set, and the KL ----------------------------------------------------------


def enumerate_best_of_n(ref, rewards, n):
    """Best-of-n by brute force: every ordered draw of n responses, ties broken uniformly among the draws."""
    out = torch.zeros(len(ref), dtype=torch.float64)
    for draw in itertools.product(range(len(ref)), repeat=n):
        p = math.prod(ref[i] for i in draw)
        best = max(rewards[i] for i in draw)
        winners = [i for i in draw if rewards[i] == best]
        for i in winners:
            out[i] += p / len(winners)
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_best_of_n_matches_brute_force_with_ties(n):
    ref, rewards = [0.1, 0.2, 0.3, 0.4], [1.0, 3.0, 0.0, 3.0]  # responses 1 and 3 tie for the best
    expected = enumerate_best_of_n(ref, rewards, n)
    got = best_of_n_policy(torch.tensor(ref, dtype=torch.float64), torch.tensor(rewards, dtype=torch.float64), n)
    assert got.tolist() == pytest.approx(expected.tolist(), abs=1e-12)


def test_best_of_n_starts_at_the_reference_and_ends_at_the_best_response():
    ref, rewards = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.0, 2.0, 1.0])
    assert best_of_n_policy(ref, rewards, 1).tolist() == pytest.approx(ref.tolist())
    assert best_of_n_policy(ref, rewards, 200).tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)
    batched = best_of_n_policy(torch.stack([ref, ref.flip(0)]), torch.stack([rewards, rewards]), 3)
    assert batched.sum(-1).tolist() == pytest.approx([1.0, 1.0])
    assert batched[0].tolist() == pytest.approx(best_of_n_policy(ref, rewards, 3).tolist())


def test_best_of_n_kl_is_at_most_the_continuous_formula():
    gen = torch.Generator().manual_seed(0)
    ref = torch.softmax(torch.randn(50, generator=gen, dtype=torch.float64), -1)
    rewards = torch.randn(50, generator=gen, dtype=torch.float64)
    for n in (2, 8, 64, 1024):
        kl = kl_divergence(best_of_n_policy(ref, rewards, n), ref).item()
        assert 0 < kl <= math.log(n) - (n - 1) / n + 1e-12


def test_kl_divergence_values():
    assert kl_divergence([0.5, 0.5], [0.5, 0.5]).item() == 0.0
    assert kl_divergence([1.0, 0.0], [0.25, 0.75]).item() == pytest.approx(math.log(4))
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]).item() == math.inf
    assert kl_divergence(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), torch.tensor([[0.5, 0.5]] * 2)).tolist() == (
        pytest.approx([math.log(2), 0.0])
    )


@pytest.mark.parametrize(
    "ref, rewards, n, message",
    [
        ([0.5, 0.5], [1.0, 0.0], 0, "n must be an int >= 1"),
        ([0.5, 0.5], [1.0, 0.0], 2.0, "n must be an int >= 1"),
        ([0.5, 0.5], [1.0, 0.0], True, "n must be an int >= 1"),
        ([0.5, 0.5], [1.0], 2, "same non-empty shape"),
        ([0.5, 0.6], [1.0, 0.0], 2, "sum to 1"),
    ],
)
def test_best_of_n_refuses_bad_input(ref, rewards, n, message):
    with pytest.raises(ValueError, match=message):
        best_of_n_policy(ref, rewards, n)


@pytest.mark.parametrize(
    "policy, ref, message",
    [([0.5, 0.5], [1.0], "same shape"), ([1.5, -0.5], [0.5, 0.5], ">= 0"), (0.5, 0.5, "same shape")],
)
def test_kl_divergence_refuses_bad_input(policy, ref, message):
    with pytest.raises(ValueError, match=message):
        kl_divergence(policy, ref)
