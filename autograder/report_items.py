"""Item analysis for the instructor report: how hard each question and test was, and which tests look wrong.

A *question* is a graded cell (its grade_id); each of the grader's tests counts toward one
(``TestResult.cell``). Everything here is over the *graded* submissions: one that could not be graded
at all failed every test for a reason of its own and says nothing about them.

* A question's pass rate is the share of submissions with all its points; its distribution, how many
  got each score.
* A test's difficulty is the share of submissions that pass it (its mean fraction of points).
* A test's discrimination is the point-biserial correlation between passing it (1 or 0) and the rest of
  the score (the total minus this test's points): Pearson's r with a two-valued variable. Near +1, the
  students who pass it are the stronger ones; near 0, passing it is unrelated to the rest; below 0,
  stronger students fail it more often. It is ``None`` ("n/a") with fewer than ``MIN_DISCRIMINATION``
  graded submissions, or when passing or the rest does not vary (everybody passes, or all score alike):
  then there is nothing to correlate. With a class of 30 or fewer, read it as a hint, not a measure.
* A test is flagged as a likely grader problem when no graded submission passes it (at least
  ``MIN_ALL_FAIL`` of them), or when its discrimination is negative as shown (two decimals).

>>> round(point_biserial([1, 1, 0, 0], [3, 2, 1, 0]), 3)
0.894
>>> point_biserial([1, 1, 1, 1, 1], [3, 2, 1, 0, 5]) is None  # everybody passes: n/a
True
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from autograder.notebook import cell_label
from autograder.results import SubmissionResult

MIN_DISCRIMINATION = 5  # graded submissions below which discrimination is n/a (r of 2 or 3 points is noise)
MIN_ALL_FAIL = 2  # graded submissions from which "nobody passes" is flagged
MAX_BARS = 40  # bars of the score histogram at most


def point_biserial(passed: list[float], rest: list[float]) -> float | None:
    """Pearson's r between ``passed`` (1 or 0 per submission) and ``rest``; None if either does not vary.

    r = cov(x, y) / (sd(x) sd(y)), which for a 0/1 ``x`` is the point-biserial coefficient
    (M1 - M0) / sd(y) * sqrt(p q).
    """
    if len(passed) != len(rest):
        raise ValueError(f"one value each: {len(passed)} passed values, {len(rest)} rest scores")
    n = len(passed)
    if n < 2:
        return None
    mx, my = sum(passed) / n, sum(rest) / n
    sxx = sum((x - mx) ** 2 for x in passed)
    syy = sum((y - my) ** 2 for y in rest)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(passed, rest))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def grid_step(points: list[float]) -> float:
    """The finest step every score is a multiple of: the greatest common divisor of the points.

    >>> grid_step([0.5, 0.25, 1.0]), grid_step([2, 4]), grid_step([])
    (0.25, 2.0, 1.0)
    """
    fractions = [Fraction(p).limit_denominator(1000) for p in points if p > 0]
    if not fractions:
        return 1.0
    denominator = math.lcm(*(f.denominator for f in fractions))
    return math.gcd(*(int(f * denominator) for f in fractions)) / denominator


def histogram_edges(max_score: float, step: float) -> list[float]:
    """Bar edges halfway between possible scores (multiples of ``step``): one bar per possible score,
    or per run of k consecutive ones when there would be more than ``MAX_BARS``.

    >>> histogram_edges(2, 0.5)
    [-0.25, 0.25, 0.75, 1.25, 1.75, 2.25]
    """
    if step <= 0:
        raise ValueError(f"the score step must be positive, got {step}")
    scores = round(max_score / step) + 1  # 0, step, ..., max_score
    k = math.ceil(scores / MAX_BARS)
    return [(i * k - 0.5) * step for i in range(math.ceil(scores / k) + 1)]


@dataclass(frozen=True)
class QuestionStats:
    cell: str  # grade_id
    name: str  # as pages name it: cell_label with the position most students' notebooks have
    points: float
    n: int  # graded submissions
    full: int  # of them with all the points
    zero: int  # of them with none
    mean: float | None
    distribution: tuple[tuple[float, int], ...]  # (score, submissions), lowest score first


@dataclass(frozen=True)
class ItemStats:
    name: str
    cell: str
    points: float
    n: int
    passed: int
    difficulty: float | None  # share passing; None without graded submissions
    discrimination: float | None  # point-biserial r; None: n/a
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Analysis:
    graded: int  # submissions analysed
    ungraded: int  # left out: they could not be graded at all
    questions: list[QuestionStats]
    tests: list[ItemStats]


def shown(r: float | None) -> str:
    """A discrimination as pages and CSVs show it: two decimals with a sign, or "n/a".

    >>> shown(0.8944), shown(-0.004), shown(None)
    ('+0.89', '+0.00', 'n/a')
    """
    return "n/a" if r is None else f"{round(r, 2) + 0.0:+.2f}"


def flags_for(n: int, passed: int, discrimination: float | None) -> tuple[str, ...]:
    """Why a test looks like a grader problem (empty: it does not).

    >>> flags_for(6, 0, None)
    ('no graded submission passes it: check the test and the reference solution',)
    >>> flags_for(6, 3, -0.4)
    ('stronger submissions fail it more often (discrimination -0.40): check the test',)
    """
    flags = []
    if n >= MIN_ALL_FAIL and passed == 0:
        flags.append("no graded submission passes it: check the test and the reference solution")
    if discrimination is not None and round(discrimination, 2) < 0:
        flags.append(
            f"stronger submissions fail it more often (discrimination {shown(discrimination)}): check the test"
        )
    return tuple(flags)


def _usual_name(cell: str, graded: list[SubmissionResult]) -> str:
    """The cell's label at the position most notebooks have it (the release's, unless students moved cells)."""
    counts = Counter(r.positions[cell] for r in graded if cell in r.positions)
    if not counts:
        return cell
    position = min(counts, key=lambda p: (-counts[p], p))
    return cell_label(position, cell)


def analyse(results: dict[str, SubmissionResult]) -> Analysis:
    """Questions and tests of ``results`` (student -> result), in the grader's order of tests."""
    graded = [r for _, r in sorted(results.items()) if not r.error]
    names, cells, points = {}, {}, {}
    for r in results.values():
        for t in r.tests:
            names.setdefault(t.name, None)
            cells.setdefault(t.name, t.cell)
            points.setdefault(t.name, t.max_score)
    by_name = [({t.name: t for t in r.tests}, r) for r in graded]
    tests = []
    for name in names:
        outcomes = [(mine[name], r) for mine, r in by_name if name in mine]
        passing = [1.0 if t.status == "passed" else 0.0 for t, _ in outcomes]
        rest = [r.score - t.score for t, r in outcomes]
        n, passed = len(outcomes), int(sum(passing))
        r_pb = point_biserial(passing, rest) if n >= MIN_DISCRIMINATION else None
        difficulty = passed / n if n else None
        tests.append(
            ItemStats(name, cells[name], points[name], n, passed, difficulty, r_pb, flags_for(n, passed, r_pb))
        )
    per_cell = [r.cell_scores() for r in graded]
    questions = []
    for cell in dict.fromkeys(t.cell for t in tests):
        total = sum(points[t.name] for t in tests if t.cell == cell)
        got = [round(mine[cell][0], 6) for mine in per_cell if cell in mine]
        questions.append(
            QuestionStats(
                cell,
                _usual_name(cell, graded),
                total,
                len(got),
                sum(1 for s in got if s >= total - 1e-9),
                sum(1 for s in got if s <= 1e-9),
                sum(got) / len(got) if got else None,
                tuple(sorted(Counter(got).items())),
            )
        )
    return Analysis(len(graded), len(results) - len(graded), questions, tests)
