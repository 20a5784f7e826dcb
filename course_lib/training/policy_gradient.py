"""Policy-gradient RL for the course's tiny LM: REINFORCE with group baselines, as GRPO (book chapter 17).

Each step draws ``problems_per_step`` problems, samples ``group_size`` solutions for each from the
current policy (:func:`~course_lib.models.sampling.sample_completions`), scores them with a reward,
and takes one gradient step on

    L = - mean_i A_i mean_t log pi(y_it | x_i, y_i<t)
    A_i = r_i - mean of r over i's group      (GRPO also divides by the group's std; optional here)

(:func:`group_advantages`, :func:`policy_gradient_loss`). The group mean is the baseline of
GRPO (Shao et al., 2024): solutions to the same problem compete with each other, so a problem that is
easy for every sample teaches nothing. There is no KL penalty to the starting model and no ratio
clipping (one gradient step per batch, so the samples are always on-policy): the runs are kept
short instead. The reward is :class:`RewardConfig`: the outcome reward, plus, optionally, step
rewards from the pretrained claim judge aggregated by :func:`~course_lib.training.rl_rewards.aggregate_step_rewards`.

:func:`train_policy` is one more objective of the course's one loop,
:func:`~course_lib.training.loop.fit`: its loss function samples.

Example:
    >>> import torch
    >>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]), scale_by_std=False)
    tensor([[ 0.5000, -0.5000, -0.5000,  0.5000],
            [ 0.0000,  0.0000,  0.0000,  0.0000]])
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from course_lib.data.arithmetic import GeneratorConfig, ProblemGenerator
from course_lib.models.likelihood import ClaimLikelihood, next_token_logits, tokens_with_a_past
from course_lib.models.pooling import position_ids_from_mask
from course_lib.models.sampling import SamplingConfig, sample_completions
from course_lib.models.step_verifier import claim_of
from course_lib.training.loop import History, TrainConfig, fit
from course_lib.training.rl_rewards import (
    AGGREGATIONS,
    aggregate_step_rewards,
    claim_steps,
    outcome_reward,
    step_rewards,
)


def group_advantages(rewards: torch.Tensor, scale_by_std: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """``A = r - mean(r)`` over each group (row) of ``rewards`` ``[P, G]``; divided by the row's std + eps if asked."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be [problems, group_size] with group_size >= 2, got {tuple(rewards.shape)}")
    advantages = rewards - rewards.mean(dim=1, keepdim=True)  # [P, G]
    if scale_by_std:
        advantages = advantages / (rewards.std(dim=1, keepdim=True) + eps)
    return advantages


def policy_gradient_loss(token_logp: torch.Tensor, completion_mask: torch.Tensor, advantages: torch.Tensor):
    """GRPO's REINFORCE loss: ``-mean_i A_i mean_t log pi_it`` over each row's sampled tokens.

    ``token_logp`` and ``completion_mask`` are ``[B, T]``, ``advantages`` ``[B]``. Each solution's
    log-probability is averaged over its own tokens, so a long solution does not weigh more than a short one.

    >>> logp = torch.log(torch.tensor([[0.5, 0.5], [0.5, 1.0]]))
    >>> round(policy_gradient_loss(logp, torch.tensor([[1, 1], [1, 0]]), torch.tensor([1.0, -0.5])).item(), 4)
    0.1733
    """
    if token_logp.shape != completion_mask.shape or advantages.shape != token_logp.shape[:1]:
        raise ValueError(
            f"need token_logp [B, T], completion_mask [B, T] and advantages [B], got {tuple(token_logp.shape)}, "
            f"{tuple(completion_mask.shape)} and {tuple(advantages.shape)}"
        )
    mask = completion_mask.to(token_logp.dtype)
    per_solution = (token_logp * mask).sum(-1) / mask.sum(-1).clamp(min=1)  # [B]: mean log pi per token
    return -(advantages.detach() * per_solution).mean()


def policy_log_probs(
    model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, temperature: float = 1.0
):
    """``log pi(x_t | x_<t)`` of the policy that samples at ``temperature`` (logits / T): ``[B, T]``, 0 at t = 0 and padding.

    At ``temperature=1`` this is :func:`~course_lib.models.likelihood.token_log_likelihoods`; the policy
    gradient must differentiate the distribution the samples came from.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    hidden = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids_from_mask(attention_mask)
    )
    logits = next_token_logits(model, hidden.last_hidden_state[:, :-1]) / temperature  # [B, T-1, V]
    picked = torch.log_softmax(logits.float(), -1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [B, T-1]
    return torch.nn.functional.pad(picked, (1, 0)) * tokens_with_a_past(attention_mask)  # [B, T]


@dataclass
class RewardConfig:
    """``outcome_weight * outcome + step_weight * aggregate(step rewards)``; ``aggregation=None``: outcome only."""

    outcome_weight: float = 1.0
    aggregation: str | None = None  # None (an ORM-style reward), "sum", "mean", "clip" or "delta"
    step_weight: float = 1.0
    eta: float = 0.5  # "clip": a step judged above eta earns nothing, below it loses r - eta

    def __post_init__(self):
        if self.aggregation is not None and self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be None or one of {AGGREGATIONS}, got {self.aggregation!r}")

    @property
    def name(self) -> str:
        return "outcome" if self.aggregation is None else f"outcome + PRM {self.aggregation}"

    def __call__(self, solution: str, answer: float, judge: ClaimLikelihood | None) -> float:
        reward = self.outcome_weight * outcome_reward(solution, answer)
        if self.aggregation is not None:
            if judge is None:
                raise ValueError(f"aggregation={self.aggregation!r} needs a judge for the step rewards; pass judge=")
            reward += self.step_weight * aggregate_step_rewards(
                step_rewards(solution, judge), self.aggregation, self.eta
            )
        return reward


@dataclass(kw_only=True)
class PolicyGradientConfig(TrainConfig):
    """Hyper-parameters of :func:`train_policy`, then :class:`TrainConfig`'s (``batch_size`` is unused)."""

    reward: RewardConfig = field(default_factory=RewardConfig)
    problems_per_step: int = 3
    group_size: int = 4  # G solutions per problem; the group mean is each one's baseline
    scale_by_std: bool = False  # GRPO divides by the group's std; then a 0.01 spread counts as much as a 1.0 one
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=120, temperature=0.7))
    problems: GeneratorConfig = field(default_factory=lambda: GeneratorConfig(min_steps=2, max_steps=2))
    problem_seed: int = 0
    learning_rate: float = (
        3e-5  # 1e-4 without a KL penalty: the policy collapses within 10 steps (bench_prm_rl.py --lr)
    )
    schedule: str = "constant"
    max_steps: int = 12
    eval_every: int = 1_000_000  # no held-out evaluation: the samples of each step are the record

    def __post_init__(self):
        super().__post_init__()
        if self.problems_per_step < 1 or self.group_size < 2:
            raise ValueError(
                f"need problems_per_step >= 1 and group_size >= 2, got {self.problems_per_step} and {self.group_size}"
            )


@dataclass
class RolloutStats:
    """What the policy wrote at each RL step (one entry per step, means over its samples)."""

    reward: list[float] = field(default_factory=list)  # the reward being optimised (the proxy)
    accuracy: list[float] = field(default_factory=list)  # the true outcome: the answer is right
    steps: list[float] = field(default_factory=list)  # claim steps per solution
    step_reward_sum: list[float] = field(
        default_factory=list
    )  # the judge's summed step rewards, whatever is optimised
    tokens: list[float] = field(default_factory=list)  # sampled tokens per solution, EOS included
    signal: list[float] = field(default_factory=list)  # share of groups whose rewards differ: the rest teach nothing
    examples: list[str] = field(default_factory=list)  # the first sample of each step


def rollout_loss(model: nn.Module, tokenizer, problems, config: PolicyGradientConfig, judge, generator, stats):
    """Sample ``group_size`` solutions per problem, reward them, and return the policy-gradient loss."""
    G = config.group_size
    prompts = [tokenizer.eos_token + p.question + "\n" for p in problems for _ in range(G)]
    model.eval()  # sampling: no dropout
    out = sample_completions(model, tokenizer, prompts, config.sampling, generator)
    model.train()
    answers = [p.answer for p in problems for _ in range(G)]
    if judge is not None:  # score all new claims in one batched pass
        judge.prefetch(claim_of(step) for text in out.texts for step in claim_steps(text))
    rewards = torch.tensor([config.reward(t, a, judge) for t, a in zip(out.texts, answers)])  # [P * G]
    groups = rewards.view(len(problems), G)  # [P, G]
    advantages = group_advantages(groups, config.scale_by_std).flatten()  # [P * G]
    ids, mask, completion = out.joined()  # [B, P + C] each
    loss = policy_gradient_loss(
        policy_log_probs(model, ids, mask, config.sampling.temperature), completion, advantages
    )
    stats.reward.append(rewards.mean().item())
    stats.accuracy.append(sum(outcome_reward(t, a) for t, a in zip(out.texts, answers)) / len(answers))
    stats.steps.append(sum(len(claim_steps(t)) for t in out.texts) / len(answers))
    if judge is not None:
        stats.step_reward_sum.append(sum(sum(step_rewards(t, judge)) for t in out.texts) / len(answers))
    stats.tokens.append(out.completion_mask.sum(-1).float().mean().item())
    stats.signal.append((groups.max(1).values > groups.min(1).values).float().mean().item())
    stats.examples.append(out.texts[0])
    return loss, {"reward": stats.reward[-1], "accuracy": stats.accuracy[-1]}


def train_policy(
    model: nn.Module, tokenizer, config: PolicyGradientConfig | None = None, judge: ClaimLikelihood | None = None
) -> tuple[RolloutStats, History]:
    """Improve the GPT-2 base ``model`` in place by policy gradient on ``config.reward``; returns what it wrote.

    ``judge`` scores the step rewards (needed when ``config.reward.aggregation`` is set; with an outcome-only
    reward it is only watched, in ``stats.step_reward_sum``); it is never trained.
    """
    config = config or PolicyGradientConfig()
    if config.reward.aggregation is not None and judge is None:
        raise ValueError(f"reward aggregation {config.reward.aggregation!r} needs judge= (a ClaimLikelihood)")
    gen = ProblemGenerator(seed=config.problem_seed, config=copy.deepcopy(config.problems))
    generator = torch.Generator().manual_seed(config.seed)
    stats = RolloutStats()

    def batches(step: int):
        return [gen.problem() for _ in range(config.problems_per_step)]

    def loss_fn(model, problems):
        return rollout_loss(model, tokenizer, problems, config, judge, generator, stats)

    history = fit(model, loss_fn, batches, config, desc=f"RL ({config.reward.name})")
    return stats, history


@torch.no_grad()
def evaluate_policy(
    model: nn.Module,
    tokenizer,
    problems,
    judge: ClaimLikelihood | None = None,
    sampling: SamplingConfig | None = None,
    samples_per_problem: int = 4,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, float]:
    """What the policy writes on held-out ``problems``: accuracy, claim steps and tokens per solution (means).

    With a ``judge``, also the mean summed step reward. No gradients; the model is left in eval mode.
    """
    if samples_per_problem < 1 or not problems:
        raise ValueError(f"need problems and samples_per_problem >= 1, got {len(problems)} and {samples_per_problem}")
    sampling = sampling or PolicyGradientConfig().sampling
    generator = torch.Generator().manual_seed(seed)
    rows = [p for p in problems for _ in range(samples_per_problem)]
    texts, tokens = [], []
    model.eval()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        out = sample_completions(
            model, tokenizer, [tokenizer.eos_token + p.question + "\n" for p in chunk], sampling, generator
        )
        texts += out.texts
        tokens += out.completion_mask.sum(-1).tolist()
    result = {
        "accuracy": sum(outcome_reward(t, p.answer) for t, p in zip(texts, rows)) / len(rows),
        "steps": sum(len(claim_steps(t)) for t in texts) / len(rows),
        "tokens": sum(tokens) / len(rows),
    }
    if judge is not None:
        judge.prefetch(claim_of(step) for text in texts for step in claim_steps(text))
        result["step_reward_sum"] = sum(sum(step_rewards(t, judge)) for t in texts) / len(rows)
    return result
