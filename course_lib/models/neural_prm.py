"""A neural process reward model: one logit per token, read at step separators (book chapter 10).

``NeuralPRM`` puts ``score = nn.Linear(hidden_size, 1)`` on every position of a causal backbone. In
training, only the position that ends each step (its newline token) carries a label, 1 if the
step is correct and 0 if not; every other position is labelled -100 and ignored, as in TRL's
``PRMTrainer``. Because the backbone is causal, the logit at a step's end sees the problem and the
steps so far, never the future. The same head read at the last real token is an outcome reward.

Example:
    >>> import torch
    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> backbone, tokenizer = build_tiny_backbone()
    >>> prm = NeuralPRM(backbone)
    >>> ids = torch.tensor([[5, 6, 7, 8]]); mask = torch.ones_like(ids)
    >>> prm(ids, mask).shape, outcome_reward(prm, ids, mask).shape
    (torch.Size([1, 4]), torch.Size([1]))
    >>> round(prm_loss(torch.zeros(1, 4), torch.tensor([[-100, 1, -100, 0]])).item(), 4)
    0.6931
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.step_text import split_steps
from course_lib.models.pooling import gather_last
from course_lib.models.reward_model import backbone_hidden_states

IGNORE_INDEX = -100


class NeuralPRM(nn.Module):
    """``backbone`` (transformers base model) + per-token ``score = nn.Linear(hidden_size, 1)``."""

    def __init__(self, backbone: nn.Module, seed: int = 0):
        super().__init__()
        self.backbone = backbone
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # the same backbone and seed give the same model
            self.score = nn.Linear(backbone.config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = backbone_hidden_states(self.backbone, input_ids, attention_mask)  # [B, T, H]
        return self.score(hidden).squeeze(-1)  # [B, T]


def outcome_reward(model: NeuralPRM, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The logit at each row's last real token (left or right padding): ``[B]``."""
    return gather_last(model(input_ids, attention_mask), attention_mask)


def step_rewards(
    model: NeuralPRM, input_ids: torch.Tensor, attention_mask: torch.Tensor, step_token_id: int
) -> list[torch.Tensor]:
    """``sigmoid`` scores at every ``step_token_id`` inside the mask: a list of B 1-D tensors."""
    probs = torch.sigmoid(model(input_ids, attention_mask))  # [B, T]
    at_step = (input_ids == step_token_id) & attention_mask.bool()  # [B, T]
    return [probs[b][at_step[b]] for b in range(input_ids.shape[0])]


def prm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over positions whose label is not -100: ``[B, T], [B, T] -> []``."""
    if logits.shape != labels.shape:
        raise ValueError(
            f"logits and labels must have the same shape, got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    keep = labels != IGNORE_INDEX
    if not keep.any():
        raise ValueError("every label is -100; put step labels (0 or 1) at the step-separator positions")
    return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].to(logits.dtype))


def step_token_id(tokenizer, separator: str = "\n") -> int:
    """The id of the single token that ``separator`` encodes to (an error if it is not one token)."""
    ids = tokenizer(separator, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"separator {separator!r} encodes to {len(ids)} tokens {ids}; pick a one-token separator")
    return ids[0]


@torch.no_grad()
def score_solution_steps(model: NeuralPRM, tokenizer, solution: str, prompt: str = "") -> list[tuple[str, float]]:
    """``[(step, P(step correct))]`` for one solution, read at the newline closing each step."""
    steps = split_steps(solution)
    text = (prompt + "\n" if prompt else "") + "".join(s + "\n" for s in steps)
    batch = tokenizer([text], return_tensors="pt", add_special_tokens=False)
    model.eval()
    scores = step_rewards(model, batch["input_ids"], batch["attention_mask"], step_token_id(tokenizer))[0]
    return list(zip(steps, scores[-len(steps) :].tolist()))
