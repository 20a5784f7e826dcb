"""Simulated K-wise rankings with known true rewards (book chapter 14, "Beyond pairs").

Each prompt has ``n_responses`` candidate responses with true rewards ``r*(x, y) = c(x) + u(x, y)``:
a per-prompt constant ``c(x)``, which no comparison can reveal, plus the part that comparisons see.
An annotator shown K of them ranks them by the Gumbel-max trick: add independent Gumbel(0, 1) noise
to each reward and sort. The ranking that comes out is distributed exactly as Plackett-Luce (Luce
1959; Plackett 1975), and for K = 2 it is a Bradley-Terry pair, ``P(i over j) = sigmoid(r_i - r_j)``.
Any two responses in a larger ranking are ordered with that same probability, since their order
depends only on their own two noises: the K-choose-2 pairs of one ranking each follow Bradley-Terry,
but they are not independent.

What a label costs is a modelling choice, so :func:`labelling_cost` offers two units: ``"reads"``
(the annotator reads every response shown once: a pair costs 2, a ranking of K costs K) and
``"comparisons"`` (the annotator sorts by pairwise judgements and needs at least
``ceil(log2 K!)`` of them: a pair costs 1, a ranking of 4 costs 5).

Example:
    >>> import torch
    >>> rewards = torch.tensor([[2.0, 0.0, -2.0]])  # one prompt, three responses
    >>> ranks = sample_rankings(rewards, per_prompt=2, k=3, generator=torch.Generator().manual_seed(0))
    >>> ranks.order.shape, len(all_pairs(ranks))  # 2 rankings of 3; each holds 3 pairs
    (torch.Size([2, 3]), 6)
    >>> tally(Rankings(torch.tensor([0, 0]), torch.tensor([[1, 0], [1, 0]]))).count  # two identical pairs
    tensor([2])
    >>> labelling_cost(2, "reads"), labelling_cost(4, "reads"), labelling_cost(4, "comparisons")
    (2, 4, 5)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

COST_UNITS = ("reads", "comparisons")


@dataclass
class RankingSimConfig:
    """Prompts with known true rewards; :func:`true_rewards` draws them."""

    n_prompts: int = 100
    n_responses: int = 4  # candidate responses per prompt
    reward_std: float = 1.0  # spread of the true rewards within a prompt, the part comparisons see
    offset_std: float = 2.0  # spread of the per-prompt constant c(x), which no comparison can reveal
    seed: int = 0

    def __post_init__(self):
        if self.n_prompts < 1 or self.n_responses < 2:
            raise ValueError(f"need n_prompts >= 1 and n_responses >= 2, got {self.n_prompts} and {self.n_responses}")
        if self.reward_std < 0 or self.offset_std < 0:
            raise ValueError(f"reward_std and offset_std must be >= 0, got {self.reward_std} and {self.offset_std}")


@dataclass
class Rankings:
    """Rankings of K responses, one row each: which prompt, the response indices best first, how often seen."""

    prompt: torch.Tensor  # [N] prompt index
    order: torch.Tensor  # [N, K] response indices of that prompt, best first
    count: torch.Tensor | None = None  # [N] how many annotators gave this row; None: one each

    def __post_init__(self):
        if self.order.dim() != 2 or self.prompt.shape != self.order.shape[:1]:
            raise ValueError(
                f"prompt must be [N] and order [N, K], got {tuple(self.prompt.shape)} and {tuple(self.order.shape)}"
            )
        if self.count is None:
            self.count = torch.ones(self.order.shape[0], dtype=torch.long)
        if self.count.shape != self.prompt.shape or (self.count < 1).any():
            raise ValueError(f"count must be [N] with every entry >= 1, got {self.count.tolist()}")

    def __len__(self) -> int:
        return self.order.shape[0]

    @property
    def k(self) -> int:
        """Responses per ranking (2 for pairs)."""
        return self.order.shape[1]

    @property
    def n_labels(self) -> int:
        """How many rankings were given, counting repeats."""
        return int(self.count.sum())


def true_rewards(config: RankingSimConfig) -> torch.Tensor:
    """``[n_prompts, n_responses]`` true rewards: ``offset_std * N(0, 1)`` per prompt plus ``reward_std * N(0, 1)``."""
    g = torch.Generator().manual_seed(config.seed)
    offset = config.offset_std * torch.randn(config.n_prompts, 1, generator=g)  # [P, 1]: c(x)
    return offset + config.reward_std * torch.randn(config.n_prompts, config.n_responses, generator=g)  # [P, M]


def sample_rankings(
    rewards: torch.Tensor, per_prompt: int, k: int, generator: torch.Generator | None = None
) -> Rankings:
    """``per_prompt`` Plackett-Luce rankings of ``k`` responses for every prompt (row) of ``rewards``.

    Each ranking shows a fresh random subset of ``k`` of the prompt's responses and orders them by
    reward plus Gumbel(0, 1) noise, best first; ``k = 2`` gives Bradley-Terry pairs.
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [n_prompts, n_responses], got shape {tuple(rewards.shape)}")
    n_prompts, n_responses = rewards.shape
    if not 2 <= k <= n_responses:
        raise ValueError(f"k must be in [2, n_responses = {n_responses}], got {k}")
    if per_prompt < 1:
        raise ValueError(f"per_prompt must be >= 1, got {per_prompt}")
    prompt = torch.arange(n_prompts).repeat_interleave(per_prompt)  # [N]
    n = prompt.numel()
    shown = torch.rand(n, n_responses, generator=generator).argsort(dim=1)[:, :k]  # [N, K] a random subset
    gumbel = -torch.empty(n, k).exponential_(generator=generator).log()  # [N, K]: -log Exp(1) is Gumbel(0, 1)
    noisy = rewards[prompt[:, None], shown] + gumbel  # [N, K]
    return Rankings(prompt, shown.gather(1, noisy.argsort(dim=1, descending=True)))


def all_pairs(rankings: Rankings) -> Rankings:
    """Every ranking of K as its K-choose-2 (winner, loser) pairs, as InstructGPT trains on them."""
    first, second = zip(*itertools.combinations(range(rankings.k), 2))
    winners, losers = rankings.order[:, list(first)], rankings.order[:, list(second)]  # [N, C] each
    pairs = torch.stack([winners, losers], dim=-1).reshape(-1, 2)  # [N * C, 2]
    return Rankings(rankings.prompt.repeat_interleave(len(first)), pairs, rankings.count.repeat_interleave(len(first)))


def tally(rankings: Rankings) -> Rankings:
    """The same rankings with identical rows merged into one row and a count: same likelihood, fewer rows."""
    rows = torch.cat([rankings.prompt[:, None], rankings.order], dim=1)  # [N, 1 + K]
    unique, inverse = rows.unique(dim=0, return_inverse=True)
    count = torch.zeros(len(unique), dtype=torch.long).index_add_(0, inverse, rankings.count)
    return Rankings(unique[:, 0], unique[:, 1:], count)


def labelling_cost(k: int, unit: str = "reads") -> int:
    """What one ranking of ``k`` responses costs: ``k`` reads, or ``ceil(log2 k!)`` pairwise comparisons."""
    if k < 2:
        raise ValueError(f"a ranking needs k >= 2 responses, got {k}")
    if unit == "reads":
        return k
    if unit == "comparisons":
        return math.ceil(math.log2(math.factorial(k)) - 1e-9)
    raise ValueError(f"unit must be one of {COST_UNITS}, got {unit!r}")


def side_by_side(parts: list[Rankings], n_prompts: int) -> Rankings:
    """Independent data sets of ``n_prompts`` prompts each as one, part ``i`` on prompts ``i * n_prompts ...``.

    Fitting the result once fits every part: no parameter is shared, so the objective is a sum of
    independent ones (how chapter 14 fits every seed and budget in one run).
    """
    if not parts:
        raise ValueError("parts is empty; pass at least one Rankings")
    for part in parts:
        if part.prompt.max() >= n_prompts:
            raise ValueError(f"a part uses prompt {part.prompt.max().item()}, outside its n_prompts = {n_prompts}")
    return Rankings(
        torch.cat([part.prompt + i * n_prompts for i, part in enumerate(parts)]),
        torch.cat([part.order for part in parts]),
        torch.cat([part.count for part in parts]),
    )
