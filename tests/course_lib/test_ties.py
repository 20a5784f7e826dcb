"""course_lib.training.ties: Rao-Kupper and Davidson tie models."""

import math

import pytest
import torch

from course_lib.training.ties import davidson_probabilities, rao_kupper_probabilities

MARGINS = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0])


@pytest.mark.parametrize(
    "probs", [lambda m: davidson_probabilities(m, 0.8), lambda m: rao_kupper_probabilities(m, 0.6)]
)
def test_three_outcomes_sum_to_one_and_the_better_response_wins_more(probs):
    p = probs(MARGINS)
    assert p.shape == (5, 3) and torch.allclose(p.sum(-1), torch.ones(5)) and (p >= 0).all()
    assert (p[:, 0].diff() > 0).all() and (p[:, 2].diff() < 0).all()
    assert p[2, 0].item() == pytest.approx(p[2, 2].item())  # equal rewards: symmetric


def test_rao_kupper_without_threshold_is_bradley_terry():
    p = rao_kupper_probabilities(MARGINS, 0.0)
    assert torch.allclose(p[:, 0], torch.sigmoid(MARGINS)) and torch.allclose(p[:, 1], torch.zeros(5), atol=1e-7)


def test_davidson_decisive_outcomes_follow_bradley_terry():
    p = davidson_probabilities(MARGINS, 2.5)
    assert torch.allclose(p[:, 0] / (p[:, 0] + p[:, 2]), torch.sigmoid(MARGINS), atol=1e-6)
    assert p[2, 1].item() == pytest.approx(2.5 / 4.5)  # nu / (2 + nu) at margin 0


def test_lists_and_large_margins_stay_finite():
    assert torch.isfinite(davidson_probabilities([1e4, -1e4], 1.0)).all()
    assert torch.isfinite(rao_kupper_probabilities([1e4, -1e4], math.log(2))).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rao_kupper_probabilities(0.0, -0.1), "threshold must be >= 0"),
        (lambda: davidson_probabilities(0.0, 0.0), "tie_strength must be > 0"),
    ],
)
def test_bad_parameters_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
