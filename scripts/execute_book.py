"""Execute the book's chapters in parallel into Jupyter Book's execution cache (``scripts/build_book.sh`` runs it).

Jupyter Book 1.x executes notebooks one after another. The chapters are independent, so this runs
them side by side on the machine's cores and stores each executed notebook in ``_build/.jupyter_cache`` exactly as Jupyter Book would (same reader,
same cache keys, same working directory). ``jupyter-book build`` then finds every chapter cached and
only renders. A chapter that fails is not cached: the build runs it again and reports its error.

A chapter gets as many cores as the threads it asks torch for (``torch.set_num_threads(2)``; one
otherwise), so no chapter runs slower than it would alone: oversubscribed cores make torch's threads
wait on each other. The chapters that need the most cores start first, then the slowest by the
last time in the cache, or, in a clean build, by ``scripts/chapter_seconds.json`` (written by
``bench/bench_book.py --record``; a stale value only costs packing).

    .venv/bin/python scripts/execute_book.py [--jobs CORES]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.core.read import is_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
READER = {"type": "plugin", "name": "myst_nb_md"}  # the reader myst-nb uses for MyST markdown notebooks
HINTS = Path(__file__).with_name("chapter_seconds.json")  # chapter stem -> seconds, for a clean build's order
THREADS = re.compile(r"^\s*torch\.set_num_threads\((\d+)\)", re.MULTILINE)


def chapters(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """Every MyST notebook the table of contents lists, in book order."""

    def files(node):
        if isinstance(node, dict):
            if "file" in node or "root" in node:
                yield node.get("file", node.get("root"))
            for value in node.values():
                yield from files(value)
        elif isinstance(node, list):
            for item in node:
                yield from files(item)

    paths = [ROOT / f"{name}.md" for name in files(yaml.safe_load(toc.read_text()))]
    return [p for p in paths if p.is_file() and is_myst_markdown_notebook(p.read_text("utf8"))]


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text()).get("execute", {})


def threads(path: Path) -> int:
    """The most threads ``path`` asks torch for (1 when it does not say)."""
    return max((int(n) for n in THREADS.findall(path.read_text("utf8"))), default=1)


def execute(path: str, n_threads: int = 1, cache_dir: Path = CACHE) -> tuple[str, float | None, str | None]:
    """Run one chapter and cache it; returns ``(path, seconds, error)``."""
    os.environ["OMP_NUM_THREADS"] = str(n_threads)  # the kernel's default, before the chapter sets its own
    cache, settings = get_cache(str(cache_dir)), config()
    record = cache.add_nb_to_project(path, read_data=READER)
    notebook = cache.get_project_notebook(record.pk).nb
    result = single_nb_execution(
        notebook,
        cwd=str(Path(path).parent),
        timeout=settings.get("timeout", 30),
        allow_errors=settings.get("allow_errors", False),
        meta_override=True,
    )
    if result.err is not None:
        return path, None, f"{type(result.err).__name__}: {str(result.err)[-400:]}"
    bundle = CacheBundleIn(notebook, record.uri, data={"execution_seconds": result.time})
    cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
    return path, result.time, None


def hints() -> dict[str, float]:
    """Each chapter's seconds in the last recorded clean build (``bench/bench_book.py --record``)."""
    return json.loads(HINTS.read_text()) if HINTS.is_file() else {}


def stale(paths: list[Path], cache_dir: Path = CACHE) -> list[Path]:
    """The chapters whose current code is not cached yet, in the order they should start (read once each)."""
    cache = get_cache(str(cache_dir))
    last = {r.uri: r.data.get("execution_seconds", 0.0) for r in cache.list_cache_records()}
    recorded = hints()
    todo = []
    for path in paths:
        record = cache.add_nb_to_project(str(path), read_data=READER)
        try:
            cache.match_cache_notebook(cache.get_project_notebook(record.pk).nb)
        except KeyError:
            todo.append(path)
    cores = {p: threads(p) for p in todo}
    return sorted(todo, key=lambda p: (-cores[p], -last.get(str(p), recorded.get(p.stem, float("inf")))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)), help="cores to share out (default: all)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    todo = [(path, min(threads(path), args.jobs)) for path in stale(chapters())]  # (chapter, cores it gets)
    total = len(todo)
    start, failed, free, running = time.perf_counter(), 0, args.jobs, {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        while todo or running:
            while todo and (todo[0][1] <= free or not running):
                path, cores = todo.pop(0)
                running[pool.submit(execute, str(path), cores)] = cores
                free -= cores
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for done in finished:
                free += running.pop(done)
                path, seconds, error = done.result()
                if error is None:
                    print(f"executed {Path(path).stem} in {seconds:.1f} s", flush=True)
                else:
                    failed += 1
                    print(f"FAILED {Path(path).stem}: {error}", file=sys.stderr, flush=True)
    print(f"{total} chapters executed ({failed} failed) in {time.perf_counter() - start:.1f} s on {args.jobs} cores")
    return 0  # a failed chapter is reported again, with its page, by jupyter-book build


if __name__ == "__main__":
    sys.exit(main())
