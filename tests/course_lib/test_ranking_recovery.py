"""course_lib.evaluation.ranking_recovery: pairs vs rankings at equal labelling cost."""

import pytest
import torch

from course_lib.evaluation.ranking_recovery import METHODS, RecoveryConfig, centered_rmse, run_recovery


def test_centred_rmse_ignores_a_constant_per_prompt():
    truth = torch.randn(5, 4)
    assert centered_rmse(truth + torch.randn(5, 1), truth).item() == pytest.approx(0.0, abs=1e-6)
    assert centered_rmse(truth + torch.randn(5, 4), truth).item() > 0.1


def test_a_small_run_has_every_method_budget_and_seed_and_rankings_win_per_read():
    result = run_recovery(RecoveryConfig(n_prompts=40, seeds=(0, 1), budgets=(8, 64)))
    for method in METHODS:
        assert result.errors[method].shape == (2, 2)
        assert result.estimates[method].shape == (2, 2, 40, 4)
        assert result.mean(method)[1] < result.mean(method)[0]  # more labels, smaller error
    assert result.mean("plackett_luce")[1] < result.mean("pairs")[1]
    assert result.truth.shape == (2, 40, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(unit="minutes"), "unit must be one of"),
        (dict(k=5), "k must be in"),
        (dict(budgets=(3,)), "every budget must buy one ranking"),
        (dict(unit="comparisons", budgets=(4,)), "every budget must buy one ranking"),
        (dict(seeds=()), "non-empty"),
    ],
)
def test_bad_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RecoveryConfig(**kwargs)
