"""Small sample files in the real formats, shipped with the library (book chapters 3 and 8).

* ``preference_pairs.jsonl``: TRL preference rows, ``prompt/chosen/rejected[/margin]`` (one row has an
  implicit prompt, two carry a margin); read with :func:`course_lib.data.preferences.load_preference_jsonl`.
* ``stepwise_supervision.jsonl``: TRL stepwise supervision, ``prompt/completions/labels``; read with
  :func:`course_lib.data.step_labels.load_step_labels_jsonl`.
* ``prm800k_steps.jsonl``: PRM800K-style human step ratings (-1, 0, +1; phase 1 and phase 2 records);
  read with :func:`course_lib.data.step_labels.load_prm800k_jsonl`.

Example:
    >>> from course_lib.data.preferences import load_preference_jsonl
    >>> len(load_preference_jsonl(path("preference_pairs.jsonl"))) > 0
    True
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
NAMES = ("preference_pairs.jsonl", "stepwise_supervision.jsonl", "prm800k_steps.jsonl")


def path(name: str) -> Path:
    """The path of the shipped sample file ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise FileNotFoundError(f"no sample file {name!r}; the samples are {', '.join(NAMES)}")
    return DIRECTORY / name
