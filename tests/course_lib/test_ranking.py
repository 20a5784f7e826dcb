"""course_lib.evaluation.ranking: the standard ROC AUC, ties counted one half."""

import itertools
import random

import numpy as np
import pytest
import torch

from course_lib.evaluation.ranking import roc_auc
from course_lib.training.reward_model import pairwise_accuracy


def brute_force_auc(labels, scores) -> float:
    """The O(n^2) definition: every (positive, negative) pair, a win 1, a tie 1/2."""
    pos = [s for y, s in zip(labels, scores) if y]
    neg = [s for y, s in zip(labels, scores) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_typical_cases():
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0  # perfect ranking
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0  # reversed
    assert roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1]) == 0.75  # 0.9 beats both negatives, 0.2 only 0.1
    assert roc_auc([1, 0, 0], [0.5, 0.9, 0.1]) == 0.5
    # order of the examples does not matter
    assert roc_auc([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2]) == roc_auc([1, 1, 0, 0], [0.9, 0.2, 0.8, 0.1])


def test_ties_count_one_half():
    assert roc_auc([1, 0], [3.0, 3.0]) == 0.5
    assert roc_auc([1, 1, 0, 0], [7, 7, 7, 7]) == 0.5  # a constant scorer is at chance
    assert roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.4, 0.1]) == 0.875  # 3 wins and 1 tie of 4 pairs
    assert roc_auc([1, 0, 0, 0], [2, 2, 2, 1]) == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert roc_auc([1, 0], [0.0, -0.0]) == 0.5  # -0.0 == 0.0


def test_margins_against_zero_is_pairwise_accuracy_with_ties_one_half():
    chosen = torch.tensor([2.0, 1.0, 1.0, 0.0, 3.0])
    rejected = torch.tensor([1.0, 1.0, 2.0, 0.0, 0.0])
    margins = (chosen - rejected).tolist()  # [1, 0, -1, 0, 3]: 2 right, 2 ties, 1 wrong
    assert pairwise_accuracy(chosen, rejected) == pytest.approx(2 / 5)  # strict: ties are wrong
    assert roc_auc([1] * 5 + [0], margins + [0.0]) == pytest.approx((2 + 0.5 * 2) / 5)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_the_quadratic_count_on_random_data_with_ties(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 60)
    labels = [rng.random() < 0.4 for _ in range(n)]
    labels[0], labels[1] = True, False  # both classes present
    scores = [rng.randint(0, 6) / 2 for _ in range(n)]  # few distinct values: many ties
    assert roc_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores), abs=1e-12)


def test_agrees_with_sklearn_when_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=500)
    scores = rng.integers(0, 20, size=500).astype(float)
    assert roc_auc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)


def test_accepts_lists_numpy_and_tensors_of_bools_ints_and_floats():
    labels, scores = [1, 0, 1, 0, 0], [0.3, 0.1, 0.2, 0.25, 0.0]
    expected = brute_force_auc(labels, scores)
    for lab, sc in [
        (labels, scores),
        (np.array(labels), np.array(scores)),
        (np.array(labels, dtype=bool), np.array(scores, dtype=np.float32)),
        (torch.tensor(labels), torch.tensor(scores)),
        (torch.tensor(labels, dtype=torch.bool), torch.tensor(scores, dtype=torch.float64)),
        ([float(v) for v in labels], [int(100 * v) for v in scores]),
    ]:
        assert roc_auc(lab, sc) == pytest.approx(expected)
    assert isinstance(roc_auc(labels, scores), float)


def test_large_input_is_fast_and_exact():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=200_000)
    scores = labels + rng.normal(size=200_000)  # P(N(1,1) > N(0,1)) = Phi(1/sqrt 2) ~ 0.760
    assert roc_auc(labels, scores) == pytest.approx(0.760, abs=0.005)


def test_bad_input_raises_with_the_bad_value():
    with pytest.raises(ValueError, match="same length, got 3 labels and 2 scores"):
        roc_auc([1, 0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels must be 0 or 1.*got 2"):
        roc_auc([1, 0, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="labels must be 0 or 1.*got 0.5"):
        roc_auc([1, 0, 0.5], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="labels must be 0 or 1.*got 'yes'"):
        roc_auc(["yes", "no"], [0.1, 0.2])
    with pytest.raises(ValueError, match="scores must be real numbers, got None"):
        roc_auc([1, 0], [0.1, None])
    with pytest.raises(ValueError, match="scores must be finite, got nan"):
        roc_auc([1, 0], [0.1, float("nan")])
    with pytest.raises(ValueError, match="at least one positive and one negative, got 12 positives and 0 negatives"):
        roc_auc([1] * 12, list(range(12)))
    with pytest.raises(ValueError, match="got 0 positives and 3 negatives"):
        roc_auc([False] * 3, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="got 0 positives and 0 negatives"):
        roc_auc([], [])
