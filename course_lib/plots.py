"""Figures the book and the main job draw; each takes data from ``course_lib`` and returns a Figure.

Example:
    >>> fig = plot_orm_vs_prm("Step 1: 2 + 2 = 4.\\nThe answer is: 4")
    >>> [ax.get_title() for ax in fig.axes]
    ['ORM: single terminal reward', 'PRM: per-step reward']
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
    matplotlib.use("Agg")  # scripts and tests have no display
import matplotlib.pyplot as plt  # noqa: E402

from course_lib.credit_assignment.process_reward import assign_step_rewards  # noqa: E402


def orm_signal(n_steps: int, outcome_reward: float = 1.0) -> list[float]:
    """An outcome reward model's signal over ``n_steps``: 0 everywhere but the last step."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    return [0.0] * (n_steps - 1) + [float(outcome_reward)]


def plot_orm_vs_prm(solution: str, outcome_reward: float = 1.0, decay: float = 0.9):
    """The seed's two-panel figure: ORM's one terminal reward vs interpolated per-step rewards."""
    prm = [r for _, r in assign_step_rewards(solution, outcome_reward, decay)]
    steps = list(range(1, len(prm) + 1))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    ax1.bar(steps, orm_signal(len(prm), outcome_reward), color="steelblue", alpha=0.8, label="ORM")
    ax1.set_title("ORM: single terminal reward")
    ax2.bar(steps, prm, color="seagreen", alpha=0.8, label=f"PRM (decay={decay})")
    ax2.set_title("PRM: per-step reward")
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.set_xticks(steps)
        ax.legend()
    ax1.set_ylabel("reward")
    fig.suptitle("ORM vs PRM signal density")
    fig.tight_layout()
    return fig


def plot_decay_sweep(solution: str, decays: Sequence[float] = (0.5, 0.8, 0.9, 1.0), outcome_reward: float = 1.0):
    """Step rewards from :func:`assign_step_rewards` for several decays, one line each."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for decay in decays:
        rewards = [r for _, r in assign_step_rewards(solution, outcome_reward, decay)]
        ax.plot(range(1, len(rewards) + 1), rewards, marker="o", label=f"decay={decay}")
    ax.set_xlabel("step")
    ax.set_ylabel("step reward")
    ax.set_title("Interpolated step rewards")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_learning_curve(history):
    """Training loss (smoothed) and held-out accuracy from the :class:`~course_lib.training.loop.History` of a fit."""
    if not getattr(history, "loss", None):
        raise ValueError("history has no training steps; pass the History that train_reward_model returns")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    window = max(1, len(history.loss) // 20)
    smooth = [
        sum(history.loss[max(0, i - window + 1) : i + 1]) / len(history.loss[max(0, i - window + 1) : i + 1])
        for i in range(len(history.loss))
    ]
    ax1.plot(history.step, history.loss, alpha=0.3, label="per step")
    ax1.plot(history.step, smooth, label=f"mean of {window}")
    ax1.set_xlabel("step")
    ax1.set_ylabel("Bradley-Terry loss")
    ax1.legend()
    ax2.plot(history.eval_step, history.eval_accuracy, marker="o")
    ax2.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax2.set_ylim(0.4, 1.02)
    ax2.set_xlabel("step")
    ax2.set_ylabel("held-out pairwise accuracy")
    ax2.legend()
    fig.tight_layout()
    return fig


def plot_reliability(
    curves: dict[str, list[tuple[float, float, int]]], title: str = "Reliability diagram", n_bins: int = 10
):
    """Reliability diagram: accuracy vs mean confidence per bin, one line per named curve, and under it
    a histogram of how many examples fall in each bin (a point resting on a few examples says little).

    ``curves`` maps a name to ``reliability_curve(probs, labels, n_bins)``; ``n_bins`` must be the same.
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError(
            f"curves must be a non-empty dict of name -> reliability_curve(...), got {type(curves).__name__}"
        )
    if not (isinstance(n_bins, int) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    fig, (ax, ax_count) = plt.subplots(
        2, 1, figsize=(5, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, layout="constrained"
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    width = 1 / n_bins / len(curves)
    for k, (name, curve) in enumerate(curves.items()):
        (line,) = ax.plot([c for c, _, _ in curve], [a for _, a, _ in curve], marker="o", label=name)
        bins = [min(int(c * n_bins), n_bins - 1) for c, _, _ in curve]  # the bin each point summarizes
        ax_count.bar(
            [b / n_bins + (k + 0.5) * width for b in bins],
            [n for _, _, n in curve],
            width=width,
            color=line.get_color(),
            alpha=0.8,
        )
    ax.set_ylabel("fraction preferred")
    ax.set_title(title)
    ax.legend()
    ax_count.set_xlim(0, 1)
    ax_count.set_xlabel("mean predicted probability")
    ax_count.set_ylabel("examples per bin")
    return fig


def plot_best_of_n(result, ax=None):
    """Solve rate against N (log2 axis) per selection method, error bars over seeds; pass@N dashed (chapter 11)."""
    from course_lib.evaluation.best_of_n_experiment import METHODS

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    ns = list(result.config.n_values)
    labels = {
        "majority": "majority vote",
        "orm": "ORM",
        "prm_min": "PRM (min)",
        "prm_prod": "PRM (prod)",
        "pass@n": "pass@N",
    }
    for method in METHODS:
        ax.errorbar(
            ns,
            [result.mean(method, n) for n in ns],
            yerr=[result.std(method, n) for n in ns],
            marker="o",
            capsize=3,
            ls="--" if method == "pass@n" else "-",
            color="gray" if method == "pass@n" else None,
            label=labels[method],
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("N (candidates per problem)")
    ax.set_ylabel("solve rate")
    ax.set_title(f"Best-of-N selection, mean ± std over {len(result.config.seeds)} seeds")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_overoptimization(result, ax=None):
    """Proxy score and gold reward of the best-of-N choice against the KL ``log N - (N-1)/N`` (chapter 12)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    for name, color in (("orm", "tab:red"), ("prm", "tab:green")):
        ax.plot(result.kl, result.proxy[name], ls="--", marker=".", color=color, label=f"{name.upper()} score (proxy)")
        ax.plot(result.kl, result.gold[name], marker="o", color=color, label=f"{name.upper()} choice is right (gold)")
    for n, x in zip(result.n_values, result.kl):
        ax.annotate(f"N={n}", (x, 0.02), fontsize=7, ha="center", transform=ax.get_xaxis_transform())
    ax.set_xlabel(r"KL from the policy (nats), $\log N - (N-1)/N$")
    ax.set_ylabel("reward of the selected solution")
    ax.set_title("Optimizing a proxy: its score rises, the true reward need not")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
