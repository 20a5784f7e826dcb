"""Direct preference optimisation: a policy trained on preference pairs, and the reward it implies (book part III).

The KL-regularised objective ``max_pi E[r(x, y)] - beta KL(pi || pi_ref)`` has the optimum
``pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x)``, so ``r(x, y) = beta log pi*(y|x) / pi_ref(y|x) + beta log Z(x)``.
Put that reward into the Bradley-Terry likelihood of a pair and ``Z(x)`` cancels (Rafailov et al., 2023):

    L_DPO = -log sigmoid(beta [log pi(y+|x) / pi_ref(y+|x) - log pi(y-|x) / pi_ref(y-|x)])

:func:`dpo_loss` reads like that line. The policy is a causal LM (a GPT-2 base model whose tied input
embeddings give next-token logits, :mod:`course_lib.models.likelihood`); ``log pi(y|x)`` sums the
log-probabilities of the response's tokens after the prompt (:func:`response_log_probs`). What DPO
trains is a reward model too: its *implicit reward* ``beta log pi(y|x) / pi_ref(y|x)``
(:func:`implicit_reward`) ranks responses without a head. :func:`train_dpo` runs the course's one
training loop, :func:`~course_lib.training.loop.fit`, with a frozen copy of the starting model as
``pi_ref``.

Example:
    >>> import torch
    >>> chosen, rejected = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -4.0])  # log pi
    >>> ref = torch.tensor([-4.0, -4.5])  # log pi_ref of both, for brevity
    >>> loss, r_chosen, r_rejected = dpo_loss(chosen, rejected, ref, ref, beta=1.0)  # margins +1 and -1
    >>> round(loss.item(), 4), implicit_reward_accuracy(r_chosen, r_rejected)
    (0.8133, 0.5)
    >>> implicit_reward(chosen, ref, beta=0.1)
    tensor([ 0.1000, -0.0500])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.preferences import PreferencePair
from course_lib.models.likelihood import token_log_likelihoods
from course_lib.training.collate import length_batches, pad_right
from course_lib.training.loop import History, TrainConfig, fit, shuffled_batches


def _check_beta(beta: float) -> None:
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (the strength of the KL penalty), got {beta}")


def implicit_reward(policy_logps: torch.Tensor, reference_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO's reward ``beta * (log pi(y|x) - log pi_ref(y|x))``, ``[B]``: fixed up to ``beta log Z(x)`` per prompt."""
    _check_beta(beta)
    if policy_logps.shape != reference_logps.shape:
        raise ValueError(
            f"policy_logps and reference_logps must have the same shape, got {tuple(policy_logps.shape)} "
            f"and {tuple(reference_logps.shape)}"
        )
    return beta * (policy_logps - reference_logps)


def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta: float = 0.1):
    """``(loss, chosen_rewards, rejected_rewards)`` for a batch of pairs, as TRL's ``DPOTrainer`` returns them.

    Every argument is a ``[B]`` tensor of summed response log-probs. ``loss`` is the mean of
    ``-log sigmoid(r_chosen - r_rejected)`` over the batch (``logsigmoid``: finite for log-ratios of
    +-1e4); the rewards are the implicit ones, ``[B]`` each, detached: they are for reading, not training.
    """
    r_chosen = implicit_reward(policy_chosen, reference_chosen, beta)  # [B]
    r_rejected = implicit_reward(policy_rejected, reference_rejected, beta)  # [B]
    if r_chosen.shape != r_rejected.shape:
        raise ValueError(
            f"chosen and rejected must have the same shape, got {tuple(r_chosen.shape)} and {tuple(r_rejected.shape)}"
        )
    loss = -F.logsigmoid(r_chosen - r_rejected).mean()
    return loss, r_chosen.detach(), r_rejected.detach()


def implicit_reward_accuracy(chosen_rewards, rejected_rewards) -> float:
    """Fraction of pairs whose chosen response gets the higher implicit reward (strict: a tie is wrong).

    >>> implicit_reward_accuracy([0.2, -0.1, 0.0], [0.1, 0.3, 0.0])
    0.3333333333333333
    """
    chosen, rejected = torch.as_tensor(chosen_rewards), torch.as_tensor(rejected_rewards)
    if chosen.shape != rejected.shape:
        raise ValueError(
            f"chosen_rewards and rejected_rewards must have the same shape, got {tuple(chosen.shape)} "
            f"and {tuple(rejected.shape)}"
        )
    if chosen.numel() == 0:
        raise ValueError("chosen_rewards is empty; pass at least one pair")
    return (chosen > rejected).double().mean().item()  # float64: 1/3 prints as 0.333..., not 0.33333334


class EncodedResponses:
    """Pairs tokenized once as prompt + response; :meth:`batch` pads ``[chosen..., rejected...]`` to ``[2B, T]``.

    The prompt and the response (with EOS, so the policy learns where to stop) are tokenized apart and
    joined, as TRL does, so ``response_mask`` marks exactly the response's tokens. Rows longer than
    ``max_length`` lose tokens on the left (the prompt's start).
    """

    def __init__(self, tokenizer, pairs: Sequence[PreferencePair], max_length: int = 192):
        if not pairs:
            raise ValueError("pairs is empty; pass at least one PreferencePair")
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        eos = tokenizer.eos_token or ""
        prompts = tokenizer([p.prompt + "\n" if p.prompt else "" for p in pairs], add_special_tokens=False)[
            "input_ids"
        ]
        self.rows, self.masks = [], []
        for side in ("chosen", "rejected"):
            texts = [getattr(p, side) + eos for p in pairs]
            responses = tokenizer(texts, add_special_tokens=False)["input_ids"]
            self.rows.append([(x + y)[-max_length:] for x, y in zip(prompts, responses)])
            self.masks.append([([0] * len(x) + [1] * len(y))[-max_length:] for x, y in zip(prompts, responses)])
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def __len__(self) -> int:
        return len(self.rows[0])

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``response_mask``, each ``[2B, T]``: chosen rows, then rejected."""
        rows = [self.rows[s][i] for s in (0, 1) for i in indices]
        masks = [self.masks[s][i] for s in (0, 1) for i in indices]
        return {
            "input_ids": pad_right(rows, self.pad_id),
            "attention_mask": pad_right([[1] * len(r) for r in rows], 0),
            "response_mask": pad_right(masks, 0),
        }


def response_log_probs(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``log pi(y|x)``: the summed log-probabilities of each row's response tokens, ``[2B]``."""
    logp = token_log_likelihoods(model, batch["input_ids"], batch["attention_mask"])  # [2B, T]
    return (logp * batch["response_mask"]).sum(-1)


@torch.no_grad()
def pair_log_probs(
    model: nn.Module, data: EncodedResponses, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log pi(y+|x), log pi(y-|x))`` for every pair of ``data``: ``[N], [N]``."""
    chosen, rejected = torch.zeros(len(data)), torch.zeros(len(data))  # [N], [N]
    for pairs in length_batches([max(len(c), len(r)) for c, r in zip(*data.rows)], batch_size):
        chosen[pairs], rejected[pairs] = response_log_probs(model, data.batch(pairs)).chunk(2)
    return chosen, rejected


@dataclass(kw_only=True)
class DPOConfig(TrainConfig):
    """Hyper-parameters of :func:`train_dpo`: ``beta``, ``max_length``, then :class:`TrainConfig`'s."""

    beta: float = 0.1  # KL strength: small beta lets the policy move far from pi_ref
    max_length: int = 192
    learning_rate: float = 1e-4
    batch_size: int = 16
    max_steps: int = 100
    warmup_steps: int = 10

    def __post_init__(self):
        super().__post_init__()
        _check_beta(self.beta)


@dataclass
class ImplicitRewards:
    """DPO's implicit rewards of held-out pairs: ``[N]`` each (see :func:`implicit_rewards`)."""

    chosen: torch.Tensor
    rejected: torch.Tensor


def implicit_rewards(model: nn.Module, reference: nn.Module, tokenizer, pairs, beta: float, max_length: int = 192):
    """The implicit reward of every chosen and rejected response of ``pairs``, to set beside a reward model's."""
    data = pairs if isinstance(pairs, EncodedResponses) else EncodedResponses(tokenizer, pairs, max_length)
    model.eval()
    policy_chosen, policy_rejected = pair_log_probs(model, data)
    ref_chosen, ref_rejected = pair_log_probs(reference, data)
    return ImplicitRewards(
        implicit_reward(policy_chosen, ref_chosen, beta), implicit_reward(policy_rejected, ref_rejected, beta)
    )


def train_dpo(
    model: nn.Module,
    tokenizer,
    train_pairs: Sequence[PreferencePair],
    eval_pairs: Sequence[PreferencePair] | None = None,
    config: DPOConfig | None = None,
) -> tuple[History, nn.Module]:
    """Train the causal LM ``model`` with :func:`dpo_loss`; returns the history and the frozen reference ``pi_ref``.

    ``pi_ref`` is a copy of ``model`` taken before the first update; its log-probabilities of the
    training pairs are computed once. With ``eval_pairs``, the held-out DPO loss and the pairwise
    accuracy of the implicit reward (strict: a tie is wrong) are measured every ``eval_every`` steps.
    """
    config = config or DPOConfig()
    if not train_pairs:
        raise ValueError("train_pairs is empty")
    reference = copy.deepcopy(model).requires_grad_(False).eval()  # pi_ref, never updated
    train_data = EncodedResponses(tokenizer, train_pairs, config.max_length)
    ref_chosen, ref_rejected = pair_log_probs(reference, train_data)  # [N], [N]
    eval_data = EncodedResponses(tokenizer, eval_pairs, config.max_length) if eval_pairs else None

    def loss_fn(model: nn.Module, indices: list[int]):
        chosen, rejected = response_log_probs(model, train_data.batch(indices)).chunk(2)  # [B], [B]
        loss, r_chosen, r_rejected = dpo_loss(
            chosen, rejected, ref_chosen[indices], ref_rejected[indices], config.beta
        )
        return loss, {"accuracy": implicit_reward_accuracy(r_chosen, r_rejected)}

    def held_out(model: nn.Module) -> dict[str, float]:
        rewards = implicit_rewards(model, reference, tokenizer, eval_data, config.beta)
        margin = rewards.chosen - rewards.rejected
        return {
            "loss": -F.logsigmoid(margin).mean().item(),
            "accuracy": implicit_reward_accuracy(rewards.chosen, rewards.rejected),
        }

    batches = shuffled_batches(len(train_data), config.batch_size, config.seed)
    history = fit(model, loss_fn, batches, config, held_out if eval_data else None, desc="DPO")
    return history, reference
