"""The Dask backend's cost: the same submissions graded by ``batch --jobs 2`` and on a two-worker cluster.

    .venv/bin/python bench/bench_dask.py [--n 200] [--rounds 2]

Both grade copies of one course (ps1_bradley_terry, ``bench/bench_autograder.py``'s variants in
turn) on this machine. The local backend runs two sandboxes at a time beside one judge; the cluster is
a ``dask scheduler`` and two ``dask worker --nthreads 1 --preload autograder.dask_preload`` on 127.0.0.1
(as the README starts them), started before the clock (a cluster is long-lived). Each side is one cold ``python -m autograder batch`` command, so both pay
their own start: the zygote and self-check locally; for Dask's first batch, every worker's imports,
zygote and self-check; later Dask batches adopt the graders the workers kept warm (``--keep-warm``).
Runs local, Dask, Dask, local, ... (``--rounds`` of each) so that a load that drifts on a shared machine
hits both alike, checks that both recorded the same scores, and prints the wall time of each, then the
Dask backend's overhead (goal < 10%): per submission graded (the batch's own clock, which starts once the
grader is up), and for the whole command, first and later batches. It may come out negative: the
local backend judges in one process, while each Dask worker judges in its own. Then the CPU seconds
each spent (the whole machine's, from /proc/stat) and the seconds a shared host stole meanwhile: steal
inflates wall times, not CPU seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bench_autograder import ASSIGNMENT, batch_clocks, machine_cpu, make_course, timed  # noqa: E402
from tests.autograder.dask_support import Cluster  # noqa: E402


def scores(course: Path) -> list[str]:
    """scores.csv without its seconds column."""
    lines = (course / "reports" / ASSIGNMENT / "scores.csv").read_text().splitlines()
    return [line.rsplit(",", 1)[0] for line in lines]


def own_cpu(pids: list[int]) -> float:
    """CPU seconds the processes ``pids`` spent themselves (not their children)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each backend, in the order ABBA... (mean)")
    args = parser.parse_args()
    batch = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir"]
    seconds: dict[str, list[float]] = {"local": [], "dask": []}
    grading: dict[str, list[float]] = {"local": [], "dask": []}
    cpu: dict[str, list[float]] = {"local": [], "dask": []}
    stolen: dict[str, list[float]] = {"local": [], "dask": []}
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
                    output: list[str] = []
                    cluster_pids = [p.pid for p in cluster.procs] + list(cluster.wait_for_workers(2).values())
                    (busy, steal), idle_cluster = machine_cpu(), own_cpu(cluster_pids)
                    seconds[backend].append(timed([*batch, str(course), *extra], ROOT, output)[0])
                    grading[backend].append(batch_clocks(output[0])[0])
                    (busy2, steal2), idle_cluster2 = machine_cpu(), own_cpu(cluster_pids)
                    spent = busy2 - busy
                    if backend == "local":  # the idle cluster's heartbeats are no part of the local backend
                        spent -= idle_cluster2 - idle_cluster
                    cpu[backend].append(spent)
                    stolen[backend].append(steal2 - steal)
                same = scores(Path(tmp) / f"local{i}") == scores(Path(tmp) / f"dask{i}")
                if not same:
                    raise SystemExit(f"round {i}: the two backends recorded different scores")
        finally:
            cluster.stop()
    report(args.n, args.rounds, seconds, grading, cluster_s)
    report_cpu(args.n, cpu, stolen)


def report(n: int, rounds: int, seconds: dict, grading: dict, cluster_s: float) -> None:
    """Dask's first batch on a new cluster (each worker imports torch and builds its grader) apart from
    the later ones (each worker adopts the grader it kept warm); the grading phase alone apart from both."""

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    def runs(xs: list[float]) -> str:
        return ", ".join(f"{t:.1f}" for t in xs)

    def row(name: str, xs: list[float]) -> None:
        print(f"{name:<52}: {mean(xs):6.1f} s  {1000 * mean(xs) / n:5.0f} ms/submission  ({runs(xs)})")

    def overhead(name: str, dask_s: float, local_s: float) -> None:
        extra = dask_s - local_s
        print(f"  {name:<50}: {1000 * extra / n:+5.0f} ms/submission, {100 * extra / local_s:+5.1f}% (goal < 10%)")

    local, cold, warm = seconds["local"], seconds["dask"][:1], seconds["dask"][1:]
    print(f"submissions: {n} ({ASSIGNMENT}), cores: {os.cpu_count()}, rounds: {rounds} (order ABBA...)")
    row("local backend, --jobs 2", local)
    row("Dask, 2 workers x 1 thread: first batch (cold)", cold)
    if warm:
        row("Dask, later batches (graders kept warm)", warm)
    print(f"  (starting the cluster took {cluster_s:.1f} s, before the clocks; both recorded the same scores)")
    local_g, dask_g = mean(grading["local"]), mean(grading["dask"])
    print("Dask overhead:")
    overhead("per submission graded (the batch's grading clock)", dask_g, local_g)
    overhead("whole command, first batch on the cluster", mean(cold), mean(local))
    if warm:
        overhead("whole command, later batches", mean(warm), mean(local))
    print(
        f"start and outputs, the rest of each command: local {mean(local) - local_g:.1f} s, "
        f"Dask first {cold[0] - grading['dask'][0]:.1f} s"
        + (f", later {mean(warm) - mean(grading['dask'][1:]):.1f} s" if warm else "")
    )


def report_cpu(n: int, cpu: dict, stolen: dict) -> None:
    """What each backend cost in CPU: the figure a shared host's steal does not move."""
    print("CPU seconds, the whole machine (local runs without the idle cluster's heartbeats), and steal:")
    for backend in ("local", "dask"):
        xs, steal = cpu[backend], stolen[backend]
        runs = ", ".join(f"{x:.1f}" for x in xs)
        print(
            f"  {backend:<5}: {sum(xs) / len(xs):6.1f} s CPU, {1000 * sum(xs) / len(xs) / n:5.0f} ms/submission "
            f"({runs}); stolen by the host {', '.join(f'{x:.1f}' for x in steal)} s"
        )
    local, cold, warm = cpu["local"], cpu["dask"][:1], cpu["dask"][1:]
    mean_local = sum(local) / len(local)
    for name, xs in (("first batch", cold), ("later batches", warm)):
        if xs:
            extra = sum(xs) / len(xs) - mean_local
            print(
                f"  Dask CPU overhead, {name}: {1000 * extra / n:+.0f} ms/submission, {100 * extra / mean_local:+.1f}%"
            )


if __name__ == "__main__":
    main()
