"""One control group per sandbox: memory (shared memory and tmpfs pages included), processes, CPU, and
a kill that leaves nothing behind.

``RLIMIT_AS`` does not count System V shared memory or tmpfs pages, and a pid namespace alone can
be outlived; a cgroup counts every page its processes fault in and lists every process they start.
The judge makes one group per sandbox below its own cgroup (so a limit put on the judge also bounds
its sandboxes), the supervisor joins it before it forks the sandbox, and after the run the judge
kills everything in it and removes it.

* cgroup v2 (``cgroup2`` mounted with memory, pids and cpu enabled): ``memory.max``,
  ``memory.swap.max``, ``pids.max``, ``cpu.max``; the kill is ``cgroup.kill``.
* cgroup v1 (the memory, pids, cpu and freezer controllers mounted separately, as on this course's
  CI machine): ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``), ``pids.max``,
  ``cpu.cfs_quota_us``; the kill is freeze, SIGKILL every member, thaw.

:func:`open_hierarchy` says which one works here, or why none does (the caller reports it; it is
never silent).

Example (a v2 layout faked in a temporary folder; the real ones live under ``/sys/fs/cgroup``):
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "cgroup.controllers").write_text("cpu memory pids")
    >>> _ = (root / "cgroup.subtree_control").write_text("")
    >>> h = Hierarchy(2, {"": root})
    >>> h.version, h.describe()
    (2, 'cgroup v2')
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.files import owner_is_gone

V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
KILL_TIMEOUT = 5.0


class CgroupError(RuntimeError):
    """A control group could not be made, limited, emptied or removed."""


@dataclass
class CgroupLimits:
    """What one sandbox may use: bytes of memory (RAM, no swap), processes, CPUs (1.0 = one core)."""

    memory_bytes: int
    processes: int
    cpus: float

    def __post_init__(self):
        for name in ("memory_bytes", "processes", "cpus"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def _read(path: Path) -> str:
    return path.read_text().strip()


def _write(path: Path, value) -> None:
    try:
        path.write_text(str(value))
    except OSError as err:
        raise CgroupError(f"cannot write {value!r} to {path}: {err.strerror}") from None


def _mounts(mountinfo: str) -> dict[str, Path]:
    """Controller name (or "" for cgroup2) -> mount point, from /proc/self/mountinfo."""
    out: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        if tail[0] == "cgroup2":
            out.setdefault("", Path(fields[4]))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                out.setdefault(option, Path(fields[4]))
    return out


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """Controller name (or "" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


class Hierarchy:
    """Where this judge may make sandbox groups: one folder per v1 controller, or one v2 folder."""

    _ids = itertools.count()

    def __init__(self, version: int, base: dict[str, Path]):
        self.version = version
        self.base = base  # v1: controller -> folder; v2: {"": folder}

    def describe(self) -> str:
        return f"cgroup v{self.version}"

    def create(self, limits: CgroupLimits) -> Cgroup:
        """A new, empty group with ``limits``, below this judge's group."""
        name = f"sandbox-{next(self._ids)}"
        dirs = {key: folder / name for key, folder in self.base.items()}
        try:
            for d in dirs.values():
                d.mkdir()
            group = Cgroup(self.version, dirs)
            group.limit(limits)
        except (OSError, CgroupError) as err:
            for d in dirs.values():
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise CgroupError(f"cannot make a sandbox cgroup in {list(self.base.values())}: {err}") from None
        return group

    def close(self) -> None:
        for folder in self.base.values():
            with contextlib.suppress(OSError):
                folder.rmdir()


class Cgroup:
    """One sandbox's group: its ``cgroup.procs`` files to join, then :meth:`kill` and :meth:`remove`."""

    def __init__(self, version: int, dirs: dict[str, Path]):
        self.version = version
        self.dirs = dirs

    @property
    def procs_files(self) -> list[str]:
        """The files the supervisor writes its pid to (every controller's ``cgroup.procs``)."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def limit(self, limits: CgroupLimits) -> None:
        quota = max(1000, int(limits.cpus * CPU_PERIOD_US))
        if self.version == 2:
            d = self.dirs[""]
            _write(d / "memory.max", limits.memory_bytes)
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", 0)
            _write(d / "memory.oom.group", 1)  # an OOM kill ends the whole sandbox, not one thread of it
            _write(d / "pids.max", limits.processes)
            _write(d / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            return
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", limits.memory_bytes)
        if (mem / "memory.memsw.limit_in_bytes").exists():  # memory + swap: no swapping past the limit
            _write(mem / "memory.memsw.limit_in_bytes", limits.memory_bytes)
        _write(self.dirs["pids"] / "pids.max", limits.processes)
        _write(self.dirs["cpu"] / "cpu.cfs_period_us", CPU_PERIOD_US)
        _write(self.dirs["cpu"] / "cpu.cfs_quota_us", quota)

    def pids(self) -> list[int]:
        key = "" if self.version == 2 else "freezer"
        with contextlib.suppress(OSError):
            return [int(p) for p in _read(self.dirs[key] / "cgroup.procs").split()]
        return []

    def kill(self) -> None:
        """SIGKILL every process in the group and wait until it is empty (v2 ``cgroup.kill``, v1 freezer)."""
        if self.version == 2:
            _write(self.dirs[""] / "cgroup.kill", 1)
        else:
            freezer = self.dirs["freezer"]
            _write(freezer / "freezer.state", "FROZEN")  # nothing can fork while we kill
            deadline = time.monotonic() + 1.0
            while _read(freezer / "freezer.state") != "FROZEN" and time.monotonic() < deadline:
                time.sleep(0.005)
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _write(freezer / "freezer.state", "THAWED")  # SIGKILL is delivered once thawed
        deadline = time.monotonic() + KILL_TIMEOUT
        while self.pids():
            if time.monotonic() > deadline:
                raise CgroupError(f"processes {self.pids()} are still in {self.dirs} after SIGKILL")
            time.sleep(0.005)

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for memory."""
        path = self.dirs[""] / "memory.events" if self.version == 2 else self.dirs["memory"] / "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in _read(path).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self) -> None:
        deadline = time.monotonic() + KILL_TIMEOUT
        for d in self.dirs.values():
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as err:  # EBUSY while the last members are being reaped
                    if time.monotonic() > deadline:
                        raise CgroupError(f"cannot remove {d}: {err.strerror}") from None
                    time.sleep(0.01)


def sweep_leftovers(parent: Path) -> None:
    """Remove the groups that killed judges left in ``parent`` (:func:`~autograder.files.owner_is_gone`):
    their sandboxes' groups first, deepest first; a group that still has processes stays."""
    for folder in parent.glob("autograder-*"):
        if folder.is_dir() and owner_is_gone(folder.name):
            groups = sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
            for group in [*groups, folder]:
                with contextlib.suppress(OSError):
                    group.rmdir()


def open_hierarchy(name: str, members: list[int], proc: Path = Path("/proc/self")) -> Hierarchy:
    """Make ``name`` (a folder for this judge's sandboxes) below this process's own cgroup.

    ``members`` are the judge's processes (itself and its zygote), which v2 moves into a leaf.
    Tries cgroup v2, then the v1 controllers; raises :class:`CgroupError` saying why neither works.
    """
    mounts = _mounts((proc / "mountinfo").read_text())
    own = _own_paths((proc / "cgroup").read_text())
    problems = []
    if "" in mounts and "" in own:
        try:
            return _open_v2(mounts[""] / own[""].lstrip("/"), name, members)
        except (OSError, CgroupError) as err:
            problems.append(f"v2: {err}")
    missing = [c for c in V1_CONTROLLERS if c not in mounts or c not in own]
    if missing:
        problems.append(f"v1: controllers {missing} are not mounted")
    else:
        base: dict[str, Path] = {}
        try:
            for c in V1_CONTROLLERS:
                sweep_leftovers(mounts[c] / own[c].lstrip("/"))
                folder = mounts[c] / own[c].lstrip("/") / name
                folder.mkdir(exist_ok=True)
                base[c] = folder
            if (base["memory"].parent / "memory.use_hierarchy").exists():
                with contextlib.suppress(OSError):  # children count toward this folder's limits
                    _write(base["memory"] / "memory.use_hierarchy", 1)
            return Hierarchy(1, base)
        except OSError as err:
            Hierarchy(1, base).close()
            problems.append(f"v1: {err}")
    raise CgroupError("; ".join(problems))


def _open_v2(own: Path, name: str, members: list[int]) -> Hierarchy:
    """v2 needs the controllers enabled for our children, and a group with members cannot enable them.

    So the judge's own members move into a leaf ``<name>/judge`` first; the sandboxes are its siblings.
    Where other processes share the judge's cgroup, this fails: run the judge in a delegated cgroup of
    its own (``systemd-run --scope -p Delegate=yes ...``).
    """
    available = set(_read(own / "cgroup.controllers").split())
    missing = [c for c in V2_CONTROLLERS if c not in available]
    if missing:
        raise CgroupError(f"controllers {missing} are not enabled for {own}")
    sweep_leftovers(own)
    folder = own / name
    (folder / "judge").mkdir(parents=True, exist_ok=True)
    for pid in members:
        _write(folder / "judge" / "cgroup.procs", pid)
    enable = " ".join(f"+{c}" for c in V2_CONTROLLERS)
    _write(own / "cgroup.subtree_control", enable)
    _write(folder / "cgroup.subtree_control", enable)
    return Hierarchy(2, {"": folder})
