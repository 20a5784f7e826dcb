"""The policy that a reward and a KL penalty ask for (book part III, "From a reward to a policy").

RLHF maximises ``E_pi[r(x, y)] - beta KL(pi || pi_ref)``. Over a finite set of responses its maximiser
is the reference tilted by the reward (Peters & Schaal 2007; Rafailov et al. 2023, eq. 4):

    pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x)

:func:`kl_regularized_optimum` computes it in log space (a ``log_softmax`` of ``log pi_ref + r / beta``),
so rewards/beta of +-1e4 neither overflow nor turn the result into NaN. Small beta puts all the mass
on the best response (what best-of-N approaches as N grows); large beta keeps ``pi_ref``.

Example:
    >>> import torch
    >>> kl_regularized_optimum(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), beta=1.0)
    tensor([0.7311, 0.2689])
"""

from __future__ import annotations

import torch


def kl_regularized_optimum(ref_probs, rewards, beta: float) -> torch.Tensor:
    """``pi* proportional to ref_probs * exp(rewards / beta)`` over the last dimension; sums to 1 there.

    ``ref_probs`` and ``rewards`` have the same shape (``[N]`` or ``[..., N]``), lists or tensors.
    Raises ``ValueError`` for ``beta <= 0``, different shapes, or ``ref_probs`` that are negative or do
    not sum to 1 along the last dimension.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (the strength of the KL penalty), got {beta}")
    dtype = torch.get_default_dtype()
    ref = torch.as_tensor(
        ref_probs, dtype=ref_probs.dtype if torch.is_tensor(ref_probs) and ref_probs.is_floating_point() else dtype
    )
    r = torch.as_tensor(rewards, dtype=ref.dtype)
    if ref.shape != r.shape or ref.dim() == 0 or ref.shape[-1] == 0:
        raise ValueError(
            f"ref_probs and rewards must have the same non-empty shape, got {tuple(ref.shape)} and {tuple(r.shape)}"
        )
    if (ref < 0).any() or not torch.allclose(ref.sum(-1), torch.ones((), dtype=ref.dtype), atol=1e-4):
        raise ValueError(
            f"ref_probs must be >= 0 and sum to 1 over the last dimension, got sums {ref.sum(-1).tolist()}"
        )
    return torch.log_softmax(ref.log() + r / beta, dim=-1).exp()
