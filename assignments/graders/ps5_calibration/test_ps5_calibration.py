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
COURSE_LIB = [  # what the notebook's reward-model demo uses; nothing that bins, scores or fits temperatures
    "course_lib.data.preferences.make_preference_pairs",
    "course_lib.evaluation.calibration.swap_pairs",
    "course_lib.models.backbone.build_tiny_backbone",
    "course_lib.training.reward_model.RewardModel",
    "course_lib.training.reward_model.RewardTrainingConfig",
    "course_lib.training.reward_model.reward_scores",
    "course_lib.training.reward_model.train_reward_model",
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
    """Messages say which case and what is wrong, never a value: feedback must not hand out the answers."""
    got = outcome.of_type(list)
    what = f"reliability_curve {what}"
    assert len(got) == len(expected), f"{what}: wrong number of bins (one per non-empty bin)"
    for item, (conf, acc, count) in zip(got, expected):
        assert type(item) is tuple and len(item) == 3, (
            f"{what}: each bin must be a (confidence, accuracy, count) tuple"
        )
        assert type(item[0]) is float and type(item[1]) is float and type(item[2]) is int, (
            f"{what}: each bin must hold (float, float, int)"
        )
        assert item[2] == count, f"{what}: a bin has the wrong count"
        assert math.isclose(item[0], conf, abs_tol=1e-9), f"{what}: a bin's mean confidence is wrong"
        assert math.isclose(item[1], acc, abs_tol=1e-9), f"{what}: a bin's accuracy is wrong"


def expect_float(outcome, expected: float, what: str, abs_tol: float = 1e-9) -> None:
    assert math.isclose(outcome.float(), expected, abs_tol=abs_tol), f"{what}: wrong value"


# -- reliability curve and ECE: 4 points -------------------------------------------------------
CELL = "test_ece"


@points(1, cell=CELL)
def test_curve_typical(student):
    expect_curve(student[curve], ref_curve(PROBS, LABELS), "on typical data")
    expect_curve(student[curve_bins], ref_curve(PROBS, LABELS, n_bins=7), "with another number of bins")


@points(0.5, cell=CELL)
def test_curve_edges(student):
    expect_curve(student[curve_skewed], ref_curve(SKEWED, SKEWED_Y), "with empty bins (they are skipped)")
    expect_curve(student[curve_one], ref_curve([1.0, 1.0], [1, 0], n_bins=4), "at p = 1 (it is in the last bin)")


@points(1, cell=CELL)
def test_ece_typical(student):
    expect_float(student[ece], ref_ece(PROBS, LABELS), "expected_calibration_error on typical data")
    expect_float(
        student[ece_bins],
        ref_ece(PROBS, LABELS, n_bins=5),
        "expected_calibration_error on tensors, with another number of bins",
    )


@points(1, cell=CELL)
def test_ece_weights_bins_by_size(student):
    expect_float(
        student[ece_skewed],
        ref_ece(SKEWED, SKEWED_Y),
        "expected_calibration_error with bins of unequal sizes (weight each by its size, skip empty ones)",
    )


@points(0.5, cell=CELL)
def test_ece_rejects_bad_input(student):
    """Pays only with right answers on valid input too: functions that always raise earn nothing."""
    expect_curve(student[curve], ref_curve(PROBS, LABELS), "on typical data")
    expect_float(student[ece], ref_ece(PROBS, LABELS), "expected_calibration_error on typical data")
    for probe, what in [
        (ece_empty, "empty input"),
        (ece_mismatch, "inputs of different lengths"),
        (ece_outside, "a probability outside [0, 1]"),
    ]:
        assert student[probe].raises("ValueError"), f"expected_calibration_error: {what} must raise ValueError"
    assert student[curve_outside].raises("ValueError"), (
        "reliability_curve: a probability outside [0, 1] must raise ValueError"
    )


# -- Brier score: 1 point -----------------------------------------------------------------------
CELL = "test_brier_score"


@points(0.5, cell=CELL)
def test_brier(student):
    expect_float(student[brier], ref_brier(PROBS, LABELS), "brier_score on typical data", abs_tol=1e-12)
    expect_float(student[brier_lists], ref_brier([0.0, 1.0, 0.25], [1, 1, 0]), "brier_score on lists", abs_tol=1e-12)


@points(0.5, cell=CELL)
def test_brier_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_float(student[brier], ref_brier(PROBS, LABELS), "brier_score on typical data", abs_tol=1e-12)
    for probe, what in zip(brier_bad, ["empty input", "inputs of different lengths", "a probability outside [0, 1]"]):
        assert student[probe].raises("ValueError"), f"brier_score: {what} must raise ValueError"


# -- temperature scaling: 3 points -----------------------------------------------------------------
CELL = "test_fit_temperature"


def nll(margins, labels, temperature: float) -> float:
    z = np.asarray(margins) / temperature
    return float(np.mean(np.logaddexp(0.0, z) - labels * z))


def expect_temperature(outcome, expected: float, what: str) -> None:
    got = outcome.float()
    assert got > 0 and math.isclose(got, expected, rel_tol=0.01), (
        f"fit_temperature on {what}: wrong temperature (must be within 1% of the T with the lowest BCE)"
    )


@points(1, cell=CELL)
def test_temperature_overconfident(student):
    expect_temperature(student[temperature], ref_temperature(TEMP_M, TEMP_Y), "overconfident margins")


@points(1, cell=CELL)
def test_temperature_underconfident(student):
    expect_temperature(student[temperature_soft], ref_temperature(SOFT_M, TEMP_Y), "underconfident margins (T < 1)")


@points(0.5, cell=CELL)
def test_temperature_is_positive(student):
    got, expected = student[temperature_anti].float(), ref_temperature(ANTI_M, TEMP_Y)
    assert got > 0, "fit_temperature: a temperature must be > 0 (fit log T, or search T in [0.01, 100])"
    assert nll(ANTI_M, TEMP_Y, got) <= nll(ANTI_M, TEMP_Y, expected) + 1e-3, (
        "fit_temperature on margins that point the wrong way: the temperature does not minimize the BCE "
        "over T in [0.01, 100]"
    )


@points(0.5, cell=CELL)
def test_temperature_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expect_temperature(student[temperature], ref_temperature(TEMP_M, TEMP_Y), "overconfident margins")
    for probe, what in zip(temperature_bad, ["empty input", "inputs of different lengths"]):
        assert student[probe].raises("ValueError"), f"fit_temperature: {what} must raise ValueError"
