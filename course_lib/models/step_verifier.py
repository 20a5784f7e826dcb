"""A small learned step verifier: one network reads each parsed step and returns a logit (book chapters 7 and 11).

A step becomes a fixed vector of raw fields (:func:`step_features`), read by a small MLP:

* the kind of step (start, operation, answer), which phrase it opens with ("It sells {n}"), and the
  operator it writes;
* four numbers, each spelled as its units, tens and hundreds digits (one-hot, as a tokenizer that
  splits digits would show them) plus its size: the left operand, the right operand, the claimed
  result, and the value the previous step ended with;
* whether the operand and the result occur among the numbers the problem states;
* what the course-pretrained language model thinks of the step's claim ``a op b = c``
  (:func:`claim_features`): how likely it finds the written result, token by token.

Only the pretrained LM speaks about correctness, and only about the written claim, as the
pretrained backbone does for the reward models of chapters 4 and 10: the network has to learn
how much to trust it, that a phrase goes with an operator, that a number must come from the problem,
and (for an outcome reward model) which step a wrong final answer came from. Pass
``judge=claim_judge(pretrained=False)`` for the baseline whose LM has learned nothing.

:class:`StepVerifier` is an MLP applied to every step of a solution, ``[B, K, F] -> [B, K]`` logits.
Trained on step labels it is a process reward model; trained through a pooled solution score on
final-answer labels it is an outcome reward model (:mod:`course_lib.training.step_verifier`): one
model class, two kinds of supervision.

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
from course_lib.data.step_text import CLAIM, NUMBER
from course_lib.models.backbone import COURSE_TINY, load_backbone
from course_lib.models.likelihood import ClaimLikelihood

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
N_FEATURES = len(STEP_KINDS) + len(PHRASES) + 1 + len(OPERATORS) + 4 * _NUMBER_WIDTH + 2 + 3
SURPRISE_CAP = 20.0  # nats: a log-probability below -20 reads as -20


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


def step_features(
    step: ParsedStep, previous: float | None, problem_numbers: Sequence[float], claim: list[float]
) -> list[float]:
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
    return kind + phrase + op + numbers + flags + claim


def claim_judge(pretrained: bool = True) -> ClaimLikelihood:
    """``course-tiny`` as a judge of claims, loaded once: pretrained, or with fresh weights (the baseline)."""
    return _claim_judge(bool(pretrained))


@functools.lru_cache(maxsize=2)
def _claim_judge(pretrained: bool) -> ClaimLikelihood:
    return ClaimLikelihood(*load_backbone(COURSE_TINY, from_scratch=not pretrained))


def prefetch_claims(judge: ClaimLikelihood, steps) -> None:
    """Score the claims of all ``steps`` (texts) with ``judge`` in batches, before their features are read."""
    judge.prefetch(claim for claim in map(claim_of, steps) if claim is not None)


def claim_of(text: str) -> tuple[str, str] | None:
    """The claim ``("a op b", "c")`` a step writes, as written, or None: ``claim_of("So 45 - 18 = 27.")``."""
    match = CLAIM.search(text)
    return None if match is None else (match["lhs"], match["rhs"])


def claim_features(text: str, judge: ClaimLikelihood) -> list[float]:
    """What ``judge`` thinks of the step's claim: ``[checked, surprise, doubt]``, each in [0, 1].

    ``surprise`` is minus the lowest log-probability of the result's tokens, ``doubt`` minus the largest
    gap to the LM's own first choice (0 when it would have written the same digits), both over
    :data:`SURPRISE_CAP`. A step without a claim gets zeros. The LM cannot see a wrong operation or a
    wrongly copied number (the claim itself holds), nor tell which earlier step a wrong final answer came
    from: those the verifier must learn.

    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> claim_features("The answer is: 27", ClaimLikelihood(*build_tiny_backbone()))
    [0.0, 0.0, 0.0]
    """
    claim = claim_of(text)
    if claim is None:
        return [0.0, 0.0, 0.0]
    worst, gap = judge(*claim)
    return [1.0, round(min(-worst, SURPRISE_CAP) / SURPRISE_CAP, 4), round(min(-gap, SURPRISE_CAP) / SURPRISE_CAP, 4)]


def solution_features(
    problem: ArithmeticProblem, steps: Sequence[str], judge: ClaimLikelihood | None = None
) -> np.ndarray:
    """``[K, N_FEATURES]`` float32: one row per step, each knowing the value the step before it ended with.

    ``judge`` reads the claims; the default is the course-pretrained LM (:func:`claim_judge`). It scores
    claims it has not seen one at a time: :func:`prefetch_claims` first scores a whole data set in batches.
    """
    if len(steps) == 0:
        raise ValueError("steps is empty; a solution needs at least one step")
    judge = judge or claim_judge()
    rows, previous = [], None
    for text in steps:
        row, previous = _step_row(text, previous, problem.numbers, judge)
        rows.append(row)
    return np.stack(rows)


@functools.lru_cache(maxsize=1 << 16)
def _step_row(
    text: str, previous: float | None, numbers: tuple[int, ...], judge: ClaimLikelihood
) -> tuple[np.ndarray, float | None]:
    """One step's features and the running value after it; cached, as N candidates share most of their steps."""
    parsed = parse_step(text)
    row = np.asarray(step_features(parsed, previous, numbers, claim_features(text, judge)), dtype=np.float32)
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
