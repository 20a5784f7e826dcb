"""ps2_step_rewards: alternative correct answers, typical mistakes, re-exports (see test_assignments.py)."""

from tests.assignments.stubs import raising_answers

ASSIGNMENT = "ps2_step_rewards"

_ASSIGN = """
def assign_step_rewards(solution, outcome_reward=1.0, decay=0.9):
{body}
"""
_GOOD_CHECKS = """    if not 0 < decay <= 1:
        raise ValueError(decay)
    steps = split_steps(solution)
    if not steps:
        raise ValueError('no steps')
    T = len(steps)
"""


def _assign(body: str, checks: str = _GOOD_CHECKS) -> str:
    return _ASSIGN.format(body=checks + body)


ALTERNATIVES = {
    "regex_and_reversed": {
        "split_steps": "import re\n\ndef split_steps(solution):\n    return [s.strip() for s in re.split(r'\\r?\\n', solution) if s.strip()]\n",
        "assign_step_rewards": _assign(
            "    out, reward = [], float(outcome_reward)\n"
            "    for step in reversed(steps):\n"
            "        out.append((step, reward))\n"
            "        reward *= decay\n"
            "    return out[::-1]\n"
        ),
    },
    "numpy_powers": {
        "assign_step_rewards": _assign(
            "    powers = decay ** np.arange(T - 1, -1, -1, dtype=float)\n"
            "    return [(s, float(outcome_reward * p)) for s, p in zip(steps, powers)]\n"
        ),
        "decay_sweep": "def decay_sweep(solution, decays, outcome_reward=1.0):\n    out = {}\n    for d in decays:\n"
        "        out[d] = [reward for _, reward in assign_step_rewards(solution, outcome_reward, d)]\n    return out\n",
    },
}

WRONG = {
    # test_split_crlf_and_blank: keeps blank lines
    "keeps_blank_lines": {
        "split_steps": "def split_steps(solution):\n    return [s.strip() for s in solution.split('\\n')]\n"
    },
    # test_split_crlf_and_blank: splits on \n only and does not strip \r
    "no_strip": {"split_steps": "def split_steps(solution):\n    return [s for s in solution.split('\\n') if s]\n"},
    # test_assign_default: off-by-one exponent (T - i)
    "off_by_one": {
        "assign_step_rewards": _assign(
            "    return [(s, float(outcome_reward) * decay ** (T - i)) for i, s in enumerate(steps)]\n"
        )
    },
    # test_assign_default: decay applied forwards (first step gets the full reward)
    "decay_forwards": {
        "assign_step_rewards": _assign(
            "    return [(s, float(outcome_reward) * decay ** i) for i, s in enumerate(steps)]\n"
        )
    },
    # test_assign_rejects_bad_input: accepts decay 0 and > 1
    "no_decay_check": {
        "assign_step_rewards": _assign(
            "    return [(s, float(outcome_reward) * decay ** (T - 1 - i)) for i, s in enumerate(steps)]\n",
            checks="    steps = split_steps(solution)\n    if not steps:\n        raise ValueError('no steps')\n    T = len(steps)\n",
        )
    },
    # test_assign_decay_and_reward: ignores outcome_reward
    "ignores_outcome_reward": {
        "assign_step_rewards": _assign("    return [(s, 1.0 * decay ** (T - 1 - i)) for i, s in enumerate(steps)]\n")
    },
    # test_assign_default: returns lists instead of (step, reward) tuples
    "lists_not_tuples": {
        "assign_step_rewards": _assign(
            "    return [[s, float(outcome_reward) * decay ** (T - 1 - i)] for i, s in enumerate(steps)]\n"
        )
    },
    # test_sweep_*: keys as strings
    "string_keys": {
        "decay_sweep": "def decay_sweep(solution, decays, outcome_reward=1.0):\n"
        "    return {str(d): [r for _, r in assign_step_rewards(solution, outcome_reward, d)] for d in decays}\n"
    },
    # test_sweep_outcome_reward: drops outcome_reward
    "sweep_ignores_reward": {
        "decay_sweep": "def decay_sweep(solution, decays, outcome_reward=1.0):\n"
        "    return {d: [r for _, r in assign_step_rewards(solution, 1.0, d)] for d in decays}\n"
    },
    # every test: functions that only raise implement nothing (a bad-input test pays only with a right answer)
    "raise_everything": raising_answers(ASSIGNMENT),
}

REEXPORT = {
    "split_steps": "from course_lib.credit_assignment.process_reward import split_steps\n",
    "assign_step_rewards": "from course_lib.credit_assignment.process_reward import assign_step_rewards\n",
}
