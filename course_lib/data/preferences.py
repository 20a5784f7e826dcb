"""Preference pairs: ``prompt``, ``chosen``, ``rejected`` and an optional ``margin`` (book chapter 3).

The same four field names as TRL's ``RewardTrainer``. Pairs come from the arithmetic generator
(:func:`make_preference_pairs`) or from a JSONL file with one JSON object per line
(:func:`load_preference_jsonl`), for example::

    {"prompt": "2 + 3?", "chosen": "2 + 3 = 5", "rejected": "2 + 3 = 6", "margin": 1.0}

Example:
    >>> pairs = make_preference_pairs(3, seed=0)
    >>> [p.category for p in pairs]
    ['copied_wrong_number', 'arithmetic_slip', 'no_work']
    >>> pairs[0].chosen.splitlines()[-1] == "The answer is: " + pairs[0].chosen.split()[-1]
    True
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from course_lib.data.arithmetic import ProblemGenerator, Solution

# Ways a rejected response can be worse than the chosen, correct, step-by-step one: its *form*
# (no reasoning shown, stops half-way) or its *math* (a wrong step somewhere in complete work).
FORM_KINDS = ("no_work", "unfinished")
MATH_KINDS = ("arithmetic_slip", "copied_wrong_number", "wrong_operation")
REJECTED_KINDS = MATH_KINDS + FORM_KINDS


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    margin: float | None = None  # how much better chosen is; None when unknown
    category: str | None = None  # what is wrong with the rejected response

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, ensure_ascii=False)


def _rejected(gen: ProblemGenerator, problem, kind: str) -> Solution | str:
    if kind == "no_work":  # a bare, wrong answer with no reasoning
        wrong = gen.wrong_solution(problem, "arithmetic_slip")
        return f"The answer is: {wrong.text.splitlines()[-1].split(': ')[-1]}"
    if kind == "unfinished":  # stops half-way, never answers
        steps = gen.correct_solution(problem).text.splitlines()
        return "\n".join(steps[: max(1, (len(steps) - 1) // 2)])
    return gen.wrong_solution(problem, kind).text


def make_preference_pairs(
    n: int, seed: int = 0, kinds: Iterable[str] = REJECTED_KINDS, label_noise: float = 0.0
) -> list[PreferencePair]:
    """``n`` pairs: chosen is a correct solution, rejected has one flaw from ``kinds``.

    ``label_noise`` is the fraction of pairs whose chosen and rejected are swapped, as annotators do.
    """
    kinds = tuple(kinds)
    unknown = set(kinds) - set(REJECTED_KINDS)
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {REJECTED_KINDS}, got {kinds}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    gen, rng = ProblemGenerator(seed=seed), random.Random(seed + 1)
    pairs = []
    for _ in range(n):
        problem = gen.problem()
        kind = rng.choice(kinds)
        chosen, rejected = gen.correct_solution(problem).text, _rejected(gen, problem, kind)
        if rng.random() < label_noise:
            chosen, rejected = rejected, chosen
        pairs.append(PreferencePair(problem.question, chosen, rejected, category=kind))
    return pairs


def validate_pair(record: object, where: str = "record") -> PreferencePair:
    """Check one decoded JSON object and turn it into a :class:`PreferencePair`."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in ("chosen", "rejected") if k not in record]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; each line needs chosen and rejected")
    extra = set(record) - {"prompt", "chosen", "rejected", "margin", "category"}
    if extra:
        raise ValueError(f"{where}: unknown field(s) {sorted(extra)}; allowed: prompt, chosen, rejected, margin")
    for key in ("prompt", "chosen", "rejected", "category"):
        if key in record and not isinstance(record[key], str):
            raise ValueError(f"{where}: {key} must be a string, got {type(record[key]).__name__}")
    margin = record.get("margin")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float))):
        raise ValueError(f"{where}: margin must be a number, got {margin!r}")
    if record["chosen"] == record["rejected"]:
        raise ValueError(f"{where}: chosen and rejected are identical; such a pair teaches nothing")
    return PreferencePair(
        prompt=record.get("prompt", ""),
        chosen=record["chosen"],
        rejected=record["rejected"],
        margin=None if margin is None else float(margin),
        category=record.get("category"),
    )


def load_preference_jsonl(path: str | Path) -> list[PreferencePair]:
    """Read ``prompt/chosen/rejected[/margin]`` pairs from a JSONL file; errors name the line."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
            pairs.append(validate_pair(record, where=f"{path}:{lineno}"))
    return pairs


def save_preference_jsonl(pairs: Iterable[PreferencePair], path: str | Path) -> None:
    Path(path).write_text("".join(p.to_json() + "\n" for p in pairs), encoding="utf-8")
