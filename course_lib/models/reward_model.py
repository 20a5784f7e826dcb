"""The scalar reward model: a transformer backbone plus a linear head (book chapter 4).

``r_phi(x, y)`` is read at the last real token of ``prompt + response`` (see :mod:`.pooling`). Position
ids are computed from the attention mask, so a left-padded batch gives the same rewards as a
right-padded one.

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
    """

    def __init__(self, backbone: nn.Module, seed: int = 0):
        super().__init__()
        self.backbone = backbone
        hidden_size = backbone.config.hidden_size
        self.score = nn.Linear(hidden_size, 1)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            nn.init.normal_(self.score.weight, std=1 / (hidden_size + 1) ** 0.5)
        nn.init.zeros_(self.score.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = backbone_hidden_states(self.backbone, input_ids, attention_mask)  # [B, T, H]
        return self.score(gather_last(hidden, attention_mask)).squeeze(-1)  # [B]
