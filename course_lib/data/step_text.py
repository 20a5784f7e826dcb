"""Reading and writing the text of solution steps: numbers, operators, claims, answers (book chapters 3, 8-11).

Every module that writes or reads a step (the generator, the simulated policy, the step parser,
the heuristic PRM, the PRM trainer) takes these helpers from here, so a number or an operator
means the same everywhere:

* writing: :func:`format_number` (``1200 -> "1,200"``), :func:`apply_op` (the generator's
  arithmetic) and :data:`WRONG_OPS` (the operator a ``wrong_operation`` error writes instead);
* reading: :data:`NUMBER` and :data:`AMOUNT` (regexes), :func:`parse_number`, :func:`split_steps`,
  :func:`extract_answer`, and the claim checker :func:`arithmetic_claims` / :func:`check_arithmetic`
  that chapter 8's heuristic PRM builds on.

Example:
    >>> format_number(1200), parse_number("$1,200"), apply_op("/", 90, 4)
    ('1,200', 1200.0, 22.5)
    >>> split_steps("Step 1: 45 - 18 = 28.\\n\\nThe answer is: 28")
    ['Step 1: 45 - 18 = 28.', 'The answer is: 28']
    >>> check_arithmetic("So 45 - 18 = 28."), extract_answer("The answer is: 28")
    (False, 28.0)
"""

from __future__ import annotations

import math
import re

# A number as people write it: 1,200 or 3.5 or 27 (thousands separators allowed).
NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# A number as a step writes an amount: with an optional sign and dollar sign (-3, $1,200.50).
AMOUNT = rf"-?\$?(?:{NUMBER})"
OPERATOR = r"[-+*/x×÷]"
CANONICAL_OP = {"x": "*", "×": "*", "÷": "/"}  # the other ways to write * and /
WRONG_OPS = {"+": ("-", "*"), "-": ("+",), "*": ("+", "-"), "/": ("*", "-")}  # a wrong_operation's choices
CLAIM = re.compile(
    rf"(?<![\w.,])(?P<lhs>(?:{NUMBER})(?:\s*{OPERATOR}\s*(?:{NUMBER}))+)\s*=\s*(?P<rhs>-?\s*(?:{NUMBER}))(?![\d,]*\d)"
)
ANSWER = re.compile(rf"(?:answer\s+is|####)\s*:?\s*\$?\s*(?P<num>-?(?:{NUMBER}))", re.IGNORECASE)


# -- writing ------------------------------------------------------------------------------------


def format_number(n: float) -> str:
    """A number as the generator writes it: thousands separators, two decimals unless whole.

    >>> format_number(7119), format_number(22.5)
    ('7,119', '22.50')
    """
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,.2f}"


def calculate(op: str, a: float, b: float) -> float:
    """``a op b`` exactly, as a calculator would (``x / 0`` is ``inf``); ``op`` is ``+ - * /`` or ``x × ÷``."""
    op = CANONICAL_OP.get(op, op)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b else math.inf
    raise ValueError(f"op must be one of + - * /, got {op!r}")


def apply_op(op: str, a: int, b: int) -> int | float:
    """The generator's arithmetic: exact, but an uneven division is rounded to 2 decimals (``10 / 4 = 2.5``).

    >>> apply_op("-", 45, 18), apply_op("/", 96, 4), apply_op("/", 10, 3)
    (27, 24, 3.33)
    """
    if op == "/":
        return a // b if b and a % b == 0 else round(a / b, 2)
    return calculate(op, a, b)


# -- reading ------------------------------------------------------------------------------------


def parse_number(text: str) -> float:
    """``"1,200"`` -> 1200.0; ``"$27"`` -> 27.0."""
    return float(text.replace(",", "").replace("$", "").replace(" ", ""))


def split_steps(solution: str) -> list[str]:
    """The steps of a solution: its non-empty lines, stripped (``\\r\\n`` line ends work)."""
    if not isinstance(solution, str):
        raise TypeError(f"solution must be a str, got {type(solution).__name__}")
    return [line.strip() for line in solution.splitlines() if line.strip()]


def extract_answer(solution: str) -> float | None:
    """The number after the last ``answer is`` (or ``####``), or None.

    >>> extract_answer("Step 1: ...\\nThe answer is: $1,200."), extract_answer("no answer here")
    (1200.0, None)
    """
    matches = list(ANSWER.finditer(solution))
    return parse_number(matches[-1]["num"]) if matches else None


def _evaluate(lhs: str) -> float:
    """The exact value of ``a op b [op c ...]``, with ``*`` and ``/`` binding tighter than ``+`` and ``-``."""
    tokens = re.findall(rf"{NUMBER}|{OPERATOR}", lhs)
    values, ops = [parse_number(tokens[0])], []
    for op, num in zip(tokens[1::2], tokens[2::2]):
        op = CANONICAL_OP.get(op, op)
        if op in "*/":
            values[-1] = calculate(op, values[-1], parse_number(num))
        else:
            ops.append(op)
            values.append(parse_number(num))
    total = values[0]
    for op, v in zip(ops, values[1:]):
        total = calculate(op, total, v)
    return total


def arithmetic_claims(step: str) -> list[tuple[float, float, str]]:
    """Every ``a op b [op c ...] = c`` claim in ``step`` as ``(exact value, claimed value, claimed text)``."""
    return [(_evaluate(m["lhs"]), parse_number(m["rhs"]), m["rhs"]) for m in CLAIM.finditer(step)]


def _holds(exact: float, claimed: float, claimed_text: str) -> bool:
    """True when ``claimed`` is ``exact`` rounded to as many decimals as the claim shows."""
    decimals = len(claimed_text.split(".")[1]) if "." in claimed_text else 0
    return abs(exact - claimed) <= 0.5 * 10.0**-decimals + 1e-9


def check_arithmetic(step: str) -> bool | None:
    """True if every arithmetic claim in ``step`` holds, False if any is wrong, None if there is none.

    ``+ - * /`` and ``x`` work, with thousands separators; a claim may round (``10 / 3 = 3.33``).

    >>> check_arithmetic("So 45 - 18 = 27."), check_arithmetic("So 1,000 x 3 = 3,001."), check_arithmetic("Hi.")
    (True, False, None)
    """
    claims = arithmetic_claims(step)
    if not claims:
        return None
    return all(_holds(*claim) for claim in claims)
