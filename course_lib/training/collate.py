"""Turning token rows of different lengths into one batch (book chapters 4 and 10).

Every trainer pads its rows on the right with :func:`torch.nn.utils.rnn.pad_sequence`; the
attention mask marks the real tokens, so padding never reaches the model's pooled output or the loss.

Inference, where batches need not be random, pads little when rows of similar length share a batch
(:func:`length_batches`).

Example:
    >>> batch = pad_rows([[5, 6, 7], [8]], pad_id=0)
    >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


def pad_right(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """Rows of ints, right-padded with ``value`` into one ``[N, T]`` long tensor (``T`` = the longest row)."""
    if len(rows) == 0:
        raise ValueError("rows is empty: pad at least one row")
    return pad_sequence([torch.as_tensor(r, dtype=torch.long) for r in rows], batch_first=True, padding_value=value)


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Token rows as ``{"input_ids": [N, T], "attention_mask": [N, T]}``, padded on the right with ``pad_id``."""
    return {"input_ids": pad_right(rows, pad_id), "attention_mask": pad_right([[1] * len(r) for r in rows], 0)}


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices ``0..N-1`` in batches of ``batch_size``, shortest rows first, for inference.

    A batch is padded to its longest row, so sorting by length saves the padding's compute (a third
    of an evaluation's on the course's pairs). Each row's result is the same in any batch (eval mode).

    >>> length_batches([5, 1, 3, 2], batch_size=3)
    [[1, 3, 2], [0]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])  # stable: ties keep their order
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
