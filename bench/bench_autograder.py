"""Like-for-like speed of the autograder, against ``nbgrader autograde`` and against itself.

    .venv/bin/python bench/bench_autograder.py [--n 48] [--nbgrader-n 16] [--big 200 1000]

Every figure is a whole ``python -m autograder batch`` (or ``nbgrader autograde``) command on ps1, timed
from outside (``timed``: wall seconds and peak PSS of the process tree). Printed in one run:

* speed per core: ours at ``--jobs 1`` vs stock ``nbgrader autograde`` (serial; it runs every cell of
  each notebook in a fresh kernel, ours the answer cells and hidden probes in forked sandboxes), the
  same submissions end to end (goal: ours >= 10x);
* ours at ``--jobs`` = cores (what an instructor gets), and its throughput over ``--jobs 1`` (goal >= 1.8x),
  next to the most the machine's CPU allows (wall at ``--jobs 1`` over CPU / cores at ``--jobs`` = cores);
* per submission after the cold start, ``(T(N) - T(1)) / (N - 1)`` (wall and CPU), and on the batch's own
  grading clock (``graded N in X s``: no cold start in it, so less noise): a perfect notebook, an unsolved
  release (goal: no slower than perfect) and the floor, an empty notebook through the same path
  (goal: perfect at most 50 ms above it). Every command runs once per round, rounds in turn; ratios are
  taken within a round and the median over rounds is printed;
* the cold start, ``T(1)``, and where it goes (in this process: imports, zygote and grader, first grade,
  the self-check);
* ``--big`` batches with the report: wall time, peak memory (goal: flat from the smaller to the larger)
  and the share of the batch spent writing gradebook, CSV, feedback and report (goal < 10%).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from statistics import median

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import answer_ids, make_submission, released_course  # noqa: E402

ASSIGNMENT = "ps1_bradley_terry"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
VARIANTS = [
    None,  # the reference
    {"loss_vs_gap": "def loss_vs_gap(gaps):\n    return torch.log1p(torch.exp(-torch.as_tensor(gaps)))\n"},
    {
        "preference_metrics": "def preference_probability(c, r):\n    return torch.sigmoid(torch.as_tensor(r) - torch.as_tensor(c))\n\n"
        "def pairwise_accuracy(c, r):\n    return float((torch.as_tensor(c) >= torch.as_tensor(r)).float().mean())\n"
    },
    {"bradley_terry_loss": "def bradley_terry_loss(*a, **k):\n    raise NotImplementedError()\n"},
]


UNSOLVED = "# YOUR CODE HERE\nraise NotImplementedError()"


def kind_variants(kind: str) -> list[dict | None]:
    """The answers of one kind of submission: "mixed" (VARIANTS in turn), "reference", "release", "empty"."""
    if kind == "mixed":
        return VARIANTS
    if kind == "reference":
        return [None]
    fill = UNSOLVED if kind == "release" else ""
    return [dict.fromkeys(answer_ids(ASSIGNMENT), fill)]


def make_course(root: Path, n: int, stock: bool = False, kind: str = "mixed") -> Path:
    """A released ps1 with ``n`` submissions of ``kind``; ``stock``: nbgrader's own pipeline (no ``use_sandbox``)."""
    released_course(root, ASSIGNMENT, stock=stock)
    variants = kind_variants(kind)
    for i in range(n):
        make_submission(
            ASSIGNMENT,
            root / "submitted" / f"s{i:03d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
            variants[i % len(variants)],
        )
    return root


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU this machine has spent busy (user, system, interrupts), and seconds stolen by the
    hypervisor (a shared host: the steal inflates wall times, not these), from /proc/stat."""
    line = Path("/proc/stat").read_text().splitlines()[0]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def timed(
    cmd: list[str], cwd: Path, output: list[str] | None = None, memory: bool = False
) -> tuple[float, float, float]:
    """Wall seconds, peak memory with ``memory`` (MiB of PSS, summed over the process tree; else nan), and
    the machine's busy CPU seconds meanwhile (the command's processes, and the kernel's work for them).

    ``output``, when given, receives the command's standard output. Sampling memory reads every
    process's smaps 20 times a second, a good part of a core: timings meant for speed leave it off.
    """
    start, (cpu, _) = time.perf_counter(), machine_cpu()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak, done = 0 if memory else float("nan"), threading.Event()

    def sample():
        nonlocal peak
        root = psutil.Process(proc.pid)
        while memory and not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    if output is not None:
        output.append(out.decode())
    return time.perf_counter() - start, peak / 2**20, machine_cpu()[0] - cpu


def batch(
    course: Path, jobs: int, output: list[str] | None = None, memory: bool = False
) -> tuple[float, float, float]:
    """One ``python -m autograder batch --force`` over ``course`` (every submission graded again)."""
    cmd = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(course)]
    return timed([*cmd, "--jobs", str(jobs), "--force"], ROOT, output, memory)


def batch_clocks(output: str) -> tuple[float, float]:
    """The batch's own clocks, from "graded N in X s; gradebook, CSV, feedback and report of N in Y s": the
    grading phase alone (after the grader or plugin is up), and the outputs written after it."""
    found = re.search(r"graded \d+ in ([\d.]+) s; .* in ([\d.]+) s", output)
    return float(found.group(1)), float(found.group(2))


def graded(course: Path, jobs: int) -> tuple[float, float, float]:
    """One batch: wall and CPU seconds of the whole command, and its grading clock."""
    out: list[str] = []
    wall, _, cpu = batch(course, jobs, out)
    return wall, cpu, batch_clocks(out[0])[0]


def cold_start_parts() -> list[tuple[str, float]]:
    """Where a cold start goes, measured in this process: imports, zygote and grader, grades, self-check."""
    from tests.support import COURSE

    parts, start = [], time.perf_counter()
    from autograder.service import Autograder  # torch, pytest, the sandbox

    parts.append(("import the autograder (torch, pytest)", time.perf_counter() - start))
    start = time.perf_counter()
    grader = Autograder(ASSIGNMENT, COURSE, jobs=1, self_check=False)
    parts.append(("start the zygote, collect the grader", time.perf_counter() - start))
    with grader:
        for name in ("first grade (waits for the zygote's imports)", "second grade (warm)", "the self-check"):
            start = time.perf_counter()
            grader.grade(grader.assignment.source_notebook) if "check" not in name else grader._self_check()
            parts.append((name, time.perf_counter() - start))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48, help="submissions per scaling run (>= 8)")
    parser.add_argument("--nbgrader-n", type=int, default=16, help="submissions for the nbgrader comparison")
    parser.add_argument("--big", type=int, nargs="*", default=[200, 1000], help="batch sizes with the report")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each timing; the fastest counts")
    args = parser.parse_args()
    if args.n < 8 or args.nbgrader_n < 1:
        parser.error(f"--n must be >= 8 and --nbgrader-n >= 1, got {args.n} and {args.nbgrader_n}")
    cores = len(os.sched_getaffinity(0))
    autograde = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--log-level=ERROR", "--force"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stock = make_course(tmp / "stock", args.nbgrader_n, stock=True)
        same = make_course(tmp / "same", args.nbgrader_n)
        # every command once per round, rounds in turn: a machine whose speed drifts over minutes then slows
        # every command alike, and ratios are taken within a round
        one_course = make_course(tmp / "one", 1, kind="reference")
        runs = {"nbgrader": partial(timed, autograde, stock), "same": partial(batch, same, 1)}
        runs["one"] = partial(graded, one_course, 1)
        for kind, jobs in (("reference", 1), ("release", 1), ("empty", 1), ("reference", cores)):
            course = tmp / kind
            runs[kind, jobs] = partial(
                graded, course if course.exists() else make_course(course, args.n, kind=kind), jobs
            )
        clock, (_, steal) = time.perf_counter(), machine_cpu()
        rounds = [{key: run() for key, run in runs.items()} for _ in range(args.repeat)]  # run -> seconds
        nb_s = min(r["nbgrader"][0] for r in rounds)
        ours_same = min(r["same"][0] for r in rounds)
        one = median(r["one"][0] for r in rounds)
        # ms per submission: after the cold start, (T(N) - T(1)) / (N - 1) against the round's own T(1), wall
        # and CPU; and the batch's grading clock / N, which leaves the cold start's noise out
        ms = [
            {
                k: (
                    1000 * (w - r["one"][0]) / (args.n - 1),
                    1000 * (c - r["one"][1]) / (args.n - 1),
                    1000 * g / args.n,
                )
                for k, (w, c, g) in r.items()
                if isinstance(k, tuple)
            }
            for r in rounds
        ]
        per = {k: [median(m[k][i] for m in ms) for i in range(3)] for k in ms[0]}  # medians over rounds
        paired = {  # medians over rounds of a ratio within each round, on the grading clock
            "above": median(m["reference", 1][2] - m["empty", 1][2] for m in ms),
            "unsolved": median(m["release", 1][2] / m["reference", 1][2] for m in ms),
            "jobs": median(m["reference", 1][2] / m["reference", cores][2] for m in ms),
            "jobs_cold": median(m["reference", 1][0] / m["reference", cores][0] for m in ms),
        }
        stolen, wall = machine_cpu()[1] - steal, time.perf_counter() - clock
        big = []
        for n in args.big:
            out = []
            seconds, peak, _ = batch(make_course(tmp / f"big{n}", n), cores, out, memory=True)
            report = batch_clocks(out[0])[1]
            big.append((n, seconds, peak, report))
    parts = cold_start_parts()

    n = args.nbgrader_n
    print(
        f"ps1_bradley_terry on {cores} cores; {args.repeat} rounds, each running every command once; section 1 "
        "counts the fastest run, section 2 the median over rounds (ratios taken within each round)"
    )
    print(f"\n1. speed per core, {n} mixed submissions end to end (cold starts included):")
    print(f"   nbgrader autograde (stock, serial) {nb_s:6.1f} s  {1000 * nb_s / n:6.0f} ms/submission")
    print(f"   autograder batch --jobs 1          {ours_same:6.1f} s  {1000 * ours_same / n:6.0f} ms/submission")
    print(f"   nbgrader / ours: {nb_s / ours_same:.1f}x   (goal >= 10x)")
    print(f"\n2. ms per submission, {args.n} submissions, medians of the rounds (T(1) = {one:.1f} s):")
    print("                                  after the cold start (CPU)   grading clock")
    labels = {"reference": "perfect", "release": "unsolved release", "empty": "empty (the floor)"}
    for (kind, jobs), (after_ms, cpu_ms, clock_ms) in per.items():
        print(f"   {labels[kind]:18s} --jobs {jobs}: {after_ms:8.1f} ({cpu_ms:6.1f})   {clock_ms:13.1f}")
    print(f"   perfect above the floor: {paired['above']:.1f} ms   (goal <= 50 ms)")
    print(f"   unsolved / perfect: {paired['unsolved']:.2f}x the time   (goal <= 1)")
    print(
        f"   --jobs {cores} / --jobs 1 throughput: {paired['jobs']:.2f}x on the grading clock, "
        f"{paired['jobs_cold']:.2f}x after the cold start   (goal >= 1.8x)"
    )
    cpu1, cpu_n = per["reference", 1][1], per["reference", cores][1]
    print(
        f"   CPU per perfect submission: {cpu1:.1f} ms at --jobs 1, {cpu_n:.1f} ms at --jobs {cores}: with every "
        f"core busy, {cores} cores allow at most {cores * per['reference', 1][0] / cpu_n:.2f}x"
    )
    print(
        f"   (the host stole {stolen:.1f} s of CPU during 1 and 2, {100 * stolen / (wall * cores):.1f}% of "
        f"their {wall:.0f} s x {cores} cores: steal slows what it hits, so above a few % rerun 1 and 2)"
    )
    print("\n3. the cold start, measured in one process:")
    for name, seconds in parts:
        print(f"   {name:48s} {seconds:6.2f} s")
    print(f"\n4. big batches at --jobs {cores}, with gradebook, CSV, feedback and report:")
    for n, seconds, peak, report in big:
        print(
            f"   {n:5d} submissions: {seconds:6.1f} s ({1000 * seconds / n:.0f} ms each), peak {peak:5.0f} MiB, "
            f"outputs {report:.1f} s = {100 * report / seconds:.1f}% of the batch   (goal < 10%)"
        )
    if len(big) > 1:
        print(f"   peak memory, {big[-1][0]} vs {big[0][0]} submissions: {big[-1][2] / big[0][2]:.2f}x   (goal: flat)")


if __name__ == "__main__":
    main()
