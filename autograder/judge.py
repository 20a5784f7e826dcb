"""The judge: score a :class:`~autograder.runner.SandboxRun` with the assignment's hidden pytest grader.

The judge never runs student code. It collects the grader's tests once with pytest. A test that
asks only for the ``student`` fixture (every grader's tests do) is then called directly on each run's
outcomes (plain data), which costs microseconds, not the milliseconds of a pytest session; any other
test runs in a pytest session that gets the outcomes through :data:`autograder.pytest_plugin.OUTCOMES`.
Either way one :class:`~autograder.results.TestResult` is recorded per test. What a student reads of a
failed test is the grader's own message (:func:`_message`), never pytest's explanation of it.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
import torch

from autograder.assignment import Assignment, SetupError
from autograder.probes import Outcome, module_probes
from autograder.pytest_plugin import OUTCOMES, Results
from autograder.pytest_plugin import student as _student_fixture
from autograder.results import SubmissionResult, TestResult
from autograder.runner import SandboxRun

_STUDENT = getattr(_student_fixture, "_get_wrapped_function", lambda: _student_fixture)()  # the plain function


class Judge:
    """Scores sandbox runs of one assignment; collects the hidden grader's tests on creation."""

    def __init__(self, assignment: Assignment, isolation: str = ""):
        self.assignment = assignment
        self.isolation = isolation
        # graders compare small tensors: one thread, or each op may wait on an OpenMP wake-up
        # (F.logsigmoid of 16 numbers: 16 ms on two threads of a busy machine, 2 us on one)
        torch.set_num_threads(1)
        self.direct: dict[str, object] = {}  # test name -> its function, for tests that need only ``student``
        self.tests = self._collect()

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def _pytest(self, outcomes: dict[str, Outcome] | None, recorder: _Recorder | None = None) -> list[TestResult]:
        recorder = recorder or _Recorder(outcomes)
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
        # A host process that runs under pytest (a test, a notebook plugin) has an assertion-rewriting import
        # hook: out of its reach, so that the grader's asserts stay plain and explain nothing.
        hooks = [h for h in sys.meta_path if type(h).__name__ == "AssertionRewritingHook"]
        for hook in hooks:
            sys.meta_path.remove(hook)
        try:
            code = pytest.main(args, plugins=[recorder])
        finally:
            sys.meta_path[:0] = hooks
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
        recorder = _Recorder(None)
        tests = self._pytest(None, recorder)
        self.direct = recorder.direct
        if not tests:
            raise SetupError(f"the grader {self.assignment.grader_path} has no tests")
        return tests

    def judge(self, run: SandboxRun) -> SubmissionResult:
        """Score a sandbox run with the hidden tests (in this process, on plain data)."""
        result = SubmissionResult(
            path=run.path,
            score=0.0,
            max_score=self.max_score,
            error=run.error,
            notes=run.notes,
            cells=run.cells,
            positions=run.positions,
            student_output=run.output,
            isolation=self.isolation,
            seconds=run.seconds,
        )
        if run.error:
            result.tests = self._all_failed(run.error)
            return result
        start = time.monotonic()
        got = self._call_directly(run.outcomes)
        if len(got) < len(self.tests):
            got.update({t.name: t for t in self._pytest(run.outcomes) if t.name not in got})
        result.tests = [
            got.get(t.name) or TestResult(t.name, 0.0, t.max_score, "failed", "the test did not run", t.cell)
            for t in self.tests
        ]
        result.score = sum(t.score for t in result.tests)
        result.seconds += time.monotonic() - start
        return result

    def _call_directly(self, outcomes: dict[str, Outcome]) -> dict[str, TestResult]:
        """Run the tests that need only ``student`` as plain calls, as pytest would (same pass/fail, same message)."""
        student, got = Results(outcomes), {}
        for test in self.tests:
            function = self.direct.get(test.name)
            if function is None:
                continue
            try:
                function(student)
            except (Exception, pytest.fail.Exception, pytest.skip.Exception) as err:  # not KeyboardInterrupt
                got[test.name] = TestResult(test.name, 0.0, test.max_score, "failed", _message(err), test.cell)
            else:
                got[test.name] = TestResult(test.name, test.max_score, test.max_score, "passed", "", test.cell)
        return got

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


class _Recorder:
    """pytest plugin object: injects the outcomes and records one TestResult per test."""

    def __init__(self, outcomes: dict[str, Outcome] | None):
        self.outcomes = outcomes
        self.tests: list[TestResult] = []
        self.direct: dict[str, object] = {}
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
                if _needs_only_student(item):
                    module_probes(item.module)  # names its probes, as the student fixture does
                    self.direct[item.name] = item.obj

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
            message = "" if passed else _message(call.excinfo and call.excinfo.value)
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


def _needs_only_student(item) -> bool:
    """Whether ``item`` is ``test(student)`` with our ``student`` fixture, no parameters, no other marks."""
    info = item._fixtureinfo
    fixture = info.name2fixturedefs.get("student", [None])[-1]
    return (
        tuple(info.argnames) == ("student",)
        and set(item.fixturenames) <= {"student", "request"}  # no autouse fixtures
        and getattr(fixture, "func", None) is _STUDENT
        and not hasattr(item, "callspec")
        and {m.name for m in item.iter_markers()} == {"points"}  # no skip, xfail, usefixtures...
    )


def _message(err: BaseException | None) -> str:
    """What a student sees for a failed test: the grader's own message, never pytest's explanation.

    The judge runs pytest with ``--assert=plain``, so an ``AssertionError`` carries only the message
    the grader wrote (no rewritten ``assert close(got, tensor([...]))`` with expected values); any
    other exception in a test is named by its type alone.
    """
    if err is None:
        return "failed"
    if isinstance(err, AssertionError):  # StudentFailure included
        return (str(err) or "the result is not correct")[:2000]
    return f"the grader could not check this result ({type(err).__name__})"
