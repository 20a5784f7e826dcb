"""course_lib.evaluation.calibration: reliability curve, ECE, Brier score, temperature scaling."""

import numpy as np
import pytest
import torch

from course_lib.evaluation.calibration import (
    brier_score,
    expected_calibration_error,
    fit_temperature,
    reliability_curve,
    sigmoid,
    swap_pairs,
)


def test_reliability_curve_equal_width_bins_skips_empty_ones_and_puts_one_in_the_last():
    probs = [0.05, 0.15, 0.15, 0.95, 1.0]
    labels = [0, 0, 1, 1, 1]
    curve = reliability_curve(probs, labels, n_bins=10)
    assert [(round(c, 3), a, n) for c, a, n in curve] == [(0.05, 0.0, 1), (0.15, 0.5, 2), (0.975, 1.0, 2)]
    assert reliability_curve([1.0], [1], n_bins=4) == [(1.0, 1.0, 1)]
    assert reliability_curve([0.0, 0.5], [0, 1], n_bins=2) == [(0.0, 0.0, 1), (0.5, 1.0, 1)]  # 0.5 opens bin 2


def test_ece_is_the_count_weighted_gap():
    probs, labels = [0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.5 * 0.4 + 0.5 * 0.2)
    assert expected_calibration_error([1.0, 1.0, 0.0], [1, 1, 0]) == 0.0
    assert expected_calibration_error([0.5] * 4, [1, 0, 1, 0], n_bins=1) == 0.0


def test_ece_of_a_calibrated_model_is_small_and_of_an_overconfident_one_large():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    assert expected_calibration_error(p, y) < 0.02
    assert expected_calibration_error(np.where(p > 0.5, 0.99, 0.01), y) > 0.2


def test_brier_score():
    assert brier_score([0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]) == pytest.approx((0.01 + 0.81 + 0.04 + 0.04) / 4)
    assert brier_score(torch.tensor([1.0, 0.0]), torch.tensor([1, 0])) == 0.0


@pytest.mark.parametrize("fn", [expected_calibration_error, brier_score, reliability_curve])
@pytest.mark.parametrize(
    "probs, labels, message",
    [
        ([], [], "probs is empty"),
        ([0.5, 0.5], [1], "same length, got 2 and 1"),
        ([0.5, 1.2], [1, 0], r"probs must be in \[0, 1\], got 1.2"),
        ([-0.1], [0], r"probs must be in \[0, 1\], got -0.1"),
        ([0.5], [2], "labels must be 0 or 1, got 2"),
        ([float("nan")], [1], "nan or inf"),
    ],
)
def test_calibration_metrics_bad_input(fn, probs, labels, message):
    with pytest.raises(ValueError, match=message):
        fn(probs, labels)


@pytest.mark.parametrize("n_bins", [0, -3, 2.5])
def test_bad_number_of_bins(n_bins):
    with pytest.raises(ValueError, match="n_bins must be a positive int"):
        expected_calibration_error([0.5], [1], n_bins=n_bins)


@pytest.mark.parametrize("true_temperature", [0.5, 2.0, 4.0])
def test_fit_temperature_recovers_a_known_temperature(true_temperature):
    rng = np.random.default_rng(1)
    margins = rng.normal(0.0, 3.0, size=40_000)
    labels = (rng.uniform(size=margins.size) < sigmoid(margins / true_temperature)).astype(float)
    assert fit_temperature(margins, labels) == pytest.approx(true_temperature, rel=0.06)


def test_temperature_scaling_reduces_ece_of_an_overconfident_model():
    rng = np.random.default_rng(2)
    margins = rng.normal(0.0, 4.0, size=5000)
    labels = (rng.uniform(size=margins.size) < sigmoid(margins / 3.0)).astype(float)
    t = fit_temperature(margins, labels)
    assert t > 1  # overconfident: soften
    assert expected_calibration_error(sigmoid(margins / t), labels) < expected_calibration_error(
        sigmoid(margins), labels
    )


@pytest.mark.parametrize(
    "margins, labels, kwargs, message",
    [
        ([], [], {}, "margins is empty"),
        ([1.0, 2.0], [1.0], {}, "same length"),
        ([1.0], [0.5], {}, "labels must be 0 or 1"),
        ([1.0], [1.0], {"bounds": (5.0, 1.0)}, "0 < low < high"),
    ],
)
def test_fit_temperature_bad_input(margins, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(margins, labels, **kwargs)


def test_swap_pairs_flips_about_half_and_keeps_the_preference():
    margins = np.linspace(0.1, 5, 1000)
    swapped, labels = swap_pairs(margins, seed=3)
    assert 400 < labels.sum() < 600
    assert np.array_equal(swapped > 0, labels == 1)
    assert np.array_equal(np.abs(swapped), margins)
    assert np.array_equal(swap_pairs(margins, seed=3)[1], labels)
    with pytest.raises(ValueError, match="margins is empty"):
        swap_pairs([])


def test_sigmoid_is_stable():
    assert sigmoid([0.0, 1e4, -1e4]).tolist() == [0.5, 1.0, 0.0]
