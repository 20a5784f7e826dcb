"""ps3_first_error: seed exercise 3, where does a wrong solution first go wrong (book chapter 8)."""

from nbbuild import SOURCE, answer, md, readonly, rules, save, tests, written

cells = [
    md(
        r"""
# Problem set 3: finding the first wrong step

*Seed exercise 3: create a solution with an error in step 2. Where does the PRM detect the divergence? How do you know?*

This problem set goes with **Chapter 8, "Process reward models"** of the course book (`book/08_process_reward_models.md`).
A process reward model (PRM) scores every **step** of a solution, not just its outcome (Lightman et al., 2023).
You will build the heuristic PRM of the course: check each arithmetic claim `a op b = c` in a step, compare the final answer with
the ground truth, aggregate the step scores into one solution score, and find the **first wrong step**.
"""
        + rules("Use the standard library (`re`, `math`)"),
        "intro",
    ),
    readonly(
        "imports",
        """
import math
import re

import matplotlib.pyplot as plt

GOOD = \"\"\"Step 1: We start with 45 apples.
Step 2: It sells 18. So 45 - 18 = 27.
Step 3: It buys 3 boxes of 4. So 3 x 4 = 12 and 27 + 12 = 39.
The answer is: 39\"\"\"
BAD = GOOD.replace("45 - 18 = 27", "45 - 18 = 28").replace("27 + 12 = 39", "28 + 12 = 40").replace("is: 39", "is: 40")
""",
    ),
    md(
        r"""
## Problem 1 (3 points): `check_arithmetic`

`check_arithmetic(step)` looks at every claim of the form `a op b = c` in the step (also chains like `2 + 3 + 4 = 9`) and returns

* `True` if every claim holds, `False` if any claim is wrong, `None` if the step makes no claim.
* Operators: `+`, `-`, `*`, `/` and `x` (as in `3 x 4`), with the usual precedence.
* Numbers may have thousands separators (`1,200`) and decimals; the result may be negative (`5 - 8 = -3`).
* A claim may **round**: `10 / 3 = 3.33` holds (it is right to the decimals shown), `10 / 3 = 3.4` does not.
""",
        "p1_text",
    ),
    answer(
        "check_arithmetic",
        '''
NUMBER = r"\\d{1,3}(?:,\\d{3})+(?:\\.\\d+)?|\\d+(?:\\.\\d+)?"
CLAIM = re.compile(rf"(?<![\\w.,])((?:{NUMBER})(?:\\s*[-+*/x]\\s*(?:{NUMBER}))+)\\s*=\\s*(-?\\s*(?:{NUMBER}))(?![\\d,]*\\d)")


def to_number(text):
    """'1,200' -> 1200.0, '$27' -> 27.0"""
    return float(text.replace(",", "").replace("$", "").replace(" ", ""))


def check_arithmetic(step):
    """True if every `a op b = c` claim in the step holds, False if one is wrong, None if there is none."""
    ### BEGIN SOLUTION
    claims = CLAIM.findall(step)
    if not claims:
        return None
    for lhs, rhs in claims:
        expression = re.sub(r"\\s*x\\s*", "*", lhs.replace(",", ""))
        try:
            exact = eval(expression, {"__builtins__": {}})  # only digits, dots and + - * / reach here
        except ZeroDivisionError:
            return False
        decimals = len(rhs.split(".")[1]) if "." in rhs else 0
        if abs(exact - to_number(rhs)) > 0.5 * 10**-decimals + 1e-9:
            return False
    return True
    ### END SOLUTION
''',
    ),
    tests(
        "test_check_arithmetic",
        """
assert check_arithmetic("So 45 - 18 = 27.") is True
assert check_arithmetic("So 45 - 18 = 28.") is False
assert check_arithmetic("We start with 45 apples.") is None
assert check_arithmetic("So 1,000 x 3 = 3,000.") is True
print("visible tests passed")
""",
        3,
    ),
    md(
        r"""
## Problem 2 (1 point): `extract_answer`

`extract_answer(solution)` returns the number after the **last** "answer is" (any capitalization, an optional colon and `$`),
as a `float`, or `None` when there is none: `"The answer is: 1,200"` gives `1200.0`, `"So the answer is $27."` gives `27.0`.
""",
        "p2_text",
    ),
    answer(
        "extract_answer",
        '''
def extract_answer(solution):
    """The final answer as a float, or None."""
    ### BEGIN SOLUTION
    found = re.findall(rf"answer\\s+is\\s*:?\\s*\\$?\\s*(-?(?:{NUMBER}))", solution, flags=re.IGNORECASE)
    return to_number(found[-1]) if found else None
    ### END SOLUTION
''',
    ),
    tests(
        "test_extract_answer",
        """
assert extract_answer(GOOD) == 39.0
assert extract_answer("The answer is: 1,200") == 1200.0
assert extract_answer("no answer") is None
print("visible tests passed")
""",
        1,
    ),
    md(
        r"""
## Problem 3 (3 points): step scores and the first wrong step

* `score_steps(solution, ground_truth)` returns `[(step, score)]` for the solution's steps (non-empty stripped lines), each score a
  `float` in $[0, 1]$: a step that states the final answer scores $\ge 0.5$ when it equals `ground_truth` and $< 0.5$ otherwise;
  any other step scores $< 0.5$ when `check_arithmetic` finds a wrong claim and $\ge 0.5$ otherwise (right, or nothing to check).
* `first_error_step(solution, ground_truth)` returns the 0-based index of the first step scoring below 0.5: the first arithmetic
  error or, when all arithmetic holds, the final step if the answer is wrong. `None` when no step is wrong.
""",
        "p3_text",
    ),
    answer(
        "score_steps",
        '''
def score_steps(solution, ground_truth):
    """[(step, score in [0, 1])]: >= 0.5 looks right, < 0.5 looks wrong."""
    ### BEGIN SOLUTION
    scored = []
    for line in solution.splitlines():
        step = line.strip()
        if not step:
            continue
        answer = extract_answer(step)
        if answer is not None:
            score = 1.0 if math.isclose(answer, ground_truth, abs_tol=1e-6) else 0.0
        else:
            verdict = check_arithmetic(step)
            score = 0.7 if verdict is None else (0.9 if verdict else 0.1)
        scored.append((step, score))
    return scored
    ### END SOLUTION


def first_error_step(solution, ground_truth):
    """0-based index of the first wrong step, or None."""
    ### BEGIN SOLUTION
    for i, (_, score) in enumerate(score_steps(solution, ground_truth)):
        if score < 0.5:
            return i
    return None
    ### END SOLUTION
''',
    ),
    tests(
        "test_first_error_step",
        """
scores = score_steps(BAD, ground_truth=39)
assert len(scores) == 4 and all(0 <= s <= 1 for _, s in scores)
assert first_error_step(GOOD, 39) is None
assert first_error_step(BAD, 39) == 1
print("visible tests passed")
""",
        3,
    ),
    md(
        r"""
## Problem 4 (1 point): aggregating step scores

`aggregate_steps(scores, method="min")` turns a list of step scores into one solution score, as a `float`: `"min"` (the weakest step),
`"prod"` (the probability that every step is right), `"last"` or `"mean"`. Raise `ValueError` for an empty list or another method.
""",
        "p4_text",
    ),
    answer(
        "aggregate_steps",
        '''
def aggregate_steps(scores, method="min"):
    """One score for a solution from its step scores."""
    ### BEGIN SOLUTION
    scores = [float(s) for s in scores]
    if not scores:
        raise ValueError("scores is empty")
    if method == "min":
        return min(scores)
    if method == "prod":
        return math.prod(scores)
    if method == "last":
        return scores[-1]
    if method == "mean":
        return sum(scores) / len(scores)
    raise ValueError(f"method must be min, prod, last or mean, got {method!r}")
    ### END SOLUTION
''',
    ),
    tests(
        "test_aggregate_steps",
        """
assert aggregate_steps([0.9, 0.5, 1.0]) == 0.5
assert abs(aggregate_steps([0.9, 0.5, 1.0], "prod") - 0.45) < 1e-12
print("visible tests passed")
""",
        1,
    ),
    readonly(
        "plot",
        """
fig, ax = plt.subplots(figsize=(6, 3))
for name, solution in [("right solution", GOOD), ("error in step 2", BAD)]:
    ax.plot([s for _, s in score_steps(solution, 39)], marker="o", label=name)
ax.axhline(0.5, color="gray", ls="--", lw=1)
ax.set_xlabel("step (0-based)")
ax.set_ylabel("step score")
ax.legend()
plt.tight_layout()
plt.show()
""",
        skip=True,
    ),
    md(
        r"""
## Written question (2 points)

`BAD` has an error in step 2 (index 1). Where does your PRM detect the divergence, and **how do you know** that this is the first
wrong step and not just the first step your heuristic happens to flag? Name one kind of mistake this heuristic PRM cannot detect at the
step where it happens. (Three or four sentences.)
""",
        "written_text",
    ),
    written(
        "written_divergence",
        r"""
### BEGIN SOLUTION
**Rubric (2 points).** 1 point: it detects it at index 1 (step 2), where `45 - 18 = 28` is false; we know it is the first wrong step
because every earlier step was checked and holds (step 1 makes no claim, so nothing can be wrong there), and later steps are
consistent with the wrong value (28 + 12 = 40 holds), so an outcome-only check would only see a wrong final answer.
1 point: a mistake with correct arithmetic is invisible at its step: copying a wrong number from the problem, or using the wrong
operation (adding instead of subtracting); the heuristic then flags only the final answer. Half a point off for no justification.
### END SOLUTION
""",
        2,
    ),
]
save(cells, SOURCE / "ps3_first_error" / "ps3_first_error.ipynb")
