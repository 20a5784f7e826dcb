"""course_lib.training.prm: label placement for process and outcome supervision, training, prediction."""

import math

import pytest
import torch

from course_lib.data.samples import path
from course_lib.data.step_labels import StepLabels, load_prm800k_jsonl, make_step_labels
from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.neural_prm import IGNORE_INDEX, NeuralPRM, step_token_id
from course_lib.training.prm import (
    PRMHistory,
    PRMTrainingConfig,
    collate_step_examples,
    encode_step_example,
    predict_steps,
    train_prm,
)

EXAMPLE = StepLabels(
    "Add 2 and 3, then 4.", ("2 + 3 = 6", "6 + 4 = 10", "The answer is: 10"), (False, False, False), 9.0
)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_backbone()[1]


def test_process_supervision_labels_every_step_newline(tokenizer):
    ids, labels = encode_step_example(tokenizer, EXAMPLE, "process")
    assert len(ids) == len(labels)
    labelled = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    assert [labels[i] for i in labelled] == [0, 0, 0]
    assert all(ids[i] == step_token_id(tokenizer) for i in labelled)
    assert labelled[-1] == len(ids) - 1
    prompt_len = len(tokenizer(EXAMPLE.prompt + "\n", add_special_tokens=False)["input_ids"])
    assert all(label == IGNORE_INDEX for label in labels[:prompt_len])


def test_outcome_supervision_labels_only_the_last_step_with_the_final_answer(tokenizer):
    _, labels = encode_step_example(tokenizer, EXAMPLE, "outcome")
    assert [x for x in labels if x != IGNORE_INDEX] == [0]  # 10 != 9
    right = StepLabels("p", ("2 + 3 = 6", "The answer is: 9"), (False, False), 9.0)  # lucky: right answer
    _, labels = encode_step_example(tokenizer, right, "outcome")
    assert [x for x in labels if x != IGNORE_INDEX] == [1]
    no_answer = StepLabels("p", ("a", "b"), (True, True))
    assert [x for x in encode_step_example(tokenizer, no_answer, "outcome")[1] if x != IGNORE_INDEX] == [1]


def test_encode_truncates_on_the_left(tokenizer):
    ids, labels = encode_step_example(tokenizer, EXAMPLE, max_length=8)
    assert len(ids) == len(labels) == 8 and labels[-1] == 0


def test_collate_right_pads_with_ignored_labels_and_zero_mask(tokenizer):
    rows = [encode_step_example(tokenizer, EXAMPLE), encode_step_example(tokenizer, EXAMPLE, max_length=5)]
    batch = collate_step_examples(rows, pad_id=tokenizer.pad_token_id)
    T = len(rows[0][0])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert all(tuple(v.shape) == (2, T) for v in batch.values())
    assert batch["input_ids"][0].tolist() == rows[0][0] and batch["labels"][0].tolist() == rows[0][1]
    assert batch["input_ids"][1, :5].tolist() == rows[1][0] and batch["labels"][1, :5].tolist() == rows[1][1]
    assert (batch["input_ids"][1, 5:] == tokenizer.pad_token_id).all()
    assert (batch["labels"][1, 5:] == IGNORE_INDEX).all()
    assert batch["attention_mask"].sum(dim=1).tolist() == [T, 5]


def test_collate_rejects_no_rows():
    with pytest.raises(ValueError, match="rows is empty"):
        collate_step_examples([], pad_id=0)


def test_encode_bad_supervision(tokenizer):
    with pytest.raises(ValueError, match="supervision must be one of"):
        encode_step_example(tokenizer, EXAMPLE, "step")


@pytest.mark.parametrize(
    "kwargs, message",
    [({"supervision": "both"}, "supervision must be one of"), ({"max_steps": 0}, "max_steps must be > 0, got 0")],
)
def test_prm_config_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PRMTrainingConfig(**kwargs)


@pytest.mark.parametrize("supervision", ["process", "outcome"])
def test_train_prm_returns_a_history_and_lowers_the_loss(supervision):
    backbone, tokenizer = build_tiny_backbone()
    model = NeuralPRM(backbone)
    examples = make_step_labels(48, seed=1)
    config = PRMTrainingConfig(supervision=supervision, batch_size=16, max_steps=25, progress=False)
    history = train_prm(model, tokenizer, examples, config)
    assert isinstance(history, PRMHistory) and history.step == list(range(25)) and history.seconds > 0
    assert all(math.isfinite(x) for x in history.loss)
    assert sum(history.loss[-5:]) < sum(history.loss[:5])
    with pytest.raises(ValueError, match="examples is empty"):
        train_prm(model, tokenizer, [], config)


def test_predict_steps_one_probability_per_step(tokenizer):
    model = NeuralPRM(build_tiny_backbone()[0])
    examples = make_step_labels(5, seed=2) + [EXAMPLE]
    scores = predict_steps(model, tokenizer, examples, batch_size=4)
    assert [len(s) for s in scores] == [len(e.completions) for e in examples]
    assert all(0 < p < 1 for s in scores for p in s)
    with torch.no_grad():
        alone = predict_steps(model, tokenizer, [EXAMPLE])
    assert alone[0] == pytest.approx(scores[-1], abs=1e-5)  # padding in a batch changes nothing


def test_predict_steps_on_prm800k_steps_with_newlines_inside(tokenizer):
    examples = load_prm800k_jsonl(path("prm800k_steps.jsonl"))
    assert any("\n" in step for e in examples for step in e.completions)
    scores = predict_steps(NeuralPRM(build_tiny_backbone()[0]), tokenizer, examples)
    assert [len(s) for s in scores] == [len(e.completions) for e in examples]
