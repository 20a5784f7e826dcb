"""course_lib.training.policy_gradient: group advantages, the REINFORCE loss, rewards, and a short run."""

import pytest
import torch

from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.likelihood import token_log_likelihoods
from course_lib.models.sampling import SamplingConfig
from course_lib.training.policy_gradient import (
    PolicyGradientConfig,
    RewardConfig,
    group_advantages,
    policy_gradient_loss,
    policy_log_probs,
    train_policy,
)

SOLUTION = "Step 1: We start with 45 apples.\nStep 2: It sells 18. So 45 - 18 = 27.\nThe answer is: 27"


def test_group_advantages_center_each_group():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0], [3.0, 1.0, 2.0, 2.0]])
    a = group_advantages(rewards)
    assert torch.allclose(a.sum(1), torch.zeros(3), atol=1e-5)
    assert torch.equal(a[1], torch.zeros(4))  # a group that all agree teaches nothing
    assert torch.allclose(a[2].std(), torch.tensor(1.0), atol=1e-3)  # scaled by the group's std
    assert torch.allclose(group_advantages(rewards, scale_by_std=False)[0], torch.tensor([0.75, -0.25, -0.25, -0.25]))


def test_group_advantages_reject_bad_shapes():
    with pytest.raises(ValueError, match="group_size >= 2"):
        group_advantages(torch.ones(4))
    with pytest.raises(ValueError, match="group_size >= 2"):
        group_advantages(torch.ones(3, 1))


def test_the_loss_raises_log_probs_of_positive_advantages():
    logits = torch.zeros(2, 3, requires_grad=True)
    logp = torch.log_softmax(logits, -1)[:, :2]  # [B=2, T=2], stand-in token log-probs
    loss = policy_gradient_loss(logp, torch.ones(2, 2), torch.tensor([1.0, -1.0]))
    loss.backward()
    assert (logits.grad[0, :2] < 0).all() and (logits.grad[1, :2] > 0).all()  # descent raises row 0, lowers row 1
    with pytest.raises(ValueError, match="advantages"):
        policy_gradient_loss(logp, torch.ones(2, 2), torch.ones(3))


def test_policy_log_probs_at_temperature_one_are_the_likelihoods():
    model, tokenizer = build_tiny_backbone()
    model.eval()
    batch = tokenizer(["2 + 2 = 4", "45 - 18 = 27 and more"], padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert torch.allclose(policy_log_probs(model, ids, mask), token_log_likelihoods(model, ids, mask), atol=1e-5)
    sharper = policy_log_probs(model, ids, mask, temperature=0.5)
    assert not torch.allclose(sharper, token_log_likelihoods(model, ids, mask))
    with pytest.raises(ValueError, match="temperature"):
        policy_log_probs(model, ids, mask, temperature=0.0)


class FakeJudge:
    def __call__(self, lhs, rhs):
        return (-0.1, 0.0)

    def prefetch(self, claims):
        list(claims)


def test_reward_config_adds_the_aggregated_step_rewards():
    judge = FakeJudge()
    assert RewardConfig()(SOLUTION, 27.0, None) == 1.0
    assert RewardConfig(aggregation="sum")(SOLUTION, 27.0, judge) == pytest.approx(1.0 + 0.9048, abs=1e-4)
    assert RewardConfig(aggregation="clip", eta=0.5)(SOLUTION, 28.0, judge) == 0.0
    with pytest.raises(ValueError, match="aggregation must be"):
        RewardConfig(aggregation="max")
    with pytest.raises(ValueError, match="needs a judge"):
        RewardConfig(aggregation="sum")(SOLUTION, 27.0, None)


class LengthReward(RewardConfig):
    """A reward every sample earns differently: the length of its text."""

    def __call__(self, solution, answer, judge):
        return float(len(solution))


def test_a_short_run_moves_the_policy_and_records_each_step():
    model, tokenizer = build_tiny_backbone()
    before = [p.detach().clone() for p in model.parameters()]
    config = PolicyGradientConfig(
        reward=LengthReward(),
        max_steps=2,
        problems_per_step=2,
        group_size=2,
        sampling=SamplingConfig(max_new_tokens=12),
        progress=False,
    )
    stats, history = train_policy(model, tokenizer, config)
    assert len(stats.reward) == len(stats.accuracy) == len(stats.steps) == len(history.loss) == 2
    assert all(0.0 <= a <= 1.0 for a in stats.accuracy)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_config_and_judge_errors_are_named():
    with pytest.raises(ValueError, match="group_size >= 2"):
        PolicyGradientConfig(group_size=1)
    model, tokenizer = build_tiny_backbone()
    with pytest.raises(ValueError, match="needs judge="):
        train_policy(model, tokenizer, PolicyGradientConfig(reward=RewardConfig(aggregation="sum")))


def test_evaluate_policy_reports_means_over_held_out_problems():
    from course_lib.data.arithmetic import GeneratorConfig, ProblemGenerator
    from course_lib.models.backbone import load_backbone
    from course_lib.training.policy_gradient import evaluate_policy

    model, tokenizer = load_backbone()
    gen = ProblemGenerator(seed=3, config=GeneratorConfig(min_steps=2, max_steps=2))
    problems = [gen.problem() for _ in range(3)]
    result = evaluate_policy(model, tokenizer, problems, FakeJudge(), samples_per_problem=2)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["steps"] >= 0 and result["tokens"] > 0
    assert result["step_reward_sum"] == pytest.approx(
        result["steps"] * 0.9048, abs=1e-3
    )  # the fake judge: 0.905 a claim
    assert "step_reward_sum" not in evaluate_policy(model, tokenizer, problems, samples_per_problem=1)
    with pytest.raises(ValueError, match="samples_per_problem"):
        evaluate_policy(model, tokenizer, problems, samples_per_problem=0)
