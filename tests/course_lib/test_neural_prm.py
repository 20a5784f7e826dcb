"""course_lib.models.neural_prm: per-token logits, step rewards at separators, the masked BCE loss."""

import math

import pytest
import torch

from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.neural_prm import (
    IGNORE_INDEX,
    NeuralPRM,
    outcome_reward,
    prm_loss,
    score_solution_steps,
    step_rewards,
    step_token_id,
)


@pytest.fixture(scope="module")
def prm():
    backbone, tokenizer = build_tiny_backbone()
    return NeuralPRM(backbone).eval(), tokenizer


def test_forward_gives_one_logit_per_token_and_outcome_reads_the_last_real_one(prm):
    model, _ = prm
    ids = torch.tensor([[5, 6, 7, 1], [1, 5, 6, 7]])
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])
    with torch.no_grad():
        logits = model(ids, mask)
        outcome = outcome_reward(model, ids, mask)
    assert logits.shape == (2, 4)
    assert outcome.tolist() == pytest.approx([logits[0, 2].item(), logits[1, 3].item()])
    assert outcome[0].item() == pytest.approx(outcome[1].item(), abs=1e-5)  # same text, other padding side


def test_step_rewards_read_probabilities_at_separators_inside_the_mask(prm):
    model, tokenizer = prm
    sep = step_token_id(tokenizer)
    ids = torch.tensor([[5, sep, 6, sep], [5, sep, sep, sep]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        scores = step_rewards(model, ids, mask, sep)
        probs = torch.sigmoid(model(ids, mask))
    assert [len(s) for s in scores] == [2, 1]
    assert scores[0].tolist() == pytest.approx([probs[0, 1].item(), probs[0, 3].item()])
    assert all(0 < p < 1 for s in scores for p in s.tolist())


def test_prm_loss_ignores_minus_100_and_is_bce():
    logits = torch.tensor([[2.0, 0.0, -1.0, 5.0]])
    labels = torch.tensor([[1, IGNORE_INDEX, 0, IGNORE_INDEX]])
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert prm_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "logits, labels, message",
    [
        (torch.zeros(1, 3), torch.zeros(1, 4, dtype=torch.long), r"same shape, got \(1, 3\) and \(1, 4\)"),
        (torch.zeros(1, 2), torch.full((1, 2), IGNORE_INDEX), "every label is -100"),
    ],
)
def test_prm_loss_bad_input(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        prm_loss(logits, labels)


def test_step_token_id_one_token_or_error(prm):
    _, tokenizer = prm
    assert tokenizer.decode([step_token_id(tokenizer)]) == "\n"
    with pytest.raises(ValueError, match="pick a one-token separator"):
        step_token_id(tokenizer, "Step 1: a long separator")


def test_score_solution_steps_one_score_per_step(prm):
    model, tokenizer = prm
    solution = "Step 1: We start with 45 apples.\r\nStep 2: It sells 18. So 45 - 18 = 27.\r\n\r\nThe answer is: 27"
    scored = score_solution_steps(model, tokenizer, solution, prompt="A store has 45 apples.\nIt sells 18.")
    assert [s for s, _ in scored] == [
        "Step 1: We start with 45 apples.",
        "Step 2: It sells 18. So 45 - 18 = 27.",
        "The answer is: 27",
    ]
    assert all(0 < p < 1 for _, p in scored)


def test_neural_prm_head_is_seeded():
    backbone, _ = build_tiny_backbone()
    assert torch.equal(NeuralPRM(backbone).score.weight, NeuralPRM(backbone).score.weight)
    assert not torch.equal(NeuralPRM(backbone, seed=1).score.weight, NeuralPRM(backbone).score.weight)


# -- the likelihood feature: the worst step so far, read off a frozen reference ----------------


def test_worst_step_so_far_is_a_running_min_over_closed_steps_and_ignores_padding():
    from course_lib.models.neural_prm import worst_step_so_far

    logp = torch.tensor([[-5.0, -5.0, -1.0, -1.0, -4.0, -2.0, -1.0, -1.0]])
    ids = torch.tensor([[1, 9, 2, 9, 2, 9, 2, 9]])  # prompt | step 1 (-1) | step 2 (-3) | step 3 (-1)
    worst = worst_step_so_far(logp, ids, torch.ones_like(ids), step_token_id=9)
    assert worst.tolist() == [[0.0, 0.0, 0.0, -1.0, -1.0, -3.0, -3.0, -3.0]]
    padded = worst_step_so_far(
        torch.cat([torch.zeros(1, 2), logp], 1),
        torch.cat([torch.tensor([[9, 9]]), ids], 1),  # a pad id equal to the separator must not count
        torch.cat([torch.zeros(1, 2, dtype=torch.long), torch.ones_like(ids)], 1),
        step_token_id=9,
    )
    assert padded[:, 2:].tolist() == worst.tolist()
    none = worst_step_so_far(logp, torch.ones_like(ids), torch.ones_like(ids), step_token_id=9)
    assert none.abs().sum() == 0  # no separator: no step closed yet


def test_likelihood_weight_adds_alpha_times_the_worst_step(prm):
    from course_lib.models.likelihood import token_log_likelihoods
    from course_lib.models.neural_prm import worst_step_so_far

    backbone, tokenizer = build_tiny_backbone()
    sep = step_token_id(tokenizer)
    model = NeuralPRM(backbone, likelihood_weight=2.0, step_token_id=sep).eval()
    torch.nn.init.zeros_(model.score.weight)
    torch.nn.init.zeros_(model.score.bias)
    batch = tokenizer(["Q?\nStep 1: 2 + 2 = 4.\nStep 2: 4 - 1 = 3.\n"], return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        logits = model(ids, mask)
        expected = 2.0 * worst_step_so_far(token_log_likelihoods(backbone, ids, mask), ids, mask, sep)
    assert torch.allclose(logits, expected, atol=1e-5) and (expected < 0).any()
    assert model.likelihood_weight.requires_grad and not any(p.requires_grad for p in model.reference.parameters())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"likelihood_weight": 1.0}, r"likelihood_weight needs step_token_id: pass step_token_id\(tokenizer\)"),
        ({"likelihood_weight": -1.0, "step_token_id": 5}, "likelihood_weight must be >= 0 or None, got -1.0"),
    ],
)
def test_likelihood_weight_bad_input(kwargs, message):
    backbone, _ = build_tiny_backbone()
    with pytest.raises(ValueError, match=message):
        NeuralPRM(backbone, **kwargs)
