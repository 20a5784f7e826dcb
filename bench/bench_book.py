"""Clean build time of the book and each chapter's execution time.

    .venv/bin/python bench/bench_book.py [--record]

Copies the repository's book sources to a temporary folder (so the working tree's ``_build`` and
its execution cache stay untouched), builds from nothing with ``scripts/build_book.sh`` (chapters run
side by side, each on as many cores as it asks torch for: ``scripts/execute_book.py``), and prints
the wall time of the whole build, then each chapter's execution seconds from jupyter-cache. The
baseline is the same build again with every chapter cached (Sphinx alone), measured in the same run.
Goals: clean build < 6 min, slowest chapter < 60 s. ``--record`` writes the chapter seconds to
``scripts/chapter_seconds.json``, the order in which a clean build starts its chapters (longest first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ["_config.yml", "_toc.yml", "references.bib", "book", "scripts", "course_lib", "pyproject.toml"]


def build(repo: Path, clean_html_only: bool = False) -> float:
    if clean_html_only:
        shutil.rmtree(repo / "_build" / "html", ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run([str(repo / "scripts" / "build_book.sh")], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        failed = sorted(p.name.removesuffix(".err.log") for p in (repo / "_build" / "html").rglob("*.err.log"))
        print(f"the book did not build after {time.perf_counter() - start:.1f} s; failed chapters: {failed}")
        for name, seconds in sorted(chapter_seconds(repo).items()):
            print(f"  {name:<36} {seconds:6.1f} s")
        raise SystemExit(f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def chapter_seconds(repo: Path) -> dict[str, float]:
    from jupyter_cache import get_cache

    cache = get_cache(str(repo / "_build" / ".jupyter_cache"))
    return {Path(r.uri).stem: r.data.get("execution_seconds", float("nan")) for r in cache.list_cache_records()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="save the chapter seconds for execute_book's order")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        repo = Path(tmp)
        for name in COPY:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, repo / name)
        (repo / ".venv").symlink_to(ROOT / ".venv")
        clean = build(repo)
        cached = build(repo, clean_html_only=True)
        chapters = chapter_seconds(repo)
    print(f"clean build (execute every chapter): {clean:7.1f} s   goal < 360 s")
    print(f"cached build (baseline, Sphinx only): {cached:7.1f} s   ratio {clean / cached:.1f}x")
    for name, seconds in sorted(chapters.items()):
        print(f"  {name:<36} {seconds:6.1f} s")
    slowest = max(chapters, key=chapters.get)
    print(f"slowest chapter: {slowest} {chapters[slowest]:.1f} s   goal < 60 s")
    if args.record:
        hints = ROOT / "scripts" / "chapter_seconds.json"
        hints.write_text(json.dumps({k: round(v, 1) for k, v in sorted(chapters.items())}, indent=1) + "\n")
        print(f"recorded in {hints.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
