"""Weaker isolation levels: each one that works here still grades honestly and ends every process."""

from __future__ import annotations

import os
import time

import pytest

from autograder.assignment import SetupError
from autograder.runner import BASE_UID
from autograder.sandbox import LEVELS, Isolation, level_works
from autograder.service import Autograder
from tests.autograder.test_adversarial import ASSIGNMENT, DAEMON, MAX, NOTHING, attack
from tests.support import COURSE, make_submission

pytestmark = pytest.mark.slow


def _processes_of(uids) -> list[str]:
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid in uids:
                alive.append(pid)
        except OSError:
            pass
    return alive


@pytest.mark.parametrize("level", [lvl for lvl in Isolation if lvl != Isolation.NONE])
def test_each_working_level_grades_and_cleans_up(level, tmp_path):
    if not level_works(level):
        with pytest.raises(SetupError, match="does not work on this machine"):
            Autograder(ASSIGNMENT, COURSE, jobs=1, isolation=level)
        return
    honest = make_submission(ASSIGNMENT, tmp_path / "honest.ipynb")
    daemon = make_submission(ASSIGNMENT, tmp_path / "daemon.ipynb", attack(DAEMON))
    with Autograder(ASSIGNMENT, COURSE, jobs=1, isolation=level, self_check=False, cell_timeout=8) as g:
        assert g.isolation == level
        assert g.grade(honest).score == MAX
        result = g.grade(daemon)
        uids = g.runner.uids or range(BASE_UID, BASE_UID + 4096)  # no uids of its own in a user namespace
    assert result.score == 0 and "daemon launched" in result.student_output
    time.sleep(0.5)
    assert not _processes_of(uids)


def test_unknown_level_is_a_setup_error():
    with pytest.raises(SetupError, match="isolation must be one of"):
        Autograder(ASSIGNMENT, COURSE, jobs=1, isolation="chroot", self_check=False)


def test_nothing_answers_score_zero_at_the_default_level(tmp_path):
    with Autograder(ASSIGNMENT, COURSE, jobs=1, self_check=False) as g:
        assert g.isolation == next(lvl for lvl in LEVELS if level_works(lvl))
        assert g.grade(make_submission(ASSIGNMENT, tmp_path / "n.ipynb", NOTHING)).score == 0


def test_cli_grades_at_the_requested_level(tmp_path):
    import json
    import subprocess
    import sys

    from tests.support import ROOT

    honest = make_submission(ASSIGNMENT, tmp_path / "honest.ipynb")
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(honest), "--course-dir", str(COURSE)]
    weakest = [lvl for lvl in LEVELS[:-1] if level_works(lvl)][-1]
    done = subprocess.run([*cmd, "--json", str(out), "--isolation", weakest], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(out.read_text())["submissions"][0]["score"] == MAX
    bad = subprocess.run([*cmd, "--isolation", "chroot"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'chroot'" in bad.stderr
