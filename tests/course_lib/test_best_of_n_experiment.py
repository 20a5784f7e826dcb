"""The ORM-vs-PRM best-of-N experiment (chapter 11)."""

import matplotlib.pyplot as plt
import pytest
import torch

from course_lib.evaluation.best_of_n_experiment import (
    METHODS,
    BestOfNConfig,
    BestOfNResult,
    main,
    one_torch_thread,
    run_best_of_n,
    train_verifiers,
)
from course_lib.plots import plot_best_of_n

# Enough data for the ORM to learn (it needs far more than the PRM: one label per solution), yet about 8 s.
SMALL = BestOfNConfig(
    n_values=(1, 4, 16),
    seeds=(0, 1),
    n_train_problems=1000,
    n_validation_problems=50,
    training_steps=400,
    n_test_problems=100,
    progress=False,
)
TINY = BestOfNConfig(
    n_values=(1, 2, 4),
    seeds=(0, 1),
    n_train_problems=60,
    train_samples=2,
    n_validation_problems=10,
    training_steps=20,
    eval_every=10,
    n_test_problems=15,
    progress=False,
)


@pytest.mark.slow
def test_prm_beats_orm_beats_majority_at_the_largest_n():
    result = run_best_of_n(SMALL)
    mean = {m: result.mean(m, 16) for m in METHODS}
    assert mean["prm_min"] > mean["orm"] > mean["majority"], mean
    assert mean["prm_prod"] > mean["orm"], mean
    assert all(result.mean(m, n) <= result.mean("pass@n", n) for m in METHODS for n in SMALL.n_values)
    assert len({result.mean(m, 1) for m in METHODS}) == 1  # at N = 1 there is nothing to select
    assert result.mean("pass@n", 16) > result.mean("pass@n", 1)


def test_experiment_is_reproducible_and_tabulates():
    first = run_best_of_n(TINY)
    assert run_best_of_n(TINY).solve_rates == first.solve_rates
    assert set(first.solve_rates) == set(METHODS)
    assert all(len(first.solve_rates[m][n]) == len(TINY.seeds) for m in METHODS for n in TINY.n_values)
    rows = first.to_rows()
    assert [r["N"] for r in rows] == [1, 2, 4] and set(rows[0]) == {"N", *METHODS}
    assert rows[-1]["orm"] == round(first.mean("orm", 4), 3)


def test_mean_and_std_over_seeds():
    rates = {m: {4: [0.5, 0.7]} for m in METHODS}
    result = BestOfNResult(BestOfNConfig(n_values=(4,), seeds=(0, 1)), rates)
    assert result.mean("orm", 4) == pytest.approx(0.6) and result.std("orm", 4) == pytest.approx(0.1)
    with pytest.raises(KeyError):
        result.mean("orm", 8)


def test_progress_bar_and_thread_setting(capsys):
    torch.set_num_threads(2)  # the conftest fixture restores its own setting afterwards
    run_best_of_n(TINY, progress=True)
    assert "best-of-N" in capsys.readouterr().err
    assert torch.get_num_threads() == 2  # one thread inside, restored after
    with one_torch_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_train_verifiers_gives_two_models_on_the_same_data():
    world = train_verifiers(TINY, seed=0)
    assert type(world.orm) is type(world.prm)
    assert any((a != b).any() for a, b in zip(world.orm.parameters(), world.prm.parameters()))


def test_plot_best_of_n():
    result = run_best_of_n(TINY)
    fig = plot_best_of_n(result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == len(METHODS)
    _, own = plt.subplots()
    assert plot_best_of_n(result, ax=own) is own.figure
    plt.close("all")


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(n_values=()), r"n_values must be positive ints, got \(\)"),
        (dict(n_values=(0, 4)), r"n_values must be positive ints, got \(0, 4\)"),
        (dict(n_values=(2.5,)), "n_values"),
        (dict(seeds=()), "seeds is empty"),
        (dict(n_train_problems=0), "n_train_problems must be >= 1, got 0"),
        (dict(n_validation_problems=0), "n_validation_problems must be >= 1, got 0"),
        (dict(training_steps=-1), "training_steps must be >= 1, got -1"),
        (dict(eval_every=0), "eval_every must be >= 1, got 0"),
    ],
)
def test_bad_config(bad, message):
    with pytest.raises(ValueError, match=message):
        BestOfNConfig(**bad)


def test_cli_prints_a_table(capsys):
    main(["--n-max", "5", "--seeds", "1", "--test-problems", "5", "--train-problems", "30", "--training-steps", "5"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:6] == ["N", *METHODS] and [line.split()[0] for line in out[1:4]] == ["1", "2", "4"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-max", "0"], "--n-max must be >= 1"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--train-problems", "0"], "n_train_problems must be >= 1"),
    ],
)
def test_cli_rejects_bad_values(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err
