"""course_lib.models.backbone: the tiny backbone, and loading a real checkpoint without the network.

The hub-cache tests write a tiny GPT-2 with ``save_pretrained`` into the layout the Hugging Face cache
uses (``hub/models--distilgpt2/snapshots/<commit>/`` plus ``refs/main``) under a temporary ``HF_HOME``,
and run ``load_backbone("distilgpt2")`` in a subprocess with ``HF_HUB_OFFLINE=1``: the real loading
code runs, nothing is downloaded.
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib.models.backbone import (
    TINY,
    TinyBackboneConfig,
    build_tiny_backbone,
    course_corpus,
    load_backbone,
    train_tokenizer,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_build_tiny_backbone_is_seeded_and_small():
    m1, tok = build_tiny_backbone()
    m2, _ = build_tiny_backbone()
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert sum(p.numel() for p in m1.parameters()) < 500_000
    assert m1.config.pad_token_id == tok.pad_token_id != tok.eos_token_id == m1.config.eos_token_id
    other, _ = build_tiny_backbone(TinyBackboneConfig(seed=1, n_layer=1))
    assert other.config.n_layer == 1


def test_dropout_and_activation_reach_the_gpt2_config():
    model, _ = build_tiny_backbone(TinyBackboneConfig(n_layer=1, dropout=0.1, activation="gelu"))
    assert (model.config.resid_pdrop, model.config.embd_pdrop, model.config.attn_pdrop) == (0.1, 0.1, 0.1)
    assert model.config.activation_function == "gelu"
    default, _ = build_tiny_backbone()
    assert default.config.attn_pdrop == 0.0 and default.config.activation_function == "gelu_new"


def test_tiny_tokenizer_spells_digits_and_round_trips():
    _, tok = build_tiny_backbone()
    text = "Step 2: It sells 18. So 45 - 18 = 27."
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert [t for t in tok.tokenize("1234") if t.strip("Ġ")] == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_embd": 66}, "n_embd must be a multiple of n_head, got 66 and 4"),
        ({"n_layer": 0}, "n_layer must be >= 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"activation": "relu"}, "activation must be 'gelu_new' or 'gelu', got 'relu'"),
    ],
)
def test_tiny_backbone_config_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TinyBackboneConfig(**kwargs)


def test_train_tokenizer_bad_vocab_size():
    with pytest.raises(ValueError, match=r"vocab_size must be >= 300 .*, got 100"):
        train_tokenizer(vocab_size=100)


def test_course_corpus_has_questions_and_solutions():
    texts = course_corpus(n_problems=3, seed=0)
    assert len(texts) == 9 and texts == course_corpus(n_problems=3, seed=0)
    assert texts[1].startswith("Step 1:") and "The answer is" in texts[1]


def test_load_backbone_tiny():
    model, tok = load_backbone(TINY)
    assert model.config.n_layer == TinyBackboneConfig().n_layer and tok.pad_token == "<pad>"


def _save_gpt2_without_pad(folder: Path) -> None:
    """A 1-layer GPT-2 and a tokenizer that, like GPT-2's, has no pad token."""
    from transformers import GPT2Config, GPT2Model

    tokenizer = copy.deepcopy(train_tokenizer())
    tokenizer.pad_token = None
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1, n_head=2,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        GPT2Model(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def test_load_backbone_from_a_save_pretrained_folder_uses_eos_for_padding(tmp_path):
    _save_gpt2_without_pad(tmp_path / "gpt2")
    model, tok = load_backbone(str(tmp_path / "gpt2"))
    assert tok.pad_token_id == tok.eos_token_id == model.config.pad_token_id
    assert model.config.n_layer == 1


def test_load_backbone_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(OSError, match="not available offline") as err:
        load_backbone(str(tmp_path / "nowhere"))
    assert "save_pretrained()" in str(err.value) and "load_backbone('tiny')" in str(err.value)


# -- the Hugging Face cache, offline, in a subprocess -----------------------------------------

RUN_ON_BACKBONE = """
import json, torch
from course_lib.models.backbone import load_backbone
from course_lib.models.neural_prm import NeuralPRM
from course_lib.models.reward_model import RewardModel
try:
    backbone, tok = load_backbone("distilgpt2")
except OSError as err:
    print(json.dumps({"error": str(err)}))
    raise SystemExit(0)
texts = ["2 + 2 = 4" + tok.eos_token + "The answer is: 4", "x"]
batch = tok([t + tok.eos_token for t in texts], padding=True, return_tensors="pt")
with torch.no_grad():
    rewards = RewardModel(backbone).eval()(batch["input_ids"], batch["attention_mask"])
    alone = RewardModel(backbone).eval()(batch["input_ids"][1:, :2], batch["attention_mask"][1:, :2])
    logits = NeuralPRM(backbone).eval()(batch["input_ids"], batch["attention_mask"])
print(json.dumps({
    "pad_is_eos": tok.pad_token_id == tok.eos_token_id == backbone.config.pad_token_id,
    "n_layer": backbone.config.n_layer,
    "rewards": rewards.tolist(), "alone": alone.tolist(), "prm_shape": list(logits.shape),
}))
"""


def _run_offline(hf_home: Path) -> dict:
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", RUN_ON_BACKBONE], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_distilgpt2_with_an_empty_cache_fails_with_instructions(tmp_path):
    result = _run_offline(tmp_path / "hf")
    assert "'distilgpt2' is not available offline" in result["error"]
    assert str(tmp_path / "hf") in result["error"]
    assert "AutoModel.from_pretrained('distilgpt2')" in result["error"]


@pytest.mark.slow
def test_distilgpt2_from_the_hub_cache_layout_runs_the_reward_model_and_prm(tmp_path):
    repo = tmp_path / "hf" / "hub" / "models--distilgpt2"
    _save_gpt2_without_pad(repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    result = _run_offline(tmp_path / "hf")
    assert "error" not in result, result
    assert result["pad_is_eos"] and result["n_layer"] == 1
    assert result["prm_shape"][0] == 2 and len(result["rewards"]) == 2
    assert result["rewards"][1] == pytest.approx(result["alone"][0], abs=1e-5)  # padding (with eos) is ignored
