"""Per-sandbox cgroups: which hierarchy is chosen (v2, v1, or a loud reason), the limits each one writes,
and on a machine that has them, a real group that is limited, killed as a whole and removed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import cgroups
from autograder.cgroups import CgroupError, CgroupLimits, open_hierarchy

V2_MOUNTINFO = "30 25 0:26 / {root} rw,nosuid shared:4 - cgroup2 cgroup2 rw\n"
V1_MOUNTINFO = "".join(
    f"3{i} 25 0:2{i} / {{root}}/{c} rw shared:{i} - cgroup cgroup rw,{c}\n"
    for i, c in enumerate(cgroups.V1_CONTROLLERS)
)
LIMITS = CgroupLimits(memory_bytes=2**30, processes=66, cpus=1.0)


def fake_proc(tmp_path: Path, mountinfo: str, cgroup: str) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mountinfo").write_text(mountinfo)
    (proc / "cgroup").write_text(cgroup)
    return proc


def test_v2_is_chosen_and_writes_v2_limits(tmp_path):
    root = tmp_path / "cg2"
    own = root / "user.slice"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpuset cpu io memory pids")
    proc = fake_proc(tmp_path, V2_MOUNTINFO.format(root=root), "0::/user.slice\n")
    h = open_hierarchy("autograder-test", [os.getpid()], proc=proc)
    assert h.version == 2 and h.describe() == "cgroup v2"
    assert (own / "autograder-test" / "judge" / "cgroup.procs").read_text() == str(os.getpid())
    assert (own / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    group = h.create(LIMITS)
    d = group.dirs[""]
    assert d.parent == own / "autograder-test"
    assert (d / "memory.max").read_text() == str(2**30)
    assert (d / "pids.max").read_text() == "66"
    assert (d / "cpu.max").read_text() == "100000 100000"
    assert group.procs_files == [str(d / "cgroup.procs")]


def test_v1_is_chosen_when_v2_lacks_controllers(tmp_path):
    root = tmp_path / "cg"
    (root / "unified").mkdir(parents=True)
    (root / "unified" / "cgroup.controllers").write_text("hugetlb")  # like this course's CI machine
    for c in cgroups.V1_CONTROLLERS:
        (root / c / "box").mkdir(parents=True)
    mountinfo = V2_MOUNTINFO.format(root=root / "unified") + V1_MOUNTINFO.format(root=root)
    own = "".join(f"{i}:{c}:/box\n" for i, c in enumerate(cgroups.V1_CONTROLLERS, 1)) + "0::/\n"
    h = open_hierarchy("autograder-test", [os.getpid()], proc=fake_proc(tmp_path, mountinfo, own))
    assert h.version == 1
    group = h.create(LIMITS)
    assert (group.dirs["memory"] / "memory.limit_in_bytes").read_text() == str(2**30)
    assert (group.dirs["pids"] / "pids.max").read_text() == "66"
    assert (group.dirs["cpu"] / "cpu.cfs_quota_us").read_text() == "100000"
    assert len(group.procs_files) == 4


def test_no_cgroups_is_an_error_that_says_why(tmp_path):
    proc = fake_proc(tmp_path, "", "0::/\n")
    with pytest.raises(CgroupError, match=r"v1: controllers \['memory', 'pids', 'cpu', 'freezer'\] are not mounted"):
        open_hierarchy("autograder-test", [], proc=proc)


@pytest.mark.parametrize("field", ["memory_bytes", "processes", "cpus"])
def test_limits_must_be_positive(field):
    values = {"memory_bytes": 1, "processes": 1, "cpus": 1.0, field: 0}
    with pytest.raises(ValueError, match=f"{field} must be > 0, got 0"):
        CgroupLimits(**values)


def test_a_real_group_is_limited_killed_and_removed():
    """On this machine (root, v1 or v2 with delegation): every process in the group dies, then it is gone."""
    try:
        h = open_hierarchy(f"autograder-test-{os.getpid()}", [os.getpid()])
    except (CgroupError, OSError) as err:
        pytest.skip(f"no usable cgroups here: {err}")
    try:
        group = h.create(CgroupLimits(memory_bytes=256 * 2**20, processes=8, cpus=0.5))
        script = "import os, time\nfor _ in range(3):\n    os.fork()\ntime.sleep(60)\n"  # 8 sleepers
        procs = group.procs_files
        child = subprocess.Popen(
            [sys.executable, "-c", script], preexec_fn=lambda: [Path(p).write_text(str(os.getpid())) for p in procs]
        )
        deadline = time.monotonic() + 10
        while len(group.pids()) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        members = group.pids()
        assert len(members) == 8, members
        group.kill()
        assert group.pids() == []
        assert child.wait(timeout=5) == -9
        group.remove()
        assert not any(d.exists() for d in group.dirs.values())
    finally:
        h.close()


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_groups_left_by_a_killed_judge_are_removed_and_others_kept(tmp_path):
    root = tmp_path / "cg"
    for c in cgroups.V1_CONTROLLERS:
        (root / c / "box").mkdir(parents=True)
    box = root / "memory" / "box"
    left = box / f"autograder-{dead_pid()}-7f00"
    (left / "sandbox-3").mkdir(parents=True)
    (left / "memory.limit_in_bytes").write_text("1")  # a file: a real group's control files go with rmdir
    live, other = box / f"autograder-{os.getpid()}-7f01", box / "autograder-test"
    live.mkdir()
    other.mkdir()
    mountinfo = V1_MOUNTINFO.format(root=root)
    own = "".join(f"{i}:{c}:/box\n" for i, c in enumerate(cgroups.V1_CONTROLLERS, 1))
    open_hierarchy("autograder-new", [os.getpid()], proc=fake_proc(tmp_path, mountinfo, own))
    assert not (left / "sandbox-3").exists()  # on a fake tree the control file keeps the folder itself
    assert live.is_dir() and other.is_dir() and (box / "autograder-new").is_dir()


def test_a_real_group_left_by_a_killed_judge_is_removed():
    """A judge SIGKILLed with sandbox groups open: the next judge on this machine removes them."""
    try:
        h = open_hierarchy(f"autograder-{dead_pid()}-7f00", [os.getpid()])
    except (CgroupError, OSError) as err:
        pytest.skip(f"no usable cgroups here: {err}")
    group = h.create(LIMITS)  # never removed, as by a judge that was killed
    assert all(d.exists() for d in group.dirs.values())
    fresh = open_hierarchy(f"autograder-{os.getpid()}-7f01", [os.getpid()])
    try:
        assert not any(d.exists() for d in group.dirs.values())
        assert not any(d.exists() for d in h.base.values())
    finally:
        fresh.close()
