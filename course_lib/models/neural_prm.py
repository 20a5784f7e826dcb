"""A neural process reward model: one logit per token, read at step separators (book chapter 10).

``NeuralPRM`` puts ``score = nn.Linear(hidden_size, 1)`` on every position of a causal backbone. In
training, only the position that ends each step (its newline token) carries a label, 1 if the
step is correct and 0 if not; every other position is labelled -100 and ignored, as in TRL's
``PRMTrainer``. Because the backbone is causal, the logit at a step's end sees the problem and the
steps so far, never the future. The same head read at the last real token is an outcome reward.

With ``likelihood_weight`` the logit also reads a frozen copy of the pretrained backbone
(:class:`~course_lib.models.likelihood.ReferenceLikelihood`): at every token, the lowest mean token
log-likelihood of any step closed so far,

    l_t = w . h_t + b + alpha * min_{k <= step(t)} mean_{s in step k} log p_ref(x_s | x_<s)

A step is only as right as its worst step so far (labels are 0 from the first error on), and a
pretrained LM that can do the course's arithmetic finds a wrong step unlikely. The text before the
first separator is the prompt and is not a step.

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
from course_lib.models.likelihood import likelihood_feature
from course_lib.models.pooling import gather_last
from course_lib.models.reward_model import backbone_hidden_states

IGNORE_INDEX = -100


class NeuralPRM(nn.Module):
    """``backbone`` (transformers base model) + per-token ``score = nn.Linear(hidden_size, 1)``."""

    def __init__(
        self,
        backbone: nn.Module,
        seed: int = 0,
        likelihood_weight: float | None = None,
        step_token_id: int | None = None,
        train_backbone: bool = True,
    ):
        super().__init__()
        self.backbone = backbone
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # the same backbone and seed give the same model
            self.score = nn.Linear(backbone.config.hidden_size, 1)
        if likelihood_weight is not None and step_token_id is None:
            raise ValueError("likelihood_weight needs step_token_id: pass step_token_id(tokenizer)")
        self.reference, self.likelihood_weight = likelihood_feature(backbone, likelihood_weight, train_backbone)
        self.step_token_id = step_token_id

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = backbone_hidden_states(self.backbone, input_ids, attention_mask)  # [B, T, H]
        logits = self.score(hidden).squeeze(-1)  # [B, T]
        if self.reference is None:
            return logits
        token_logp = self.reference(input_ids, attention_mask, hidden)  # [B, T]
        worst = worst_step_so_far(token_logp, input_ids, attention_mask, self.step_token_id)  # [B, T]
        return logits + self.likelihood_weight * worst


def worst_step_so_far(
    token_logp: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor, step_token_id: int
) -> torch.Tensor:
    """At each token, the lowest mean ``token_logp`` of the steps closed so far (0 before the first): ``[B, T]``.

    Steps end at ``step_token_id`` (which belongs to the step it closes); the text before the first
    one is the prompt and is skipped.

    >>> logp = torch.tensor([[-5.0, -5.0, -1.0, -1.0, -3.0, -1.0, -1.0]])
    >>> ids = torch.tensor([[1, 9, 2, 9, 2, 9, 2]])  # prompt | step 1 | step 2 | ... (9 ends a step)
    >>> worst_step_so_far(logp, ids, torch.ones_like(ids), step_token_id=9).tolist()
    [[0.0, 0.0, 0.0, -1.0, -1.0, -2.0, -2.0]]
    """
    real = attention_mask.bool()
    ends = (input_ids == step_token_id) & real  # [B, T]
    closed = ends.long().cumsum(-1)  # [B, T]: separators up to and including t
    segment = closed - ends.long()  # [B, T]: 0 = prompt, k = step k
    B, T = input_ids.shape
    sums = token_logp.new_zeros(B, T + 1).scatter_add(1, segment, token_logp * real)  # [B, T+1]
    counts = token_logp.new_zeros(B, T + 1).scatter_add(1, segment, real.to(token_logp.dtype))
    means = sums / counts.clamp(min=1)  # [B, T+1]: mean log-likelihood per segment
    means[:, 0] = 0.0  # the prompt is not a step
    running = torch.cummin(means, dim=1).values  # [B, T+1]: worst of segments 0..k
    worst = running.gather(1, (closed - 1).clamp(min=0))  # [B, T]: worst of the closed steps
    return torch.where(closed > 0, worst, torch.zeros_like(worst))


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
    text = prompt + "\n" + "".join(s + "\n" for s in steps)  # as in training: the prompt, then steps
    batch = tokenizer([text], return_tensors="pt", add_special_tokens=False)
    model.eval()
    scores = step_rewards(model, batch["input_ids"], batch["attention_mask"], step_token_id(tokenizer))[0]
    return list(zip(steps, scores[-len(steps) :].tolist()))
