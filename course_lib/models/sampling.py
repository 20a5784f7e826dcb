"""Sampling text from the course's GPT-2 quickly, with a key-value cache (book chapter 17).

A policy-gradient step samples dozens of solutions, token by token. ``transformers``' ``generate``
spends most of its time on bookkeeping around a model as small as ``course-tiny`` (a 3-layer,
128-wide GPT-2): about 1,500 tokens per second on one CPU thread. :func:`sample_completions` runs the
same GPT-2 arithmetic (pre-LayerNorm blocks, exact or tanh GELU, output tied to the input
embeddings) directly on the base model's weights, caching each layer's keys and values so every new
token costs one position's work, and is several times faster. It never trains: the log-probabilities
the policy gradient needs are recomputed with gradients by
:func:`~course_lib.models.likelihood.token_log_likelihoods` on the finished rows.

Prompts are left-padded; positions count only real tokens (as
:func:`~course_lib.models.pooling.position_ids_from_mask` does), so padding changes nothing.

Example:
    >>> import torch
    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> model, tokenizer = build_tiny_backbone()
    >>> out = sample_completions(model, tokenizer, ["2 + 2 =", "A store"], SamplingConfig(max_new_tokens=5),
    ...                          generator=torch.Generator().manual_seed(0))
    >>> len(out.texts), out.completion_ids.shape[0], bool((out.completion_mask.sum(-1) <= 5).all())
    (2, 2, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models.likelihood import next_token_logits


@dataclass
class SamplingConfig:
    """How to sample: ``temperature`` 1 samples the model's own distribution; a row stops at EOS."""

    max_new_tokens: int = 128
    temperature: float = 1.0

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (use a small value for near-greedy), got {self.temperature}")


@dataclass
class Completions:
    """Sampled rows: ``prompt_ids`` ``[B, P]`` left-padded, ``completion_ids`` ``[B, C]`` right-padded.

    ``completion_mask`` ``[B, C]`` marks the sampled tokens, EOS included (the policy is rewarded for
    stopping too); ``texts`` are the completions decoded without EOS; ``finished`` says which rows
    reached EOS within ``max_new_tokens``.
    """

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    texts: list[str]
    finished: torch.Tensor

    def joined(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask, completion_mask)``, each ``[B, P + C]``: prompt and completion in one row."""
        ids = torch.cat([self.prompt_ids, self.completion_ids], dim=1)
        mask = torch.cat([self.prompt_mask, self.completion_mask], dim=1)
        completion = torch.cat([torch.zeros_like(self.prompt_mask), self.completion_mask], dim=1)
        return ids, mask, completion


def _gelu(model: nn.Module):
    if model.config.activation_function == "gelu":
        return F.gelu
    if model.config.activation_function in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    raise ValueError(f"activation {model.config.activation_function!r} is not GPT-2's gelu or gelu_new")


def _block(block: nn.Module, x, cache_k, cache_v, start: int, key_mask, n_head: int, act, eps: float):
    """One GPT-2 block on ``x`` ``[B, S, H]`` at positions ``start..start+S``; writes its keys/values to the cache."""
    B, S, H = x.shape
    d = H // n_head
    h = F.layer_norm(x, (H,), block.ln_1.weight, block.ln_1.bias, eps)
    qkv = torch.addmm(block.attn.c_attn.bias, h.reshape(B * S, H), block.attn.c_attn.weight).view(B, S, 3, n_head, d)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, S, d]
    cache_k[:, :, start : start + S] = k
    cache_v[:, :, start : start + S] = v
    end = start + S
    allowed = key_mask[:, None, None, :end]  # [B, 1, 1, end]: real keys only
    if S > 1:  # the prompt: causal as well
        allowed = allowed & torch.ones(S, end, dtype=torch.bool).tril(start)[None, None]
    scores = (q @ cache_k[:, :, :end].transpose(-1, -2)) / math.sqrt(d)  # [B, heads, S, end]
    # a finite fill: a padding query that sees no key gets uniform weights, not NaN, and no real query reads it
    attn = scores.masked_fill(~allowed, -1e9).softmax(-1) @ cache_v[:, :, :end]  # [B, heads, S, d]
    attn = attn.transpose(1, 2).reshape(B * S, H)
    x = x + torch.addmm(block.attn.c_proj.bias, attn, block.attn.c_proj.weight).view(B, S, H)
    h = F.layer_norm(x, (H,), block.ln_2.weight, block.ln_2.bias, eps).reshape(B * S, H)
    h = act(torch.addmm(block.mlp.c_fc.bias, h, block.mlp.c_fc.weight))
    return x + torch.addmm(block.mlp.c_proj.bias, h, block.mlp.c_proj.weight).view(B, S, H)


@torch.no_grad()
def sample_completions(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    config: SamplingConfig | None = None,
    generator: torch.Generator | None = None,
) -> Completions:
    """Sample one completion per prompt from a GPT-2 base model (``GPT2Model``), stopping each row at EOS.

    ``prompts`` are tokenized as given (no EOS is added in front); ``generator`` seeds the draws.
    """
    config = config or SamplingConfig()
    if len(prompts) == 0:
        raise ValueError("prompts is empty; pass at least one prompt")
    if not hasattr(model, "h") or not hasattr(model, "wpe"):
        raise ValueError(
            f"model must be a GPT-2 base model (GPT2Model, from load_backbone), got {type(model).__name__}"
        )
    encoded = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    if min(map(len, encoded)) == 0:
        raise ValueError("a prompt tokenizes to nothing; every prompt needs at least one token")
    P, C, B = max(map(len, encoded)), config.max_new_tokens, len(encoded)
    if model.config.n_positions < P + C:
        raise ValueError(f"prompt ({P} tokens) + max_new_tokens ({C}) exceed the model's {model.config.n_positions}")
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    prompt_ids = torch.tensor([[pad] * (P - len(e)) + e for e in encoded])  # [B, P], left-padded
    prompt_mask = torch.tensor([[0] * (P - len(e)) + [1] * len(e) for e in encoded])  # [B, P]
    n_head, H = model.config.n_head, model.config.n_embd
    eps, act = model.config.layer_norm_epsilon, _gelu(model)
    cache = [(torch.zeros(B, n_head, P + C, H // n_head), torch.zeros(B, n_head, P + C, H // n_head)) for _ in model.h]
    key_mask = torch.cat([prompt_mask.bool(), torch.ones(B, C, dtype=torch.bool)], dim=1)  # [B, P + C]
    positions = (prompt_mask.cumsum(-1) - 1).clamp(min=0)  # [B, P]
    next_position = positions[:, -1] + 1  # [B]
    out, sampled = torch.full((B, C), pad), torch.zeros(B, C, dtype=torch.long)
    alive = torch.ones(B, dtype=torch.bool)
    x, start, steps = model.wte(prompt_ids) + model.wpe(positions), 0, 0
    for t in range(C):
        for block, (k, v) in zip(model.h, cache):
            x = _block(block, x, k, v, start, key_mask, n_head, act, eps)
        start += x.shape[1]
        last = F.layer_norm(x[:, -1], (H,), model.ln_f.weight, model.ln_f.bias, eps)  # [B, H]
        logits = next_token_logits(model, last) / config.temperature  # [B, V]
        cdf = F.softmax(logits, dim=-1).cumsum(-1)  # [B, V]: inverse-CDF sampling, one uniform per row
        u = torch.rand(B, 1, generator=generator) * cdf[:, -1:]
        token = torch.searchsorted(cdf, u)[:, 0].clamp(max=cdf.shape[-1] - 1)  # [B]
        out[:, t] = torch.where(alive, token, torch.full_like(token, pad))
        sampled[:, t] = alive
        steps = t + 1
        alive &= token != eos
        if not alive.any():
            break
        x = (model.wte(token) + model.wpe(next_position + t))[:, None]  # [B, 1, H]
    out, completion_mask = out[:, :steps], sampled[:, :steps]  # [B, C]: sampled tokens, EOS included
    texts = tokenizer.batch_decode(out.masked_fill(out == eos, pad), skip_special_tokens=True)
    return Completions(prompt_ids, prompt_mask, out, completion_mask, texts, ~alive)
