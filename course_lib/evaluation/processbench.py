"""ProcessBench's score for process reward models: find the earliest wrong step (book chapter 16).

ProcessBench (Zheng et al., 2024) gives a model a solution and asks for the index of its **earliest**
wrong step, or "no error" when every step is right. It reports three numbers:

* accuracy on the erroneous solutions: the predicted index equals the true first error exactly;
* accuracy on the correct solutions: the model says "no error";
* **F1**, their harmonic mean, ``2 a_err a_ok / (a_err + a_ok)``: a model that always says "no error"
  scores 0, however many correct solutions there are, and so does one that flags every solution.

Here "no error" is ``None`` and a step index is 0-based, as ``Solution.first_error`` is. A PRM's step
scores become a prediction with :func:`first_below`: the first step it scores below a threshold.

Example:
    >>> score = first_error_f1(predicted=[2, 1, None, None, 3], true=[2, 3, None, 1, None])
    >>> score.error_accuracy, score.correct_accuracy, round(score.f1, 3)  # 1 of 3 exact, 1 of 2 correct
    (0.3333333333333333, 0.5, 0.4)
    >>> first_below([0.9, 0.8, 0.2, 0.1]), first_below([0.9, 0.8])
    (2, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessBenchScore:
    """Accuracy on erroneous and on correct solutions, and their harmonic mean (ProcessBench's F1)."""

    error_accuracy: float  # exact earliest-error step, over solutions that have an error
    correct_accuracy: float  # "no error", over solutions that have none
    f1: float
    n_error: int
    n_correct: int


def _check(values: Sequence[int | None], name: str) -> list[int | None]:
    out = list(values)
    for v in out:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValueError(f"{name} must hold 0-based step indices (ints >= 0) or None for 'no error', got {v!r}")
    return out


def first_error_f1(predicted: Sequence[int | None], true: Sequence[int | None]) -> ProcessBenchScore:
    """Score predicted first-error steps against the true ones (``None``: no error), as ProcessBench does."""
    predicted, true = _check(predicted, "predicted"), _check(true, "true")
    if len(predicted) != len(true):
        raise ValueError(f"predicted has {len(predicted)} entries but true has {len(true)}; give one per solution")
    erroneous = [p == t for p, t in zip(predicted, true) if t is not None]
    correct = [p is None for p, t in zip(predicted, true) if t is None]
    if not erroneous or not correct:
        raise ValueError(
            f"need both erroneous and correct solutions (got {len(erroneous)} and {len(correct)}): "
            "the F1 is the harmonic mean of the accuracy on each"
        )
    a_err, a_ok = sum(erroneous) / len(erroneous), sum(correct) / len(correct)
    f1 = 0.0 if a_err + a_ok == 0 else 2 * a_err * a_ok / (a_err + a_ok)
    return ProcessBenchScore(a_err, a_ok, f1, len(erroneous), len(correct))


def first_below(scores: Sequence[float], threshold: float = 0.5) -> int | None:
    """Index of the first step scoring below ``threshold`` (a PRM's predicted first error), or None."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    return next((i for i, s in enumerate(scores) if s < threshold), None)
