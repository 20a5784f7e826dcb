"""course_lib.demo: the main job's first part trains, evaluates per kind and writes two figures."""

from pathlib import Path

import pytest

from course_lib.data.preferences import REJECTED_KINDS
from course_lib.demo import DemoConfig, main, run_demo, summary
from course_lib.training.reward_model import RewardTrainingConfig


def _small(out: Path) -> DemoConfig:
    training = RewardTrainingConfig(batch_size=8, max_steps=3, eval_every=3, progress=False)
    return DemoConfig(n_train=24, n_eval=6, out_dir=out, training=training, probe=training)


def test_run_demo_reports_accuracy_per_kind_and_writes_figures(tmp_path):
    result = run_demo(_small(tmp_path / "demo"))
    assert 0.0 <= result["accuracy"] <= 1.0 and result["seconds"] > 0
    assert set(result["by_kind"]) <= set(REJECTED_KINDS) and result["by_kind"]  # kinds absent from 6 pairs skipped
    assert (
        set(result["pretrained"]["by_kind"]) == set(result["by_kind"]) and 0 <= result["pretrained"]["accuracy"] <= 1
    )
    for path in result["paths"].values():
        assert path.is_file() and path.stat().st_size > 5_000


def test_main_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["--steps", "many"])
    assert "invalid int value" in capsys.readouterr().err


@pytest.mark.parametrize(
    "by_kind, expected",
    [
        ({"no_work": 1.0, "unfinished": 1.0}, ["form kinds: no_work 1.000 learned; unfinished 1.000 learned"]),
        ({"arithmetic_slip": 0.388}, ["math-error kinds: arithmetic_slip 0.388 below chance (0.5)"]),
        ({"wrong_operation": 0.75}, ["math-error kinds: wrong_operation 0.750 above chance, not learned"]),
        (
            {"arithmetic_slip": 0.3, "wrong_operation": 0.7},  # a mean of 0.5 would hide both
            [
                "math-error kinds: arithmetic_slip 0.300 below chance (0.5); wrong_operation 0.700 above chance, not learned"
            ],
        ),
        ({"copied_wrong_number": 0.55}, ["math-error kinds: copied_wrong_number 0.550 near chance (0.5)"]),
        ({}, []),
    ],
)
def test_summary_says_what_was_measured(by_kind, expected):
    assert [line.strip() for line in summary(by_kind).splitlines()] == expected
