"""course_lib.training.reward_model: the Bradley-Terry loss, its metrics, encoding, training and evaluation."""

import math

import pytest
import torch

from course_lib.data.preferences import PreferencePair, make_preference_pairs
from course_lib.models.backbone import build_tiny_backbone
from course_lib.training.reward_model import (
    RewardEval,
    RewardModel,
    RewardTrainingConfig,
    TrainingHistory,
    bradley_terry_loss,
    encode_pairs,
    evaluate,
    pairwise_accuracy,
    preference_probability,
    reward_scores,
    train_reward_model,
)

# -- the loss ---------------------------------------------------------------------------------


def test_loss_matches_its_equation():
    r_c, r_r = torch.tensor([2.0, 1.5, -1.0]), torch.tensor([0.5, 0.3, 0.0])
    expected = [math.log1p(math.exp(-(c - r))) for c, r in zip(r_c.tolist(), r_r.tolist())]
    assert bradley_terry_loss(r_c, r_r, reduction="none").tolist() == pytest.approx(expected, rel=1e-6)
    assert bradley_terry_loss(r_c, r_r).item() == pytest.approx(sum(expected) / 3, rel=1e-6)
    assert bradley_terry_loss(r_c, r_r, reduction="sum").item() == pytest.approx(sum(expected), rel=1e-6)


def test_loss_accepts_lists_and_integer_tensors():
    assert bradley_terry_loss([1, 2], [0, 0]).item() == pytest.approx(
        bradley_terry_loss([1.0, 2.0], [0.0, 0.0]).item()
    )


def test_loss_is_log_2_at_equal_rewards_and_never_negative():
    r = torch.randn(16)
    assert bradley_terry_loss(r, r.clone()).item() == pytest.approx(math.log(2), abs=1e-6)
    gaps = torch.linspace(-50, 50, 201)
    assert (bradley_terry_loss(gaps, torch.zeros_like(gaps), reduction="none") >= 0).all()


def test_loss_decreases_strictly_as_the_gap_grows():
    gaps = torch.linspace(-20, 15, 141, dtype=torch.float64)
    losses = bradley_terry_loss(gaps, torch.zeros_like(gaps), reduction="none")
    assert (losses[1:] < losses[:-1]).all()


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_per_pair_gradient_is_sigmoid_gap_minus_one(reduction):
    r_c = torch.tensor([3.0, 0.0, -2.0, 0.5], requires_grad=True)
    r_r = torch.tensor([1.0, 0.0, 2.0, 4.0], requires_grad=True)
    loss = bradley_terry_loss(r_c, r_r, reduction=reduction)
    loss.sum().backward()
    gap = (r_c - r_r).detach()
    assert r_c.grad.tolist() == pytest.approx((torch.sigmoid(gap) - 1).tolist(), abs=1e-6)
    assert r_r.grad.tolist() == pytest.approx((1 - torch.sigmoid(gap)).tolist(), abs=1e-6)


@pytest.mark.parametrize("gap", [1e4, -1e4, 5e3, -5e3, 1e3, -1e3])
def test_extreme_gaps_give_finite_loss_and_exact_gradient(gap):
    r_c = torch.tensor([gap], requires_grad=True)
    loss = bradley_terry_loss(r_c, torch.zeros(1), reduction="sum")
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(r_c.grad).all()
    if gap > 0:
        assert loss.item() == pytest.approx(0.0, abs=1e-30) and r_c.grad.item() == pytest.approx(0.0, abs=1e-30)
    else:
        assert loss.item() == pytest.approx(-gap) and r_c.grad.item() == pytest.approx(-1.0)


def test_margin_shifts_the_gap():
    r_c, r_r = torch.tensor([2.0, 1.0]), torch.tensor([1.0, 1.0])
    with_margin = bradley_terry_loss(r_c, r_r, margin=torch.tensor([1.0, 0.5]), reduction="none")
    assert with_margin.tolist() == pytest.approx(
        bradley_terry_loss([0.0, -0.5], [0.0, 0.0], reduction="none").tolist()
    )
    assert bradley_terry_loss(r_c, r_r, margin=1.0).item() > bradley_terry_loss(r_c, r_r).item()


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (([1.0, 2.0], [1.0]), {}, r"same shape, got \(2,\) and \(1,\)"),
        (([1.0], [0.0]), {"reduction": "avg"}, "reduction must be one of"),
        (([], []), {}, "reward_chosen is empty"),
    ],
)
def test_loss_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bradley_terry_loss(*args, **kwargs)


# -- metrics ----------------------------------------------------------------------------------


def test_preference_probability_is_sigmoid_of_the_gap():
    p = preference_probability([2.0, 0.0, -1.0], [0.0, 0.0, 1.0])
    assert p.tolist() == pytest.approx([1 / (1 + math.exp(-2)), 0.5, 1 / (1 + math.exp(2))])
    with pytest.raises(ValueError, match="same shape"):
        preference_probability([1.0], [1.0, 2.0])


def test_pairwise_accuracy_counts_strict_wins_and_ties_are_not_correct():
    assert pairwise_accuracy([2.0, 1.0, 0.5, 3.0], [1.0, 1.0, 0.7, 0.0]) == 0.5
    assert pairwise_accuracy([1.0, 1.0], [1.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        pairwise_accuracy([1.0, 2.0], [1.0])


# -- encoding, training, evaluation -----------------------------------------------------------


def test_encode_pairs_stacks_chosen_then_rejected_with_eos_and_right_padding():
    _, tokenizer = build_tiny_backbone()
    pairs = [PreferencePair("2 + 3?", "2 + 3 = 5", "6", margin=1.0), PreferencePair("", "a b c d e f", "a")]
    batch = encode_pairs(tokenizer, pairs)
    assert batch["input_ids"].shape[0] == 4 and batch["margin"].tolist() == [1.0, 0.0]
    ids, mask = batch["input_ids"], batch["attention_mask"]
    for row in range(4):
        last = int(mask[row].sum()) - 1
        assert mask[row, : last + 1].all() and not mask[row, last + 1 :].any()  # right padding
        assert ids[row, last].item() == tokenizer.eos_token_id
        assert (ids[row, last + 1 :] == tokenizer.pad_token_id).all()
    assert tokenizer.decode(ids[0][mask[0].bool()]) == "2 + 3?\n2 + 3 = 5" + tokenizer.eos_token
    with pytest.raises(ValueError, match="pairs is empty"):
        encode_pairs(tokenizer, [])


def test_encode_pairs_truncates_on_the_left_so_eos_stays():
    _, tokenizer = build_tiny_backbone()
    batch = encode_pairs(tokenizer, [PreferencePair("x " * 200, "y", "z")], max_length=16)
    assert batch["input_ids"].shape[1] == 16
    assert (batch["input_ids"][:, -1] == tokenizer.eos_token_id).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"learning_rate": 0}, "learning_rate must be > 0, got 0"),
        ({"batch_size": -4}, "batch_size must be > 0"),
        ({"center_rewards_coefficient": -0.1}, "center_rewards_coefficient must be >= 0"),
    ],
)
def test_training_config_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RewardTrainingConfig(**kwargs)


def _few_steps(**overrides) -> RewardTrainingConfig:
    return RewardTrainingConfig(**{"batch_size": 8, "max_steps": 6, "eval_every": 3, "progress": False, **overrides})


def test_train_reward_model_returns_a_history_and_changes_the_model():
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone)
    before = model.score.weight.detach().clone()
    train, held_out = make_preference_pairs(32, seed=1), make_preference_pairs(12, seed=2)
    history = train_reward_model(model, tokenizer, train, held_out, _few_steps())
    assert isinstance(history, TrainingHistory)
    assert history.step == list(range(6)) and len(history.loss) == len(history.accuracy) == 6
    assert all(math.isfinite(x) and x >= 0 for x in history.loss)
    assert history.eval_step == [3, 6] and len(history.eval_accuracy) == len(history.eval_loss) == 2
    assert history.seconds > 0
    assert not torch.equal(before, model.score.weight)
    with pytest.raises(ValueError, match="train_pairs is empty"):
        train_reward_model(model, tokenizer, [], config=_few_steps())


def test_train_reward_model_is_seeded():
    pairs = make_preference_pairs(16, seed=1)
    losses = []
    for _ in range(2):
        backbone, tokenizer = build_tiny_backbone()
        losses.append(train_reward_model(RewardModel(backbone), tokenizer, pairs, config=_few_steps(max_steps=3)).loss)
    assert losses[0] == losses[1]


def test_center_rewards_coefficient_pulls_rewards_toward_zero():
    pairs = make_preference_pairs(16, seed=1)
    means = []
    for coefficient in (None, 10.0):
        backbone, tokenizer = build_tiny_backbone()
        model = RewardModel(backbone)
        with torch.no_grad():
            model.score.bias.fill_(3.0)  # start far from centred
        config = _few_steps(max_steps=15, center_rewards_coefficient=coefficient, warmup_steps=1)
        train_reward_model(model, tokenizer, pairs, config=config)
        texts = [p.prompt + "\n" + p.chosen for p in pairs] + [p.prompt + "\n" + p.rejected for p in pairs]
        means.append(reward_scores(model, tokenizer, texts).mean().abs().item())
    assert means[1] < means[0]


def test_tqdm_progress_shows_only_when_asked(capsys):
    pairs = make_preference_pairs(8, seed=1)
    backbone, tokenizer = build_tiny_backbone()
    train_reward_model(RewardModel(backbone), tokenizer, pairs, config=_few_steps(max_steps=2))
    assert "reward model" not in capsys.readouterr().err
    train_reward_model(RewardModel(backbone), tokenizer, pairs, config=_few_steps(max_steps=2, progress=True))
    assert "reward model" in capsys.readouterr().err


def test_evaluate_returns_accuracy_mean_margin_and_loss():
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone)
    pairs = make_preference_pairs(10, seed=3)
    result = evaluate(model, tokenizer, pairs, batch_size=4)
    assert isinstance(result, RewardEval) and result.margins.shape == (10,)
    assert result.accuracy == pytest.approx((result.margins > 0).float().mean().item())
    assert result.mean_margin == pytest.approx(result.margins.mean().item(), abs=1e-6)
    assert result.loss == pytest.approx(bradley_terry_loss(result.margins, torch.zeros(10)).item(), abs=1e-5)
    with pytest.raises(ValueError, match="pairs is empty"):
        evaluate(model, tokenizer, [])


def test_reward_scores_match_the_pair_rewards_and_restore_truncation_side():
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone)
    pairs = make_preference_pairs(5, seed=4)
    margins = evaluate(model, tokenizer, pairs).margins
    chosen = reward_scores(model, tokenizer, [p.prompt + "\n" + p.chosen for p in pairs], batch_size=2)
    rejected = reward_scores(model, tokenizer, [p.prompt + "\n" + p.rejected for p in pairs], batch_size=2)
    assert (chosen - rejected).tolist() == pytest.approx(margins.tolist(), abs=1e-5)
    assert tokenizer.truncation_side == "right"
    assert reward_scores(model, tokenizer, []).shape == (0,)


def test_stop_at_accuracy_ends_training_early():
    backbone, tokenizer = build_tiny_backbone()
    pairs = make_preference_pairs(16, seed=1, kinds=("no_work",))
    config = _few_steps(max_steps=50, eval_every=1, stop_at_accuracy=0.01)  # any held-out pair ranked right
    history = train_reward_model(RewardModel(backbone), tokenizer, pairs, pairs, config)
    assert len(history.step) < 50 and history.eval_accuracy[-1] >= 0.01
    assert all(acc < 0.01 for acc in history.eval_accuracy[:-1])


@pytest.mark.parametrize("value", [0.0, 1.5])
def test_stop_at_accuracy_bad_input(value):
    with pytest.raises(ValueError, match=r"stop_at_accuracy must be in \(0, 1\]"):
        RewardTrainingConfig(stop_at_accuracy=value)
    backbone, tokenizer = build_tiny_backbone()
    with pytest.raises(ValueError, match="stop_at_accuracy needs eval_pairs"):
        train_reward_model(
            RewardModel(backbone), tokenizer, make_preference_pairs(4), config=_few_steps(stop_at_accuracy=0.9)
        )


# -- the likelihood feature ---------------------------------------------------------------------


def test_likelihood_weight_adds_alpha_times_the_mean_reference_log_likelihood():
    from course_lib.models.likelihood import mean_log_likelihood, token_log_likelihoods

    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone, likelihood_weight=3.0).eval()
    assert RewardModel(backbone).reference is None
    torch.nn.init.zeros_(model.score.weight)
    batch = tokenizer(["45 - 18 = 27", "2 + 2 = 4"], padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        reward = model(ids, mask)
        logp = token_log_likelihoods(backbone, ids, mask)
        scored = mask.clone()
        scored[:, 0] = 0  # the first token has no past
        expected = 3.0 * mean_log_likelihood(logp, scored)
    assert torch.allclose(reward, expected, atol=1e-5) and (expected < 0).all()
    loss = bradley_terry_loss(model(ids[:1], mask[:1]), model(ids[1:], mask[1:]))
    loss.backward()
    assert model.likelihood_weight.grad is not None  # alpha is learned with the head
    assert all(p.grad is None for p in model.reference.parameters())


def test_likelihood_weight_bad_input():
    backbone, _ = build_tiny_backbone()
    with pytest.raises(ValueError, match="likelihood_weight must be >= 0 or None, got -0.5"):
        RewardModel(backbone, likelihood_weight=-0.5)


def test_train_backbone_false_trains_only_the_head_and_alpha():
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone, likelihood_weight=1.0, train_backbone=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pairs = make_preference_pairs(16, seed=0)
    train_reward_model(model, tokenizer, pairs, None, RewardTrainingConfig(max_steps=2, batch_size=8, progress=False))
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"score.weight", "likelihood_weight"}  # the bias cancels in r+ - r-: no gradient
    assert not any(k.startswith("reference.") for k in model.state_dict())  # the frozen backbone is its own reference


def test_accuracy_by_category_reads_one_evaluation():
    from course_lib.training.reward_model import accuracy_by_category

    backbone, tokenizer = build_tiny_backbone()
    pairs = make_preference_pairs(24, seed=3)
    result = evaluate(RewardModel(backbone), tokenizer, pairs)
    by_category = accuracy_by_category(result, pairs)
    assert set(by_category) == {p.category for p in pairs}
    for category, accuracy in by_category.items():
        subset = [p for p in pairs if p.category == category]
        assert accuracy == pytest.approx(evaluate(RewardModel(backbone), tokenizer, subset).accuracy)
    with pytest.raises(ValueError, match="pairs has 23 pairs but result has 24 margins; pass the pairs evaluated"):
        accuracy_by_category(result, pairs[:-1])
