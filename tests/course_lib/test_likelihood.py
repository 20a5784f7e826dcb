"""course_lib.models.likelihood: per-token log-likelihoods through the tied embeddings, and the frozen reference."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.models.backbone import TinyBackboneConfig, build_tiny_backbone
from course_lib.models.likelihood import (
    ReferenceLikelihood,
    mean_log_likelihood,
    next_token_logits,
    token_log_likelihoods,
    tokens_with_a_past,
)


@pytest.fixture(scope="module")
def lm():
    model, tokenizer = build_tiny_backbone(TinyBackboneConfig(n_layer=1), language_model_head=True)
    return model.eval(), tokenizer


def test_tied_embeddings_give_the_lm_heads_logits(lm):
    model, tokenizer = lm
    ids = tokenizer(["45 - 18 = 27"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        hidden = model.transformer(input_ids=ids).last_hidden_state
        assert torch.allclose(next_token_logits(model.transformer, hidden), model(input_ids=ids).logits, atol=1e-5)


def test_token_log_likelihoods_match_the_lm_and_are_zero_at_the_start_and_padding(lm):
    model, tokenizer = lm
    texts = ["45 - 18 = 27", "2 + 2 = 4"]
    right = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logp = token_log_likelihoods(model.transformer, right["input_ids"], right["attention_mask"])
        alone = tokenizer(texts[0], return_tensors="pt")["input_ids"]  # [1, T]
        expected = F.log_softmax(model(input_ids=alone).logits[0, :-1], -1).gather(-1, alone[0, 1:, None])[:, 0]
    T = alone.shape[1]
    assert torch.allclose(logp[0, 1:T], expected, atol=1e-5)
    assert logp[:, 0].tolist() == [0.0, 0.0]
    assert (logp[1][right["attention_mask"][1] == 0] == 0).all() and (
        logp[:, 1:][right["attention_mask"][:, 1:] == 1] < 0
    ).all()


def test_left_padding_gives_the_same_log_likelihoods(lm):
    model, tokenizer = lm
    texts = ["45 - 18 = 27", "2 + 2 = 4"]
    right = tokenizer(texts, padding=True, return_tensors="pt")
    tokenizer.padding_side = "left"
    try:
        left = tokenizer(texts, padding=True, return_tensors="pt")
    finally:
        tokenizer.padding_side = "right"
    with torch.no_grad():
        a = token_log_likelihoods(model.transformer, right["input_ids"], right["attention_mask"])
        b = token_log_likelihoods(model.transformer, left["input_ids"], left["attention_mask"])
    short = int(right["attention_mask"][1].sum())
    assert torch.allclose(a[1, :short], b[1, -short:], atol=1e-5)


def test_tokens_with_a_past_skip_the_first_real_token_and_padding():
    mask = torch.tensor([[1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 0, 0]])  # right, left, one token
    assert tokens_with_a_past(mask).int().tolist() == [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


def test_mean_log_likelihood_averages_over_the_mask_only():
    logp = torch.tensor([[0.0, -1.0, -3.0], [0.0, -2.0, 0.0]])
    mask = torch.tensor([[0, 1, 1], [0, 1, 0]])
    assert mean_log_likelihood(logp, mask).tolist() == [-2.0, -2.0]
    assert mean_log_likelihood(logp, torch.zeros_like(mask)).tolist() == [0.0, 0.0]  # nothing masked in: 0, not NaN


def test_mean_log_likelihood_bad_input():
    with pytest.raises(ValueError, match=r"same shape, got \(1, 3\) and \(1, 2\)"):
        mean_log_likelihood(torch.zeros(1, 3), torch.ones(1, 2))


def test_reference_is_a_frozen_copy_that_never_trains(lm):
    model, tokenizer = lm
    backbone = model.transformer
    reference = ReferenceLikelihood(backbone).train()
    assert not reference.training and not reference.lm.training
    assert not any(p.requires_grad for p in reference.parameters())
    batch = tokenizer(["45 - 18 = 27"], return_tensors="pt")
    before = reference(batch["input_ids"], batch["attention_mask"])
    original = backbone.wte.weight.detach().clone()
    try:
        with torch.no_grad():
            backbone.wte.weight.add_(1.0)  # fine-tuning the backbone leaves the reference as it was
        assert torch.equal(reference(batch["input_ids"], batch["attention_mask"]), before)
    finally:
        with torch.no_grad():
            backbone.wte.weight.copy_(original)
    assert not before.requires_grad


def test_a_shared_reference_is_the_frozen_backbone_and_reuses_its_hidden_states(lm):
    model, tokenizer = lm
    backbone = build_tiny_backbone(TinyBackboneConfig(n_layer=1))[0].requires_grad_(False).eval()
    shared = ReferenceLikelihood(backbone, shared=True)
    assert shared.lm is backbone and not list(shared.parameters())  # no copy, nothing registered twice
    batch = tokenizer(["45 - 18 = 27"], return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(shared(ids, mask, hidden), ReferenceLikelihood(backbone)(ids, mask), atol=1e-5)


def test_a_shared_reference_needs_a_frozen_backbone(lm):
    backbone = build_tiny_backbone(TinyBackboneConfig(n_layer=1))[0]
    with pytest.raises(
        ValueError, match=r"shared=True needs a frozen backbone; call backbone.requires_grad_\(False\)"
    ):
        ReferenceLikelihood(backbone, shared=True)
