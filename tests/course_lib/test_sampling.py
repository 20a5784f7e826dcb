"""course_lib.models.sampling: the cached sampler computes what the GPT-2 forward computes."""

import pytest
import torch

from course_lib.models.backbone import build_tiny_backbone, load_backbone
from course_lib.models.likelihood import next_token_log_probs
from course_lib.models.sampling import SamplingConfig, sample_completions

NEAR_GREEDY = SamplingConfig(max_new_tokens=6, temperature=1e-4)


def greedy_by_full_forward(model, tokenizer, prompt: str, n: int) -> list[int]:
    """The greedy continuation, one full (uncached) forward per token."""
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = []
    for _ in range(n):
        logp = next_token_log_probs(model, torch.cat([ids, ids[:, -1:]], 1), torch.ones(1, ids.shape[1] + 1))
        token = logp[0, -1].argmax().item()  # the prediction after the last real token
        out.append(token)
        if token == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, torch.tensor([[token]])], 1)
    return out


@pytest.mark.parametrize("pretrained", [True, False])  # exact GELU (course-tiny) and GPT-2's tanh GELU (tiny)
def test_near_greedy_sampling_matches_the_uncached_forward(pretrained):
    model, tokenizer = load_backbone() if pretrained else build_tiny_backbone()
    model.eval()
    prompt = tokenizer.eos_token + "A farm collects 36 eggs. The hens lay 18 more. How many eggs are there now?\n"
    out = sample_completions(model, tokenizer, [prompt], NEAR_GREEDY, torch.Generator().manual_seed(0))
    expected = greedy_by_full_forward(model, tokenizer, prompt, NEAR_GREEDY.max_new_tokens)
    assert out.completion_ids[0, : len(expected)].tolist() == expected


def test_left_padding_changes_nothing():
    model, tokenizer = load_backbone()
    short = tokenizer.eos_token + "A farm collects 36 eggs.\n"
    long = tokenizer.eos_token + "Maya saves $27. Her aunt gives her $12. How many dollars does she have now?\n"
    alone = sample_completions(model, tokenizer, [short], NEAR_GREEDY)
    batched = sample_completions(model, tokenizer, [long, short], NEAR_GREEDY)
    assert batched.texts[1] == alone.texts[0]
    assert batched.prompt_mask[1].sum() < batched.prompt_mask[0].sum()  # the short prompt was padded


def test_masks_stop_at_eos_and_rows_join():
    model, tokenizer = load_backbone()
    prompt = tokenizer.eos_token + "A farm collects 36 eggs. The hens lay 18 more. How many eggs are there now?\n"
    out = sample_completions(
        model, tokenizer, [prompt] * 4, SamplingConfig(max_new_tokens=90), torch.Generator().manual_seed(1)
    )
    for row, mask, done in zip(out.completion_ids, out.completion_mask, out.finished):
        n = int(mask.sum())
        assert mask[:n].all() and not mask[n:].any()
        if done:
            assert row[n - 1] == tokenizer.eos_token_id  # EOS is the last sampled token
    ids, attention, completion = out.joined()
    assert ids.shape == attention.shape == completion.shape
    assert completion.sum() == out.completion_mask.sum()


def test_seeded_draws_repeat():
    model, tokenizer = build_tiny_backbone()

    def draw():
        return sample_completions(
            model, tokenizer, ["2 + 2"] * 3, SamplingConfig(max_new_tokens=8), torch.Generator().manual_seed(5)
        )

    assert draw().texts == draw().texts


def test_bad_input_is_named():
    model, tokenizer = build_tiny_backbone()
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingConfig(max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        SamplingConfig(temperature=0.0)
    with pytest.raises(ValueError, match="prompts is empty"):
        sample_completions(model, tokenizer, [])
    with pytest.raises(ValueError, match="exceed"):
        sample_completions(model, tokenizer, ["2 + 2"], SamplingConfig(max_new_tokens=300))
    with pytest.raises(ValueError, match="GPT-2 base model"):
        sample_completions(torch.nn.Linear(2, 2), tokenizer, ["2 + 2"])
