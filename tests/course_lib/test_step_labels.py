"""course_lib.data.step_labels: generated step labels, TRL stepwise records and PRM800K records."""

import json

import pytest

from course_lib.data.samples import path
from course_lib.data.step_labels import (
    StepLabels,
    load_prm800k_jsonl,
    load_step_labels_jsonl,
    make_step_labels,
    prm800k_to_step_labels,
    validate_step_record,
)


def test_step_labels_typical_and_round_trip():
    ex = StepLabels("2 + 3?", ("2 + 3 = 6", "The answer is: 6"), (False, False), 5.0)
    assert validate_step_record(json.loads(ex.to_json())) == ex


@pytest.mark.parametrize(
    "completions, labels, message",
    [(("a", "b"), (True,), "same length, got 2 and 1"), ((), (), "at least one step")],
)
def test_step_labels_bad_input(completions, labels, message):
    with pytest.raises(ValueError, match=message):
        StepLabels("p", completions, labels)


def test_make_step_labels_labels_false_from_first_error_on():
    examples = make_step_labels(60, seed=4, p_correct=0.3)
    assert any(all(e.labels) for e in examples) and any(not all(e.labels) for e in examples)
    for e in examples:
        assert e.answer is not None
        if not all(e.labels):
            first = e.labels.index(False)
            assert not any(e.labels[first:])
            assert e.error_kind is not None


def test_make_step_labels_is_deterministic_and_p_correct_one_is_all_correct():
    assert make_step_labels(8, seed=1) == make_step_labels(8, seed=1)
    assert make_step_labels(8, seed=1) != make_step_labels(8, seed=2)
    assert all(all(e.labels) for e in make_step_labels(10, seed=0, p_correct=1.0))


@pytest.mark.parametrize("kwargs, message", [({"n": -1}, "n must be >= 0"), ({"p_correct": 2.0}, "p_correct")])
def test_make_step_labels_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_step_labels(**{"n": 2, **kwargs})


@pytest.mark.parametrize(
    "record, message",
    [
        ("text", "expected a JSON object, got str"),
        ({"prompt": "p", "completions": "a", "labels": [True]}, "completions must be a list"),
        ({"prompt": "p", "completions": ["a", 2], "labels": [True, True]}, "every completion must be a string"),
        ({"prompt": "p", "completions": ["a"], "labels": [0.7]}, "soft labels are not supported"),
        ({"prompt": "p", "completions": ["a", "b"], "labels": [True]}, "same length"),
        ({"prompt": "p", "completions": ["a"], "labels": [True], "answer": "seven"}, "answer must be a number"),
    ],
)
def test_validate_step_record_bad_input(record, message):
    with pytest.raises(ValueError, match=message) as err:
        validate_step_record(record, where="steps.jsonl:2")
    assert str(err.value).startswith("steps.jsonl:2: ")


def test_shipped_stepwise_sample_loads():
    examples = load_step_labels_jsonl(path("stepwise_supervision.jsonl"))
    assert len(examples) >= 4
    assert any(all(e.labels) for e in examples) and any(not all(e.labels) for e in examples)
    assert all(isinstance(e.answer, float) for e in examples)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"prompt": "p", "completions": ["a"], "labels": [1]}', "every label must be true or false"),
        ('{"prompt": "p", "completions": ["a"]}', "labels must be a list"),
        ('{"prompt": "p", "completions": ["a"], "labels": [true]', "not valid JSON"),
    ],
)
def test_malformed_stepwise_sample_names_the_line(tmp_path, text, message):
    lines = path("stepwise_supervision.jsonl").read_text().splitlines()
    lines[1] = text
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message) as err:
        load_step_labels_jsonl(bad)
    assert f"{bad}:2:" in str(err.value)


def test_shipped_prm800k_sample_neutral_counts_as_correct_by_default():
    records = load_prm800k_jsonl(path("prm800k_steps.jsonl"))
    assert [e.labels for e in records] == [(True, True, False), (True, True), (True, True, True), (True, False)]
    assert [e.answer for e in records] == [47.0, 42.0, 850.0, 6.0]


def test_shipped_prm800k_sample_neutral_as_wrong_like_trl():
    records = load_prm800k_jsonl(path("prm800k_steps.jsonl"), neutral_is_correct=False)
    assert records[0].labels == (True, False, False)
    assert records[3].labels == (True, False)


def test_prm800k_human_completion_is_a_correct_step():
    record = json.loads(path("prm800k_steps.jsonl").read_text().splitlines()[2])
    ex = prm800k_to_step_labels(record)
    assert ex.completions[1] == "She spends $350, so 1,200 - 350 = 850."
    assert ex.labels[1] is True
    record["label"]["steps"][1]["human_completion"] = "She spends $350, so 1,200 - 350 = 850."  # plain string
    assert prm800k_to_step_labels(record) == ex


def test_prm800k_labeller_stopping_keeps_the_rejected_step_then_stops():
    record = json.loads(path("prm800k_steps.jsonl").read_text().splitlines()[3])
    ex = prm800k_to_step_labels(record)
    assert ex.completions[-1] == "Each crate gets 24 / 4 = 8 eggs."


def test_prm800k_symbolic_ground_truth_gives_no_answer_and_latex_thousands_parse():
    record = json.loads(path("prm800k_steps.jsonl").read_text().splitlines()[0])
    record["question"]["ground_truth_answer"] = "\\frac{1}{2}"
    assert prm800k_to_step_labels(record).answer is None
    record["question"]["ground_truth_answer"] = "40,\\!000"
    assert prm800k_to_step_labels(record).answer == 40000.0


def _prm800k_line(mutate):
    record = json.loads(path("prm800k_steps.jsonl").read_text().splitlines()[0])
    mutate(record)
    return json.dumps(record)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("question"), "expected question.problem and label.steps"),
        (lambda r: r["label"]["steps"][0]["completions"][0].update(rating=2), "step 0 has rating 2"),
        (lambda r: r["label"]["steps"][1].update(chosen_completion=4), "step 1 has chosen_completion 4"),
        (lambda r: r["label"].update(steps=[]), "no rated steps"),
        (lambda r: r["label"].update(steps="abc"), "label.steps must be a list"),
        (lambda r: r["label"]["steps"][0]["completions"][0].pop("text"), "step 0 has no text"),
    ],
)
def test_malformed_prm800k_sample_names_the_line(tmp_path, mutate, message):
    lines = path("prm800k_steps.jsonl").read_text().splitlines()
    lines[1] = _prm800k_line(mutate)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message) as err:
        load_prm800k_jsonl(bad)
    assert f"{bad}:2:" in str(err.value)
