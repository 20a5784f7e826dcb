"""Autograder vs ``nbgrader autograde``: the same N submissions, each side one cold command.

    .venv/bin/python bench/bench_autograder.py [--n 24] [--jobs 2]

Prints wall-clock milliseconds per submission, the ratio of stock ``nbgrader autograde`` to ours
(goal: ours >= 10x faster end to end) and the peak memory (proportional set size, so pages shared
by forked workers count once) of each command's whole process tree (sampled every 50 ms).
All grade ps1_bradley_terry (its notebook imports torch). Stock nbgrader (the course config without
``use_sandbox(c)``) runs every cell of each notebook in a fresh kernel; ``python -m autograder batch``
runs the answer cells and hidden probes in forked sandboxes; ``nbgrader autograde`` with the course's
own config goes through the same sandbox (one cold Autograder for the run) and its gradebook work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import make_submission, released_course  # noqa: E402

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


def make_course(root: Path, n: int, stock: bool = False) -> Path:
    """A released ps1 with ``n`` submissions; ``stock``: nbgrader's own pipeline (no ``use_sandbox``)."""
    released_course(root, ASSIGNMENT, stock=stock)
    for i in range(n):
        make_submission(
            ASSIGNMENT,
            root / "submitted" / f"s{i:03d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
            VARIANTS[i % len(VARIANTS)],
        )
    return root


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak memory (MiB of PSS, summed over the process tree) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return time.perf_counter() - start, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24, help="submissions (>= 16)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    autograde = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--log-level=ERROR"]
    with tempfile.TemporaryDirectory() as tmp:
        ours_dir = make_course(Path(tmp) / "ours", args.n)
        theirs_dir = make_course(Path(tmp) / "nbgrader", args.n, stock=True)
        routed_dir = make_course(Path(tmp) / "routed", args.n)
        nb_s, nb_mem = timed(autograde, theirs_dir)
        routed_s, routed_mem = timed(autograde, routed_dir)
        our_s, our_mem = timed(
            [
                sys.executable,
                "-m",
                "autograder",
                "batch",
                ASSIGNMENT,
                "--course-dir",
                str(ours_dir),
                "--jobs",
                str(args.jobs),
            ],
            ROOT,
        )
    n = args.n
    print(f"submissions: {n} ({ASSIGNMENT}), jobs: {args.jobs}, cores: {os.cpu_count()}")
    rows = [
        ("nbgrader autograde, stock", nb_s, nb_mem),
        ("nbgrader autograde, course config (sandboxed)", routed_s, routed_mem),
        ("autograder batch", our_s, our_mem),
    ]
    for name, seconds, mem in rows:
        print(f"{name:46s}: {seconds:7.1f} s  {1000 * seconds / n:7.0f} ms/submission  peak {mem:6.0f} MiB")
    print(f"speed-up (nbgrader / ours, end to end): {nb_s / our_s:.1f}x   (goal >= 10x)")


if __name__ == "__main__":
    main()
