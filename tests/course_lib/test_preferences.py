"""course_lib.data.preferences: generated pairs, the JSONL format and its validation."""

import json

import pytest

from course_lib.data.preferences import (
    FORM_KINDS,
    MATH_KINDS,
    REJECTED_KINDS,
    PreferencePair,
    load_preference_jsonl,
    make_preference_pairs,
    save_preference_jsonl,
    validate_pair,
)
from course_lib.data.samples import path


def test_make_preference_pairs_fields_and_kinds():
    pairs = make_preference_pairs(40, seed=3)
    assert len(pairs) == 40
    assert {p.category for p in pairs} <= set(REJECTED_KINDS)
    for p in pairs:
        assert p.prompt and p.chosen != p.rejected
        assert p.chosen.splitlines()[-1].startswith("The answer is: ")
        if p.category == "unfinished":
            assert "The answer is" not in p.rejected
        if p.category == "no_work":
            assert p.rejected.startswith("The answer is: ") and "\n" not in p.rejected


def test_make_preference_pairs_same_seed_same_pairs_and_different_seed_differs():
    assert make_preference_pairs(10, seed=5) == make_preference_pairs(10, seed=5)
    assert make_preference_pairs(10, seed=5) != make_preference_pairs(10, seed=6)


def test_make_preference_pairs_restricts_kinds():
    assert {p.category for p in make_preference_pairs(30, seed=0, kinds=FORM_KINDS)} == set(FORM_KINDS)
    assert {p.category for p in make_preference_pairs(30, seed=0, kinds=MATH_KINDS)} <= set(MATH_KINDS)


def test_make_preference_pairs_label_noise_swaps_chosen_and_rejected():
    clean = make_preference_pairs(50, seed=2)
    noisy = make_preference_pairs(50, seed=2, label_noise=1.0)
    assert [(p.rejected, p.chosen) for p in clean] == [(p.chosen, p.rejected) for p in noisy]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kinds": ("typo",)}, "kinds must be"),
        ({"kinds": ()}, "kinds must be"),
        ({"label_noise": 1.5}, "label_noise must be in"),
        ({"n": -1}, "n must be >= 0"),
    ],
)
def test_make_preference_pairs_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_preference_pairs(**{"n": 3, **kwargs})


def test_validate_pair_typical():
    pair = validate_pair({"prompt": "2 + 3?", "chosen": "5", "rejected": "6", "margin": 1})
    assert pair == PreferencePair("2 + 3?", "5", "6", margin=1.0)
    assert validate_pair({"chosen": "a", "rejected": "b"}).prompt == ""  # implicit prompt


@pytest.mark.parametrize(
    "record, message",
    [
        (["chosen", "rejected"], "expected a JSON object, got list"),
        ({"chosen": "a"}, r"missing field\(s\) \['rejected'\]"),
        ({"chosen": "a", "rejected": "b", "score": 1}, r"unknown field\(s\) \['score'\]"),
        ({"chosen": 1, "rejected": "b"}, "chosen must be a string, got int"),
        ({"chosen": "a", "rejected": "b", "margin": "big"}, "margin must be a number"),
        ({"chosen": "a", "rejected": "b", "margin": True}, "margin must be a number"),
        ({"chosen": "a", "rejected": "a"}, "identical"),
    ],
)
def test_validate_pair_bad_input(record, message):
    with pytest.raises(ValueError, match=message):
        validate_pair(record, where="pairs.jsonl:7")


def test_save_then_load_round_trips(tmp_path):
    pairs = make_preference_pairs(5, seed=1) + [PreferencePair("p", "c", "r", margin=0.5)]
    save_preference_jsonl(pairs, tmp_path / "pairs.jsonl")
    assert load_preference_jsonl(tmp_path / "pairs.jsonl") == pairs


def test_shipped_sample_loads():
    pairs = load_preference_jsonl(path("preference_pairs.jsonl"))
    assert len(pairs) >= 5
    assert any(p.margin is not None for p in pairs) and any(p.margin is None for p in pairs)
    assert any(p.prompt == "" for p in pairs)  # TRL's implicit-prompt layout
    for line in path("preference_pairs.jsonl").read_text().splitlines():
        assert {"chosen", "rejected"} <= set(json.loads(line))


def _write_sample_with(tmp_path, lineno: int, text: str):
    lines = path("preference_pairs.jsonl").read_text().splitlines()
    lines[lineno - 1] = text
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    return bad


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"prompt": "x", "chosen": "a", "rejected": "b"', "not valid JSON"),
        ('{"prompt": "x", "chosen": "a"}', "each line needs chosen and rejected"),
        ('{"prompt": "x", "chosen": "a", "rejected": "b", "margin": "1"}', "margin must be a number"),
        ('{"prompt": "x", "chosen": "a", "rejected": "b", "response": "c"}', "allowed: prompt, chosen, rejected"),
    ],
)
def test_malformed_sample_names_the_line_and_the_fix(tmp_path, text, message):
    bad = _write_sample_with(tmp_path, 3, text)
    with pytest.raises(ValueError, match=message) as err:
        load_preference_jsonl(bad)
    assert f"{bad}:3:" in str(err.value)


def test_load_preference_jsonl_skips_blank_lines_and_missing_file_raises(tmp_path):
    f = tmp_path / "pairs.jsonl"
    f.write_text('\n{"chosen": "a", "rejected": "b"}\n\n')
    assert len(load_preference_jsonl(f)) == 1
    with pytest.raises(FileNotFoundError):
        load_preference_jsonl(tmp_path / "missing.jsonl")
