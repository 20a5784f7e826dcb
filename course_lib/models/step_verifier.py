"""A small learned step verifier: one network reads each parsed step and returns a logit (book chapters 7 and 11).

Chapter 10 shows that a tiny transformer cannot learn multi-digit arithmetic in a CPU minute, so
the ORM-vs-PRM experiment uses a verifier that reads each step through its *parsed fields* instead
of its characters. A step becomes a fixed vector of raw fields (:func:`step_features`):

* the kind of step (start, operation, answer), which phrase it opens with ("It sells {n}"), and the
  operator it writes;
* four numbers, each spelled as its units, tens and hundreds digits (one-hot, as a tokenizer that
  splits digits would show them) plus its size: the left operand, the right operand, the claimed
  result, and the value the previous step ended with;
* whether the operand and the result occur among the numbers the problem states;
* what a calculator says about the step's own claim (:func:`calculator_features`).

Only the calculator speaks about correctness, and only about the written claim: the network has to
learn that a phrase goes with an operator, that a number must come from the problem, and (for an
outcome reward model) which step a wrong final answer came from. :class:`StepVerifier` is
an MLP applied to every step of a solution, ``[B, K, F] -> [B, K]`` logits. Trained on step labels
it is a process reward model; trained through a pooled solution score on final-answer labels it is
an outcome reward model (:mod:`course_lib.training.step_verifier`): one model class, two kinds of
supervision.

Example:
    >>> from course_lib.data.arithmetic import ProblemGenerator
    >>> gen = ProblemGenerator(seed=0)
    >>> problem = gen.problem()
    >>> x = solution_features(problem, gen.correct_solution(problem).steps)
    >>> x.shape == (len(problem.operations) + 2, N_FEATURES)
    True
    >>> StepVerifier(seed=0)(torch.as_tensor(x)[None]).shape  # one solution, K steps
    torch.Size([1, 5])
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.data.arithmetic import SCENARIOS, ArithmeticProblem
from course_lib.data.step_parser import STEP_KINDS, ParsedStep, parse_step
from course_lib.data.step_text import NUMBER, calculate

OPERATORS = ("+", "-", "*", "/")
# every step phrase the generator writes, as (scenario, operation) pairs, e.g. ("store", "-") for "It sells {n}"
PHRASES = tuple((s.name, op) for s in SCENARIOS for op in s.phrases)
_PHRASE_PATTERNS = tuple(
    re.compile("^" + re.escape(s.phrases[op][1]).replace(r"\{n\}", f"(?:{NUMBER})") + "$")
    for s in SCENARIOS
    for op in s.phrases
)
N_DIGITS = 3  # units, tens, hundreds
_NUMBER_WIDTH = 5 + 10 * N_DIGITS  # present, size, log-size, fractional, negative, digit one-hots
N_FEATURES = len(STEP_KINDS) + len(PHRASES) + 1 + len(OPERATORS) + 4 * _NUMBER_WIDTH + 2 + 2


def phrase_index(phrase: str | None) -> int:
    """Index of ``phrase`` in :data:`PHRASES`, or ``len(PHRASES)`` when it is none of them."""
    if phrase is not None:
        for i, pattern in enumerate(_PHRASE_PATTERNS):
            if pattern.match(phrase):
                return i
    return len(PHRASES)


def number_features(value: float | None) -> list[float]:
    """A number as a network reads it: present, size, log-size, fractional, negative, then its digits one-hot.

    >>> f = number_features(307.0)
    >>> f[:5], [f[5 + 10 * k : 15 + 10 * k].index(1.0) for k in range(3)]  # units 7, tens 0, hundreds 3
    ([1.0, 0.307, 0.8186, 0.0, 0.0], [7, 0, 3])
    """
    out = [0.0] * _NUMBER_WIDTH
    if value is None:
        return out
    magnitude = abs(float(value))
    whole = int(magnitude)
    size, log_size = round(magnitude / 1000, 4), round(math.log1p(magnitude) / 7, 4)
    out[:5] = [1.0, size, log_size, float(magnitude != whole), float(value < 0)]
    for k in range(N_DIGITS):
        out[5 + 10 * k + (whole // 10**k) % 10] = 1.0
    return out


def step_features(step: ParsedStep, previous: float | None, problem_numbers: Sequence[float]) -> list[float]:
    """The raw-field vector of one parsed step (length :data:`N_FEATURES`); see the module docstring."""
    kind = [float(step.kind == k) for k in STEP_KINDS]
    phrase = [0.0] * (len(PHRASES) + 1)
    phrase[phrase_index(step.phrase)] = 1.0
    op = [float(step.op == o) for o in OPERATORS]
    numbers = []
    for value in (step.lhs, step.operand, step.result, previous):
        numbers += number_features(value)
    known = {float(n) for n in problem_numbers}
    flags = [float(step.operand in known), float(step.result in known)]
    return kind + phrase + op + numbers + flags + calculator_features(step)


def calculator_features(step: ParsedStep) -> list[float]:
    """What a calculator says about the step's own claim ``lhs op operand = result``: checked, and how far off.

    GSM8K's solutions carry calculator annotations (Cobbe et al., 2021); a language-model verifier
    learns arithmetic from billions of tokens, which this MLP cannot. The calculator only recomputes
    the written claim: it cannot see a wrong operation or a wrongly copied number (the claim holds),
    nor tell which earlier step a wrong final answer came from. Those the verifier must learn.

    >>> calculator_features(parse_step("Step 2: It sells 18. So 45 - 18 = 28."))
    [1.0, 0.099]
    """
    if step.kind != "operation" or None in (step.lhs, step.operand, step.result):
        return [0.0, 0.0]
    exact = calculate(step.op, step.lhs, step.operand)
    off = abs(exact - step.result) if math.isfinite(exact) else 1e3
    return [1.0, round(min(math.log1p(off) / 7, 1.0), 4)]


def solution_features(problem: ArithmeticProblem, steps: Sequence[str]) -> np.ndarray:
    """``[K, N_FEATURES]`` float32: one row per step, each knowing the value the step before it ended with."""
    if len(steps) == 0:
        raise ValueError("steps is empty; a solution needs at least one step")
    rows, previous = [], None
    for text in steps:
        row, previous = _step_row(text, previous, problem.numbers)
        rows.append(row)
    return np.stack(rows)


@functools.lru_cache(maxsize=1 << 16)
def _step_row(text: str, previous: float | None, numbers: tuple[int, ...]) -> tuple[np.ndarray, float | None]:
    """One step's features and the running value after it; cached, as N candidates share most of their steps."""
    parsed = parse_step(text)
    row = np.asarray(step_features(parsed, previous, numbers), dtype=np.float32)
    row.flags.writeable = False  # shared between calls
    return row, parsed.result if parsed.result is not None else previous


@dataclass
class StepVerifierConfig:
    """Width and depth of the per-step MLP."""

    hidden_size: int = 128
    n_layers: int = 2  # hidden layers

    def __post_init__(self):
        if self.hidden_size < 1 or self.n_layers < 1:
            raise ValueError(f"hidden_size and n_layers must be >= 1, got {self.hidden_size} and {self.n_layers}")


class StepVerifier(nn.Module):
    """An MLP from each step's features to one logit: ``[B, K, F] -> [B, K]`` (``P(step correct) = sigmoid``)."""

    def __init__(self, config: StepVerifierConfig | None = None, seed: int = 0):
        super().__init__()
        config = config or StepVerifierConfig()
        layers, width = [], N_FEATURES
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            for _ in range(config.n_layers):
                layers += [nn.Linear(width, config.hidden_size), nn.ReLU()]
                width = config.hidden_size
            layers.append(nn.Linear(width, 1))
            self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[-1] != N_FEATURES:
            raise ValueError(
                f"features must end in {N_FEATURES} fields (from solution_features), got shape {tuple(features.shape)}"
            )
        return self.net(features).squeeze(-1)  # [B, K]
