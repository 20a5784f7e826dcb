"""Grade-school arithmetic word problems with step-by-step solutions (book chapters 3, 8 and 11).

A problem is a chain of operations on one running quantity ("The bakery bakes 12 trays of 24
cookies. It sells 100 of them. ..."). Because the generator knows every intermediate value, it can
write a correct solution, one step per line, and wrong solutions whose *first wrong step* is known:

* ``arithmetic_slip``: a step claims ``45 - 18 = 28``; later steps carry the wrong value on.
* ``copied_wrong_number``: a step uses a number the problem does not contain (``45 - 81``).
* ``wrong_operation``: a step adds where it should subtract (``45 + 18 = 63``); the arithmetic is right.
* ``lucky``: two slips cancel (``45 - 18 = 28``, then ``28 + 10 = 37``): every line follows from the
  one before, and the final answer is right (outcome-correct, process-wrong: the case that fools an
  outcome reward model).

Everything is seeded, so the same ``seed`` gives the same problems on every machine.

Example:
    >>> gen = ProblemGenerator(seed=0)
    >>> problem = gen.problem()
    >>> solution = gen.correct_solution(problem)
    >>> solution.is_correct, solution.first_error
    (True, None)
    >>> solution.final_answer == problem.answer
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from course_lib.data.step_text import WRONG_OPS as _WRONG_OPS
from course_lib.data.step_text import apply_op as _apply
from course_lib.data.step_text import format_number as _fmt

ERROR_KINDS = ("arithmetic_slip", "copied_wrong_number", "wrong_operation", "lucky")


@dataclass(frozen=True)
class Scenario:
    """Wording of one story: the start sentence and one phrase per operation."""

    name: str
    start: str  # "{agent} has {n} {item}."
    item: str
    phrases: dict[str, tuple[str, str]]  # op -> (question phrase, step phrase)


SCENARIOS = (
    Scenario(
        "store",
        "A store starts the day with {n} {item}.",
        "apples",
        {
            "+": ("A delivery brings {n} more.", "A delivery brings {n} more"),
            "-": ("It sells {n} of them.", "It sells {n}"),
            "*": ("Then the stock is multiplied by {n} for the weekend.", "The stock is multiplied by {n}"),
            "/": (
                "The rest is split evenly between {n} shelves. How many go on one shelf?",
                "The rest is split between {n} shelves",
            ),
        },
    ),
    Scenario(
        "bakery",
        "A bakery bakes {n} {item} in the morning.",
        "cookies",
        {
            "+": ("In the afternoon it bakes {n} more.", "It bakes {n} more"),
            "-": ("Customers buy {n} of them.", "Customers buy {n}"),
            "*": ("A big order needs {n} times as many.", "The order needs {n} times as many"),
            "/": ("They are packed into {n} equal boxes. How many are in one box?", "They are packed into {n} boxes"),
        },
    ),
    Scenario(
        "library",
        "A library has {n} {item} on a cart.",
        "books",
        {
            "+": ("Readers return {n} more.", "Readers return {n} more"),
            "-": ("The staff shelve {n} of them.", "The staff shelve {n}"),
            "*": (
                "Each book on the cart has {n} copies in storage, and all copies are counted.",
                "Each book has {n} copies",
            ),
            "/": (
                "The rest are shared equally among {n} carts. How many are on one cart?",
                "They are shared among {n} carts",
            ),
        },
    ),
    Scenario(
        "farm",
        "A farm collects {n} {item}.",
        "eggs",
        {
            "+": ("The hens lay {n} more.", "The hens lay {n} more"),
            "-": ("{n} of them break.", "{n} of them break"),
            "*": ("Over the week the farm collects {n} times that amount.", "The week brings {n} times that"),
            "/": (
                "The eggs are packed into {n} equal crates. How many are in each crate?",
                "They are packed into {n} crates",
            ),
        },
    ),
    Scenario(
        "savings",
        "Maya saves ${n}.",
        "dollars",
        {
            "+": ("Her aunt gives her ${n}.", "Her aunt gives her ${n}"),
            "-": ("She spends ${n} on a game.", "She spends ${n}"),
            "*": ("Her savings grow to {n} times that by the end of the year.", "Her savings grow {n} times"),
            "/": (
                "She shares it equally among {n} friends. How much does each friend get?",
                "She shares it among {n} friends",
            ),
        },
    ),
)


@dataclass(frozen=True)
class Operation:
    op: str  # one of + - * /
    operand: int
    result: int


@dataclass(frozen=True)
class ArithmeticProblem:
    """A word problem: ``question`` text, the exact ``answer`` and the operation chain behind it."""

    question: str
    start: int
    operations: tuple[Operation, ...]
    scenario: str

    @property
    def answer(self) -> float:
        return float(self.operations[-1].result)

    @property
    def numbers(self) -> tuple[int, ...]:
        """Every number the question states."""
        return (self.start, *(o.operand for o in self.operations))


@dataclass(frozen=True)
class Solution:
    """A step-by-step solution: one step per line, the last line ``The answer is: N``.

    ``first_error`` is the 0-based index of the first wrong step (``None`` when every step is right);
    ``is_correct`` says whether the final answer matches (a ``lucky`` solution is correct with an error).
    """

    text: str
    final_answer: float
    is_correct: bool
    first_error: int | None = None
    error_kind: str | None = None
    steps: tuple[str, ...] = field(default=(), repr=False)

    @property
    def step_labels(self) -> list[bool]:
        """Per-step correctness: True before the first error, False from it on (PRM800K phase-2 style)."""
        n = len(self.steps)
        cut = n if self.first_error is None else self.first_error
        return [i < cut for i in range(n)]


def miscopy(n: int, avoid: tuple[int, ...], rng: random.Random) -> int:
    """A plausible miscopy of ``n`` (digits swapped or off by a little) that the problem does not contain.

    The ``copied_wrong_number`` error: the generator and the simulated policy (chapter 11) both use it.

    >>> miscopy(45, avoid=(45, 18), rng=random.Random(0)) in {54, 42, 43, 44, 46, 47, 48, 55}
    True
    """
    candidates = [int(str(n)[::-1])] if n >= 10 and str(n)[::-1] != str(n) and str(n)[-1] != "0" else []
    candidates += [n + d for d in (-3, -2, -1, 1, 2, 3, 10) if n + d > 1]
    candidates = [c for c in candidates if c not in avoid]
    if not candidates:
        raise ValueError(f"every miscopy of {n} is in avoid={avoid}; avoid fewer numbers")
    return rng.choice(candidates)


@dataclass
class GeneratorConfig:
    """Size and difficulty of generated problems."""

    min_steps: int = 2  # operations per problem
    max_steps: int = 4
    max_start: int = 60
    max_operand: int = 60  # largest number added or subtracted
    max_value: int = 999  # running values stay below this


class ProblemGenerator:
    """Seeded generator of problems, correct solutions and wrong solutions with a known first error."""

    def __init__(self, seed: int = 0, config: GeneratorConfig | None = None):
        self.config = config or GeneratorConfig()
        if not 1 <= self.config.min_steps <= self.config.max_steps:
            raise ValueError(
                f"need 1 <= min_steps <= max_steps, got {self.config.min_steps} and {self.config.max_steps}"
            )
        self.rng = random.Random(seed)

    # -- problems -------------------------------------------------------------------------
    def problem(self) -> ArithmeticProblem:
        cfg, rng = self.config, self.rng
        scenario = rng.choice(SCENARIOS)
        value = start = rng.randint(6, cfg.max_start)
        ops: list[Operation] = []
        n_ops = rng.randint(cfg.min_steps, cfg.max_steps)
        for i in range(n_ops):
            last = i == n_ops - 1
            op, operand = self._next_op(value, last)
            value = _apply(op, value, operand)
            ops.append(Operation(op, operand, value))
        sentences = [scenario.start.format(n=_fmt(start), item=scenario.item)]
        sentences += [scenario.phrases[o.op][0].format(n=_fmt(o.operand)) for o in ops]
        if ops[-1].op != "/":
            sentences.append(
                f"How many {scenario.item} are there now?"
                if scenario.name != "savings"
                else "How many dollars does she have now?"
            )
        return ArithmeticProblem(" ".join(sentences), start, tuple(ops), scenario.name)

    def _next_op(self, value: int, last: bool) -> tuple[str, int]:
        rng, top = self.rng, self.config.max_value
        choices = ["+", "-"] if value > 2 else ["+"]
        if value * 2 <= top:
            choices.append("*")
        divisors = [d for d in range(2, 10) if value % d == 0]
        if divisors and last:
            choices.append("/")
        op = rng.choice(choices)
        if op == "+":
            return op, rng.randint(2, max(2, min(self.config.max_operand, top - value)))
        if op == "-":
            return op, rng.randint(1, min(value - 1, self.config.max_operand))
        if op == "*":
            return op, rng.randint(2, max(2, min(9, top // max(value, 1))))
        return op, rng.choice(divisors)

    # -- solutions ------------------------------------------------------------------------
    def correct_solution(self, problem: ArithmeticProblem) -> Solution:
        return self._write(problem, error_at=None, kind=None)

    def wrong_solution(self, problem: ArithmeticProblem, kind: str | None = None) -> Solution:
        """A solution whose first wrong step is a random operation step (``kind`` from ERROR_KINDS)."""
        kind = kind or self.rng.choice(ERROR_KINDS)
        if kind not in ERROR_KINDS:
            raise ValueError(f"kind must be one of {ERROR_KINDS}, got {kind!r}")
        # step 0 states the start value; a lucky chain needs a later step to cancel its slip
        last = len(problem.operations) - (kind == "lucky")
        if last < 1:
            raise ValueError(f"a lucky solution needs a problem with at least 2 operations, got {problem.question!r}")
        for _ in range(50):
            error_at = self.rng.randint(1, last)
            solution = self._write(problem, error_at, kind)
            if solution is not None:
                return solution
        raise RuntimeError(f"could not make a {kind} error for {problem.question!r}")  # pragma: no cover

    def _write(self, problem: ArithmeticProblem, error_at: int | None, kind: str | None) -> Solution | None:
        scenario = next(s for s in SCENARIOS if s.name == problem.scenario)
        unit = "$" if scenario.name == "savings" else ""
        item = "" if unit else f" {scenario.item}"
        steps = [f"Step 1: We start with {unit}{_fmt(problem.start)}{item}."]
        value = problem.start
        for i, o in enumerate(problem.operations, start=1):
            op, operand = o.op, o.operand
            result = _apply(op, value, operand)
            if i == error_at and kind == "wrong_operation":
                op = next((w for w in _WRONG_OPS[o.op] if _apply(w, value, operand) >= 0), _WRONG_OPS[o.op][0])
                result = _apply(op, value, operand)
            elif i == error_at and kind == "copied_wrong_number":
                operand = miscopy(operand, problem.numbers, self.rng)
                result = _apply(op, value, operand)
            elif i == error_at and kind in ("arithmetic_slip", "lucky"):
                after = problem.operations[i] if i < len(problem.operations) else None
                if kind == "lucky" and after is not None and after.op == "/":  # keep the next division exact
                    result = result + self.rng.choice([-1, 1]) * after.operand
                else:
                    result = result + self.rng.choice([-10, -2, -1, 1, 2, 10])
            elif error_at is not None and i == error_at + 1 and kind == "lucky":
                result = o.result  # a second slip that cancels the first: the chain is back on track
            if result < 0:
                return None  # a negative count is a silly chain; let the caller retry
            phrase = scenario.phrases[o.op][1].format(n=_fmt(operand))
            symbol = {"*": "x"}.get(op, op) if self.rng.random() < 0.3 else op
            steps.append(f"Step {i + 1}: {phrase}. So {_fmt(value)} {symbol} {_fmt(operand)} = {_fmt(result)}.")
            value = result
        final = float(value)
        if kind is not None and (kind == "lucky") != (final == problem.answer):
            return None
        steps.append(f"The answer is: {_fmt(final)}")
        return Solution(
            text="\n".join(steps),
            final_answer=float(final),
            is_correct=final == problem.answer,
            first_error=error_at,
            error_kind=kind,
            steps=tuple(steps),
        )

    def sample_solutions(self, problem: ArithmeticProblem, n: int, p_correct: float) -> list[Solution]:
        """``n`` independent candidates, each correct with probability ``p_correct`` (best-of-N, chapter 11)."""
        if not 0.0 <= p_correct <= 1.0:
            raise ValueError(f"p_correct must be in [0, 1], got {p_correct}")
        return [
            self.correct_solution(problem) if self.rng.random() < p_correct else self.wrong_solution(problem)
            for _ in range(n)
        ]
