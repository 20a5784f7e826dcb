"""scripts/execute_book.py: chapters run side by side into the cache that Jupyter Book then reads."""

from __future__ import annotations

import importlib.util

import pytest
from jupyter_cache import get_cache
from myst_nb.core.read import read_myst_markdown_notebook

from tests.support import ROOT

spec = importlib.util.spec_from_file_location("execute_book", ROOT / "scripts" / "execute_book.py")
execute_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute_book)

CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

```{code-cell} ipython3
:tags: [remove-input]
import torch
torch.set_num_threads(2)
print(6 * 7)
```
"""


def test_chapters_are_the_tocs_notebooks_in_order():
    found = [p.relative_to(ROOT).as_posix() for p in execute_book.chapters()]
    assert found[0] == "book/01_why_reward_models.md" and found[-1] == "book/18_further_reading.md"
    assert found == sorted(found) and "book/intro.md" not in found  # the intro has no code
    assert all(p.read_text().count("{code-cell}") for p in execute_book.chapters())


def test_threads_reads_what_the_chapter_asks_torch_for(tmp_path):
    chapter = tmp_path / "a.md"
    chapter.write_text(CHAPTER)
    assert execute_book.threads(chapter) == 2
    chapter.write_text(CHAPTER.replace("torch.set_num_threads(2)\n", ""))
    assert execute_book.threads(chapter) == 1
    # the book's chapters each take one core, so a clean build runs them two at a time on 2 cores
    assert {p.stem: execute_book.threads(p) for p in execute_book.chapters()} == {
        p.stem: 1 for p in execute_book.chapters()
    }


@pytest.mark.slow
def test_an_executed_chapter_is_what_jupyter_book_finds_in_the_cache(tmp_path):
    chapter, cache_dir = tmp_path / "chapter.md", tmp_path / "cache"
    chapter.write_text(CHAPTER)
    assert execute_book.stale([chapter], cache_dir) == [chapter]
    path, seconds, error = execute_book.execute(str(chapter), 2, cache_dir)
    assert error is None and seconds > 0
    # myst-nb reads the page with the book's parser settings and looks it up by the same key
    notebook = read_myst_markdown_notebook(chapter.read_text(), path=str(chapter))
    _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(notebook)
    assert merged.cells[1].outputs[0]["text"] == "42\n"
    assert execute_book.stale([chapter], cache_dir) == []
    chapter.write_text(CHAPTER.replace("6 * 7", "6 * 8"))  # new code, not cached
    assert execute_book.stale([chapter], cache_dir) == [chapter]


def test_a_failing_chapter_is_reported_not_cached(tmp_path):
    chapter, cache_dir = tmp_path / "chapter.md", tmp_path / "cache"
    chapter.write_text(CHAPTER.replace("print(6 * 7)", "raise ValueError('decay must be in (0, 1], got 1.5')"))
    _, seconds, error = execute_book.execute(str(chapter), 1, cache_dir)
    assert seconds is None and "decay must be in (0, 1], got 1.5" in error
    assert execute_book.stale([chapter], cache_dir) == [chapter]


def test_a_clean_build_starts_the_widest_then_the_longest_recorded_chapters(tmp_path, monkeypatch):
    one = CHAPTER.replace("torch.set_num_threads(2)\n", "")
    paths = {name: tmp_path / f"{name}.md" for name in ("short", "long", "unknown", "wide")}
    for name, path in paths.items():
        path.write_text(CHAPTER if name == "wide" else one.replace("6 * 7", name.join("''")))
    hints = tmp_path / "chapter_seconds.json"
    hints.write_text('{"short": 3.0, "long": 50.0, "wide": 1.0}')
    monkeypatch.setattr(execute_book, "HINTS", hints)
    order = execute_book.stale(list(paths.values()), tmp_path / "cache")
    assert [p.stem for p in order] == ["wide", "unknown", "long", "short"]  # no record: as if the longest
    monkeypatch.undo()  # the committed record covers every chapter of the book
    assert set(execute_book.hints()) >= {p.stem for p in execute_book.chapters()}, "record: bench_book.py --record"
