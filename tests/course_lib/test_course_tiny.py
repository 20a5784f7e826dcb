"""The shipped course-tiny checkpoint (course_lib/models/course-tiny): its properties as a file.

Loaded, never trained, here: it must load through ``from_pretrained(..., local_files_only=True)``,
stay small, carry its model card, and do the course's arithmetic on solutions it never saw.
"""

import json

import pytest
import torch

from course_lib.data.corpus import held_out_solutions
from course_lib.models.backbone import COURSE_TINY, COURSE_TINY_DIR, load_backbone
from course_lib.training.pretrain import digit_accuracy


@pytest.fixture(scope="module")
def language_model():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(COURSE_TINY_DIR, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(COURSE_TINY_DIR, local_files_only=True)


@pytest.fixture(scope="module")
def arithmetic(language_model):
    torch.set_num_threads(1)
    # a sample disjoint from pretraining (seed 0) and from the model card's evaluation (seed 10000)
    return digit_accuracy(*language_model, held_out_solutions(150, seed=20_000))


def test_the_checkpoint_is_small_and_carries_its_card():
    weights = COURSE_TINY_DIR / "model.safetensors"
    assert weights.stat().st_size <= 20 * 2**20
    card = (COURSE_TINY_DIR / "README.md").read_text()
    record = json.loads((COURSE_TINY_DIR / "history.json").read_text())
    for fact in (f"{record['parameters']:,} parameters", "scripts/pretrain_backbone.py", "learning_curve.png"):
        assert fact in card
    assert f"{record['loss'][-1]:.3f}" in card and (COURSE_TINY_DIR / "learning_curve.png").is_file()


def test_it_loads_as_a_backbone_through_from_pretrained():
    model, tokenizer = load_backbone(COURSE_TINY)
    assert type(model).__name__ == "GPT2Model" and model.config.pad_token_id == tokenizer.pad_token_id
    assert [t for t in tokenizer.tokenize("So 45 - 18 = 27.") if t.strip("Ġ").isdigit()] == list("451827")
    ids = tokenizer("So 45 - 18 = 27.", return_tensors="pt")
    assert model(**ids).last_hidden_state.shape[-1] == model.config.n_embd


def test_it_meets_the_arithmetic_goal(arithmetic):
    assert arithmetic["digit_accuracy"] >= 0.9  # 0.963 on its card's sample
