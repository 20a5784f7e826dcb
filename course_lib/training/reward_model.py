"""Bradley-Terry reward modeling: the loss, its metrics and a CPU training loop (book chapters 2 and 4).

Under the Bradley-Terry model the probability that the chosen response beats the rejected one is
``sigmoid(r_chosen - r_rejected)``; maximizing its likelihood gives the loss

    L = -log sigmoid(r_chosen - r_rejected - margin)

computed with ``logsigmoid`` so that gaps of +-1e4 give finite losses and exact gradients.

Example:
    >>> import torch
    >>> reward_chosen = torch.tensor([2.0, 1.5, 2.5, 1.0])
    >>> reward_rejected = torch.tensor([0.5, 0.3, 1.0, 0.8])
    >>> round(bradley_terry_loss(reward_chosen, reward_rejected).item(), 4)
    0.3161
    >>> pairwise_accuracy(reward_chosen, reward_rejected)
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from course_lib.data.preferences import PreferencePair
from course_lib.models.reward_model import RewardModel
from course_lib.training.collate import length_batches, pad_rows
from course_lib.training.loop import EarlyStop, History, TrainConfig, fit, shuffled_batches

__all__ = [
    "RewardModel",
    "RewardTrainingConfig",
    "TrainingHistory",
    "RewardEval",
    "bradley_terry_loss",
    "preference_probability",
    "pairwise_accuracy",
    "encode_pairs",
    "train_reward_model",
    "evaluate",
    "accuracy_by_category",
    "reward_scores",
]

REDUCTIONS = ("mean", "sum", "none")


def _as_float_tensor(x, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if not torch.is_floating_point(t):
        t = t.to(torch.get_default_dtype())
    if t.numel() == 0:
        raise ValueError(f"{name} is empty; pass at least one reward")
    return t


def _paired(reward_chosen, reward_rejected) -> tuple[torch.Tensor, torch.Tensor]:
    r_c = _as_float_tensor(reward_chosen, "reward_chosen")
    r_r = _as_float_tensor(reward_rejected, "reward_rejected")
    if r_c.shape != r_r.shape:
        raise ValueError(
            f"reward_chosen and reward_rejected must have the same shape, got {tuple(r_c.shape)} "
            f"and {tuple(r_r.shape)}"
        )
    return r_c, r_r


def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction: str = "mean") -> torch.Tensor:
    """``-log sigmoid(r_chosen - r_rejected - margin)``, averaged, summed or per pair (``reduction``).

    ``margin`` is a number or a tensor broadcastable to the rewards. The gradient with respect to
    ``r_chosen`` is ``sigmoid(gap) - 1``: large when the model ranks the pair wrongly, near 0 when
    it already ranks it right by a wide gap.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    r_chosen, r_rejected = _paired(reward_chosen, reward_rejected)
    gap = r_chosen - r_rejected - torch.as_tensor(margin, dtype=r_chosen.dtype)  # [B]
    loss = -F.logsigmoid(gap)  # [B]; stable: never computes log(0)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def preference_probability(reward_chosen, reward_rejected) -> torch.Tensor:
    """Bradley-Terry ``P(chosen beats rejected) = sigmoid(r_chosen - r_rejected)``, per pair."""
    r_chosen, r_rejected = _paired(reward_chosen, reward_rejected)
    return torch.sigmoid(r_chosen - r_rejected)


def pairwise_accuracy(reward_chosen, reward_rejected) -> float:
    """Fraction of pairs with ``r_chosen > r_rejected`` (strict: a tie is not a correct ranking)."""
    r_chosen, r_rejected = _paired(reward_chosen, reward_rejected)
    return (r_chosen > r_rejected).float().mean().item()


# -- training ---------------------------------------------------------------------------------


@dataclass(kw_only=True)
class RewardTrainingConfig(TrainConfig):
    """Hyper-parameters of :func:`train_reward_model`: :class:`TrainConfig`'s, with defaults that train the
    tiny backbone on a CPU (warm-up, then cosine decay), and three of the reward model's own."""

    warmup_steps: int = 20
    max_length: int = 192  # tokens of prompt + response; longer texts are truncated on the left
    center_rewards_coefficient: float | None = None  # c in c * E[(r+ + r-)^2] (Eisenstein et al.)
    stop_at_accuracy: float | None = None  # stop once held-out pairwise accuracy reaches this (needs eval_pairs)

    def __post_init__(self):
        super().__post_init__()
        if self.max_length <= 0:
            raise ValueError(f"max_length must be > 0, got {self.max_length}")
        if self.center_rewards_coefficient is not None and self.center_rewards_coefficient < 0:
            raise ValueError(f"center_rewards_coefficient must be >= 0, got {self.center_rewards_coefficient}")
        if self.stop_at_accuracy is not None and not 0.0 < self.stop_at_accuracy <= 1.0:
            raise ValueError(f"stop_at_accuracy must be in (0, 1] or None, got {self.stop_at_accuracy}")


TrainingHistory = History  # the name this module's History had before fit()


@dataclass
class RewardEval:
    accuracy: float
    mean_margin: float  # mean of r_chosen - r_rejected
    loss: float
    margins: torch.Tensor = field(repr=False)  # [N]


def _texts(pair: PreferencePair, eos: str) -> tuple[str, str]:
    join = (pair.prompt + "\n") if pair.prompt else ""
    return join + pair.chosen + eos, join + pair.rejected + eos


def _tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated on the left so the end of the response (read by the head) stays."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [x[-max_length:] for x in ids]


class EncodedPairs:
    """Pairs tokenized once; :meth:`batch` pads a subset into ``[chosen..., rejected...]`` of shape ``[2B, T]``."""

    def __init__(self, tokenizer, pairs: Sequence[PreferencePair], max_length: int = 192):
        if not pairs:
            raise ValueError("pairs is empty; pass at least one PreferencePair")
        texts = [_texts(p, tokenizer.eos_token or "") for p in pairs]
        self.chosen = _tokenize(tokenizer, [c for c, _ in texts], max_length)
        self.rejected = _tokenize(tokenizer, [r for _, r in texts], max_length)
        self.margin = torch.tensor([p.margin or 0.0 for p in pairs], dtype=torch.float32)  # [N]
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def __len__(self) -> int:
        return len(self.chosen)

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        rows = [self.chosen[i] for i in indices] + [self.rejected[i] for i in indices]
        return {**pad_rows(rows, self.pad_id), "margin": self.margin[list(indices)]}


def encode_pairs(tokenizer, pairs: Sequence[PreferencePair], max_length: int = 192) -> dict[str, torch.Tensor]:
    """Tokenize pairs into one right-padded batch ``[chosen_1..chosen_B, rejected_1..rejected_B]``, ``[2B, T]``.

    EOS is appended (as TRL does) so the reward is read after the whole response.
    """
    encoded = EncodedPairs(tokenizer, pairs, max_length)
    return encoded.batch(range(len(encoded)))


def _pair_rewards(model: RewardModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    rewards = model(batch["input_ids"], batch["attention_mask"])  # [2B]
    return rewards.chunk(2)  # [B], [B]


def train_reward_model(
    model: RewardModel,
    tokenizer,
    train_pairs: Sequence[PreferencePair],
    eval_pairs: Sequence[PreferencePair] | None = None,
    config: RewardTrainingConfig | None = None,
) -> History:
    """Train ``model`` with the Bradley-Terry loss through :func:`~course_lib.training.loop.fit`; returns the history.

    With ``eval_pairs`` the held-out accuracy and loss are measured every ``eval_every`` steps (and at
    the end); ``config.stop_at_accuracy`` ends training early once the accuracy reaches it.
    """
    config = config or RewardTrainingConfig()
    if not train_pairs:
        raise ValueError("train_pairs is empty")
    if config.stop_at_accuracy is not None:
        if not eval_pairs:
            raise ValueError("stop_at_accuracy needs eval_pairs (held-out pairs to measure accuracy on)")
        config = replace(config, early_stop=EarlyStop("accuracy", "max", target=config.stop_at_accuracy))
    train_data = EncodedPairs(tokenizer, train_pairs, config.max_length)
    eval_data = EncodedPairs(tokenizer, eval_pairs, config.max_length) if eval_pairs else None

    def loss_fn(model: RewardModel, indices: list[int]):
        batch = train_data.batch(indices)
        r_chosen, r_rejected = _pair_rewards(model, batch)  # [B], [B]
        loss = bradley_terry_loss(r_chosen, r_rejected, margin=batch["margin"])
        if config.center_rewards_coefficient:
            loss = loss + config.center_rewards_coefficient * ((r_chosen + r_rejected) ** 2).mean()
        return loss, {"accuracy": pairwise_accuracy(r_chosen.detach(), r_rejected.detach())}

    def held_out(model: RewardModel) -> dict[str, float]:
        result = evaluate(model, tokenizer, eval_data)
        return {"accuracy": result.accuracy, "loss": result.loss}

    batches = shuffled_batches(len(train_data), config.batch_size, config.seed)
    return fit(model, loss_fn, batches, config, held_out if eval_data else None, desc="reward model")


@torch.no_grad()
def reward_scores(model: RewardModel, tokenizer, texts: Sequence[str], batch_size: int = 64, max_length: int = 192):
    """Rewards ``[N]`` for whole texts (prompt and response already joined); EOS is appended."""
    model.eval()
    side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    out = torch.zeros(len(texts))  # [N]
    for rows in length_batches([len(t) for t in texts], batch_size):  # characters: close enough to tokens
        chunk = [texts[i] + (tokenizer.eos_token or "") for i in rows]
        batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out[rows] = model(batch["input_ids"], batch["attention_mask"])
    tokenizer.truncation_side = side
    return out


@torch.no_grad()
def evaluate(
    model: RewardModel,
    tokenizer,
    pairs: Sequence[PreferencePair] | EncodedPairs,
    batch_size: int = 64,
    max_length: int = 192,
) -> RewardEval:
    """Pairwise accuracy, mean margin ``r+ - r-`` and Bradley-Terry loss on held-out pairs."""
    data = pairs if isinstance(pairs, EncodedPairs) else EncodedPairs(tokenizer, pairs, max_length)
    model.eval()
    responses = data.chosen + data.rejected  # token rows, [2N]
    rewards = torch.zeros(len(responses))  # [2N]
    for rows in length_batches([len(r) for r in responses], 2 * batch_size):
        batch = pad_rows([responses[i] for i in rows], data.pad_id)
        rewards[rows] = model(batch["input_ids"], batch["attention_mask"])
    r_chosen, r_rejected = rewards.chunk(2)  # [N], [N]
    margins = r_chosen - r_rejected
    return RewardEval(
        accuracy=pairwise_accuracy(r_chosen, r_rejected),
        mean_margin=margins.mean().item(),
        loss=bradley_terry_loss(r_chosen, r_rejected).item(),
        margins=margins,
    )


def accuracy_by_category(result: RewardEval, pairs: Sequence[PreferencePair]) -> dict[str, float]:
    """Pairwise accuracy (strict) per ``pair.category``, read off one :func:`evaluate` of ``pairs``
    (chapter 5's RewardBench-style breakdown), in the order the categories first appear.

    >>> pairs = [PreferencePair("q", "a", "b", category=c) for c in ("math", "form", "math")]
    >>> result = RewardEval(accuracy=2 / 3, mean_margin=0.0, loss=0.0, margins=torch.tensor([1.0, 2.0, -1.0]))
    >>> accuracy_by_category(result, pairs)
    {'math': 0.5, 'form': 1.0}
    """
    if len(pairs) != len(result.margins):
        raise ValueError(
            f"pairs has {len(pairs)} pairs but result has {len(result.margins)} margins; pass the pairs evaluated"
        )
    right: dict[str, list[bool]] = {}
    for pair, margin in zip(pairs, result.margins.tolist()):
        right.setdefault(pair.category, []).append(margin > 0)
    return {category: sum(r) / len(r) for category, r in right.items()}
