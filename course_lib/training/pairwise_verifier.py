"""A step verifier trained as a Bradley-Terry reward model on (chosen, rejected) solutions (book chapter 16).

Chapter 11's :class:`~course_lib.models.step_verifier.StepVerifier` gives every step a logit ``l_i``.
Here the reward of a whole solution is their **sum**, ``r(y) = sum_i l_i``, and the model learns from
preference pairs alone, with the Bradley-Terry loss of chapter 2:

    L = -log sigmoid(r(y_chosen) - r(y_rejected)).

Nothing stops a summed reward from growing with the number of steps: if the chosen solution is
usually the longer one, the cheapest way to lower the loss is a positive logit for *every* step, and
the model rewards length. Chapter 16 builds such a data set and measures how much of the reward is
length. The features are computed once (:func:`~course_lib.training.step_verifier.encode_solutions`),
so training is a small MLP: a second of CPU.

Example:
    >>> from course_lib.data.arithmetic import ProblemGenerator
    >>> from course_lib.models.step_verifier import StepVerifier
    >>> from course_lib.training.step_verifier import encode_solutions
    >>> gen = ProblemGenerator(seed=0)
    >>> problems = [gen.problem() for _ in range(16)]
    >>> chosen = encode_solutions([(p, gen.correct_solution(p)) for p in problems])
    >>> rejected = encode_solutions([(p, gen.wrong_solution(p, "arithmetic_slip")) for p in problems])
    >>> model = StepVerifier(seed=0)
    >>> config = PairwiseVerifierConfig(max_steps=30, progress=False)
    >>> history = train_pairwise_verifier(model, chosen, rejected, config)
    >>> history.loss[-1] < history.loss[0], solution_rewards(model, chosen).shape
    (True, torch.Size([16]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_lib.models.step_verifier import StepVerifier
from course_lib.training.loop import History, TrainConfig, fit, shuffled_batches
from course_lib.training.reward_model import bradley_terry_loss, pairwise_accuracy
from course_lib.training.step_verifier import EncodedSolutions


@dataclass(kw_only=True)
class PairwiseVerifierConfig(TrainConfig):
    """Hyper-parameters of :func:`train_pairwise_verifier`: :class:`TrainConfig`'s, with a constant
    learning rate and batches of 64 pairs."""

    batch_size: int = 64
    max_steps: int = 150
    schedule: str = "constant"
    weight_decay: float = 1e-2


def solution_rewards(model: StepVerifier, data: EncodedSolutions) -> torch.Tensor:
    """``r(y) = sum_i l_i`` over each solution's real steps: ``[S, K, F] -> [S]`` (with gradients)."""
    logits = model(data.features)  # [S, K]
    return (logits * data.step_mask).sum(-1)  # [S]


def train_pairwise_verifier(
    model: StepVerifier,
    chosen: EncodedSolutions,
    rejected: EncodedSolutions,
    config: PairwiseVerifierConfig | None = None,
) -> History:
    """Fit ``model`` so that ``r(chosen[i]) > r(rejected[i])``, with the Bradley-Terry loss, through
    :func:`~course_lib.training.loop.fit`; row ``i`` of ``chosen`` and of ``rejected`` form pair ``i``."""
    config = config or PairwiseVerifierConfig()
    if len(chosen) != len(rejected):
        raise ValueError(
            f"chosen has {len(chosen)} solutions but rejected has {len(rejected)}; row i of each must form pair i"
        )
    if len(chosen) == 0:
        raise ValueError("no pairs to train on; pass at least one (chosen, rejected) pair")

    def loss_fn(model: StepVerifier, idx: list[int]):
        r_chosen = solution_rewards(model, chosen.subset(idx))  # [B]
        r_rejected = solution_rewards(model, rejected.subset(idx))  # [B]
        accuracy = pairwise_accuracy(r_chosen.detach(), r_rejected.detach())
        return bradley_terry_loss(r_chosen, r_rejected), {"accuracy": accuracy}

    batches = shuffled_batches(len(chosen), min(config.batch_size, len(chosen)), config.seed)
    return fit(model, loss_fn, batches, config, desc="pairwise verifier")
