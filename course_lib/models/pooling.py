"""Where a sequence's score is read: the last non-padding token (book chapter 4).

GPT-2 has no pad token and is usually padded with EOS, so "the first pad token" is the wrong place
to look: it may be the EOS that ends the text, or padding may sit on the left. The attention mask
says which positions hold real tokens under either padding side, so we read the score there.

Example:
    >>> import torch
    >>> mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])  # right- and left-padded
    >>> last_token_index(mask).tolist()
    [2, 3]
    >>> position_ids_from_mask(mask).tolist()
    [[0, 1, 2, 2], [0, 0, 1, 2]]
"""

from __future__ import annotations

import torch


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last position whose mask is 1, per row: ``[B, T] -> [B]``."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be [B, T], got shape {tuple(attention_mask.shape)}")
    mask = attention_mask.bool()
    if not mask.any(dim=-1).all():
        empty = (~mask.any(dim=-1)).nonzero().flatten().tolist()
        raise ValueError(f"attention_mask rows {empty} have no real token; drop empty sequences first")
    T = mask.shape[-1]
    return T - 1 - mask.flip(-1).long().argmax(dim=-1)  # [B]


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that count only real tokens, so left padding does not shift them: ``[B, T]``."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be [B, T], got shape {tuple(attention_mask.shape)}")
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def gather_last(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``hidden[b, last_token_index[b]]``: ``[B, T, H] -> [B, H]`` (or ``[B, T] -> [B]``)."""
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last_token_index(attention_mask)]
