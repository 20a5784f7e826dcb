"""ps2_step_rewards: seed exercise 2, the decay sweep (book chapter 9)."""

from nbbuild import SOURCE, answer, md, readonly, rules, save, tests, written

cells = [
    md(
        r"""
# Problem set 2: step rewards from an outcome reward

*Seed exercise 2: try decay values 0.5, 0.8, 0.9 and 1.0. How does the reward distribution change?*

This problem set goes with **Chapter 9, "Step rewards without step labels"** of the course book
(`book/09_step_rewards_without_labels.md`). An outcome reward model gives one number $R$ for a whole solution.
Without step labels, a simple way to turn it into **step rewards** is to interpolate it backwards with a decay
$\gamma \in (0, 1]$: the solution's $T$ steps get

$$r_i = R\,\gamma^{\,T-1-i}, \qquad i = 0, \dots, T-1,$$

so the last step gets the full outcome reward and earlier steps geometrically less.
"""
        + rules("Plain Python is enough"),
        "intro",
    ),
    readonly(
        "imports",
        """
import math

import matplotlib.pyplot as plt
import numpy as np

SOLUTION = \"\"\"Step 1: We start with 45 apples.
Step 2: It sells 18. So 45 - 18 = 27.
Step 3: It buys 3 boxes of 4. So 27 + 12 = 39.
The answer is: 39\"\"\"
""",
    ),
    md(
        r"""
## Problem 1 (2 points): `split_steps`

`split_steps(solution)` returns the steps of a solution: its **non-empty lines, stripped** of surrounding spaces, in order.
Windows line ends (`\r\n`) must work, and blank lines are not steps.
""",
        "p1_text",
    ),
    answer(
        "split_steps",
        '''
def split_steps(solution):
    """The non-empty, stripped lines of ``solution``."""
    ### BEGIN SOLUTION
    return [line.strip() for line in solution.splitlines() if line.strip()]
    ### END SOLUTION
''',
    ),
    tests(
        "test_split_steps",
        """
assert split_steps(SOLUTION) == [line.strip() for line in SOLUTION.split("\\n")]
assert split_steps("  a  \\n\\n b\\n") == ["a", "b"]
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Problem 2 (4 points): `assign_step_rewards`

`assign_step_rewards(solution, outcome_reward=1.0, decay=0.9)` returns a **list of `(step, reward)` tuples**, one per step,
with `reward` $= R\,\gamma^{T-1-i}$ as a Python `float`.

* Raise `ValueError` when `decay` is not in $(0, 1]$ (0 would give every step but the last nothing; above 1 would reward early steps *more*).
* Raise `ValueError` when the solution has no steps.
* The outcome reward may be negative (a wrong solution): the same formula applies.
""",
        "p2_text",
    ),
    answer(
        "assign_step_rewards",
        '''
def assign_step_rewards(solution, outcome_reward=1.0, decay=0.9):
    """[(step, outcome_reward * decay ** (T - 1 - i))] for the T steps of ``solution``."""
    ### BEGIN SOLUTION
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    steps = split_steps(solution)
    if not steps:
        raise ValueError("the solution has no steps")
    T = len(steps)
    return [(step, float(outcome_reward) * decay ** (T - 1 - i)) for i, step in enumerate(steps)]
    ### END SOLUTION
''',
    ),
    tests(
        "test_assign_step_rewards",
        """
rewards = [r for _, r in assign_step_rewards(SOLUTION, outcome_reward=1.0, decay=0.9)]
assert np.allclose(rewards, [0.729, 0.81, 0.9, 1.0])
try:
    assign_step_rewards(SOLUTION, decay=1.5)
    raise AssertionError("decay=1.5 must raise ValueError")
except ValueError:
    pass
print("visible tests passed")
""",
        4,
    ),
    md(
        r"""
## Problem 3 (2 points): the decay sweep

`decay_sweep(solution, decays, outcome_reward=1.0)` returns a **dict** mapping each decay in `decays` (the same values, as keys)
to the **list of step rewards** (floats, in step order) that `assign_step_rewards` gives for it.
The cell after it plots the sweep for 0.5, 0.8, 0.9 and 1.0; look at it before answering the written question.
""",
        "p3_text",
    ),
    answer(
        "decay_sweep",
        '''
def decay_sweep(solution, decays, outcome_reward=1.0):
    """{decay: [step rewards]} for each decay."""
    ### BEGIN SOLUTION
    return {decay: [r for _, r in assign_step_rewards(solution, outcome_reward, decay)] for decay in decays}
    ### END SOLUTION
''',
    ),
    tests(
        "test_decay_sweep",
        """
sweep = decay_sweep(SOLUTION, [0.5, 1.0])
assert list(sweep) == [0.5, 1.0]
assert np.allclose(sweep[0.5], [0.125, 0.25, 0.5, 1.0]) and np.allclose(sweep[1.0], [1.0] * 4)
print("visible tests passed")
""",
        2,
    ),
    readonly(
        "plot",
        """
sweep = decay_sweep(SOLUTION, [0.5, 0.8, 0.9, 1.0])
fig, ax = plt.subplots(figsize=(6, 3.5))
for decay, rewards in sweep.items():
    ax.plot(range(1, len(rewards) + 1), rewards, marker="o", label=f"decay = {decay}")
ax.set_xlabel("step")
ax.set_ylabel("step reward")
ax.set_title("An outcome reward of 1 spread backwards over the steps")
ax.legend()
plt.tight_layout()
plt.show()
""",
        skip=True,
    ),
    md(
        r"""
## Written question (2 points)

Look at the sweep. Which decay gives the **first** step the most credit, and which the least? Now suppose the solution was
*wrong in step 2* but happened to reach the right final answer, so its outcome reward is 1. What step rewards does step 2 get
under decay 0.9, and what does that tell you about step rewards made from an outcome reward? (Two or three sentences.)
""",
        "written_text",
    ),
    written(
        "written_decay",
        r"""
### BEGIN SOLUTION
**Rubric (2 points).** 1 point: decay 1.0 gives every step the full outcome reward, so the first step the most credit;
decay 0.5 gives it the least ($0.5^{T-1}$, here 0.125); smaller decay concentrates credit on the last steps.
1 point: the wrong step 2 still gets a positive reward ($0.9^2 = 0.81$): a decayed outcome reward cannot tell right from wrong
steps, it only encodes distance from the end; telling them apart needs step labels or rollouts (process supervision).
Half a point off for a correct observation with no number.
### END SOLUTION
""",
        2,
    ),
]
save(cells, SOURCE / "ps2_step_rewards" / "ps2_step_rewards.ipynb")
