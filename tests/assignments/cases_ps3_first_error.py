"""ps3_first_error: alternative correct answers, typical mistakes, re-exports (see test_assignments.py)."""

from tests.assignments.stubs import raising_answers
from tests.support import reference_answer

ASSIGNMENT = "ps3_first_error"


_HELPERS = reference_answer(ASSIGNMENT, "check_arithmetic").split("def check_arithmetic")[
    0
]  # NUMBER, CLAIM, to_number

# An evaluator without eval(): a tiny shunting of * and / before + and -.
_TOKENIZING_CHECK = (
    _HELPERS
    + """
def _value(expression):
    tokens = re.findall(r"[\\d.]+|[-+*/x]", expression.replace(",", ""))
    terms, ops = [float(tokens[0])], []
    for op, num in zip(tokens[1::2], tokens[2::2]):
        if op in "*x/":
            terms[-1] = terms[-1] * float(num) if op != "/" else terms[-1] / float(num)
        else:
            ops.append(op)
            terms.append(float(num))
    total = terms[0]
    for op, t in zip(ops, terms[1:]):
        total = total + t if op == "+" else total - t
    return total


def check_arithmetic(step):
    claims = CLAIM.findall(step)
    if not claims:
        return None
    ok = True
    for lhs, rhs in claims:
        rhs = rhs.replace(" ", "")
        decimals = len(rhs.split(".")[1]) if "." in rhs else 0
        ok = ok and round(_value(lhs), decimals) == round(to_number(rhs), decimals)
    return ok
"""
)

ALTERNATIVES = {
    "tokenizer_and_sorted": {
        "check_arithmetic": _TOKENIZING_CHECK,
        "aggregate_steps": """
def aggregate_steps(scores, method="min"):
    methods = {"min": min, "prod": math.prod, "last": lambda s: s[-1], "mean": lambda s: sum(s) / len(s)}
    if method not in methods:
        raise ValueError(method)
    scores = list(map(float, scores))
    if len(scores) == 0:
        raise ValueError("empty")
    return float(methods[method](scores))
""",
    },
    "different_scores": {
        "score_steps": """
def score_steps(solution, ground_truth):
    out = []
    for step in [s.strip() for s in solution.splitlines() if s.strip()]:
        answer = extract_answer(step)
        if answer is not None:
            out.append((step, 0.95 if abs(answer - ground_truth) < 1e-6 else 0.05))
        else:
            out.append((step, 0.2 if check_arithmetic(step) is False else 0.8))
    return out


def first_error_step(solution, ground_truth):
    bad = [i for i, (_, s) in enumerate(score_steps(solution, ground_truth)) if s < 0.5]
    return bad[0] if bad else None
""",
        "extract_answer": """
def extract_answer(solution):
    matches = list(re.finditer(r"answer\\s+is\\s*:?\\s*\\$?\\s*(-?[\\d,]*\\.?\\d+)", solution, re.IGNORECASE))
    return float(matches[-1].group(1).replace(",", "")) if matches else None
""",
    },
}


def _check(body: str) -> str:
    return _HELPERS + "\ndef check_arithmetic(step):\n" + body


WRONG = {
    # test_check_no_claim_is_none: False instead of None when there is no claim
    "no_claim_is_false": {
        "check_arithmetic": _check(
            "    claims = CLAIM.findall(step)\n"
            "    return bool(claims) and all(abs(eval(re.sub(r'\\s*x\\s*', '*', l.replace(',', ''))) - to_number(r)) < 1e-6 for l, r in claims)\n"
        )
    },
    # test_check_rounding_tolerance: exact comparison, no rounding
    "exact_equality": {
        "check_arithmetic": _check(
            "    claims = CLAIM.findall(step)\n    if not claims:\n        return None\n"
            "    return all(eval(re.sub(r'\\s*x\\s*', '*', l.replace(',', ''))) == to_number(r) for l, r in claims)\n"
        )
    },
    # test_check_two_claims_and_negative: only the first claim is checked
    "first_claim_only": {
        "check_arithmetic": _check(
            "    claims = CLAIM.findall(step)\n    if not claims:\n        return None\n    l, r = claims[0]\n"
            "    return abs(eval(re.sub(r'\\s*x\\s*', '*', l.replace(',', ''))) - to_number(r)) < 0.01\n"
        )
    },
    # test_check_thousands_separators: commas break the numbers
    "no_thousands": {
        "check_arithmetic": "import re\nNUMBER = r'\\d+(?:\\.\\d+)?'\n"
        "def to_number(text):\n    return float(text.replace(',', '').replace('$', '').replace(' ', ''))\n\n"
        "def check_arithmetic(step):\n"
        "    claims = re.findall(r'(\\d+(?:\\.\\d+)?)\\s*([-+*/x])\\s*(\\d+(?:\\.\\d+)?)\\s*=\\s*(-?\\d+(?:\\.\\d+)?)', step)\n"
        "    if not claims:\n        return None\n"
        "    ops = {'+': lambda a, b: a + b, '-': lambda a, b: a - b, '*': lambda a, b: a * b, 'x': lambda a, b: a * b, '/': lambda a, b: a / b}\n"
        "    return all(abs(ops[o](float(a), float(b)) - float(c)) < 0.01 for a, o, b, c in claims)\n"
    },
    # test_extract_answer: first answer instead of last, and int not float
    "first_answer_int": {
        "extract_answer": "def extract_answer(solution):\n"
        "    m = re.search(r'answer is:?\\s*\\$?(-?[\\d,]+)', solution, re.IGNORECASE)\n"
        "    return int(m.group(1).replace(',', '')) if m else None\n"
    },
    # test_first_error_step: 1-based index
    "one_based": {
        "score_steps": reference_answer(ASSIGNMENT, "score_steps").replace("return i\n", "return i + 1\n"),
    },
    # test_first_error_step / contract: ignores the final answer
    "ignores_answer": {
        "score_steps": """
def score_steps(solution, ground_truth):
    return [(s.strip(), 0.1 if check_arithmetic(s) is False else 0.9) for s in solution.splitlines() if s.strip()]


def first_error_step(solution, ground_truth):
    for i, (_, score) in enumerate(score_steps(solution, ground_truth)):
        if score < 0.5:
            return i
    return None
""",
    },
    # test_aggregate_methods: mean instead of prod
    "prod_is_mean": {
        "aggregate_steps": reference_answer(ASSIGNMENT, "aggregate_steps").replace(
            "return math.prod(scores)", "return sum(scores) / len(scores)"
        ),
    },
    # test_aggregate_rejects_bad_input: unknown method falls back to min
    "unknown_method_is_min": {
        "aggregate_steps": "def aggregate_steps(scores, method='min'):\n    scores = [float(s) for s in scores]\n"
        "    if not scores:\n        raise ValueError('empty')\n"
        "    return {'prod': math.prod(scores), 'last': scores[-1], 'mean': sum(scores) / len(scores)}.get(method, min(scores))\n"
    },
    # every test: functions that only raise implement nothing (a bad-input test pays only with a right answer)
    "raise_everything": raising_answers(ASSIGNMENT),
}

REEXPORT = {
    "check_arithmetic": _HELPERS + "from course_lib.credit_assignment.process_reward import check_arithmetic\n",
    "aggregate_steps": "from course_lib.credit_assignment.process_reward import aggregate_steps\n",
}
