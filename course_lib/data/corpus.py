"""The text the course's tiny language model is pretrained on (book chapter 4).

Real reward models start from a pretrained language model (InstructGPT initialises its RM from the
SFT model). Ours reads only what the course generates, so it is pretrained on two kinds of
document, drawn from the arithmetic generator with the course's own number ranges:

* **worked problems**: a question, then its correct step-by-step solution;
* **drills**: lines of bare claims (``71 - 28 = 43``), as web corpora hold arithmetic drills. A
  drill line costs about 12 tokens and teaches one fact, where a worked problem spends about 150
  tokens on 3 to 5 facts; drills are how a 1M-parameter model learns the arithmetic in minutes.
  Each drill line draws its operation uniformly from + - * /: in solutions division is the rarest
  claim (about 1 in 13) and the hardest, so drills give it as many lines as addition.

:func:`claims_in` reads the claims back out of a solution, so the model's arithmetic can be
measured on held-out solutions (the digits of ``c`` in each ``a op b = c``).

Example:
    >>> docs = pretraining_documents(seed=0, drill_fraction=0.5)
    >>> doc = next(docs)
    >>> isinstance(doc, str) and len(doc) > 0
    True
    >>> claims_in("Step 2: It sells 18. So 45 - 18 = 27.")
    [('45 - 18', '27')]
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from course_lib.data.arithmetic import GeneratorConfig, ProblemGenerator
from course_lib.data.step_text import CANONICAL_OP, CLAIM, OPERATOR

DRILL_OPS = ("+", "-", "*", "/")  # drilled equally often, whatever their share of solutions


def claims_in(text: str) -> list[tuple[str, str]]:
    """Every claim ``a op b = c`` of ``text`` as ``("a op b", "c")``, read with :data:`~course_lib.data.step_text.CLAIM`."""
    return [(m["lhs"], m["rhs"]) for m in CLAIM.finditer(text)]


def worked_problem(gen: ProblemGenerator) -> str:
    """A question and its correct solution, one step per line."""
    problem = gen.problem()
    return problem.question + "\n" + gen.correct_solution(problem).text


def operation_of(lhs: str) -> str:
    """The canonical operator of a claim's left side: ``operation_of("12 x 4") == "*"``."""
    op = re.search(rf"\s({OPERATOR})\s", lhs)
    if op is None:
        raise ValueError(f"no operator between spaces in {lhs!r}; pass a claim's left side like '12 x 4'")
    return CANONICAL_OP.get(op[1], op[1])


def drill(gen: ProblemGenerator, rng: random.Random, lines: int = 8) -> str:
    """``lines`` bare claims from correct solutions of fresh problems, one per line, operations drawn uniformly."""
    if lines < 1:
        raise ValueError(f"lines must be >= 1, got {lines}")
    pool: dict[str, list[tuple[str, str]]] = {op: [] for op in DRILL_OPS}
    chosen = []
    for op in (rng.choice(DRILL_OPS) for _ in range(lines)):
        while not pool[op]:
            for lhs, rhs in claims_in(worked_problem(gen)):
                pool[operation_of(lhs)].append((lhs, rhs))
        chosen.append(pool[op].pop())
    return "\n".join(f"{lhs} = {rhs}" for lhs, rhs in chosen)


def pretraining_documents(
    seed: int = 0, drill_fraction: float = 0.8, config: GeneratorConfig | None = None
) -> Iterator[str]:
    """An endless, seeded stream of documents: drills with probability ``drill_fraction``, else worked problems."""
    if not 0.0 <= drill_fraction <= 1.0:
        raise ValueError(f"drill_fraction must be in [0, 1], got {drill_fraction}")
    gen, rng = ProblemGenerator(seed=seed, config=config), random.Random(seed)
    while True:
        yield drill(gen, rng) if rng.random() < drill_fraction else worked_problem(gen)


def held_out_solutions(n: int, seed: int = 10_000, config: GeneratorConfig | None = None) -> list[str]:
    """``n`` worked problems from a seed that pretraining does not use: where the arithmetic is measured."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    gen = ProblemGenerator(seed=seed, config=config)
    return [worked_problem(gen) for _ in range(n)]
