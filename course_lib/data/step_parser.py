"""Reading one step of a generated solution back into its fields (book chapters 9 and 11).

The arithmetic generator and the simulated policy write three kinds of step::

    Step 1: We start with 45 apples.                      -> kind "start",     result 45
    Step 2: It sells 18. So 45 - 18 = 27.                 -> kind "operation", phrase "It sells 18",
                                                             op "-", lhs 45, operand 18, result 27
    The answer is: 27                                     -> kind "answer",    result 27

:func:`parse_step` returns these fields *as written*, right or wrong: it never checks the arithmetic.
The completer of chapter 9 reads the running value from them, and the step verifier of chapter 11
turns them into the numbers a small network reads.

Example:
    >>> parse_step("Step 2: It sells 18. So 45 - 18 = 28.")
    ParsedStep(kind='operation', result=28.0, phrase='It sells 18', op='-', lhs=45.0, operand=18.0)
    >>> parse_step("The answer is: 1,200").result
    1200.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from course_lib.data.step_text import AMOUNT, CANONICAL_OP, OPERATOR, extract_answer, parse_number

STEP_KINDS = ("start", "operation", "answer", "other")
_START = re.compile(rf"^Step 1: We start with (?P<value>{AMOUNT})")
_OPERATION = re.compile(
    rf"^Step \d+: (?P<phrase>.*)\. So (?P<lhs>{AMOUNT}) (?P<op>{OPERATOR}) (?P<operand>{AMOUNT}) = (?P<result>{AMOUNT})\.?$"
)


@dataclass(frozen=True)
class ParsedStep:
    """The fields of one step as written; numbers are floats, missing fields are None."""

    kind: str  # one of STEP_KINDS
    result: float | None = None  # the value the step ends with (start value, claimed result, or final answer)
    phrase: str | None = None  # the words before "So" in an operation step
    op: str | None = None  # + - * / as written ("x" is read as "*")
    lhs: float | None = None
    operand: float | None = None


def parse_step(step: str) -> ParsedStep:
    """Split one step into its fields; a line in another format parses as ``kind="other"``."""
    if not isinstance(step, str):
        raise TypeError(f"step must be a str, got {type(step).__name__}")
    step = step.strip()
    if m := _OPERATION.match(step):
        return ParsedStep(
            "operation",
            parse_number(m["result"]),
            m["phrase"],
            CANONICAL_OP.get(m["op"], m["op"]),
            parse_number(m["lhs"]),
            parse_number(m["operand"]),
        )
    if m := _START.match(step):
        return ParsedStep("start", parse_number(m["value"]))
    answer = extract_answer(step)
    if answer is not None and step.lower().startswith("the answer is"):
        return ParsedStep("answer", answer)
    return ParsedStep("other")
