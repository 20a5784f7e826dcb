"""Rewards from rankings by maximum likelihood: a table of rewards, one per (prompt, response) (book chapter 14).

When every response is its own parameter, a reward model reduces to a table ``r[x, y]`` and its
training to (penalised) maximum likelihood under Plackett-Luce: pairs are rankings of two, so one
loss, :func:`course_lib.training.plackett_luce.plackett_luce_loss`, covers pairwise and K-wise data.
A Gaussian prior ``N(0, 1 / prior_precision)`` on every reward keeps the estimate finite when a
response has never lost, and picks, among the rewards that fit equally well (any per-prompt shift),
the one with mean zero per prompt. :func:`fit_reward_table` trains through the course's one loop
:func:`course_lib.training.loop.fit`; :func:`reward_covariance` inverts the curvature of the same
objective, prompt by prompt, for the standard errors that the data would justify if its rows were
independent.

Example:
    >>> import torch
    >>> from course_lib.data.rankings import Rankings, tally
    >>> pairs = Rankings(torch.tensor([0, 0, 0]), torch.tensor([[0, 1], [0, 1], [1, 0]]))  # 0 wins 2 of 3
    >>> r = fit_reward_table(pairs, 1, 2, RankingFitConfig(prior_precision=1e-3))
    >>> round((r[0, 0] - r[0, 1]).item(), 2), abs(round(r.sum().item(), 4))  # log 2: odds of 2 to 1; mean 0
    (0.69, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.data.rankings import Rankings, tally
from course_lib.training.loop import TrainConfig, fit
from course_lib.training.plackett_luce import plackett_luce_loss


@dataclass(kw_only=True)
class RankingFitConfig(TrainConfig):
    """:class:`TrainConfig` for a reward table: full-batch Adam on a convex objective, no clipping."""

    learning_rate: float = 0.3
    max_steps: int = 150
    max_grad_norm: float | None = None
    progress: bool = False
    prior_precision: float = 0.1  # lambda of the Gaussian prior N(0, 1 / lambda) on every reward

    def __post_init__(self):
        super().__post_init__()
        if not self.prior_precision > 0:
            raise ValueError(f"prior_precision must be > 0 (it keeps rewards finite), got {self.prior_precision}")


class RewardTable(nn.Module):
    """One free reward per (prompt, response), starting at 0."""

    def __init__(self, n_prompts: int, n_responses: int):
        super().__init__()
        self.rewards = nn.Parameter(torch.zeros(n_prompts, n_responses))  # [P, M]


def ranking_nll(rewards: torch.Tensor, rankings: Rankings) -> torch.Tensor:
    """Summed Plackett-Luce negative log-likelihood of ``rankings`` under a reward table ``[P, M]``."""
    ranked = rewards[rankings.prompt[:, None], rankings.order]  # [N, K] rewards, best first
    best_first = torch.arange(rankings.k).expand_as(ranked)  # [N, K]: already in ranked order
    return (rankings.count * plackett_luce_loss(ranked, best_first, reduction="none")).sum()


def penalized_nll(rewards: torch.Tensor, rankings: Rankings, prior_precision: float) -> torch.Tensor:
    """:func:`ranking_nll` plus ``prior_precision / 2 * sum r^2``, the negative log-posterior up to a constant."""
    return ranking_nll(rewards, rankings) + 0.5 * prior_precision * rewards.pow(2).sum()


def _check(rankings: Rankings, n_prompts: int, n_responses: int) -> None:
    if len(rankings) == 0:
        raise ValueError("rankings is empty; pass at least one ranking")
    if rankings.prompt.max() >= n_prompts or rankings.order.max() >= n_responses or rankings.order.min() < 0:
        raise ValueError(
            f"rankings index prompt {rankings.prompt.max().item()} and response {rankings.order.max().item()}, "
            f"outside a table of {n_prompts} prompts x {n_responses} responses"
        )


def fit_reward_table(
    rankings: Rankings, n_prompts: int, n_responses: int, config: RankingFitConfig | None = None
) -> torch.Tensor:
    """The ``[n_prompts, n_responses]`` rewards that maximise the penalised likelihood of ``rankings``."""
    config = config or RankingFitConfig()
    _check(rankings, n_prompts, n_responses)
    rankings = tally(rankings)  # repeated rows become counts: the same objective, computed faster
    table = RewardTable(n_prompts, n_responses)

    def loss_fn(model: RewardTable, _batch) -> torch.Tensor:
        return penalized_nll(model.rewards, rankings, config.prior_precision) / n_prompts

    fit(table, loss_fn, lambda step: None, config, desc="reward table")
    rewards = table.rewards.detach()
    # The likelihood is flat along a per-prompt shift and the prior is lowest at mean 0, so the
    # optimum has mean 0 per prompt; Adam approaches it slowly when the prior is weak: go there exactly.
    return rewards - rewards.mean(1, keepdim=True)


def reward_covariance(rewards: torch.Tensor, rankings: Rankings, prior_precision: float) -> torch.Tensor:
    """``[P, M, M]``: per prompt, the inverse Hessian of :func:`penalized_nll` at ``rewards``.

    Prompts share no parameter, so the Hessian is block diagonal; ``M`` Hessian-vector products (probe
    response ``j`` of every prompt at once) give every block. The result is the usual Laplace
    (asymptotic) covariance of the estimate, valid when the rows of ``rankings`` are independent.
    """
    n_prompts, n_responses = rewards.shape
    _check(rankings, n_prompts, n_responses)
    rankings = tally(rankings)
    point = rewards.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(penalized_nll(point, rankings, prior_precision), point, create_graph=True)
    columns = []
    for j in range(n_responses):
        probe = torch.zeros_like(point)
        probe[:, j] = 1.0
        (column,) = torch.autograd.grad(grad, point, grad_outputs=probe, retain_graph=True)  # [P, M]
        columns.append(column)
    hessian = torch.stack(columns, dim=-1)  # [P, M, M]: block p, row i, column j
    return torch.linalg.inv(hessian)
