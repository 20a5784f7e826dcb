"""The judge's cost per submission, and how grading scales with ``--jobs``, on ps1.

    .venv/bin/python bench/bench_judge.py [--n 32]

For N copies of the reference (all tests pass) and N unsolved releases (all tests fail), prints:

* submissions per second through ``Autograder.grade_many`` at ``--jobs`` 1 and 2, after the cold start;
* the judge's own milliseconds per submission, measured on the same sandbox runs two ways: the
  tests called directly (what the judge does) and one pytest session per submission (what it did);
* how many sandboxes one judge process can feed: sandbox seconds per submission / judge seconds.

Goal: the judge at most 10 ms per submission on ps1, so that one judge can feed 64 sandboxes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autograder.service import Autograder  # noqa: E402
from tests.support import COURSE, answer_ids, make_submission  # noqa: E402

ASSIGNMENT = "ps1_bradley_terry"
UNSOLVED = "# YOUR CODE HERE\nraise NotImplementedError()"


def submissions(folder: Path, n: int, solved: bool) -> list[Path]:
    answers = None if solved else dict.fromkeys(answer_ids(ASSIGNMENT), UNSOLVED)
    return [make_submission(ASSIGNMENT, folder / f"s{i:03d}.ipynb", answers) for i in range(n)]


def judge_ms(grader: Autograder, runs: list, session: bool) -> float:
    """Milliseconds of judging per run (median of three passes over the runs)."""
    judge = grader._judge
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        for run in runs:
            judge._pytest(run.outcomes) if session else judge.judge(run)
        passes.append((time.perf_counter() - start) / len(runs))
    return 1000 * sorted(passes)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="submissions of each kind")
    args = parser.parse_args()
    if args.n < 4:
        parser.error(f"--n must be >= 4, got {args.n}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        kinds = {"reference": submissions(Path(tmp) / "ref", args.n, True)}
        kinds["release"] = submissions(Path(tmp) / "rel", args.n, False)
        for jobs in (1, 2):
            with Autograder(ASSIGNMENT, COURSE, jobs=jobs) as grader:
                for kind, paths in kinds.items():
                    start = time.perf_counter()
                    results = list(grader.grade_many(paths))
                    wall = time.perf_counter() - start
                    want = grader.max_score if kind == "reference" else 0
                    assert all(r.score == want for r in results), [r.score for r in results]
                    runs = [grader.run_sandbox(p) for p in paths[:8]] if jobs == 1 else []
                    sandbox_ms = 1000 * sum(r.seconds for r in runs) / len(runs) if runs else None
                    direct = judge_ms(grader, runs, session=False) if runs else None
                    session = judge_ms(grader, runs, session=True) if runs else None
                    rows.append((kind, jobs, args.n / wall, 1000 * wall / args.n, sandbox_ms, direct, session))
    print(f"{ASSIGNMENT}, {args.n} submissions of each kind, {os.cpu_count()} cores, after the cold start")
    print(
        "| submissions | --jobs | per second | ms each | sandbox ms | judge ms (direct) | judge ms (pytest session) |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind, jobs, rate, each, sandbox, direct, session in rows:
        extra = f"{sandbox:.0f} | {direct:.2f} | {session:.1f}" if direct is not None else "- | - | -"
        print(f"| {kind} | {jobs} | {rate:.1f} | {each:.0f} | {extra} |")
    for kind, _, _, _, sandbox, direct, session in rows:
        if direct is not None:
            print(
                f"{kind}: the judge takes {direct:.2f} ms per submission (goal <= 10 ms; a pytest session took "
                f"{session:.1f} ms), so one judge process can feed {sandbox / direct:.0f} sandboxes"
            )
    by = {(kind, jobs): rate for kind, jobs, rate, *_ in rows}
    for kind in kinds:
        print(f"{kind}: --jobs 2 grades {by[kind, 2] / by[kind, 1]:.2f}x the submissions per second of --jobs 1")
    print(f"release vs reference at --jobs 1: {by['reference', 1] / by['release', 1]:.2f}x the time per submission")


if __name__ == "__main__":
    main()
