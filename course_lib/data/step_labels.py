"""Step labels for process reward models (book chapters 8 and 10).

One example is a prompt, its steps and a correctness label per step: TRL's "stepwise supervision"
format ``{"prompt": str, "completions": [str, ...], "labels": [bool, ...]}``. They come from the
arithmetic generator (:func:`make_step_labels`; steps from the first error on are labelled False)
or from PRM800K-style files (:func:`load_prm800k_jsonl`), where each step has human ratings -1
(wrong), 0 (neutral) and +1 (right).

Example:
    >>> examples = make_step_labels(2, seed=0)
    >>> len(examples[0].completions) == len(examples[0].labels)
    True
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from course_lib.data.arithmetic import GeneratorConfig, ProblemGenerator
from course_lib.data.step_text import parse_number

RATINGS = (-1, 0, 1)


@dataclass(frozen=True)
class StepLabels:
    prompt: str
    completions: tuple[str, ...]
    labels: tuple[bool, ...]
    answer: float | None = None  # ground truth, when known
    error_kind: str | None = None

    def __post_init__(self):
        if len(self.completions) != len(self.labels):
            raise ValueError(
                f"completions and labels must have the same length, got {len(self.completions)} and {len(self.labels)}"
            )
        if not self.completions:
            raise ValueError("an example needs at least one step")

    def to_json(self) -> str:
        record = asdict(self)
        record["completions"], record["labels"] = list(self.completions), list(self.labels)
        return json.dumps({k: v for k, v in record.items() if v is not None})


def make_step_labels(
    n: int, seed: int = 0, p_correct: float = 0.5, config: GeneratorConfig | None = None
) -> list[StepLabels]:
    """``n`` solutions with per-step labels; a fraction ``p_correct`` are fully correct."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= p_correct <= 1.0:
        raise ValueError(f"p_correct must be in [0, 1], got {p_correct}")
    gen, rng = ProblemGenerator(seed=seed, config=config), random.Random(seed + 1)
    out = []
    for _ in range(n):
        problem = gen.problem()
        solution = gen.correct_solution(problem) if rng.random() < p_correct else gen.wrong_solution(problem)
        out.append(
            StepLabels(
                problem.question, solution.steps, tuple(solution.step_labels), problem.answer, solution.error_kind
            )
        )
    return out


def validate_step_record(record: object, where: str = "record") -> StepLabels:
    """Check one TRL stepwise record and turn it into :class:`StepLabels`."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key, kind in (("prompt", str), ("completions", list), ("labels", list)):
        if not isinstance(record.get(key), kind):
            raise ValueError(f"{where}: {key} must be a {kind.__name__}, got {record.get(key)!r:.60}")
    if not all(isinstance(s, str) for s in record["completions"]):
        raise ValueError(f"{where}: every completion must be a string")
    if not all(isinstance(b, bool) for b in record["labels"]):
        raise ValueError(f"{where}: every label must be true or false (soft labels are not supported)")
    answer = record.get("answer")
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (int, float))):
        raise ValueError(f"{where}: answer must be a number or null, got {answer!r}")
    try:
        return StepLabels(
            record["prompt"],
            tuple(record["completions"]),
            tuple(record["labels"]),
            None if answer is None else float(answer),
            record.get("error_kind"),
        )
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def _read_jsonl(path: str | Path):
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield f"{path}:{lineno}", json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None


def load_step_labels_jsonl(path: str | Path) -> list[StepLabels]:
    """Read TRL stepwise records (``prompt``, ``completions``, ``labels``) from JSONL."""
    return [validate_step_record(record, where) for where, record in _read_jsonl(path)]


def prm800k_to_step_labels(record: object, neutral_is_correct: bool = True, where: str = "record") -> StepLabels:
    """Convert one PRM800K record: take each step's chosen (or human) completion and its rating.

    Lightman et al. score best when neutral (0) counts as correct; TRL's converter counts it as
    wrong. Labels stop after the first -1, as in PRM800K's phase 2.
    """
    try:
        problem = record["question"]["problem"]
        steps = record["label"]["steps"]
    except (KeyError, TypeError):
        raise ValueError(f"{where}: expected question.problem and label.steps (PRM800K format)") from None
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise ValueError(f"{where}: label.steps must be a list of objects (PRM800K format)")
    completions, labels = [], []
    for i, step in enumerate(steps):
        chosen = step.get("chosen_completion")
        if chosen is not None:
            if not (isinstance(chosen, int) and 0 <= chosen < len(step.get("completions") or [])):
                raise ValueError(f"{where}: step {i} has chosen_completion {chosen!r} but no such completion")
            completion = step["completions"][chosen]
        elif step.get("human_completion"):
            # phase 1: the labeller wrote this step after rejecting every completion; it is a +1 step
            human = step["human_completion"]
            completion = {"text": human if isinstance(human, str) else human.get("text"), "rating": 1}
        elif len(step.get("completions") or []) == 1:
            completion = step["completions"][0]
        else:
            # the labeller stopped at this step: keep the first rated -1 completion, then stop
            completion = next((c for c in step.get("completions") or [] if c.get("rating") == -1), None)
            if completion is None:
                break
        rating = completion.get("rating")
        if rating not in RATINGS:
            raise ValueError(f"{where}: step {i} has rating {rating!r}; PRM800K ratings are -1, 0, 1")
        if not isinstance(completion.get("text"), str):
            raise ValueError(f"{where}: step {i} has no text; each completion needs a text string")
        completions.append(completion["text"])
        labels.append(rating == 1 or (rating == 0 and neutral_is_correct))
        if rating == -1:
            break
    if not completions:
        raise ValueError(f"{where}: no rated steps")
    answer = record["question"].get("ground_truth_answer")
    try:
        answer = parse_number(str(answer).replace("\\!", "")) if answer is not None else None  # PRM800K writes 1,\!000
    except ValueError:
        answer = None  # symbolic answers such as \frac{1}{2}
    return StepLabels(problem, tuple(completions), tuple(labels), answer)


def load_prm800k_jsonl(path: str | Path, neutral_is_correct: bool = True) -> list[StepLabels]:
    """Read a PRM800K-style JSONL file into :class:`StepLabels`; errors name the line."""
    return [prm800k_to_step_labels(record, neutral_is_correct, where) for where, record in _read_jsonl(path)]
