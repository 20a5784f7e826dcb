"""Best-of-N against a proxy reward model: the proxy rises, the gold reward peaks and falls (chapter 12)."""

import math

import matplotlib.pyplot as plt
import pytest

from course_lib.evaluation.best_of_n_experiment import BestOfNConfig
from course_lib.evaluation.overoptimization import OveroptimizationConfig, best_of_n_kl, run_overoptimization
from course_lib.plots import plot_overoptimization

VERIFIERS = BestOfNConfig(
    seeds=(0,), n_train_problems=1000, n_validation_problems=50, training_steps=400, progress=False
)


@pytest.mark.slow
def test_orm_is_overoptimized_while_prm_is_not():
    config = OveroptimizationConfig(
        n_values=(1, 4, 16, 64, 256), n_test_problems=60, progress=False, verifiers=VERIFIERS
    )
    result = run_overoptimization(config)
    proxy, gold = result.proxy["orm"], result.gold["orm"]
    assert proxy == sorted(proxy) and proxy[-1] > proxy[0] + 0.2  # the proxy score of the choice keeps rising
    assert max(gold) > gold[0] + 0.1  # selection helps at first ...
    assert gold[-1] < max(gold) - 0.1  # ... then the gold reward falls from its peak
    assert result.gold["prm"][-1] >= gold[-1] + 0.2


def test_result_fields_and_plot():
    config = OveroptimizationConfig(
        n_values=(1, 2, 8),
        n_test_problems=5,
        progress=False,
        verifiers=BestOfNConfig(seeds=(0,), n_train_problems=40, n_validation_problems=5, training_steps=10),
    )
    result = run_overoptimization(config)
    assert result.n_values == (1, 2, 8) and result.kl == [best_of_n_kl(n) for n in (1, 2, 8)]
    for name in ("orm", "prm"):
        assert len(result.proxy[name]) == len(result.gold[name]) == 3
        assert all(0.0 <= v <= 1.0 for v in result.proxy[name] + result.gold[name])
        assert result.proxy[name] == sorted(result.proxy[name])  # a max over a growing nested pool
    assert run_overoptimization(config) == result  # reproducible
    fig = plot_overoptimization(result)
    assert fig.axes[0].get_xlabel().startswith("KL") and len(fig.axes[0].lines) == 4
    _, own = plt.subplots()
    assert plot_overoptimization(result, ax=own) is own.figure
    plt.close("all")


def test_best_of_n_kl():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(16) == pytest.approx(math.log(16) - 15 / 16)
    assert best_of_n_kl(1024) < math.log(1024)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        best_of_n_kl(0)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(n_test_problems=0), "n_test_problems must be >= 1, got 0"),
        (dict(n_values=(1, -2)), r"n_values must be positive ints, got \(1, -2\)"),
        (dict(n_values=()), "n_values"),
    ],
)
def test_bad_config(bad, message):
    with pytest.raises(ValueError, match=message):
        OveroptimizationConfig(**bad)
