"""Weaker isolation levels: each one that works here still grades honestly and ends every process."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from autograder import sandbox
from autograder.assignment import SetupError
from autograder.runner import BASE_UID
from autograder.sandbox import LEVELS, Isolation, kill_uid, level_works
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


@pytest.mark.skipif(os.geteuid() != 0, reason="kill_uid switches uid: root only")
@pytest.mark.parametrize("spawn", ["setpriv", "fork"])
def test_kill_uid_ends_every_process_of_that_uid_and_no_other(spawn, monkeypatch):
    if spawn == "fork":
        monkeypatch.setattr(sandbox, "SETPRIV", None)
    elif sandbox.SETPRIV is None:
        pytest.skip("no setpriv here: kill_uid forks")
    uid = BASE_UID + 4095  # the top of the runner's uid range, which a one-job test does not reach
    victims = [subprocess.Popen(["sleep", "60"], user=uid, start_new_session=True) for _ in range(2)]
    bystander = subprocess.Popen(["sleep", "60"], user=uid - 1, start_new_session=True)
    try:
        kill_uid(uid)
        assert [v.wait(timeout=5) for v in victims] == [-9, -9]
        assert bystander.poll() is None
    finally:
        for proc in (*victims, bystander):
            proc.kill()
            proc.wait()


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


def test_working_folders_left_by_a_killed_judge_are_removed(tmp_path):
    from autograder.runner import _sweep_workdirs

    dead = subprocess.Popen(["true"])
    dead.wait()
    left, live, old = (
        tmp_path / f"autograder-{dead.pid}-x",
        tmp_path / f"autograder-{os.getpid()}-y",
        tmp_path / "autograder-z",
    )
    for folder in (left, live, old):
        (folder / "root").mkdir(parents=True)
    _sweep_workdirs(tmp_path)
    assert not left.exists() and live.is_dir() and old.is_dir()
