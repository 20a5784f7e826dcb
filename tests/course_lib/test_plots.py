"""course_lib.plots: each figure function returns a Matplotlib Figure (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib.plots import (  # noqa: E402
    orm_signal,
    plot_decay_sweep,
    plot_learning_curve,
    plot_orm_vs_prm,
    plot_reliability,
)
from course_lib.training.loop import History  # noqa: E402

SOLUTION = "Step 1: 45 - 18 = 27.\nStep 2: 27 + 0 = 27.\nThe answer is: 27"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_orm_signal():
    assert orm_signal(4, 2.0) == [0.0, 0.0, 0.0, 2.0]
    assert orm_signal(1) == [1.0]
    with pytest.raises(ValueError, match="n_steps must be >= 1, got 0"):
        orm_signal(0)


def test_plot_orm_vs_prm_draws_both_signals():
    fig = plot_orm_vs_prm(SOLUTION, outcome_reward=1.0, decay=0.5)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    orm_bars = [p.get_height() for p in fig.axes[0].patches]
    prm_bars = [p.get_height() for p in fig.axes[1].patches]
    assert orm_bars == [0.0, 0.0, 1.0] and prm_bars == pytest.approx([0.25, 0.5, 1.0])
    with pytest.raises(ValueError, match="decay must be in"):
        plot_orm_vs_prm(SOLUTION, decay=2.0)


def test_plot_decay_sweep_one_line_per_decay():
    fig = plot_decay_sweep(SOLUTION, decays=(0.5, 1.0))
    lines = fig.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[0.25, 0.5, 1.0], [1.0, 1.0, 1.0]]
    with pytest.raises(ValueError, match="solution has no steps"):
        plot_decay_sweep("")


def test_plot_learning_curve_from_a_history():
    history = History(
        step=list(range(10)),
        loss=[0.7 - 0.05 * i for i in range(10)],
        eval_step=[5, 10],
        eval_metrics={"accuracy": [0.6, 0.9], "loss": [0.6, 0.3]},
    )
    fig = plot_learning_curve(history)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == [0.6, 0.9]
    with pytest.raises(ValueError, match="history has no training steps"):
        plot_learning_curve(History())


def test_plot_reliability_one_line_per_curve_plus_the_diagonal_and_bin_counts_under_it():
    fig = plot_reliability({"raw": [(0.2, 0.1, 5), (0.8, 0.6, 7)], "scaled": [(0.55, 0.5, 12)]}, title="RM")
    ax, ax_count = fig.axes
    assert ax.get_title() == "RM" and len(ax.get_lines()) == 3
    assert list(ax.get_lines()[1].get_xdata()) == [0.2, 0.8]
    bars = ax_count.patches  # one bar per non-empty bin of each curve, in the bin the point belongs to
    assert [b.get_height() for b in bars] == [5, 7, 12]
    assert [int(b.get_x() * 10) for b in bars] == [2, 8, 5]
    assert bars[0].get_facecolor()[:3] == matplotlib.colors.to_rgb(ax.get_lines()[1].get_color())
    with pytest.raises(ValueError, match="n_bins must be a positive int, got 0"):
        plot_reliability({"raw": [(0.2, 0.1, 5)]}, n_bins=0)
    with pytest.raises(ValueError, match="curves must be a non-empty dict"):
        plot_reliability([(0.2, 0.1, 5)])
    with pytest.raises(ValueError, match="curves must be a non-empty dict"):
        plot_reliability({})
