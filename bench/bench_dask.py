"""The Dask backend's cost: the same submissions graded by ``batch --jobs 2`` and on a two-worker cluster.

    .venv/bin/python bench/bench_dask.py [--n 200] [--rounds 2]

Both grade copies of one course (ps1_bradley_terry, ``bench/bench_autograder.py``'s variants in
turn) on this machine. The local backend runs two sandboxes at a time beside one judge; the cluster is
a ``dask scheduler`` and two ``dask worker --nthreads 1`` on 127.0.0.1, started before the clock
(a cluster is long-lived). Each side is one cold ``python -m autograder batch`` command, so both pay
their own start: the zygote and self-check locally, the plugin's on every worker for Dask. Prints the
wall time of each (the mean over ``--rounds``, run local, Dask, Dask, local, ... so that a load that
drifts on a shared machine hits both alike), the Dask backend's overhead per submission in ms and in
percent (goal < 10%), and checks that both recorded the same scores. The overhead may come out negative:
the local backend judges in one process, while each Dask worker judges in its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bench_autograder import ASSIGNMENT, make_course, timed  # noqa: E402
from tests.autograder.dask_support import Cluster  # noqa: E402


def scores(course: Path) -> list[str]:
    """scores.csv without its seconds column."""
    lines = (course / "reports" / ASSIGNMENT / "scores.csv").read_text().splitlines()
    return [line.rsplit(",", 1)[0] for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each backend, in the order ABBA... (mean)")
    args = parser.parse_args()
    batch = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir"]
    seconds: dict[str, list[float]] = {"local": [], "dask": []}
    with tempfile.TemporaryDirectory() as tmp:
        pristine = make_course(Path(tmp) / "pristine", args.n)
        start = time.perf_counter()
        cluster = Cluster(Path(tmp) / "cluster", workers=2)
        cluster_s = time.perf_counter() - start
        try:
            for i in range(args.rounds):
                order = ["local", "dask"] if i % 2 == 0 else ["dask", "local"]  # a drifting load hits both alike
                for backend in order:
                    course = Path(tmp) / f"{backend}{i}"
                    shutil.copytree(pristine, course, symlinks=True)
                    extra = ["--jobs", "2"] if backend == "local" else ["--scheduler", cluster.address]
                    seconds[backend].append(timed([*batch, str(course), *extra], ROOT)[0])
                same = scores(Path(tmp) / f"local{i}") == scores(Path(tmp) / f"dask{i}")
                if not same:
                    raise SystemExit(f"round {i}: the two backends recorded different scores")
        finally:
            cluster.stop()
    n = args.n
    local_s, dask_s = (sum(seconds[b]) / len(seconds[b]) for b in ("local", "dask"))

    def runs(backend: str) -> str:
        return ", ".join(f"{t:.1f}" for t in seconds[backend])

    print(f"submissions: {n} ({ASSIGNMENT}), cores: {os.cpu_count()}, rounds: {args.rounds}")
    print(
        f"local backend, --jobs 2              : {local_s:7.1f} s  {1000 * local_s / n:6.0f} ms/submission  ({runs('local')})"
    )
    print(
        f"Dask, 2 workers x 1 thread, 127.0.0.1: {dask_s:7.1f} s  {1000 * dask_s / n:6.0f} ms/submission  ({runs('dask')})"
    )
    print(
        f"  (starting that cluster took {cluster_s:.1f} s, before the clocks; both backends recorded the same scores)"
    )
    overhead = dask_s - local_s
    print(f"Dask overhead: {1000 * overhead / n:+.0f} ms/submission, {100 * overhead / local_s:+.1f}% (goal < 10%)")


if __name__ == "__main__":
    main()
