"""How long the test suite takes without the book and browser tests.

    .venv/bin/python bench/bench_tests.py [-- extra pytest arguments, e.g. -k bradley]

Runs ``pytest -m "not book and not browser"`` (what a contributor runs before a commit) in a
subprocess and prints its wall-clock seconds (goal: < 5 min), the seconds pytest needs only to
collect the same tests (the baseline, measured in this run: imports and collection) and their ratio.
Arguments after ``--`` go to both pytest runs, so ``-- -k loss`` times a subset.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKERS = "not book and not browser"
GOAL_SECONDS = 300


def run_pytest(extra: list[str]) -> tuple[float, int, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MARKERS, *extra]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return seconds, proc.returncode, lines[-1] if lines else proc.stderr.strip()[-500:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (put them after --)")
    args = parser.parse_args(argv)

    collect, collect_rc, collect_summary = run_pytest(["--collect-only", *args.pytest_args])
    seconds, rc, summary = run_pytest(args.pytest_args)
    print(shlex.join(["pytest", "-m", MARKERS, *args.pytest_args]))
    print(f"collection only (baseline): {collect:.1f} s  [{collect_summary}]")
    print(f"full run: {seconds:.1f} s (goal < {GOAL_SECONDS} s)  [{summary}]")
    print(f"ratio run / collection: {seconds / collect:.1f}")
    print(f"pytest exit status: {rc}")
    return rc if collect_rc == 0 else collect_rc


if __name__ == "__main__":
    sys.exit(main())
