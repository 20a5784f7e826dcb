"""pytest glue for hidden graders: the ``student`` fixture, the ``points`` marker, ``--submission``.

Graders run two ways with the same code:

* directly: ``pytest assignments/graders/ps1_bradley_terry --submission NB.ipynb`` (or
  ``--submission reference`` for the instructor's source notebook) runs the sandbox here;
* inside the autograder, which runs the sandbox itself and injects the outcomes through
  ``config.stash`` (:data:`OUTCOMES`), so tests only ever see plain data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.probes import Outcome, Probe, module_probes

OUTCOMES = pytest.StashKey[dict]()


class Results:
    """Outcomes by probe: ``student[probe]`` is the :class:`~autograder.probes.Outcome` of that probe."""

    def __init__(self, outcomes: dict[str, Outcome]):
        self._outcomes = outcomes

    def __getitem__(self, probe: Probe | str) -> Outcome:
        name = probe.name if isinstance(probe, Probe) else probe
        if name not in self._outcomes:
            raise KeyError(
                f"no probe named {name!r}; probes must be module-level names (or items of module-level lists/dicts) in the grader"
            )
        return self._outcomes[name]


def pytest_addoption(parser):
    group = parser.getgroup("autograder")
    group.addoption("--submission", default=None, help="notebook to grade, or 'reference' for the source notebook")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "points(n, cell): points of a grader test and the notebook cell they count toward"
    )


@pytest.fixture(scope="module")
def student(request) -> Results:
    module_probes(request.module)
    outcomes = request.config.stash.get(OUTCOMES, None)
    if outcomes is None:
        outcomes = _run_directly(request)
    return Results(outcomes)


def _run_directly(request) -> dict[str, Outcome]:
    """Run the sandbox here (no judge: the tests of this very session judge the outcomes)."""
    from autograder.assignment import load_assignment
    from autograder.runner import SandboxRunner, start_zygote

    submission = request.config.getoption("--submission")
    if not submission:
        pytest.fail("pass --submission NOTEBOOK (or --submission reference) to run a grader directly", pytrace=False)
    grader_file = Path(request.module.__file__).resolve()
    name, course_dir = grader_file.parent.name, grader_file.parents[2]
    if submission == "reference":
        submission = course_dir / "source" / name / f"{name}.ipynb"
    zygote = start_zygote(name, course_dir)
    try:
        with SandboxRunner(load_assignment(name, course_dir), zygote) as runner:
            run = runner.run(submission)
    finally:
        zygote.close()
    if run.error:
        pytest.fail(f"not graded: {run.error}", pytrace=False)
    return run.outcomes
