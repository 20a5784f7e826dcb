"""The ORM-vs-PRM best-of-N experiment (chapter 11) and the over-optimization demo (chapter 12)."""

import pytest

from course_lib.evaluation.best_of_n_experiment import METHODS, BestOfNConfig, main, run_best_of_n
from course_lib.evaluation.overoptimization import OveroptimizationConfig, best_of_n_kl, run_overoptimization
from course_lib.plots import plot_best_of_n, plot_overoptimization

SMALL = dict(
    seeds=(0, 1), n_train_problems=1000, train_samples=4, training_steps=600, n_test_problems=100, progress=False
)


@pytest.fixture(scope="module")
def small_result():
    return run_best_of_n(BestOfNConfig(n_values=(1, 4, 16), **SMALL))


@pytest.mark.slow
def test_prm_beats_orm_beats_majority_at_the_largest_n(small_result):
    mean = {m: small_result.mean(m, 16) for m in METHODS}
    assert mean["prm_min"] > mean["orm"] > mean["majority"], mean
    assert mean["prm_prod"] > mean["orm"], mean
    assert all(small_result.mean(m, 16) <= small_result.mean("pass@n", 16) for m in METHODS)
    assert len({small_result.mean(m, 1) for m in METHODS}) == 1  # at N = 1 there is nothing to select


@pytest.mark.slow
def test_experiment_is_reproducible(small_result):
    again = run_best_of_n(BestOfNConfig(n_values=(1, 4, 16), **SMALL))
    assert again.solve_rates == small_result.solve_rates
    rows = small_result.to_rows()
    assert [r["N"] for r in rows] == [1, 4, 16] and set(rows[0]) == {"N", *METHODS}
    assert plot_best_of_n(small_result).axes[0].get_xscale() == "log"


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(n_values=()), "n_values"),
        (dict(n_values=(0, 4)), "n_values"),
        (dict(seeds=()), "seeds"),
        (dict(n_train_problems=0), "n_train_problems"),
        (dict(training_steps=-1), "training_steps"),
    ],
)
def test_bad_config(bad, message):
    with pytest.raises(ValueError, match=message):
        BestOfNConfig(**bad)


def test_cli_rejects_bad_n(capsys):
    with pytest.raises(SystemExit):
        main(["--n-max", "0"])
    assert "--n-max must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_orm_is_overoptimized_while_prm_is_not():
    config = OveroptimizationConfig(
        n_values=(1, 4, 16, 64, 256),
        n_test_problems=60,
        progress=False,
        verifiers=BestOfNConfig(
            seeds=(0,), n_train_problems=1000, train_samples=4, training_steps=600, progress=False
        ),
    )
    result = run_overoptimization(config)
    proxy, gold = result.proxy["orm"], result.gold["orm"]
    assert proxy[-1] > proxy[0] and proxy[-1] >= max(proxy) - 0.02  # the proxy keeps rising
    assert gold[-1] < max(gold) - 0.05  # the gold reward has fallen from its peak
    assert result.gold["prm"][-1] >= gold[-1] + 0.1
    assert plot_overoptimization(result).axes[0].get_xlabel().startswith("KL")


def test_best_of_n_kl():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(16) == pytest.approx(2.7726 - 15 / 16, abs=1e-4)
    with pytest.raises(ValueError, match="n must be >= 1"):
        best_of_n_kl(0)
    with pytest.raises(ValueError, match="n_test_problems"):
        OveroptimizationConfig(n_test_problems=0)
    with pytest.raises(ValueError, match="n_values"):
        OveroptimizationConfig(n_values=(1, -2))
