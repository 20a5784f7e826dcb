"""A simulated policy: N candidate solutions per problem, with realistic mistakes (book chapters 7, 9, 11, 12).

Best-of-N needs a *policy* that writes many solutions to one problem. A real language model's
mistakes are not independent coin flips, so this one has three kinds, drawn per problem:

* **difficulty**: each problem gets its own per-step slip rate (``slip_rate`` is its range); a slip
  writes ``45 - 18 = 28`` and carries the wrong value on. Slips are scattered: two slipped chains
  rarely agree on a wrong answer.
* **misconceptions**: a fraction of problems (``misconception_rate``) carry one *systematic* error,
  a wrong operation or a wrongly copied number at a fixed step, which each sample repeats with the
  problem's ``misconception_strength``. These wrong answers agree with each other, so they can
  out-vote the right one.
* **lucky chains**: with chance ``lucky_rate``, a chain that went wrong before its last step slips
  again there, and the second slip cancels the first: the last claim is the right answer and the
  answer line follows from it (outcome-correct, process-wrong: the case that fools an outcome label).

:meth:`SimulatedPolicy.complete` continues a partial solution (a prefix of steps) from the value its
last step claims: the *completer* that Monte-Carlo step labels need (chapter 9, Math-Shepherd).

Example:
    >>> from course_lib.data.arithmetic import ProblemGenerator
    >>> problem = ProblemGenerator(seed=0).problem()
    >>> policy = SimulatedPolicy(seed=0)
    >>> candidates = policy.sample(problem, 8)
    >>> len(candidates), all(c.steps[-1].startswith("The answer is") for c in candidates)
    (8, True)
    >>> correct = policy.sample(problem, 1, PolicyConfig(slip_rate=(0.0, 0.0), misconception_rate=0.0,
    ...     wrong_operation_rate=0.0, copy_rate=0.0))[0]
    >>> correct.is_correct, correct.first_error
    (True, None)
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from course_lib.data.arithmetic import SCENARIOS, ArithmeticProblem, Solution, miscopy
from course_lib.data.step_parser import parse_step
from course_lib.data.step_text import WRONG_OPS, apply_op, format_number

SLIPS = (-10, -2, -1, 1, 2, 10)  # how far a slipped result lands from the right one (as in ProblemGenerator)


@dataclass
class PolicyConfig:
    """How often the simulated policy errs; rates are per step unless they say otherwise."""

    slip_rate: tuple[float, float] = (0.02, 0.3)  # per-step slip chance, drawn uniformly per problem
    wrong_operation_rate: float = 0.03  # scattered wrong operations
    copy_rate: float = 0.03  # scattered wrongly copied numbers
    misconception_rate: float = 0.3  # fraction of problems with one systematic error
    misconception_strength: tuple[float, float] = (0.3, 0.9)  # chance a sample repeats it, drawn per problem
    lucky_rate: float = 0.1  # chance a chain that went wrong cancels its error with a second slip

    def __post_init__(self):
        for name in ("slip_rate", "misconception_strength"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high <= 1, got {(low, high)}")
        for name in ("wrong_operation_rate", "copy_rate", "misconception_rate", "lucky_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class ProblemProfile:
    """What the policy finds hard about one problem: its slip rate and its misconception, if any."""

    slip_rate: float
    misconception_step: int | None = None  # 1-based operation index (step index in the solution)
    misconception_kind: str | None = None  # "wrong_operation" or "copied_wrong_number"
    misconception_value: str | int | None = None  # the wrong operator or the wrong number
    misconception_strength: float = 0.0


class SimulatedPolicy:
    """Seeded sampler of candidate solutions; :meth:`profile` is a fixed function of (seed, problem)."""

    def __init__(self, seed: int = 0, config: PolicyConfig | None = None):
        self.seed = seed
        self.config = config or PolicyConfig()
        self.rng = random.Random(seed)

    def profile(self, problem: ArithmeticProblem, config: PolicyConfig | None = None) -> ProblemProfile:
        """The problem's difficulty and misconception: the same on every call (a hash of seed and question)."""
        cfg = config or self.config
        rng = random.Random(zlib.crc32(problem.question.encode()) ^ (self.seed * 0x9E3779B1))
        slip = rng.uniform(*cfg.slip_rate)
        if rng.random() >= cfg.misconception_rate:
            return ProblemProfile(slip)
        step = rng.randint(1, len(problem.operations))
        op = problem.operations[step - 1]
        kind = rng.choice(("wrong_operation", "copied_wrong_number"))
        value = (
            rng.choice(WRONG_OPS[op.op]) if kind == "wrong_operation" else miscopy(op.operand, problem.numbers, rng)
        )
        return ProblemProfile(slip, step, kind, value, rng.uniform(*cfg.misconception_strength))

    def sample(self, problem: ArithmeticProblem, n: int, config: PolicyConfig | None = None) -> list[Solution]:
        """``n`` independent candidate solutions to ``problem``."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        cfg = config or self.config
        profile = self.profile(problem, cfg)
        scenario = next(s for s in SCENARIOS if s.name == problem.scenario)
        unit, item = ("$", "") if scenario.name == "savings" else ("", f" {scenario.item}")
        first = f"Step 1: We start with {unit}{format_number(problem.start)}{item}."
        return [self._finish(problem, profile, cfg, [first], problem.start, None, None) for _ in range(n)]

    def complete(
        self,
        problem: ArithmeticProblem,
        prefix: list[str] | tuple[str, ...],
        n: int,
        config: PolicyConfig | None = None,
    ) -> list[Solution]:
        """``n`` continuations of ``prefix`` (a solution's first steps), each from the value its last step claims.

        A correct prefix mostly reaches the right answer; a prefix with an error carries the wrong
        value on and reaches the right answer only by luck (``lucky_rate``) or by a cancelling slip.
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        if not prefix or not str(prefix[0]).startswith("Step 1:"):
            raise ValueError(f"prefix must be a non-empty list of steps starting with 'Step 1:', got {prefix!r:.80}")
        if len(prefix) > len(problem.operations) + 1:
            raise ValueError(
                f"prefix has {len(prefix)} steps but a solution of this problem has {len(problem.operations) + 1} "
                "before its answer line; pass at most that many"
            )
        value = _claimed_value(prefix[-1])
        errors = _first_error(problem, prefix)
        cfg = config or self.config
        profile = self.profile(problem, cfg)
        return [self._finish(problem, profile, cfg, list(prefix), value, *errors) for _ in range(n)]

    def _finish(
        self,
        problem: ArithmeticProblem,
        profile: ProblemProfile,
        cfg: PolicyConfig,
        steps: list[str],
        value: float,
        first_error: int | None,
        kind: str | None,
    ) -> Solution:
        rng = self.rng
        scenario = next(s for s in SCENARIOS if s.name == problem.scenario)
        prefix_done = len(steps) > len(problem.operations)  # the prefix already holds every operation step
        for i in range(len(steps), len(problem.operations) + 1):
            true = problem.operations[i - 1]
            op, operand, error = true.op, true.operand, None
            if profile.misconception_step == i and rng.random() < profile.misconception_strength:
                error = profile.misconception_kind
            elif rng.random() < cfg.wrong_operation_rate:
                error = "wrong_operation"
            elif rng.random() < cfg.copy_rate:
                error = "copied_wrong_number"
            systematic = profile.misconception_step == i and profile.misconception_kind == error
            if error == "wrong_operation":
                op = profile.misconception_value if systematic else rng.choice(WRONG_OPS[op])
            elif error == "copied_wrong_number":
                operand = profile.misconception_value if systematic else miscopy(operand, problem.numbers, rng)
            result = apply_op(op, value, operand)
            if rng.random() < profile.slip_rate:
                result, error = result + rng.choice(SLIPS), error or "arithmetic_slip"
            if result < 0 <= value:  # a count cannot go negative: this sample thinks again and gets the step right
                op, operand, error = true.op, true.operand, None
                result = apply_op(op, value, operand)
            if error is not None and first_error is None:
                first_error, kind = i, error
            phrase = scenario.phrases[true.op][1].format(n=format_number(operand))
            symbol = "x" if op == "*" and rng.random() < 0.3 else op
            lhs, rhs, claimed = (format_number(x) for x in (value, operand, result))
            steps.append(f"Step {i + 1}: {phrase}. So {lhs} {symbol} {rhs} = {claimed}.")
            value = result
        final = round(float(value), 2)  # as the answer line writes it (30.200000000000003 -> 30.2)
        n = len(problem.operations)
        if (
            not prefix_done  # the last operation step is this sample's own
            and not _same(final, problem.answer)
            and first_error is not None
            and first_error < n
            and rng.random() < cfg.lucky_rate
        ):
            # a second slip in the last step cancels the first error: its claim is the right answer
            head, _ = steps[-1].rsplit(" = ", 1)
            steps[-1] = f"{head} = {format_number(problem.answer)}."
            final = float(problem.answer)
        correct = _same(final, problem.answer)
        if correct and first_error is not None:
            kind = "lucky"
        steps.append(f"The answer is: {format_number(final)}")
        return Solution("\n".join(steps), final, correct, first_error, kind, tuple(steps))


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _claimed_value(step: str) -> float:
    """The running value a step ends with: its claimed result, or the start value of ``Step 1``."""
    parsed = parse_step(step)
    if parsed.kind not in ("start", "operation"):
        raise ValueError(f"cannot read a running value from step {step!r}; continue from a start or operation step")
    return parsed.result


def _first_error(problem: ArithmeticProblem, prefix: list[str] | tuple[str, ...]) -> tuple[int | None, str | None]:
    """Index and kind of the first step of ``prefix`` that is wrong in itself (later steps carry its value)."""
    if not _same(_claimed_value(prefix[0]), problem.start):
        return 0, "copied_wrong_number"
    for i, step in enumerate(prefix[1:], start=1):
        parsed, true = parse_step(step), problem.operations[i - 1]
        if parsed.kind != "operation":
            raise ValueError(f"step {i} of the prefix is not an operation step: {step!r}")
        if parsed.op != true.op:
            return i, "wrong_operation"
        if not _same(parsed.operand, true.operand):
            return i, "copied_wrong_number"
        if not _same(parsed.result, apply_op(parsed.op, parsed.lhs, parsed.operand)):
            return i, "arithmetic_slip"
    return None, None
