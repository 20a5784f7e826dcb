"""A judge that reads two responses in one context, and how much its verdict depends on their order (chapter 15).

An LLM-as-a-judge in pairwise mode (Zheng et al., 2023) sees the prompt and both responses, then says
which is better. Swapping the two should not change the verdict; when it does, the judge has a
**position bias**. Our miniature judge is the pretrained LM's likelihood: it reads::

    <prompt>
    <first response>

    <second response>

and prefers the response whose tokens it finds more likely on average (mean ``log p``). The second
response is read with the first in context, so the judge compares it with the first as much as it
checks it: that order effect is what :func:`position_bias` measures.

The standard check is to judge both orders (:func:`judge_pairs` with ``chosen_first`` True and
False). :func:`position_bias` counts how often the verdict flips, and scores the standard fix: each
response's score averaged over the two orders, which cannot depend on the order, at twice the calls.

Example:
    >>> import torch
    >>> ab = PairwiseScores(first=torch.tensor([-1.0, -1.0]), second=torch.tensor([-2.0, -3.0]))  # chosen first
    >>> ba = PairwiseScores(first=torch.tensor([-1.5, -1.0]), second=torch.tensor([-2.5, -1.2]))  # rejected first
    >>> bias = position_bias(ab, ba)
    >>> bias.accuracy_chosen_first, bias.accuracy_chosen_second, bias.flip_rate, bias.first_slot_rate
    (1.0, 0.0, 1.0, 1.0)
    >>> bias.accuracy_both_orders  # pair 1: chosen -1.75 vs -1.75 (a tie is wrong); pair 2: -1.6 vs -2.0
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from course_lib.data.preferences import PreferencePair
from course_lib.models.likelihood import mean_log_likelihood, token_log_likelihoods
from course_lib.training.collate import length_batches, pad_right, pad_rows

SEPARATOR = "\n\n"  # between the two responses


@dataclass
class PairwiseScores:
    """Mean log-likelihood of the response in each slot, ``[N]`` each: the judge prefers the higher."""

    first: torch.Tensor
    second: torch.Tensor

    def __post_init__(self):
        if self.first.shape != self.second.shape or self.first.dim() != 1:
            raise ValueError(
                f"first and second must be 1-D tensors of one shape, got {tuple(self.first.shape)} and "
                f"{tuple(self.second.shape)}"
            )


def encode_pair_in_context(tokenizer, prompt: str, first: str, second: str) -> tuple[list[int], list[int], list[int]]:
    """``(input_ids, first_mask, second_mask)`` of ``prompt \\n first \\n\\n second``; the masks mark each response."""
    if not first.strip() or not second.strip():
        raise ValueError(f"both responses must be non-empty, got {first!r:.40} and {second!r:.40}")
    parts = [f"{prompt}\n" if prompt else "", first + SEPARATOR, second]
    head, a, b = tokenizer(parts, add_special_tokens=False)["input_ids"]
    return head + a + b, [0] * len(head) + [1] * len(a) + [0] * len(b), [0] * (len(head) + len(a)) + [1] * len(b)


@torch.no_grad()
def judge_pairs(
    model: nn.Module, tokenizer, pairs: Sequence[PreferencePair], chosen_first: bool, batch_size: int = 32
) -> PairwiseScores:
    """Score every pair with the chosen response in the first slot (``chosen_first``) or in the second.

    ``model`` is a causal LM whose tied embeddings give next-token logits (a GPT-2 base model). A row
    longer than the model's positions raises an error: the judge must read both responses whole.
    """
    if not pairs:
        raise ValueError("pairs is empty; pass at least one PreferencePair")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = []
    for p in pairs:
        first, second = (p.chosen, p.rejected) if chosen_first else (p.rejected, p.chosen)
        rows.append(encode_pair_in_context(tokenizer, p.prompt, first, second))
    limit = getattr(model.config, "n_positions", None)
    longest = max(len(ids) for ids, _, _ in rows)
    if limit is not None and longest > limit:
        raise ValueError(
            f"a pair needs {longest} tokens but the model reads at most {limit}; drop the longest pairs "
            "(or shorten the prompt) so that both responses fit in one context"
        )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.eval()
    first_scores, second_scores = torch.zeros(len(rows)), torch.zeros(len(rows))  # [N], [N]
    for index in length_batches([len(ids) for ids, _, _ in rows], batch_size):
        chunk = [rows[i] for i in index]
        batch = pad_rows([ids for ids, _, _ in chunk], pad_id)  # input_ids, attention_mask: [B, T]
        token_logp = token_log_likelihoods(model, batch["input_ids"], batch["attention_mask"])  # [B, T]
        first_scores[index] = mean_log_likelihood(token_logp, pad_right([m for _, m, _ in chunk], 0))
        second_scores[index] = mean_log_likelihood(token_logp, pad_right([m for _, _, m in chunk], 0))
    return PairwiseScores(first_scores, second_scores)


@dataclass(frozen=True)
class PositionBias:
    """How a pairwise judge's verdicts depend on the order of the two responses (strict: a tie is wrong)."""

    accuracy_chosen_first: float  # the chosen response shown first: the judge picks it
    accuracy_chosen_second: float  # the chosen response shown second: the judge picks it
    flip_rate: float  # the judge picks a different response when the two are swapped
    first_slot_rate: float  # of all 2N verdicts, the fraction that pick the first slot
    accuracy_both_orders: float  # each response scored by its mean over the two orders (2 calls per pair)

    @property
    def accuracy_one_order(self) -> float:
        """Accuracy of a single call with the order drawn at random: the mean of the two orders'."""
        return (self.accuracy_chosen_first + self.accuracy_chosen_second) / 2


def position_bias(chosen_first: PairwiseScores, chosen_second: PairwiseScores) -> PositionBias:
    """Compare the verdicts of the same pairs judged in both orders (:func:`judge_pairs`)."""
    if chosen_first.first.shape != chosen_second.first.shape:
        raise ValueError(
            f"both orders must judge the same pairs, got {chosen_first.first.numel()} and "
            f"{chosen_second.first.numel()} pairs"
        )
    if chosen_first.first.numel() == 0:
        raise ValueError("no pairs were judged")
    right_ab = chosen_first.first > chosen_first.second  # [N]: picks chosen (first slot)
    right_ba = chosen_second.second > chosen_second.first  # [N]: picks chosen (second slot)
    first_ab = chosen_first.first > chosen_first.second  # [N]: picks the first slot
    first_ba = chosen_second.first > chosen_second.second  # [N]
    chosen = (chosen_first.first + chosen_second.second) / 2  # [N]: the chosen response, both orders
    rejected = (chosen_first.second + chosen_second.first) / 2  # [N]
    return PositionBias(
        accuracy_chosen_first=right_ab.float().mean().item(),
        accuracy_chosen_second=right_ba.float().mean().item(),
        flip_rate=(right_ab != right_ba).float().mean().item(),
        first_slot_rate=torch.cat([first_ab, first_ba]).float().mean().item(),
        accuracy_both_orders=(chosen > rejected).float().mean().item(),
    )
