"""One optimizer step, shared by every training loop of the course (book chapters 4 and 10).

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
