"""Command line: ``python -m autograder grade|batch ...``.

    python -m autograder grade ps1_bradley_terry a.ipynb b.ipynb --json results.json
    python -m autograder batch ps1_bradley_terry --course-dir assignments --jobs 2
    python -m autograder batch ps1_bradley_terry --scheduler tcp://HOST:8786   # on a Dask cluster
    python -m autograder similarity ps1_bradley_terry --course-dir assignments   # pairs that look copied

Exit status 0 means grading completed, whatever the scores; 2 is a usage or setup error, with a
message that says what to fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tqdm.auto import tqdm

from autograder.assignment import SetupError
from autograder.launch import open_autograder
from autograder.results import SubmissionResult
from autograder.sandbox import Isolation

EXIT_SETUP = 2
ISOLATION_CHOICES = [str(lvl) for lvl in Isolation if lvl != Isolation.NONE]


def _seconds(text: str) -> float:
    """A number of seconds >= 0, for argparse (which turns the ValueError into a usage error)."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description="Sandboxed autograder for the reward-modeling course."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade notebooks against an assignment's hidden grader")
    grade.add_argument("assignment")
    grade.add_argument("notebooks", nargs="+", type=Path)
    grade.add_argument("--json", type=Path, help="write results here (Gradescope-compatible per submission)")
    grade.add_argument("--course-dir", type=Path, default=Path("assignments"))
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    grade.add_argument("--isolation", choices=ISOLATION_CHOICES, help="default: the strongest this machine allows")
    batch = sub.add_parser("batch", help="grade submitted/<student>/<assignment>/ into the nbgrader gradebook")
    batch.add_argument("assignment")
    batch.add_argument("--course-dir", type=Path, default=Path("assignments"))
    batch.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    batch.add_argument(
        "--db", default=None, help="SQLAlchemy URL of the gradebook (default: sqlite in the course dir)"
    )
    batch.add_argument("--isolation", choices=ISOLATION_CHOICES, help="default: the strongest this machine allows")
    batch.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    batch.add_argument(
        "--max-crashes",
        type=int,
        default=1,
        help="give a submission zero once the batch has died this many times with it alone in flight (default 1)",
    )
    batch.add_argument(
        "--similarity", action="store_true", help="then compare the submissions pairwise (as the similarity command)"
    )
    dask = batch.add_argument_group("grading on a Dask cluster (README: Scale-out)")
    dask.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="tcp://HOST:8786 or tls://HOST:8786: grade on that Dask scheduler's workers (--jobs is then theirs); "
        "local:N: on a new cluster of N one-thread worker processes on this machine",
    )
    dask.add_argument(
        "--scheduler-timeout", type=float, default=10.0, help="seconds to reach the scheduler (default 10)"
    )
    dask.add_argument(
        "--keep-warm",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="each worker keeps this assignment's grader (zygote, graders, source) this long after the batch, so "
        "that the next batch of the same files starts at once (default 600; 0: remove them when the batch ends)",
    )
    dask.add_argument("--tls-ca-file", type=Path, help="CA certificate (PEM) that signed the cluster's certificates")
    dask.add_argument("--tls-cert", type=Path, help="this client's certificate (PEM), for tls:// addresses")
    dask.add_argument("--tls-key", type=Path, help="this client's private key (PEM), for tls:// addresses")
    similarity = sub.add_parser(
        "similarity", help="compare submissions pairwise: reports/<assignment>/similarity.html and similarity.json"
    )
    similarity.add_argument("assignment")
    similarity.add_argument("--course-dir", type=Path, default=Path("assignments"))
    similarity.add_argument(
        "--threshold", type=float, default=None, help="flag pairs scoring at least this, in (0, 1] (default 0.7)"
    )
    return parser


def _similarity(args) -> int:
    from autograder.similarity import SimilarityConfig, run_similarity

    threshold = getattr(args, "threshold", None)
    try:
        config = SimilarityConfig() if threshold is None else SimilarityConfig(threshold=threshold)
    except ValueError as err:
        print(f"error: --threshold: {err}", file=sys.stderr)
        return EXIT_SETUP
    report = run_similarity(args.course_dir, args.assignment, config)
    flagged = [p for p in report.pairs if p.flagged]
    print(
        f"{args.assignment}: {len(report.pairs)} pairs compared, {len(flagged)} flagged at score >= "
        f"{config.threshold:g}"
        + (f"; not compared: {', '.join(sorted(report.not_compared))}" if report.not_compared else "")
    )
    for p in flagged[:10]:
        print(f"  {p.score:.2f}  {p.a} and {p.b}  ({', '.join(p.cells) or 'across cells'})")
    print(f"similarity: {report.html}\nsimilarity_json: {report.json}")
    return 0


def _grade(args) -> int:
    missing = [str(p) for p in args.notebooks if not p.exists()]
    if missing:
        print(f"error: no such notebook(s): {', '.join(missing)}", file=sys.stderr)
        return EXIT_SETUP
    results: list[SubmissionResult] = []
    with open_autograder(args) as grader:
        bar = tqdm(
            total=len(args.notebooks), desc=f"grading {args.assignment}", unit="nb", disable=len(args.notebooks) < 2
        )
        order = {str(p): i for i, p in enumerate(args.notebooks)}
        for result in grader.grade_many(args.notebooks):
            results.append(result)
            bar.update()
        bar.close()
        isolation, layers = str(grader.isolation), grader.layers
    results.sort(key=lambda r: order[r.path])
    for r in results:
        print(f"{r.path}: {r.summary()}")
    print("isolation in force:\n  " + "\n  ".join(layers))
    if args.json:
        from autograder.files import atomic_write

        atomic_write(
            args.json,
            json.dumps(
                {
                    "assignment": args.assignment,
                    "isolation": isolation,
                    "layers": layers,
                    "submissions": [r.to_dict() for r in results],
                },
                indent=1,
            ),
        )
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        print(f"error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return EXIT_SETUP
    if getattr(args, "max_crashes", 1) < 1:
        print(f"error: --max-crashes must be >= 1, got {args.max_crashes}", file=sys.stderr)
        return EXIT_SETUP
    try:
        if args.command == "grade":
            return _grade(args)
        if args.command == "similarity":
            return _similarity(args)
        from autograder.batch import run_batch

        status = run_batch(args)
        return _similarity(args) if status == 0 and args.similarity else status
    except SetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SETUP
