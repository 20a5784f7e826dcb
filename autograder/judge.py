"""Grading: run a submission in the sandbox, then judge what came back with the hidden pytest grader.

:meth:`Grader.grade` is the pure unit of work, ``(assignment, submission path) -> SubmissionResult``;
a cluster backend only has to call it on another machine. :meth:`Grader.grade_many` runs sandboxes
``jobs`` at a time in threads (the work happens in the sandbox processes) and judges each result
in this thread as it arrives, because pytest runs one session at a time.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder import codec
from autograder.assignment import (
    Assignment,
    SetupError,
    assignment_paths,
    course_lib_dir,
    load_assignment,
    preload_modules,
    sandbox_binds,
    student_course_lib,
)
from autograder.probes import STATUSES, Outcome, StudentFailure
from autograder.notebook import SubmissionError, program_cells, read_notebook, source_roles
from autograder.pytest_plugin import OUTCOMES
from autograder.results import SubmissionResult, TestResult
from autograder.runner import Zygote, run_once
from autograder.sandbox import LEVELS, Limits, SandboxConfig, kill_uid, level_works
from autograder.worker import probe_key

BASE_UID = 61000
MAX_RESTARTS = 8  # fresh sandboxes after a probe kills or hangs its process


@dataclass
class SandboxRun:
    """Plain data from one submission's sandbox runs, before judging."""

    path: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    cells: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    output: str = ""
    error: str | None = None
    seconds: float = 0.0


def start_zygote(assignment: str, course_dir: str | Path) -> Zygote:
    """Start the assignment's zygote; it imports torch while the caller imports the grader."""
    _, _, grader_path = assignment_paths(assignment, course_dir)
    return Zygote(preload_modules(grader_path))


class Grader:
    """Grades submissions of one assignment. Use as a context manager (it owns a zygote process)."""

    def __init__(
        self,
        assignment: str,
        course_dir: str | Path = "assignments",
        jobs: int | None = None,
        limits: Limits | None = None,
        cell_timeout: float = 30.0,
        probe_timeout: float | None = None,
        submission_timeout: float = 300.0,
        self_check: bool = True,
        zygote: Zygote | None = None,
        isolation: str | None = None,
    ):
        self.zygote = zygote or start_zygote(assignment, course_dir)
        try:
            self.assignment: Assignment = load_assignment(assignment, course_dir)
        except BaseException:
            self.zygote.close()
            raise
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self.cell_timeout = cell_timeout  # per cell, as nbgrader's Execute.timeout
        self.probe_timeout = probe_timeout  # caps each probe's own timeout
        self.submission_timeout = submission_timeout
        self._workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
        try:
            self.isolation = self._choose_isolation(isolation)
            self._prepare()
            if self_check:
                self._self_check()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        real = course_lib_dir()
        self._binds = sandbox_binds()
        course = str(self.assignment.course_dir)
        for path in self._binds + [str(real)]:
            if path != "/" and (course + "/").startswith(path.rstrip("/") + "/"):
                raise SetupError(f"{path} would be visible in the sandbox and contains the course directory {course}")
        stub = student_course_lib(real, self._workdir / "student", self.assignment.reference, self.assignment.name)
        self._overlays = [(str(stub), str(real))]
        (self._workdir / "root").mkdir()
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.jobs):
            self._slots.put(slot)
        self.source_nb = read_notebook(self.assignment.source_notebook)
        self.source_roles = source_roles(self.source_nb)
        self.tests = self._collect()

    def _self_check(self) -> None:
        """Grade the instructor's source notebook: anything short of full marks is a setup error."""
        result = self.grade(self.assignment.source_notebook)
        if result.error or result.score < result.max_score:
            failing = "; ".join(f"{t.name}: {t.output[:200]}" for t in result.tests if t.status != "passed")
            raise SetupError(
                f"the reference solution {self.assignment.source_notebook} scores {result.score:g}/"
                f"{result.max_score:g} (grader or environment broken): {result.error or failing}"
            )

    def _choose_isolation(self, wanted: str | None) -> str:
        """The requested level (for tests and weaker machines), by default the strongest available."""
        available = self.zygote.level
        wanted = wanted or available
        if wanted not in LEVELS:
            raise SetupError(f"isolation must be one of {LEVELS}, got {wanted!r}")
        if wanted != available and not level_works(wanted):
            raise SetupError(
                f"isolation {wanted!r} does not work on this machine; the strongest available is {available!r}"
            )
        return wanted

    def close(self) -> None:
        self.zygote.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sandbox ------------------------------------------------------------------------------

    def _config(self, slot: int) -> dict:
        level = self.isolation
        if level == "none":
            raise SetupError("no isolation is available on this machine (need root or user namespaces)")
        return SandboxConfig(
            level=level,
            root_dir=str(self._workdir / "root"),
            uid=BASE_UID + slot,
            binds=self._binds,
            overlays=self._overlays,
            limits=self.limits,
        ).to_dict()

    def run_sandbox(self, path: str | Path) -> SandboxRun:
        """Run one submission's code and probes in the sandbox; return plain outcomes."""
        start = time.monotonic()
        run = SandboxRun(path=str(path))
        try:
            nb = read_notebook(path)
            cells, run.notes = program_cells(nb, self.source_nb)
        except SubmissionError as err:
            run.error = str(err)
            return run
        specs = self.assignment.probe_specs()
        for spec in specs:
            if self.probe_timeout is not None:
                spec["timeout"] = min(spec["timeout"], self.probe_timeout)
        slot = self._slots.get()
        try:
            self._run_probes(run, cells, specs, slot, start + self.submission_timeout)
        finally:
            self._slots.put(slot)
        run.seconds = time.monotonic() - start
        return run

    def _run_probes(self, run: SandboxRun, cells, specs: list[dict], slot: int, total_deadline: float) -> None:
        """Run until every probe has an outcome; after a hang or crash, rerun without what caused it.

        A cell that hangs or kills the process is dropped (nbgrader moves on past a timed-out
        cell too); a probe that does is recorded with its function's other calls, and the rest
        run in a fresh sandbox.
        """
        by_id = {s["id"]: s for s in specs}
        remaining, skipped = specs, set()
        for attempt in range(MAX_RESTARTS + 1):
            live = [(i, c) for i, c in enumerate(cells) if i not in skipped]
            job = {
                "sandbox": self._config(slot),
                "cells": [{"label": c.label, "source": c.source} for _, c in live],
                "probes": remaining,
                "drivers": self.assignment.drivers,
            }
            log = run_once(self.zygote, job, self.cell_timeout, total_deadline)
            if job["sandbox"]["level"] == "unprivileged-user":  # no pid namespace: end its processes by uid
                kill_uid(job["sandbox"]["uid"])
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
                return
            reason = log.killed or "the process exited"
            where, index = log.ended_in or ("", None)
            if where == "cell" and 0 <= index < len(live):
                original, cell = live[index]
                skipped.add(original)
                run.cells[original]["status"] = "skipped"
                run.cells[original]["error"] = reason
                run.notes.append(f"cell {cell.label} was skipped: {reason}")
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
                self._give_up(run, remaining, "the submission ran past its total time limit")
                return
        self._give_up(run, remaining, "too many timeouts or crashes")

    @staticmethod
    def _give_up(run: SandboxRun, remaining: list[dict], message: str) -> None:
        for s in remaining:
            run.outcomes.setdefault(s["name"], Outcome(s["label"], "not_run", message=message))

    # -- judging --------------------------------------------------------------------------------

    def _pytest(self, outcomes: dict[str, Outcome] | None) -> list[TestResult]:
        recorder = _Recorder(outcomes)
        args = [
            str(self.assignment.grader_path),
            "-o",
            "addopts=",
            "--assert=plain",  # no rewritten explanations: they print expected values and hidden inputs
            "-p",
            "no:terminal",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:unraisableexception",
            "-p",
            "no:threadexception",  # each forces gc.collect (0.3 s)
            "-p",
            "no:faulthandler",
            "-p",
            "no:doctest",
            "-p",
            "no:junitxml",
            "-p",
            "no:pastebin",
            "-p",
            "no:stepwise",
            "--rootdir",
            str(self.assignment.grader_path.parent.parent),
            "--confcutdir",  # graders/conftest.py and nothing above it
            str(self.assignment.grader_path.parent.parent),
        ]
        if outcomes is None:
            args.append("--collect-only")
        autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # graders need no third-party plugins
        try:
            code = pytest.main(args, plugins=[recorder])
        finally:
            if autoload is None:
                del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
            else:
                os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            raise SetupError(
                f"the grader {self.assignment.grader_path} did not run (pytest exit {int(code)}): {recorder.problem}"
            )
        return recorder.tests

    def _collect(self) -> list[TestResult]:
        tests = self._pytest(None)
        if not tests:
            raise SetupError(f"the grader {self.assignment.grader_path} has no tests")
        return tests

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def judge(self, run: SandboxRun) -> SubmissionResult:
        """Score a sandbox run with the hidden tests (in this process, on plain data)."""
        result = SubmissionResult(
            path=run.path,
            score=0.0,
            max_score=self.max_score,
            error=run.error,
            notes=run.notes,
            cells=run.cells,
            student_output=run.output,
            isolation=self.isolation,
            seconds=run.seconds,
        )
        if run.error:
            result.tests = [
                TestResult(t.name, 0.0, t.max_score, "failed", f"not graded: {run.error}", t.cell) for t in self.tests
            ]
            return result
        start = time.monotonic()
        got = {t.name: t for t in self._pytest(run.outcomes)}
        result.tests = [
            got.get(t.name) or TestResult(t.name, 0.0, t.max_score, "failed", "the test did not run", t.cell)
            for t in self.tests
        ]
        result.score = sum(t.score for t in result.tests)
        result.seconds += time.monotonic() - start
        return result

    def _all_failed(self, error: str) -> list[TestResult]:
        return [TestResult(t.name, 0.0, t.max_score, "failed", f"not graded: {error}", t.cell) for t in self.tests]

    def judge_error(self, path: str, error: str) -> SubmissionResult:
        """The record of a submission that could not be graded at all: zero, with the reason."""
        return SubmissionResult(
            path=path,
            score=0.0,
            max_score=self.max_score,
            tests=self._all_failed(error),
            error=error,
            isolation=self.isolation,
        )

    def grade(self, path: str | Path) -> SubmissionResult:
        """The pure unit of work: one submission in, one result record out."""
        return self.judge(self.run_sandbox(path))

    def grade_many(self, paths: Iterable[str | Path]) -> Iterator[SubmissionResult]:
        """Grade ``paths`` with ``jobs`` sandboxes at a time; yields results as they finish."""
        with ThreadPoolExecutor(self.jobs) as pool:
            futures = {pool.submit(self.run_sandbox, p): str(p) for p in paths}
            for future in as_completed(futures):
                try:
                    run = future.result()
                except SetupError:
                    raise
                except Exception as err:  # a bug of ours must cost one submission, not the batch
                    run = SandboxRun(
                        path=futures[future], error=f"internal autograder error: {type(err).__name__}: {err}"
                    )
                yield self.judge(run)


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


class _Recorder:
    """pytest plugin object: injects the outcomes and records one TestResult per test."""

    def __init__(self, outcomes: dict[str, Outcome] | None):
        self.outcomes = outcomes
        self.tests: list[TestResult] = []
        self.problem = ""

    def pytest_configure(self, config):
        if self.outcomes is not None:
            config.stash[OUTCOMES] = self.outcomes

    def pytest_collection_modifyitems(self, items):
        for item in items:
            mark = item.get_closest_marker("points")
            if mark is None or not mark.args or "cell" not in mark.kwargs:
                self.problem = f"{item.nodeid} has no @points(n, cell=...) marker"
                raise pytest.UsageError(self.problem)
            if self.outcomes is None:
                self.tests.append(TestResult(item.name, 0.0, float(mark.args[0]), "failed", "", mark.kwargs["cell"]))

    def pytest_collectreport(self, report):
        if report.failed:
            self.problem = str(report.longrepr)[-2000:]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            mark = item.get_closest_marker("points")
            points = float(mark.args[0])
            passed = report.passed
            message = "" if passed else _message(call.excinfo)
            self.tests.append(
                TestResult(
                    item.name,
                    points if passed else 0.0,
                    points,
                    "passed" if passed else "failed",
                    message,
                    mark.kwargs["cell"],
                )
            )


def _message(excinfo) -> str:
    """What a student sees for a failed test: the grader's own message, never pytest's explanation.

    The judge runs pytest with ``--assert=plain``, so an ``AssertionError`` carries only the message
    the grader wrote (no rewritten ``assert close(got, tensor([...]))`` with expected values); any
    other exception in a test is named by its type alone.
    """
    if excinfo is None:
        return "failed"
    err = excinfo.value
    if isinstance(err, AssertionError):  # StudentFailure included
        return (str(err) or "the result is not correct")[:2000]
    return f"the grader could not check this result ({type(err).__name__})"
