"""The sandbox runner: a submission in, plain :class:`SandboxRun` data out. It decides no grade.

:class:`SandboxRunner` owns the warm zygote, the student copy of ``course_lib``, the sandbox slots
(one unprivileged uid each), the control groups and the restart policy. For each run it makes a
fresh cgroup, sends the job, and afterwards kills everything in the cgroup, sweeps the slot's uid
and checks that nothing of it is left; a slot whose uid still has processes is recorded on the
submission and retired, never reused. When a probe hangs or kills its process, the remaining
probes run again in a fresh sandbox (one bad probe costs one test), within the submission's
:class:`~autograder.channel.Budget`.
"""

from __future__ import annotations

import fcntl
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import cgroups, codec
from autograder.assignment import (
    Assignment,
    SetupError,
    assignment_paths,
    course_lib_dir,
    preload_modules,
    sandbox_binds,
    student_course_lib,
)
from autograder.channel import Budget, Zygote, run_once
from autograder.files import owned_name, owner_is_gone
from autograder.notebook import SubmissionError, cell_positions, program_cells, read_notebook, source_roles
from autograder.probes import STATUSES, Outcome
from autograder.sandbox import Isolation, Limits, SandboxConfig, kill_uid, level_works, uid_processes
from autograder.syscalls import DENIED
from autograder.worker import probe_key
from autograder.zygote import JUDGE_OOM_SCORE_ADJ, SANDBOX_OOM_SCORE_ADJ

BASE_UID = 61000
ROOT_LEVELS = (Isolation.NAMESPACES, Isolation.UNPRIVILEGED_USER)  # the judge is root: it can sweep uids


@dataclass
class SandboxRun:
    """Plain data from one submission's sandbox runs, before judging."""

    path: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    cells: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # grade_id -> its cell's position (cell_label)
    output: str = ""
    error: str | None = None
    seconds: float = 0.0


def start_zygote(assignment: str, course_dir: str | Path) -> Zygote:
    """Start the assignment's zygote; it imports torch while the caller imports the grader."""
    _, _, grader_path = assignment_paths(assignment, course_dir)
    return Zygote(preload_modules(grader_path))


def _sweep_workdirs(parent: Path) -> None:
    """Remove the working folders (private root, student ``course_lib``, spools) that killed judges left."""
    for folder in parent.glob("autograder-*"):
        if folder.is_dir() and owner_is_gone(folder.name):
            shutil.rmtree(folder, ignore_errors=True)


class SandboxRunner:
    """Runs submissions of one assignment in sandboxes, ``jobs`` at a time. A context manager."""

    def __init__(
        self,
        assignment: Assignment,
        zygote: Zygote,
        jobs: int = 1,
        limits: Limits | None = None,
        cell_timeout: float = 30.0,
        probe_timeout: float | None = None,
        submission_timeout: float = 300.0,
        isolation: Isolation | str | None = None,
        budget: Budget | None = None,
    ):
        self.assignment, self.zygote = assignment, zygote
        self.jobs = jobs
        self.limits = limits or Limits()
        self.cell_timeout = cell_timeout  # per cell, as nbgrader's Execute.timeout
        self.probe_timeout = probe_timeout  # caps each probe's own timeout
        self.submission_timeout = submission_timeout
        self.budget = budget or Budget()
        _sweep_workdirs(Path(tempfile.gettempdir()))
        self._workdir = Path(tempfile.mkdtemp(prefix=owned_name()))
        self._hierarchy: cgroups.Hierarchy | None = None
        try:
            self.isolation = self._choose_isolation(isolation)
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _choose_isolation(self, wanted: Isolation | str | None) -> Isolation:
        """The requested level (for tests and weaker machines), by default the strongest available."""
        available = Isolation(self.zygote.level)
        try:
            wanted = Isolation(wanted) if wanted else available
        except ValueError:
            raise SetupError(f"isolation must be one of {[str(lvl) for lvl in Isolation]}, got {wanted!r}") from None
        if wanted == Isolation.NONE:
            raise SetupError("no isolation is available on this machine (need root or user namespaces)")
        if wanted != available and not level_works(wanted):
            raise SetupError(
                f"isolation {str(wanted)!r} does not work on this machine; the strongest available is {str(available)!r}"
            )
        return wanted

    def _prepare(self) -> None:
        real = course_lib_dir()
        self._binds = sandbox_binds()
        course = str(self.assignment.course_dir)
        for path in self._binds + [str(real)]:
            if path != "/" and (course + "/").startswith(path.rstrip("/") + "/"):
                raise SetupError(f"{path} would be visible in the sandbox and contains the course directory {course}")
        a = self.assignment
        stub = student_course_lib(real, self._workdir / "student", a.reference, a.name, a.course_lib)
        self._overlays = [(str(stub), str(real))]
        (self._workdir / "root").mkdir()
        self.source_nb = read_notebook(self.assignment.source_notebook)
        self._roles = source_roles(self.source_nb)
        self._uid_pool = UidPool() if self.isolation in ROOT_LEVELS else None
        self._uids: queue.Queue[int] = queue.Queue()
        for slot in range(self.jobs):
            self._uids.put(self._uid_pool.acquire() if self._uid_pool else BASE_UID + slot)
        self.layers = self._layers()

    def _layers(self) -> list[str]:
        """What isolates a sandbox here, one line a layer; what is missing is said, never left out."""
        lim, level = self.limits, self.isolation
        layers = [f"isolation level: {level}"]
        if level in (Isolation.NAMESPACES, Isolation.USER_NAMESPACE):
            layers.append("pid, mount, network, IPC and UTS namespaces; a private read-only root without the course")
            layers.append("a trusted init is pid 1 and only reaps; student code runs as pid 2 and below")
        if level in ROOT_LEVELS:
            layers.append(f"a dedicated unprivileged uid per slot (from {BASE_UID}), swept after every run")
        else:
            layers.append("a user namespace with every capability dropped")
        if level == Isolation.NAMESPACES:
            layers.append(
                f"System V IPC limits in the sandbox's IPC namespace (shared memory {lim.shm_bytes >> 20} MiB)"
            )
        try:
            self._hierarchy = cgroups.open_hierarchy(owned_name(f"{id(self):x}"), [os.getpid(), self.zygote.proc.pid])
            self._cgroup_limits = cgroups.CgroupLimits(lim.memory_bytes, lim.processes + 2, lim.cpus)
            layers.append(
                f"{self._hierarchy.describe()} per sandbox: memory {lim.memory_bytes / 2**30:.1f} GiB with shared "
                f"memory and tmpfs counted, no swap; {lim.processes} processes; {lim.cpus:g} CPU; killed as a whole"
            )
        except cgroups.CgroupError as err:
            layers.append(f"cgroups UNAVAILABLE ({err}): memory, processes and CPU are limited per process only")
        seccomp_missing = self.zygote.hello().get("seccomp")
        self._seccomp = not seccomp_missing
        if self._seccomp:
            layers.append(f"seccomp filter: {len(DENIED)} system calls and namespace-creating clone flags denied")
        else:
            layers.append(f"seccomp filter UNAVAILABLE ({seccomp_missing})")
        layers.append("rlimits on address space, CPU time, processes, file size and open files; no_new_privs")
        layers.append(
            f"OOM killer: sandbox oom_score_adj {SANDBOX_OOM_SCORE_ADJ}, judge and zygote {JUDGE_OOM_SCORE_ADJ}"
        )
        return layers

    @property
    def uids(self) -> list[int]:
        """Every uid this runner has used (its slots' and any retired ones)."""
        return sorted(self._uid_pool.held) if self._uid_pool else []

    def close(self) -> None:
        if self._hierarchy is not None:
            self._hierarchy.close()
        if getattr(self, "_uid_pool", None) is not None:
            self._uid_pool.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> SandboxRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one submission --------------------------------------------------------------------------

    def run(self, path: str | Path) -> SandboxRun:
        """Run one submission's code and probes in the sandbox; return plain outcomes."""
        start = time.monotonic()
        run = SandboxRun(path=str(path))
        try:
            nb = read_notebook(path)
            cells, run.notes = program_cells(nb, self.source_nb)
            run.positions = cell_positions(nb, self._roles)
        except SubmissionError as err:
            run.error = str(err)
            return run
        specs = self.assignment.probe_specs()
        for spec in specs:
            if self.probe_timeout is not None:
                spec["timeout"] = min(spec["timeout"], self.probe_timeout)
        uid = self._uids.get()
        try:
            uid = self._run_probes(run, cells, specs, uid, start + self.submission_timeout)
        finally:
            self._uids.put(uid)
        run.seconds = time.monotonic() - start
        return run

    def _config(self, uid: int) -> dict:
        return SandboxConfig(
            level=str(self.isolation),
            root_dir=str(self._workdir / "root"),
            uid=uid,
            binds=self._binds,
            overlays=self._overlays,
            limits=self.limits,
            seccomp=self._seccomp,
        ).to_dict()

    def _run_probes(self, run: SandboxRun, cells, specs: list[dict], uid: int, total_deadline: float) -> int:
        """Run until every probe has an outcome; after a hang or crash, rerun without what caused it.

        A cell that hangs or kills the process is dropped (nbgrader moves on past a timed-out
        cell too); a probe that does is recorded with its function's other calls, and the rest
        run in a fresh sandbox, while the submission's judge budget lasts. Returns the slot's uid
        (a new one if the old one had to be retired).
        """
        by_id = {s["id"]: s for s in specs}
        remaining, skipped = specs, set()
        bytes_left, cpu_deadline = self.budget.frame_bytes, time.thread_time() + self.budget.judge_cpu
        for attempt in range(self.budget.restarts + 1):
            live = [(i, c) for i, c in enumerate(cells) if i not in skipped]
            job = {
                "sandbox": self._config(uid),
                "cells": [{"label": c.label, "source": c.source} for _, c in live],
                "probes": remaining,
                "drivers": self.assignment.drivers,
            }
            group = self._hierarchy.create(self._cgroup_limits) if self._hierarchy else None
            try:
                log = run_once(
                    self.zygote,
                    job,
                    self.cell_timeout,
                    total_deadline,
                    cgroup=group.procs_files if group else None,
                    frame_budget=bytes_left,
                    cpu_deadline=cpu_deadline,
                )
            finally:
                uid = self._end_run(run, group, uid)
            bytes_left -= log.received
            if log.setup_error:
                raise SetupError(f"the sandbox could not be built: {log.setup_error}")
            if attempt == 0:
                run.cells = _cell_records(log.frames, cells)
                dropped = f"\n[... {log.output_dropped} more bytes of output dropped]" if log.output_dropped else ""
                run.output = log.output.decode("utf-8", "replace") + dropped
            wanted = {s["id"] for s in remaining}
            for frame in log.frames:  # the first frame for a probe counts; the sandbox is untrusted
                if frame.get("kind") == "probe" and frame.get("id") in wanted:
                    spec = by_id[frame["id"]]
                    run.outcomes.setdefault(spec["name"], _outcome(spec["label"], frame))
            remaining = [s for s in remaining if s["name"] not in run.outcomes]
            if not remaining:
                return uid
            reason = log.killed or "the process exited"
            where, index = log.ended_in or ("", None)
            if where == "cell" and 0 <= index < len(live):
                original, cell = live[index]
                if log.kill_kind == "timeout":  # said with the cell's own label, once, in the note below
                    reason = f"it ran past its time limit ({self.cell_timeout:g} s)"
                skipped.add(original)
                run.cells[original]["status"] = "skipped"
                run.cells[original]["error"] = reason
                run.notes.append(f"{cell.label} was skipped: {reason}")
            elif where == "probe" and index in by_id and by_id[index]["name"] not in run.outcomes:
                spec = by_id[index]
                status = "timeout" if log.kill_kind == "timeout" else "crashed"
                run.outcomes[spec["name"]] = Outcome(spec["label"], status, message=reason)
                run.notes.append(f"probe {spec['name']}: {reason}")
                key = probe_key(spec)  # its other calls would do the same: skip them, keep the rest
                for other in remaining:
                    if probe_key(other) == key:
                        message = f"an earlier call of {key} failed ({reason})"
                        run.outcomes.setdefault(other["name"], Outcome(other["label"], status, message=message))
                remaining = [s for s in remaining if s["name"] not in run.outcomes]
            if log.kill_kind == "total_timeout" or time.monotonic() > total_deadline:
                _give_up(run, remaining, "the submission ran past its total time limit")
                return uid
            if bytes_left <= 0 or time.thread_time() > cpu_deadline:
                spent = f"{(self.budget.frame_bytes - bytes_left) / 2**20:.1f} MiB of results"
                _give_up(
                    run, remaining, f"the submission used up the judge's budget ({spent}); scored on what it returned"
                )
                return uid
        _give_up(
            run,
            remaining,
            f"the judge's budget of {self.budget.restarts} restarts after timeouts or crashes is used up",
        )
        return uid

    def _end_run(self, run: SandboxRun, group: cgroups.Cgroup | None, uid: int) -> int:
        """Kill everything the run started, sweep its uid, check; returns the uid for the next run."""
        problems = []
        if group is not None:
            try:
                group.kill()
                if group.oom_kills():
                    run.notes.append(
                        f"the sandbox reached its memory limit ({self.limits.memory_bytes / 2**30:.1f} GiB); "
                        "the kernel ended the process that asked for more"
                    )
                group.remove()
            except cgroups.CgroupError as err:
                problems.append(str(err))
        if self.isolation in ROOT_LEVELS:
            kill_uid(uid)  # always: a process that left the cgroup or namespace is still this uid's
            left = uid_processes(uid)
            if left:
                problems.append(f"processes {left} of sandbox uid {uid} survived the sweep")
        if not problems:
            return uid
        run.notes.append(f"isolation problem after this submission: {'; '.join(problems)}; uid {uid} retired")
        return self._uid_pool.acquire() if self._uid_pool else uid  # the retired uid stays locked


class UidPool:
    """Sandbox uids that no other judge on this machine uses at the same time.

    Two judges (a batch and formgrader's button, say) must never share a uid: each one's sweep
    (``kill(-1)`` as that uid) would kill the other's sandboxes. A uid is ours while we hold an
    exclusive ``flock`` on its lock file; before use it is swept, and a uid that still has
    processes afterwards is skipped.
    """

    def __init__(self, first: int = BASE_UID, count: int = 4096, lock_dir: str | Path | None = None):
        self.first, self.count = first, count
        default = "/run/lock" if os.path.isdir("/run/lock") else tempfile.gettempdir()
        self.lock_dir = Path(lock_dir or default)
        self._held: dict[int, int] = {}  # uid -> lock file descriptor
        self._lock = threading.Lock()

    def acquire(self) -> int:
        with self._lock:
            for uid in range(self.first, self.first + self.count):
                if uid in self._held:
                    continue
                fd = os.open(self.lock_dir / f"autograder-uid-{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                kill_uid(uid)  # whatever an earlier judge that died left behind
                if uid_processes(uid):
                    os.close(fd)
                    continue
                self._held[uid] = fd
                return uid
        raise SetupError(f"no free sandbox uid in {self.first}..{self.first + self.count - 1}")

    @property
    def held(self) -> list[int]:
        return list(self._held)

    def close(self) -> None:
        with self._lock:
            for fd in self._held.values():
                os.close(fd)
            self._held.clear()


def _give_up(run: SandboxRun, remaining: list[dict], message: str) -> None:
    for s in remaining:
        run.outcomes.setdefault(s["name"], Outcome(s["label"], "not_run", message=message))
    if remaining:
        run.notes.append(message)


def _outcome(name: str, frame: dict) -> Outcome:
    """Build an Outcome from an untrusted frame, checking every field's type."""
    status = frame.get("status")
    if status not in STATUSES:
        return Outcome(name, "crashed", message=f"unreadable result (status {str(status)[:40]!r})")

    def text(key: str, n: int = 2000) -> str:
        return str(frame.get(key, ""))[:n]

    seconds = frame.get("seconds")
    outcome = Outcome(
        name,
        status,
        exception=text("exception", 100) or None,
        message=text("message") or text("name", 200),
        seconds=float(seconds) if type(seconds) in (int, float) else 0.0,
    )
    bases = frame.get("builtin_bases")
    if isinstance(bases, list):
        outcome.builtin_bases = [str(b)[:100] for b in bases[:20]]
    if status == "returned":
        try:
            outcome.value = codec.decode(frame.get("value"))
            outcome.grads = codec.decode(frame["grads"]) if "grads" in frame else None
        except codec.WireError as err:
            return Outcome(name, "crashed", message=f"returned data the grader cannot read: {err}")
    return outcome


def _cell_records(frames: list[dict], cells) -> list[dict]:
    records = [{"label": c.label, "origin": c.origin, "status": "not run", "error": ""} for c in cells]
    for f in frames:
        i = f.get("index")
        if f.get("kind") == "cell" and type(i) is int and 0 <= i < len(records):
            records[i]["status"] = "error" if f.get("status") == "error" else "ok"
            records[i]["error"] = str(f.get("error", ""))[:3000]
    return records
