"""ProcessBench's first-error score (chapter 16)."""

import pytest

from course_lib.evaluation.processbench import ProcessBenchScore, first_below, first_error_f1


def test_perfect_predictions_score_one():
    true = [2, None, 0, None, 4]
    assert first_error_f1(true, true) == ProcessBenchScore(1.0, 1.0, 1.0, n_error=3, n_correct=2)


def test_harmonic_mean_of_the_two_accuracies():
    score = first_error_f1(predicted=[2, 1, None, None, 3], true=[2, 3, None, 1, None])
    assert score.error_accuracy == pytest.approx(1 / 3) and score.correct_accuracy == 0.5
    assert score.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def test_an_early_or_late_step_is_wrong_and_one_sided_answers_score_zero():
    true = [3, 3, None, None]
    assert first_error_f1([2, 4, None, None], true).error_accuracy == 0.0  # only the exact step counts
    assert first_error_f1([None] * 4, true).f1 == 0.0  # always "no error"
    assert first_error_f1([0] * 4, true).f1 == 0.0  # always "the first step"


@pytest.mark.parametrize(
    "predicted, true, match",
    [
        ([1, None], [1], "entries"),
        ([1, 2], [1, 2], "both erroneous and correct"),
        ([None], [None], "both erroneous and correct"),
        ([-1, None], [1, None], "0-based"),
        ([1.0, None], [1, None], "0-based"),
        ([True, None], [1, None], "0-based"),
    ],
)
def test_bad_input_names_the_problem(predicted, true, match):
    with pytest.raises(ValueError, match=match):
        first_error_f1(predicted, true)


def test_first_below_returns_the_first_low_step():
    assert first_below([0.9, 0.4, 0.1]) == 1
    assert first_below([0.9, 0.6]) is None
    assert first_below([0.9, 0.6], threshold=0.7) == 1
    with pytest.raises(ValueError, match="threshold"):
        first_below([0.5], threshold=1.5)
