"""The policy that a reward and a KL penalty ask for, and best-of-N beside it (book chapter 13).

RLHF maximises ``E_pi[r(x, y)] - beta KL(pi || pi_ref)``. Over a finite set of responses its maximiser
is the reference tilted by the reward (Peters & Schaal 2007; Rafailov et al. 2023, eq. 4):

    pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x)

:func:`kl_regularized_optimum` computes it in log space (a ``log_softmax`` of ``log pi_ref + r / beta``),
so rewards/beta of +-1e4 neither overflow nor turn the result into NaN. Small beta puts all the mass
on the best response (what best-of-N approaches as N grows); large beta keeps ``pi_ref``.
:func:`best_of_n_policy` is the exact distribution of best-of-N over the same finite set, and
:func:`kl_divergence` measures how far either moved from ``pi_ref``: chapter 13 sets the two
families side by side, reward against KL.

Example:
    >>> import torch
    >>> kl_regularized_optimum(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), beta=1.0)
    tensor([0.7311, 0.2689])
    >>> best_of_n_policy(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), n=2)  # 3 of 4 draws hold y_0
    tensor([0.7500, 0.2500])
    >>> round(kl_divergence(torch.tensor([0.75, 0.25]), torch.tensor([0.5, 0.5])).item(), 4)
    0.1308
"""

from __future__ import annotations

import torch


def _reference_and_rewards(ref_probs, rewards) -> tuple[torch.Tensor, torch.Tensor]:
    """``ref_probs`` and ``rewards`` as float tensors of one non-empty shape; ``ref_probs`` a distribution."""
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
    return ref, r


def kl_regularized_optimum(ref_probs, rewards, beta: float) -> torch.Tensor:
    """``pi* proportional to ref_probs * exp(rewards / beta)`` over the last dimension; sums to 1 there.

    ``ref_probs`` and ``rewards`` have the same shape (``[N]`` or ``[..., N]``), lists or tensors.
    Raises ``ValueError`` for ``beta <= 0``, different shapes, or ``ref_probs`` that are negative or do
    not sum to 1 along the last dimension.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (the strength of the KL penalty), got {beta}")
    ref, r = _reference_and_rewards(ref_probs, rewards)
    return torch.log_softmax(ref.log() + r / beta, dim=-1).exp()


def best_of_n_policy(ref_probs, rewards, n: int) -> torch.Tensor:
    """The exact distribution of best-of-``n`` over a finite set of responses (last dimension), ``[..., K]``.

    Draw ``n`` responses from ``ref_probs`` and keep the one with the highest reward. The best reward
    is at most ``r_k`` with probability ``F(r_k)^n``, ``F`` the reference's CDF of the reward, so the
    responses tied at ``r_k`` win together with probability ``F(r_k)^n - F(<r_k)^n``, shared among them
    in proportion to ``ref_probs`` (a random sample among the tied ones is kept). ``n = 1`` returns
    ``ref_probs``; large ``n`` puts all the mass on the best response. Its KL from ``ref_probs`` is at
    most ``log n - (n-1)/n`` (Beirami et al. 2024), the continuous formula of chapter 7. Costs
    ``O(K^2)``: meant for the book's small sets.

    >>> best_of_n_policy([0.25, 0.25, 0.5], [0.0, 1.0, 1.0], n=2)  # the two best tie: 15/16 shared 1:2
    tensor([0.0625, 0.3125, 0.6250])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1 (how many samples best-of-N draws), got {n!r}")
    ref, r = _reference_and_rewards(ref_probs, rewards)
    ref = ref.clamp(min=0) / ref.sum(-1, keepdim=True)  # exact normalisation before powers of n
    at_most = ((r.unsqueeze(-2) <= r.unsqueeze(-1)) * ref.unsqueeze(-2)).sum(-1)  # [..., K]: F(r_k)
    below = ((r.unsqueeze(-2) < r.unsqueeze(-1)) * ref.unsqueeze(-2)).sum(-1)  # [..., K]: F(<r_k)
    tied = at_most - below  # [..., K]: reference mass of the responses tied with k
    wins = at_most.pow(n) - below.pow(n)  # [..., K]: P(the best reward equals r_k)
    return torch.where(ref > 0, ref * wins / tied.clamp(min=torch.finfo(ref.dtype).tiny), torch.zeros_like(ref))


def kl_divergence(policy, ref_probs) -> torch.Tensor:
    """``KL(policy || ref_probs)`` in nats over the last dimension, with ``0 log 0 = 0``; ``inf`` off the support.

    >>> kl_divergence([1.0, 0.0], [0.5, 0.5])  # all the mass on one of two responses: log 2
    tensor(0.6931)
    """
    p = torch.as_tensor(policy, dtype=torch.get_default_dtype()) if not torch.is_tensor(policy) else policy
    q = torch.as_tensor(ref_probs, dtype=p.dtype)
    if p.shape != q.shape or p.dim() == 0:
        raise ValueError(f"policy and ref_probs must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("policy and ref_probs must be probabilities (>= 0); got a negative entry")
    return torch.where(p > 0, p * (p.log() - q.log()), torch.zeros_like(p)).sum(-1)
