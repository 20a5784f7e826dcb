"""The seed lesson's code cells run unchanged with `src.` replaced by `course_lib.`."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).parents[1] / "fixtures" / "seed_notebook06.txt"


def seed_code_cells() -> list[str]:
    """Code cells of the seed: the text after each 'In [None]:' up to the next markdown heading or cell."""
    text = SEED.read_text()
    chunks = text.split("In [None]:")[1:]
    cells = []
    for chunk in chunks:
        code = re.split(r"\n(?=## |---|# Notebook)", chunk)[0]
        cells.append(code.strip("\n"))
    return cells


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory) -> str:
    cells = seed_code_cells()
    assert len(cells) == 5, "the seed has five code cells"
    program = "\n\n".join(c.replace("src.", "course_lib.") for c in cells)
    program += "\nplt.gcf().savefig('figure.png')\nprint('figure saved')\n"
    work = tmp_path_factory.mktemp("seed")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", program], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert (work / "figure.png").stat().st_size > 10_000
    return proc.stdout


def test_seed_bradley_terry_demo(seed_run):
    gaps = [2.0 - 0.5, 1.5 - 0.3, 2.5 - 1.0, 1.0 - 0.8]
    expected = sum(math.log1p(math.exp(-g)) for g in gaps) / len(gaps)
    assert f"BT Loss: {expected:.4f}" in seed_run
    assert "Accuracy (chosen > rejected): 100.00%" in seed_run


def test_seed_step_scores(seed_run):
    block = seed_run.split("PRM Step-Level Scores:")[1].split("Interpolated")[0]
    scores = [float(m) for m in re.findall(r"\[(\d\.\d\d)\]", block)]
    assert len(scores) == 4, block
    assert all(s >= 0.5 for s in scores), "every step of the correct seed solution scores >= 0.5"
    assert "The answer is: 27" in block


def test_seed_decay_rewards(seed_run):
    block = seed_run.split("decay=0.9):")[1]
    rewards = [float(m) for m in re.findall(r"\[(\d\.\d{3})\]", block)]
    assert rewards == [0.729, 0.81, 0.9, 1.0]


def test_seed_figure(seed_run):
    assert "figure saved" in seed_run
