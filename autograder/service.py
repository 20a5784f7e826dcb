"""The autograder: a sandbox runner and a judge for one assignment, and the thread pool between them.

:meth:`Autograder.grade` is the pure unit of work, ``(assignment, submission path) -> SubmissionResult``.
:meth:`Autograder.grade_many` runs sandboxes ``jobs`` at a time in threads (the work happens in the
sandbox processes) and judges each run in the calling thread as it arrives, because pytest runs
one session at a time. On creation it grades the instructor's source notebook (the self-check):
anything short of full marks is a setup error, not a batch of wrong zeros.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from autograder.assignment import Assignment, SetupError, load_assignment
from autograder.channel import Budget, Zygote
from autograder.judge import Judge
from autograder.notebook import source_roles
from autograder.results import SubmissionResult
from autograder.runner import SandboxRun, SandboxRunner, start_zygote
from autograder.sandbox import Isolation, Limits


class Autograder:
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
        isolation: Isolation | str | None = None,
        budget: Budget | None = None,
    ):
        zygote = zygote or start_zygote(assignment, course_dir)  # imports torch while we load the grader
        self.runner: SandboxRunner | None = None
        try:
            self.assignment: Assignment = load_assignment(assignment, course_dir)
            self.jobs = max(1, jobs or os.cpu_count() or 1)
            self.runner = SandboxRunner(
                self.assignment,
                zygote,
                self.jobs,
                limits,
                cell_timeout,
                probe_timeout,
                submission_timeout,
                isolation,
                budget,
            )
            self.source_roles = source_roles(self.runner.source_nb)
            self._judge = Judge(self.assignment, str(self.runner.isolation))
            if self_check:
                self._self_check()
        except BaseException:
            self.close(zygote)
            raise

    @property
    def isolation(self) -> Isolation:
        return self.runner.isolation

    @property
    def layers(self) -> list[str]:
        """The isolation layers in force, one line each (for reports and results)."""
        return self.runner.layers

    @property
    def source_nb(self):
        return self.runner.source_nb

    @property
    def max_score(self) -> float:
        return self._judge.max_score

    @property
    def tests(self):
        return self._judge.tests

    def _self_check(self) -> None:
        """Grade the instructor's source notebook: anything short of full marks is a setup error."""
        result = self.grade(self.assignment.source_notebook)
        if result.error or result.score < result.max_score:
            failing = "; ".join(f"{t.name}: {t.output[:200]}" for t in result.tests if t.status != "passed")
            raise SetupError(
                f"the reference solution {self.assignment.source_notebook} scores {result.score:g}/"
                f"{result.max_score:g} (grader or environment broken): {result.error or failing}"
            )

    def close(self, zygote: Zygote | None = None) -> None:
        if self.runner is not None:
            self.runner.close()
            zygote = self.runner.zygote
        if zygote is not None:
            zygote.close()

    def __enter__(self) -> Autograder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_sandbox(self, path: str | Path) -> SandboxRun:
        return self.runner.run(path)

    def judge(self, run: SandboxRun) -> SubmissionResult:
        """Score a sandbox run (in this process, on plain data)."""
        return self._judge.judge(run)

    def judge_error(self, path: str, error: str) -> SubmissionResult:
        return self._judge.judge_error(path, error)

    def grade(self, path: str | Path) -> SubmissionResult:
        """The pure unit of work: one submission in, one result record out."""
        return self._judge.judge(self.runner.run(path))

    def grade_many(self, paths: Iterable[str | Path]) -> Iterator[SubmissionResult]:
        """Grade ``paths`` with ``jobs`` sandboxes at a time; yields results as they finish.

        ``paths`` is read lazily: the next path is taken when a sandbox is free and the last result has
        been consumed, so a caller (the batch) can save each result before the next submission starts.
        """
        source = iter(paths)
        with ThreadPoolExecutor(self.jobs) as pool:
            running: dict = {}

            def start() -> None:
                while len(running) < self.jobs and (path := next(source, None)) is not None:
                    running[pool.submit(self.runner.run, path)] = str(path)

            start()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    path = running.pop(future)
                    try:
                        run = future.result()
                    except SetupError:
                        raise
                    except Exception as err:  # a bug of ours must cost one submission, not the batch
                        run = SandboxRun(path=path, error=f"internal autograder error: {type(err).__name__}: {err}")
                    yield self._judge.judge(run)
                    start()
