"""The scalar reward model: a transformer backbone plus a linear head (book chapter 4).

``r_phi(x, y)`` is read at the last real token of ``prompt + response`` (see :mod:`.pooling`). Position
ids are computed from the attention mask, so a left-padded batch gives the same rewards as a
right-padded one.

With ``likelihood_weight`` the reward also reads how likely a frozen copy of the pretrained backbone
(:class:`~course_lib.models.likelihood.ReferenceLikelihood`) finds the text, per token:

    r(x, y) = w . h_T + b + alpha * mean_t log p_ref(x_t | x_<t)

``alpha`` starts at ``likelihood_weight`` and is learned with the head. A pretrained LM that can do
the course's arithmetic finds a slip unlikely, so this term carries its knowledge into the reward,
which fine-tuning the head alone on a few thousand pairs does not (chapter 4 compares them).

Example:
    >>> import torch
    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> backbone, tokenizer = build_tiny_backbone()
    >>> model = RewardModel(backbone).eval()
    >>> batch = tokenizer(["2 + 2 = 4", "2 + 2 = 5 and more"], padding=True, return_tensors="pt")
    >>> model(batch["input_ids"], batch["attention_mask"]).shape
    torch.Size([2])
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models.likelihood import likelihood_feature, mean_log_likelihood, tokens_with_a_past
from course_lib.models.pooling import gather_last, position_ids_from_mask


def backbone_hidden_states(backbone: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """Run a transformers base model with mask-derived positions: ``[B, T] -> [B, T, H]``."""
    out = backbone(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids_from_mask(attention_mask)
    )
    return out.last_hidden_state


class RewardModel(nn.Module):
    """``backbone`` (a transformers base model) + ``score = nn.Linear(hidden_size, 1)``.

    The head is drawn from ``N(0, 1/(H+1))`` with its own ``seed``, so the same backbone and seed give
    the same model (and training run) on every machine, whatever the global random state.
    ``likelihood_weight`` adds ``alpha * mean log p_ref`` (see the module docstring);
    ``train_backbone=False`` freezes the backbone so that only the head and ``alpha`` train.
    """

    def __init__(
        self,
        backbone: nn.Module,
        seed: int = 0,
        likelihood_weight: float | None = None,
        train_backbone: bool = True,
    ):
        super().__init__()
        self.backbone = backbone
        hidden_size = backbone.config.hidden_size
        self.score = nn.Linear(hidden_size, 1)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            nn.init.normal_(self.score.weight, std=1 / (hidden_size + 1) ** 0.5)
        nn.init.zeros_(self.score.bias)
        self.reference, self.likelihood_weight = likelihood_feature(backbone, likelihood_weight, train_backbone)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = backbone_hidden_states(self.backbone, input_ids, attention_mask)  # [B, T, H]
        reward = self.score(gather_last(hidden, attention_mask)).squeeze(-1)  # [B]
        if self.reference is None:
            return reward
        token_logp = self.reference(input_ids, attention_mask, hidden)  # [B, T]
        scored = tokens_with_a_past(attention_mask)  # [B, T]
        return reward + self.likelihood_weight * mean_log_likelihood(token_logp, scored)
