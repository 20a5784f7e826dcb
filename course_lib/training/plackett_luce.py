"""The Plackett-Luce ranking loss: a reward model trained on rankings of K responses (book part III, "Beyond pairs").

Plackett (1975) and Luce (1959) model a ranking ``sigma`` (response indices, best first) as K-1
successive choices: the best of all K, then the best of the rest, and so on, each a softmax of
the rewards still in play:

    P(sigma | r) = prod_{i=1..K} exp(r_{sigma_i}) / sum_{j >= i} exp(r_{sigma_j})

:func:`plackett_luce_loss` is its negative log-likelihood, ``sum_i [logsumexp(r_{sigma_i..K}) -
r_{sigma_i}]``, computed with ``logsumexp`` over a ``[K, K]`` mask, so rewards of +-1e4 stay finite and their gradients exact. For K = 2
it is the Bradley-Terry loss ``-log sigmoid(r_chosen - r_rejected)`` (chapter 2); InstructGPT's
"all K-choose-2 pairs in one batch" is the other way to use a K-wise ranking.

Example:
    >>> import torch
    >>> round(plackett_luce_loss(torch.tensor([2.0, 0.5]), torch.tensor([0, 1])).item(), 4)  # = BT loss
    0.2014
    >>> round(plackett_luce_loss([0.0, 0.0, 0.0], [2, 0, 1]).item(), 4)  # log 3! : all orders equally likely
    1.7918
"""

from __future__ import annotations

import torch

REDUCTIONS = ("mean", "sum", "none")


def _as_rewards(rewards) -> torch.Tensor:
    r = rewards if isinstance(rewards, torch.Tensor) else torch.as_tensor(rewards, dtype=torch.get_default_dtype())
    return r if torch.is_floating_point(r) else r.to(torch.get_default_dtype())


def _check_ranking(rewards: torch.Tensor, ranking) -> torch.Tensor:
    order = torch.as_tensor(ranking)
    if rewards.dim() not in (1, 2) or rewards.shape[-1] == 0:
        raise ValueError(f"rewards must be [K] or [B, K] with K >= 1, got shape {tuple(rewards.shape)}")
    if order.shape != rewards.shape:
        raise ValueError(
            f"ranking must have the shape of rewards, got {tuple(order.shape)} and {tuple(rewards.shape)}"
        )
    if order.dtype.is_floating_point or order.dtype == torch.bool:
        raise ValueError(f"ranking must hold integer response indices, got dtype {order.dtype}")
    k = rewards.shape[-1]
    every = torch.arange(k, device=order.device)
    if not torch.equal(order.sort(dim=-1).values, every.expand_as(order)):
        raise ValueError(f"every ranking must be a permutation of 0..{k - 1} (best first), got {order.tolist()}")
    return order.long()


def plackett_luce_loss(rewards, ranking, reduction: str = "mean") -> torch.Tensor:
    """Mean negative log-likelihood of ``ranking`` (indices, best first) under Plackett-Luce with ``rewards``.

    ``rewards`` is ``[K]`` or ``[B, K]`` (tensor or list), ``ranking`` the same shape; returns a scalar
    tensor, differentiable with respect to the rewards (``reduction="sum"``: the sum over the batch;
    ``"none"``: one loss per ranking, ``[B]``, for weighted rows as in chapter 14). Raises ``ValueError``
    when a ranking is not a permutation of 0..K-1 or the shapes differ.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    r = _as_rewards(rewards)
    order = _check_ranking(r, ranking)
    ranked = r.gather(-1, order)  # [B, K] rewards, best first
    k = ranked.shape[-1]
    in_play = torch.ones(k, k, dtype=torch.bool, device=r.device).triu()  # [K, K]: choice i sees j >= i
    still = ranked.unsqueeze(-2).expand(*ranked.shape[:-1], k, k).masked_fill(~in_play, float("-inf"))
    rest = still.logsumexp(-1)  # [B, K]: logsumexp of the rewards still in play at choice i
    nll = (rest - ranked).sum(-1)  # [B] (or [] for one ranking)
    if reduction == "none":
        return nll
    return nll.sum() if reduction == "sum" else nll.mean()
