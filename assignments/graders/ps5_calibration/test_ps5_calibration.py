"""Hidden grader for ps5_calibration (never released; runs in the judge, not in the sandbox).

Points: reliability_curve + expected_calibration_error 4, brier_score 1, fit_temperature 3.
"""

import math

import numpy as np
import torch

from autograder.probes import call, points
from course_lib.evaluation.calibration import brier_score as ref_brier
from course_lib.evaluation.calibration import expected_calibration_error as ref_ece
from course_lib.evaluation.calibration import fit_temperature as ref_temperature
from course_lib.evaluation.calibration import reliability_curve as ref_curve

REFERENCE = [
    "course_lib.evaluation.calibration.reliability_curve",
    "course_lib.evaluation.calibration.expected_calibration_error",
    "course_lib.evaluation.calibration.brier_score",
    "course_lib.evaluation.calibration.fit_temperature",
]
_rng = np.random.default_rng(20261125)
PROBS = np.round(_rng.random(200), 4)
PROBS[:5] = [0.0, 1.0, 1.0, 0.5, 0.1]  # exact bin edges; 1.0 belongs to the last bin
LABELS = (_rng.random(200) < PROBS**2).astype(np.float64)  # overconfident: true rate p^2
SKEWED = np.concatenate([np.full(30, 0.95), np.full(3, 0.15)])  # empty middle bins, unequal sizes
SKEWED_Y = np.array([1.0] * 20 + [0.0] * 10 + [1.0, 0.0, 0.0])
_true = _rng.normal(0.0, 2.0, 3000)
TEMP_Y = (_rng.random(3000) < 1 / (1 + np.exp(-_true))).astype(np.float64)
TEMP_M = 2.5 * _true  # 2.5x overconfident margins
SOFT_M = 0.4 * _true  # underconfident margins: T < 1
ANTI_M = -1.5 * _true  # margins that point the wrong way: the best T > 0 is the largest searched

# -- probes: run in the sandbox ---------------------------------------------------------------
curve = call("reliability_curve", PROBS, LABELS)
curve_bins = call("reliability_curve", PROBS, LABELS, n_bins=7)
curve_skewed = call("reliability_curve", SKEWED.tolist(), SKEWED_Y.tolist())
curve_one = call("reliability_curve", [1.0, 1.0], [1, 0], n_bins=4)
ece = call("expected_calibration_error", PROBS, LABELS)
ece_bins = call("expected_calibration_error", torch.tensor(PROBS), torch.tensor(LABELS), n_bins=5)
ece_skewed = call("expected_calibration_error", SKEWED, SKEWED_Y)
ece_empty = call("expected_calibration_error", [], [])
ece_mismatch = call("expected_calibration_error", [0.5, 0.5], [1.0])
ece_outside = call("expected_calibration_error", [0.5, 1.5], [1.0, 0.0])
curve_outside = call("reliability_curve", [-0.1, 0.5], [1.0, 0.0])
brier = call("brier_score", PROBS, LABELS)
brier_lists = call("brier_score", [0.0, 1.0, 0.25], [1, 1, 0])
brier_bad = [call("brier_score", [], []), call("brier_score", [0.2], [1, 0]), call("brier_score", [2.0], [1])]
temperature = call("fit_temperature", TEMP_M, TEMP_Y)
temperature_soft = call("fit_temperature", torch.tensor(SOFT_M), torch.tensor(TEMP_Y))
temperature_anti = call("fit_temperature", ANTI_M, TEMP_Y)
temperature_bad = [call("fit_temperature", [], []), call("fit_temperature", [1.0, 2.0], [1.0])]


def expect_curve(outcome, expected, what: str) -> None:
    got = outcome.of_type(list)
    assert len(got) == len(expected), f"{what}: {len(got)} bins, expected {len(expected)} non-empty bins"
    for i, (item, (conf, acc, count)) in enumerate(zip(got, expected)):
        assert type(item) is tuple and len(item) == 3, f"{what}: bin {i} must be a (confidence, accuracy, count) tuple"
        assert type(item[0]) is float and type(item[1]) is float and type(item[2]) is int, (
            f"{what}: bin {i} must hold (float, float, int)"
        )
        assert item[2] == count, f"{what}: bin {i} has {item[2]} examples, expected {count}"
        assert math.isclose(item[0], conf, abs_tol=1e-9), f"{what}: bin {i} mean confidence is wrong"
        assert math.isclose(item[1], acc, abs_tol=1e-9), f"{what}: bin {i} accuracy is wrong"


# -- reliability curve and ECE: 4 points -------------------------------------------------------
CELL = "test_ece"


@points(1, cell=CELL)
def test_curve_typical(student):
    expect_curve(student[curve], ref_curve(PROBS, LABELS), "reliability_curve")
    expect_curve(student[curve_bins], ref_curve(PROBS, LABELS, n_bins=7), "n_bins=7")


@points(0.5, cell=CELL)
def test_curve_edges(student):
    expect_curve(student[curve_skewed], ref_curve(SKEWED, SKEWED_Y), "empty bins are skipped")
    expect_curve(student[curve_one], ref_curve([1.0, 1.0], [1, 0], n_bins=4), "1.0 falls in the last bin")


@points(1, cell=CELL)
def test_ece_typical(student):
    assert math.isclose(student[ece].float(), ref_ece(PROBS, LABELS), abs_tol=1e-9), "ECE is wrong"
    assert math.isclose(student[ece_bins].float(), ref_ece(PROBS, LABELS, n_bins=5), abs_tol=1e-9), (
        "ECE with n_bins=5 on tensors is wrong"
    )


@points(1, cell=CELL)
def test_ece_weights_bins_by_size(student):
    assert math.isclose(student[ece_skewed].float(), ref_ece(SKEWED, SKEWED_Y), abs_tol=1e-9), (
        "ECE must weight each bin by its size and skip empty bins"
    )


@points(0.5, cell=CELL)
def test_ece_rejects_bad_input(student):
    for probe, what in [(ece_empty, "empty input"), (ece_mismatch, "different lengths"), (ece_outside, "p = 1.5")]:
        assert student[probe].raises("ValueError"), f"expected_calibration_error: {what} must raise ValueError"
    assert student[curve_outside].raises("ValueError"), "reliability_curve: p = -0.1 must raise ValueError"


# -- Brier score: 1 point -----------------------------------------------------------------------
CELL = "test_brier_score"


@points(0.5, cell=CELL)
def test_brier(student):
    assert math.isclose(student[brier].float(), ref_brier(PROBS, LABELS), abs_tol=1e-12), "Brier score is wrong"
    assert math.isclose(student[brier_lists].float(), ref_brier([0.0, 1.0, 0.25], [1, 1, 0]), abs_tol=1e-12)


@points(0.5, cell=CELL)
def test_brier_rejects_bad_input(student):
    for probe, what in zip(brier_bad, ["empty input", "different lengths", "p = 2"]):
        assert student[probe].raises("ValueError"), f"brier_score: {what} must raise ValueError"


# -- temperature scaling: 3 points -----------------------------------------------------------------
CELL = "test_fit_temperature"


def nll(margins, labels, temperature: float) -> float:
    z = np.asarray(margins) / temperature
    return float(np.mean(np.logaddexp(0.0, z) - labels * z))


@points(1, cell=CELL)
def test_temperature_overconfident(student):
    got, expected = student[temperature].float(), ref_temperature(TEMP_M, TEMP_Y)
    assert got > 0 and math.isclose(got, expected, rel_tol=0.01), f"T = {got:.4g}, expected {expected:.4g} (within 1%)"


@points(1, cell=CELL)
def test_temperature_underconfident(student):
    got, expected = student[temperature_soft].float(), ref_temperature(SOFT_M, TEMP_Y)
    assert got > 0 and math.isclose(got, expected, rel_tol=0.01), (
        f"T = {got:.4g}, expected {expected:.4g} (T < 1 here)"
    )


@points(0.5, cell=CELL)
def test_temperature_is_positive(student):
    got, expected = student[temperature_anti].float(), ref_temperature(ANTI_M, TEMP_Y)
    assert got > 0, f"T = {got:.4g}: a temperature must be > 0 (fit log T, or search T in [0.01, 100])"
    assert nll(ANTI_M, TEMP_Y, got) <= nll(ANTI_M, TEMP_Y, expected) + 1e-3, (
        f"T = {got:.4g}: with margins that point the wrong way the BCE keeps falling as T grows; "
        f"the best T in [0.01, 100] is {expected:.4g}"
    )


@points(0.5, cell=CELL)
def test_temperature_rejects_bad_input(student):
    for probe, what in zip(temperature_bad, ["empty input", "different lengths"]):
        assert student[probe].raises("ValueError"), f"fit_temperature: {what} must raise ValueError"
