"""course_lib.evaluation.best_of_n: majority vote, ORM, PRM and verifier-weighted selection."""

import pytest

from course_lib.evaluation.best_of_n import select_majority, select_orm, select_prm, select_weighted_majority


def test_select_majority():
    assert select_majority([26.0, 27.0, 27.0, 26.0, 27.0]) == 1
    assert select_majority([None, None, 5.0]) == 2
    assert select_majority([3.0, 4.0]) == 0  # a tie goes to the first answer seen
    assert select_majority([None, None]) == 0


def test_select_orm_highest_score_first_on_ties():
    assert select_orm([0.1, 0.7, 0.3]) == 1
    assert select_orm([0.5, 0.9, 0.9]) == 1
    assert select_orm([-2.0, -1.0]) == 1


@pytest.mark.parametrize("method, expected", [("min", 1), ("prod", 1), ("last", 2), ("mean", 2)])
def test_select_prm_aggregates_steps(method, expected):
    steps = [[0.9, 0.2], [0.8, 0.7], [0.55, 1.0]]  # min .2 .7 .55; prod .18 .56 .55; mean .55 .75 .775
    assert select_prm(steps, method=method) == expected


def test_select_weighted_majority_sums_scores_per_answer():
    assert select_weighted_majority([27.0, 26.0, 27.0], [0.2, 0.5, 0.2]) == 1
    assert select_weighted_majority([27.0, 26.0, 27.0], [0.3, 0.5, 0.3]) == 0
    assert select_weighted_majority([None, 4.0], [9.0, 0.1]) == 1
    assert select_weighted_majority([None], [1.0]) == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: select_majority([]), "answers is empty"),
        (lambda: select_orm([]), "scores is empty"),
        (lambda: select_prm([]), "step_scores is empty"),
        (lambda: select_prm([[0.5]], method="max"), "method must be one of"),
        (lambda: select_prm([[0.5], []]), "scores is empty"),
        (lambda: select_weighted_majority([], []), "answers is empty"),
        (lambda: select_weighted_majority([1.0, 2.0], [0.5]), "same length, got 2 and 1"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
