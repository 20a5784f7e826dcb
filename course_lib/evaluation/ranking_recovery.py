"""Pairs or rankings? Recover known rewards at equal labelling cost (book chapter 14, "Beyond pairs").

For each seed, :func:`run_recovery` draws prompts with true rewards (:mod:`course_lib.data.rankings`),
spends the same labelling budget per prompt three ways, fits a reward table to each by penalised
maximum likelihood (:func:`course_lib.training.ranking_mle.fit_reward_table`), and measures how far
the fitted rewards are from the true ones after centering both per prompt (the per-prompt constant
is not identifiable, so no method can be asked for it):

* ``pairs``: ``budget / cost(2)`` Bradley-Terry pairs of random responses;
* ``plackett_luce``: ``budget / cost(k)`` rankings of ``k`` responses, fitted as rankings;
* ``split_pairs``: the same rankings, each fitted as its k-choose-2 pairs (InstructGPT's way).

Every seed and budget is an independent block of prompts; one fit per method covers them all.

Example:
    >>> result = run_recovery(RecoveryConfig(n_prompts=20, seeds=(0,), budgets=(8, 32)))
    >>> [round(x, 2) for x in result.mean("plackett_luce")]  # centred RMSE falls with the budget
    [0.62, 0.4]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from course_lib.data.rankings import (
    COST_UNITS,
    RankingSimConfig,
    all_pairs,
    labelling_cost,
    sample_rankings,
    side_by_side,
    true_rewards,
)
from course_lib.training.ranking_mle import RankingFitConfig, fit_reward_table

METHODS = ("pairs", "plackett_luce", "split_pairs")


@dataclass
class RecoveryConfig:
    """One recovery experiment: who ranks how many responses, at which budgets, under which cost unit."""

    k: int = 4  # responses per ranking
    n_responses: int = 4  # candidate responses per prompt (rankings show a random k of them)
    n_prompts: int = 80  # per seed
    seeds: tuple[int, ...] = (0, 1, 2)
    budgets: tuple[int, ...] = (8, 16, 32, 64, 128)  # per prompt, in `unit`s
    unit: str = "reads"  # what a label costs: see course_lib.data.rankings.labelling_cost
    reward_std: float = 1.0
    offset_std: float = 2.0
    fit: RankingFitConfig = field(default_factory=lambda: RankingFitConfig(prior_precision=1.0, max_steps=100))

    def __post_init__(self):
        if self.unit not in COST_UNITS:
            raise ValueError(f"unit must be one of {COST_UNITS}, got {self.unit!r}")
        if not 2 <= self.k <= self.n_responses:
            raise ValueError(f"k must be in [2, n_responses = {self.n_responses}], got {self.k}")
        too_small = [b for b in self.budgets if b < labelling_cost(self.k, self.unit)]
        if too_small or not self.budgets or not self.seeds:
            raise ValueError(
                f"every budget must buy one ranking of {self.k} ({labelling_cost(self.k, self.unit)} {self.unit}), "
                f"and budgets and seeds must be non-empty; got budgets {self.budgets}, seeds {self.seeds}"
            )


@dataclass
class RecoveryResult:
    config: RecoveryConfig
    errors: dict[str, np.ndarray]  # method -> [seeds, budgets] centred RMSE
    estimates: dict[str, torch.Tensor]  # method -> [seeds, budgets, P, M] fitted rewards
    truth: torch.Tensor  # [seeds, P, M] true rewards, per-prompt constant included

    def mean(self, method: str) -> list[float]:
        """Centred RMSE per budget, averaged over seeds."""
        return self.errors[method].mean(0).tolist()

    def std(self, method: str) -> list[float]:
        """Standard deviation across seeds, per budget."""
        return self.errors[method].std(0).tolist()


def centered(rewards: torch.Tensor) -> torch.Tensor:
    """Rewards minus their per-prompt mean (last dimension): what comparisons can identify."""
    return rewards - rewards.mean(-1, keepdim=True)


def centered_rmse(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Root mean squared error of per-prompt centred rewards, over the last two dimensions ``[..., P, M]``."""
    return (centered(estimate) - centered(truth)).pow(2).mean((-2, -1)).sqrt()


def run_recovery(config: RecoveryConfig | None = None) -> RecoveryResult:
    """Fit every method at every budget and seed; returns errors, estimates and the true rewards."""
    config = config or RecoveryConfig()
    n_seeds, n_budgets, p, m = len(config.seeds), len(config.budgets), config.n_prompts, config.n_responses
    parts: dict[str, list] = {method: [] for method in METHODS}
    truths = []
    for seed in config.seeds:
        sim = RankingSimConfig(p, m, config.reward_std, config.offset_std, seed=seed)
        truth = true_rewards(sim)  # [P, M]
        truths.append(truth)
        generator = torch.Generator().manual_seed(10_000 + seed)
        for budget in config.budgets:
            rankings = sample_rankings(truth, budget // labelling_cost(config.k, config.unit), config.k, generator)
            parts["pairs"].append(sample_rankings(truth, budget // labelling_cost(2, config.unit), 2, generator))
            parts["plackett_luce"].append(rankings)
            parts["split_pairs"].append(all_pairs(rankings))
    truth = torch.stack(truths)  # [S, P, M]
    blocks = truth[:, None].expand(n_seeds, n_budgets, p, m)  # [S, B, P, M]: the truth of every block
    errors, estimates = {}, {}
    for method, data in parts.items():
        fitted = fit_reward_table(side_by_side(data, p), n_seeds * n_budgets * p, m, config.fit)
        estimates[method] = fitted.view(n_seeds, n_budgets, p, m)
        errors[method] = centered_rmse(estimates[method], blocks).numpy()  # [S, B]
    return RecoveryResult(config, errors, estimates, truth)
