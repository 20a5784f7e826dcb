"""course_lib.demo: the main job's first part trains, evaluates per kind and writes two figures."""

from pathlib import Path

import pytest

from course_lib.data.preferences import REJECTED_KINDS
from course_lib.demo import DemoConfig, main, run_demo
from course_lib.training.reward_model import RewardTrainingConfig


def _small(out: Path) -> DemoConfig:
    training = RewardTrainingConfig(batch_size=8, max_steps=3, eval_every=3, progress=False)
    return DemoConfig(n_train=24, n_eval=6, out_dir=out, training=training)


def test_run_demo_reports_accuracy_per_kind_and_writes_figures(tmp_path):
    result = run_demo(_small(tmp_path / "demo"))
    assert 0.0 <= result["accuracy"] <= 1.0 and result["seconds"] > 0
    assert set(result["by_kind"]) <= set(REJECTED_KINDS) and result["by_kind"]  # kinds absent from 6 pairs skipped
    for path in result["paths"].values():
        assert path.is_file() and path.stat().st_size > 5_000


def test_main_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["--steps", "many"])
    assert "invalid int value" in capsys.readouterr().err
