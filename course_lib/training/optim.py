"""What every training loop of the course shares: one optimizer step and the check of its
config's hyper-parameters (book chapters 4 and 10).

Example:
    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> apply_gradients((w**2).sum(), [w], opt)
    >>> round(w.item(), 2)  # 1 - 0.1 * clip(2, norm 1)
    0.9
"""

from __future__ import annotations

import torch


def apply_gradients(loss: torch.Tensor, parameters, optimizer, scheduler=None, max_norm: float = 1.0) -> None:
    """Backpropagate ``loss``, clip the gradient norm to ``max_norm``, step the optimizer (and scheduler)."""
    parameters = list(parameters)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def require_positive(config, names) -> None:
    """Raise ``ValueError`` naming the first of ``config``'s fields ``names`` that is not > 0.

    >>> from types import SimpleNamespace
    >>> require_positive(SimpleNamespace(batch_size=0), ["batch_size"])
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be > 0, got 0
    """
    for name in names:
        if getattr(config, name) <= 0:
            raise ValueError(f"{name} must be > 0, got {getattr(config, name)}")
