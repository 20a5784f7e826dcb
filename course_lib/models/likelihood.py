"""How likely a language model finds a text: per-token log-likelihoods (book chapters 4 and 10).

A pretrained LM that has learned the course's arithmetic finds ``45 - 18 = 28`` less likely than
``45 - 18 = 27``: its next-token distribution already judges the math. The reward models use that
judgement as a feature. GPT-2 ties its output layer to its input embeddings, so a base model
(``GPT2Model``, which :func:`~course_lib.models.backbone.load_backbone` returns) gives next-token
logits as ``hidden @ wte.T``, with no extra weights.

Example:
    >>> import torch
    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> backbone, tokenizer = build_tiny_backbone()
    >>> batch = tokenizer(["2 + 2 = 4", "2 + 2 = 5 and"], padding=True, return_tensors="pt")
    >>> logp = token_log_likelihoods(backbone, batch["input_ids"], batch["attention_mask"])
    >>> logp.shape == batch["input_ids"].shape, bool((logp <= 0).all())
    (True, True)
    >>> mean_log_likelihood(logp, batch["attention_mask"]).shape
    torch.Size([2])
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models.pooling import position_ids_from_mask


def next_token_logits(backbone: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """Logits ``[B, T, V]`` from hidden states ``[B, T, H]`` through the tied input embeddings."""
    return hidden @ backbone.get_input_embeddings().weight.T


def tokens_with_a_past(attention_mask: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` bool: a real token right after a real one, the positions a causal LM predicts."""
    real = attention_mask.bool()
    return F.pad(real[:, 1:] & real[:, :-1], (1, 0))


def next_token_log_probs(backbone: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, hidden=None):
    """``log p(. | x_<=t)`` over the vocabulary after every position but the last: ``[B, T-1, V]``.

    Pass ``hidden`` (``[B, T, H]``, from the same backbone and batch) to reuse a forward pass.
    """
    if hidden is None:
        position_ids = position_ids_from_mask(attention_mask)
        hidden = backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        hidden = hidden.last_hidden_state  # [B, T, H]
    return F.log_softmax(next_token_logits(backbone, hidden[:, :-1]).float(), dim=-1)  # [B, T-1, V]


def token_log_likelihoods(backbone: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, hidden=None):
    """``log p(x_t | x_<t)`` for every position ``t >= 1``: ``[B, T]``, 0 at ``t = 0`` and at padding.

    Pass ``hidden`` (``[B, T, H]``, from the same backbone and batch) to reuse a forward pass.
    """
    logp = next_token_log_probs(backbone, input_ids, attention_mask, hidden)  # [B, T-1, V]
    picked = logp.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [B, T-1]
    return F.pad(picked, (1, 0)) * tokens_with_a_past(attention_mask)  # [B, T]


def mean_log_likelihood(token_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``token_logp`` ``[B, T]`` over the positions where ``mask`` is 1: ``[B]`` (0 where none is)."""
    if token_logp.shape != mask.shape:
        raise ValueError(
            f"token_logp and mask must have the same shape, got {tuple(token_logp.shape)} and {tuple(mask.shape)}"
        )
    mask = mask.to(token_logp.dtype)
    return (token_logp * mask).sum(-1) / mask.sum(-1).clamp(min=1)


class ReferenceLikelihood(nn.Module):
    """A frozen copy of a backbone that scores texts by its token log-likelihoods (chapter 4).

    The copy is taken before fine-tuning, so what the pretrained LM knows stays available while the
    reward model's own backbone adapts; like DPO's reference model, it never trains and never drops out.

    With ``shared=True`` the backbone is not copied: it must be frozen (a reward model that trains only
    its head), so it is its own reference, and ``forward`` reuses the hidden states the model computed.
    """

    def __init__(self, backbone: nn.Module, shared: bool = False):
        super().__init__()
        if shared and any(p.requires_grad for p in backbone.parameters()):
            raise ValueError("shared=True needs a frozen backbone; call backbone.requires_grad_(False) first")
        self.shared = shared
        if shared:
            self.__dict__["lm"] = backbone  # not registered: the reward model already owns it
        else:
            self.lm = copy.deepcopy(backbone).requires_grad_(False).eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always in eval mode: no dropout in a reference

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, hidden=None) -> torch.Tensor:
        """``log p_ref(x_t | x_<t)``: ``[B, T]`` (see :func:`token_log_likelihoods`).

        ``hidden`` (``[B, T, H]``) is the shared backbone's output for this batch; a copy ignores it.
        """
        return token_log_likelihoods(self.lm, input_ids, attention_mask, hidden if self.shared else None)


def likelihood_feature(backbone: nn.Module, likelihood_weight: float | None, train_backbone: bool = True):
    """``(reference, alpha)`` for a reward model's likelihood term, or ``(None, None)`` without one.

    ``alpha`` is an ``nn.Parameter`` starting at ``likelihood_weight``; the reference is a frozen copy of
    ``backbone``, or the backbone itself when it does not train. ``train_backbone=False`` freezes
    ``backbone`` (a linear probe: only the head and ``alpha`` train).
    """
    if likelihood_weight is not None and likelihood_weight < 0:
        raise ValueError(f"likelihood_weight must be >= 0 or None, got {likelihood_weight}")
    if not train_backbone:
        backbone.requires_grad_(False)
    if likelihood_weight is None:
        return None, None
    reference = ReferenceLikelihood(backbone, shared=not train_backbone)  # taken before any fine-tuning
    return reference, nn.Parameter(torch.tensor(float(likelihood_weight)))


class ClaimLikelihood:
    """What a pretrained LM thinks of arithmetic claims ``a op b = c``: how likely it finds ``c`` (chapters 7, 11).

    A claim is read as a line of a drill, ``"\\n45 - 18 = 27"``, and scored on the tokens after ``=``
    (the line break that would end the number is left out: in a solution a "." ends it as well). For
    each claim it returns the lowest token log-probability and the largest *gap*
    ``log p(token) - max_v log p(v)`` (0 where the LM's own first choice is the written token; a
    slipped digit shows as a negative gap). Results are cached per
    claim; :meth:`prefetch` scores many claims in batches (the step verifier scores a pool at once).

    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> judge = ClaimLikelihood(*build_tiny_backbone())
    >>> worst, gap = judge("45 - 18", "27")
    >>> worst <= gap <= 0
    True
    """

    def __init__(self, backbone: nn.Module, tokenizer, batch_size: int = 512):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.backbone, self.tokenizer, self.batch_size = backbone.eval(), tokenizer, batch_size
        self.cache: dict[tuple[str, str], tuple[float, float]] = {}

    def __call__(self, lhs: str, rhs: str) -> tuple[float, float]:
        if (lhs, rhs) not in self.cache:
            self.prefetch([(lhs, rhs)])
        return self.cache[lhs, rhs]

    @torch.no_grad()
    def prefetch(self, claims) -> None:
        """Score every ``(lhs, rhs)`` of ``claims`` not yet cached, ``batch_size`` at a time."""
        todo = sorted(set(c for c in claims if c not in self.cache), key=lambda c: (len(c[0]) + len(c[1]), c))
        for start in range(0, len(todo), self.batch_size):  # sorted by length: little padding
            chunk = todo[start : start + self.batch_size]
            prefix = torch.tensor(
                [len(ids) for ids in self.tokenizer([f"\n{lhs} =" for lhs, _ in chunk])["input_ids"]]
            )
            batch = self.tokenizer([f"\n{lhs} = {rhs}" for lhs, rhs in chunk], padding=True, return_tensors="pt")
            ids, mask = batch["input_ids"], batch["attention_mask"]  # [B, T]
            logp = next_token_log_probs(self.backbone, ids, mask)  # [B, T-1, V]
            picked = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)  # [B, T-1], log p of each next token
            gap = picked - logp.max(-1).values  # [B, T-1], <= 0
            predicted = torch.arange(1, ids.shape[1])[None]  # [1, T-1], the position each logp predicts
            result = (predicted >= prefix[:, None]) & mask[:, 1:].bool()  # [B, T-1], the result's tokens
            worst = picked.masked_fill(~result, 0.0).min(-1).values  # [B]
            worst_gap = gap.masked_fill(~result, 0.0).min(-1).values  # [B]
            self.cache.update(zip(chunk, zip(worst.tolist(), worst_gap.tolist())))
