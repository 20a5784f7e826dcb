"""Ties in paired comparisons: two extensions of Bradley-Terry with a third outcome (book chapter 14).

Bradley-Terry has no tie. Two classical models add one, each with one extra parameter, as functions
of the reward margin ``m = r_i - r_j``:

* Rao & Kupper (1967) put a threshold ``eta >= 0`` on the margin: ``P(i wins) = sigmoid(m - eta)``,
  ``P(j wins) = sigmoid(-m - eta)``, and a tie takes the rest, the band where neither clears it.
* Davidson (1970) gives a tie the weight ``nu * sqrt(pi_i pi_j)`` next to ``pi_i`` and ``pi_j``
  (``pi = exp(r)``): the outcomes are a softmax of ``(m / 2, log nu, -m / 2)``, and among decisive
  outcomes ``i`` still wins with the Bradley-Terry probability ``sigmoid(m)``.

Both return ``[..., 3]`` probabilities in the order (i wins, tie, j wins).

Example:
    >>> import torch
    >>> davidson_probabilities(torch.tensor(0.0), tie_strength=1.0)  # nu = 1: a third of ties at m = 0
    tensor([0.3333, 0.3333, 0.3333])
    >>> rao_kupper_probabilities(torch.tensor(0.0), threshold=0.0)  # eta = 0: Bradley-Terry, no ties
    tensor([0.5000, 0.0000, 0.5000])
"""

from __future__ import annotations

import math

import torch


def _margin(margin) -> torch.Tensor:
    m = margin if isinstance(margin, torch.Tensor) else torch.as_tensor(margin, dtype=torch.get_default_dtype())
    return m if torch.is_floating_point(m) else m.to(torch.get_default_dtype())


def rao_kupper_probabilities(margin, threshold: float) -> torch.Tensor:
    """``[..., 3]`` (win, tie, loss) under Rao-Kupper: ``sigmoid(m - eta)``, the rest, ``sigmoid(-m - eta)``."""
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0 (0 is Bradley-Terry without ties), got {threshold}")
    m = _margin(margin)
    win, loss = torch.sigmoid(m - threshold), torch.sigmoid(-m - threshold)
    return torch.stack([win, 1 - win - loss, loss], dim=-1)


def davidson_probabilities(margin, tie_strength: float) -> torch.Tensor:
    """``[..., 3]`` (win, tie, loss) under Davidson: a softmax of ``(m / 2, log nu, -m / 2)``."""
    if not tie_strength > 0:
        raise ValueError(f"tie_strength must be > 0 (nu; use Bradley-Terry for no ties), got {tie_strength}")
    m = _margin(margin)
    logits = torch.stack([m / 2, torch.full_like(m, math.log(tie_strength)), -m / 2], dim=-1)  # [..., 3]
    return torch.softmax(logits, dim=-1)
