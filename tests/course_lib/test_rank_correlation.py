"""Spearman's rho and Kendall's tau-b (chapter 16)."""

import numpy as np
import pytest

from course_lib.evaluation.rank_correlation import kendall_tau, spearman_rho


def test_same_and_reversed_order():
    x = [0.1, 0.5, 0.3, 0.9]
    y = [1, 3, 2, 10]  # the same order on another scale
    assert spearman_rho(x, y) == pytest.approx(1.0) and kendall_tau(x, y) == pytest.approx(1.0)
    assert spearman_rho(x, [-v for v in y]) == pytest.approx(-1.0)
    assert kendall_tau(x, [-v for v in y]) == pytest.approx(-1.0)


def test_known_values_without_and_with_ties():
    # one discordant pair of three: tau = (2 - 1) / 3; rho = 1 - 6 * 2 / (3 * 8)
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert spearman_rho([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    # tau-b with a tie in x: pairs (1,2) tie, (1,3) +, (2,3) +; n0 = 3, n1 = 1, n2 = 0
    assert kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / np.sqrt(2 * 3))
    # Spearman on mid-ranks: x ranks (1.5, 1.5, 3)
    assert spearman_rho([1, 1, 2], [1, 2, 3]) == pytest.approx(np.corrcoef([1.5, 1.5, 3], [1, 2, 3])[0, 1])


def test_accepts_numpy_and_torch():
    import torch

    x = np.array([0.2, 0.4, 0.1])
    assert spearman_rho(x, torch.tensor([2.0, 3.0, 1.0])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "x, y, match",
    [
        ([1, 2], [1, 2, 3], "same length"),
        ([1], [2], "at least 2"),
        ([1, 1, 1], [1, 2, 3], "constant"),
        (["a", "b"], [1, 2], "numbers"),
    ],
)
def test_bad_input(x, y, match):
    for f in (spearman_rho, kendall_tau):
        with pytest.raises(ValueError, match=match):
            f(x, y)
