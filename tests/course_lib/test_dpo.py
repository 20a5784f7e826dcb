"""course_lib.training.dpo: the DPO loss, its implicit reward, response log-probabilities and training."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.data.preferences import PreferencePair, make_preference_pairs
from course_lib.models.backbone import COURSE_TINY, build_tiny_backbone, load_backbone
from course_lib.models.likelihood import token_log_likelihoods
from course_lib.training.dpo import (
    DPOConfig,
    EncodedResponses,
    dpo_loss,
    implicit_reward,
    implicit_reward_accuracy,
    implicit_rewards,
    response_log_probs,
    train_dpo,
)

# -- the loss and the implicit reward ------------------------------------------------------------


def test_dpo_loss_matches_its_equation():
    pc, pr = torch.tensor([-3.0, -6.0, -2.0]), torch.tensor([-5.0, -4.0, -2.0])
    rc, rr = torch.tensor([-4.0, -5.0, -2.5]), torch.tensor([-4.5, -4.5, -1.0])
    beta = 0.5
    expected = [
        math.log1p(math.exp(-beta * ((a - c) - (b - d))))
        for a, b, c, d in zip(pc.tolist(), pr.tolist(), rc.tolist(), rr.tolist())
    ]
    assert dpo_loss(pc, pr, rc, rr, beta)[0].item() == pytest.approx(sum(expected) / 3, rel=1e-6)


def test_a_policy_equal_to_its_reference_has_loss_log_2_and_zero_reward():
    logps = torch.tensor([-7.0, -2.0])
    assert dpo_loss(logps, logps - 1, logps, logps - 1)[0].item() == pytest.approx(math.log(2))
    assert implicit_reward(logps, logps, beta=0.3).tolist() == [0.0, 0.0]


def test_dpo_loss_returns_detached_implicit_rewards_and_is_stable():
    pc = torch.tensor([1e4, -1e4], requires_grad=True)
    zero = torch.zeros(2)
    loss, chosen, rejected = dpo_loss(pc, zero, zero, zero, beta=1.0)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(1e4 / 2)
    assert chosen.tolist() == [1e4, -1e4] and rejected.tolist() == [0.0, 0.0]
    assert not chosen.requires_grad and not rejected.requires_grad
    loss.backward()
    assert pc.grad.tolist() == pytest.approx([0.0, -0.5])


def test_implicit_reward_accuracy_counts_ties_as_wrong():
    assert implicit_reward_accuracy(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0])) == pytest.approx(
        1 / 3
    )
    assert isinstance(implicit_reward_accuracy([1.0], [0.0]), float)
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(1,\)"):
        implicit_reward_accuracy([1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="empty"):
        implicit_reward_accuracy([], [])


def test_implicit_reward_is_beta_times_the_log_ratio():
    assert implicit_reward(torch.tensor([-2.0]), torch.tensor([-5.0]), beta=0.1).tolist() == pytest.approx([0.3])


@pytest.mark.parametrize("beta", [0.0, -0.1])
def test_bad_beta_and_shapes_are_refused(beta):
    x = torch.zeros(2)
    with pytest.raises(ValueError, match=f"beta must be > 0 .*got {beta}"):
        dpo_loss(x, x, x, x, beta)
    with pytest.raises(ValueError, match="beta must be > 0"):
        DPOConfig(beta=beta)
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        implicit_reward(x, torch.zeros(3), beta=0.1)


# -- encoding and log-probabilities -----------------------------------------------------------------


def test_response_mask_marks_exactly_the_response():
    _, tokenizer = build_tiny_backbone()
    pair = PreferencePair("What is 2 + 3?", "2 + 3 = 5", "2 + 3 = 6")
    batch = EncodedResponses(tokenizer, [pair]).batch([0])
    assert batch["input_ids"].shape == batch["response_mask"].shape and batch["input_ids"].shape[0] == 2
    for row, side in zip(range(2), (pair.chosen, pair.rejected)):
        ids, mask = batch["input_ids"][row], batch["response_mask"][row].bool()
        assert tokenizer.decode(ids[mask]) == side + tokenizer.eos_token
        assert tokenizer.decode(ids[~mask & batch["attention_mask"][row].bool()]) == pair.prompt + "\n"
    short = EncodedResponses(tokenizer, [pair], max_length=4).batch([0])  # the prompt is cut on the left
    assert short["input_ids"].shape[1] == 4 and short["response_mask"][0].sum() == 4
    with pytest.raises(ValueError, match="pairs is empty"):
        EncodedResponses(tokenizer, [])
    with pytest.raises(ValueError, match="max_length must be >= 2, got 1"):
        EncodedResponses(tokenizer, [pair], max_length=1)


def test_response_log_probs_sum_the_response_tokens_whatever_the_padding():
    model, tokenizer = build_tiny_backbone()
    model.eval()
    pairs = [PreferencePair("Q: 1 + 1?", "2", "3 and some more words"), PreferencePair("Q", "a long answer here", "b")]
    data = EncodedResponses(tokenizer, pairs)
    with torch.no_grad():
        together = response_log_probs(model, data.batch([0, 1]))  # [4]
        alone = torch.cat([response_log_probs(model, data.batch([i])) for i in (0, 1)])  # [c0, r0, c1, r1]
        batch = data.batch([0])
        logp = token_log_likelihoods(model, batch["input_ids"], batch["attention_mask"])
    assert together.shape == (4,)
    assert together[[0, 2, 1, 3]].tolist() == pytest.approx(alone.tolist(), abs=1e-4)
    assert together[0].item() == pytest.approx((logp[0] * batch["response_mask"][0]).sum().item(), abs=1e-5)
    assert (together < 0).all()


# -- training -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dpo_moves_the_policy_towards_the_chosen_responses():
    model, tokenizer = load_backbone(COURSE_TINY)
    pairs = make_preference_pairs(32, seed=0, kinds=("wrong_operation", "no_work"))
    config = DPOConfig(max_steps=8, batch_size=8, warmup_steps=0, learning_rate=3e-4, eval_every=8, progress=False)
    history, reference = train_dpo(model, tokenizer, pairs, pairs, config)
    assert not any(p.requires_grad for p in reference.parameters())
    assert history.eval_step == [8] and history.eval_loss[0] < math.log(2) - 0.05  # it starts at log 2
    rewards = implicit_rewards(model, reference, tokenizer, pairs, config.beta)
    margin = rewards.chosen - rewards.rejected  # [32]
    assert history.eval_accuracy[0] == pytest.approx((margin > 0).float().mean().item())
    assert history.eval_loss[0] == pytest.approx(-F.logsigmoid(margin).mean().item(), rel=1e-4)
    fresh, _ = load_backbone(COURSE_TINY)
    assert not torch.equal(fresh.h[0].mlp.c_fc.weight, model.h[0].mlp.c_fc.weight)  # the policy moved
    assert torch.equal(fresh.h[0].mlp.c_fc.weight, reference.h[0].mlp.c_fc.weight)  # pi_ref did not


def test_train_dpo_refuses_no_pairs():
    model, tokenizer = build_tiny_backbone()
    with pytest.raises(ValueError, match="train_pairs is empty"):
        train_dpo(model, tokenizer, [], config=DPOConfig(max_steps=1, progress=False))
