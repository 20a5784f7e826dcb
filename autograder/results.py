"""Result records: one per test, one per submission; JSON out, Gradescope-compatible.

``SubmissionResult.to_dict()`` is one entry of ``grade --json`` output and is also a valid
Gradescope ``results.json`` (``score``, ``tests[].name/score/max_score/status/output``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TestResult:
    name: str
    score: float
    max_score: float
    status: str  # "passed" or "failed"
    output: str = ""
    cell: str = ""  # grade_id of the notebook cell this test's points count toward

    @classmethod
    def from_dict(cls, d: dict) -> TestResult:
        return cls(**{k: d[k] for k in ("name", "score", "max_score", "status", "output", "cell")})


@dataclass
class SubmissionResult:
    path: str
    score: float
    max_score: float
    tests: list[TestResult] = field(default_factory=list)
    error: str | None = None  # why the submission could not be graded at all
    notes: list[str] = field(default_factory=list)  # for the instructor (edited cells, timeouts, ...)
    cells: list[dict] = field(default_factory=list)  # per code cell: label, origin, status, error
    positions: dict[str, int] = field(default_factory=dict)  # grade_id -> position in the notebook, from 1
    student_output: str = ""  # captured stdout/stderr, capped; instructor-only
    isolation: str = ""
    seconds: float = 0.0
    student: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["output"] = self.summary()
        d["execution_time"] = round(self.seconds, 3)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SubmissionResult:
        keep = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "tests"}
        return cls(tests=[TestResult.from_dict(t) for t in d.get("tests", [])], **keep)

    def summary(self) -> str:
        if self.error:
            return f"Not graded: {self.error}"
        failed = [t for t in self.tests if t.status != "passed"]
        return f"{self.score:g}/{self.max_score:g} points; {len(failed)} of {len(self.tests)} tests failed"

    def cell_name(self, grade_id: str) -> str:
        """The cell ``grade_id`` as every page names it (:func:`autograder.notebook.cell_label`).

        The bare grade_id where the positions are unknown (a notebook that could not be read).

        >>> SubmissionResult("nb.ipynb", 0, 1, positions={"test_a": 7}).cell_name("test_a")
        'cell 7 (test_a)'
        """
        from autograder.notebook import cell_label

        return cell_label(self.positions.get(grade_id), grade_id) if self.positions else grade_id

    def cell_scores(self) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max score), summed over the tests of that cell."""
        out: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            s, m = out.get(t.cell, (0.0, 0.0))
            out[t.cell] = (s + t.score, m + t.max_score)
        return out
