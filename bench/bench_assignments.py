"""How long each source notebook takes to run top to bottom, as a student would run it.

    .venv/bin/python bench/bench_assignments.py [ps2_step_rewards ...] [--timeout 600]

Executes every source notebook (reference answers, visible tests, plots, training) with nbclient in
a fresh kernel and prints its wall-clock seconds (goal: under 60 s each), next to the baseline of the
same run: an empty notebook, that is starting and stopping a kernel. Notebooks that do not exist yet
are listed as missing. Exits 1 if a notebook raises.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import ASSIGNMENTS, COURSE, source_notebook  # noqa: E402

GOAL_S = 60.0


def run_seconds(nb: nbformat.NotebookNode, timeout: int) -> float:
    """Wall-clock seconds to execute ``nb`` in a fresh python3 kernel, in a scratch directory."""
    with tempfile.TemporaryDirectory() as scratch:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": scratch}})
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=list(ASSIGNMENTS))
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args()

    baseline = run_seconds(nbformat.v4.new_notebook(), args.timeout)
    print(f"{'notebook':<22} {'seconds':>8} {'x baseline':>10}  goal < {GOAL_S:.0f} s")
    print(f"{'(empty: kernel only)':<22} {baseline:8.1f} {1.0:10.1f}")
    failed = False
    for assignment in args.assignments:
        if not (COURSE / "source" / assignment / f"{assignment}.ipynb").exists():
            print(f"{assignment:<22} {'missing':>8}")
            continue
        try:
            seconds = run_seconds(source_notebook(assignment), args.timeout)
        except Exception as error:  # a cell raised or timed out: report it, go on with the others
            print(f"{assignment:<22} {'error':>8}  {type(error).__name__}: {str(error).splitlines()[0][:80]}")
            failed = True
            continue
        verdict = "ok" if seconds < GOAL_S else "SLOW"
        print(f"{assignment:<22} {seconds:8.1f} {seconds / baseline:10.1f}  {verdict}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
