"""Hostile submissions against every hidden grader: no points for stubs, no answers in the feedback.

Issue 12, item 10: a notebook whose functions all raise earns nothing, so a test of "bad input
raises" pays only together with a right answer on valid input. Item 3: what a student receives
(each test's message, the summary, the whole ``grade --json`` file) never holds an expected value
the judge computed or a hidden probe input. The forbidden texts are built generically: the
reference notebook's outcome of every probe (run in the sandbox) and every probe's inputs.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from autograder import codec
from autograder.service import Autograder
from tests.assignments.stubs import raising_answers
from tests.support import ASSIGNMENTS, COURSE, ROOT, answer_ids, make_submission, reference_answer

pytestmark = pytest.mark.slow
SENTINEL = 0.123456789
# Classes cannot be mirrored from a table of return values: a sentinel per class of the answers,
# plus the functions that receive a student model (their outputs are built around it).
SENTINEL_OVERRIDES = {
    "ps4_neural_prm": {
        "neural_prm": f"""
import torch
from torch import nn


class NeuralPRM(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.score = nn.Linear(backbone.config.hidden_size, 1)

    def forward(self, input_ids, attention_mask):
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.score(hidden).squeeze(-1) * 0 + {SENTINEL!r}
""",
        "outcome_reward": f"""
def outcome_reward(model, input_ids, attention_mask):
    return model(input_ids, attention_mask)[:, 0] * 0 + {SENTINEL!r}
""",
        "step_rewards": f"""
def step_rewards(model, input_ids, attention_mask, step_token_id):
    at = (input_ids == step_token_id) & attention_mask.bool()
    return [torch.full((int(row.sum()),), {SENTINEL!r}) for row in at]
""",
    }
}


def key(x):
    """A fingerprint of a probe's arguments, the same in the judge and in the sandbox."""
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach().double().numpy()
    if isinstance(x, np.ndarray):
        return ("array", x.shape, round(float(x.astype(float).sum()), 6))
    if isinstance(x, (list, tuple)):
        return ("list", tuple(key(v) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple(sorted((str(k), key(v)) for k, v in x.items())))
    if isinstance(x, float):
        return round(x, 9)
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return type(x).__name__


def mirror(value, only_floats: bool) -> str:
    """Source of a value shaped like ``value`` (types, shapes, lengths, keys) with sentinel content.

    Floats become the sentinel; unless ``only_floats``, strings and None become "SENTINEL", ints grow
    by one and bools flip. The two kinds fail a test at different checks, so both reach more messages.
    """
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            return f"torch.full({tuple(value.shape)}, {SENTINEL!r}, dtype={value.dtype})"
        return f"torch.tensor({(value if only_floats else value + 1).tolist()!r}, dtype={value.dtype})"
    if isinstance(value, np.ndarray):
        return f"np.full({value.shape}, {SENTINEL!r})"
    if isinstance(value, float):
        return repr(SENTINEL)
    if isinstance(value, (list, tuple)):
        items = ", ".join(mirror(v, only_floats) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {mirror(v, only_floats)}" for k, v in value.items()) + "}"
    if only_floats:
        return repr(value)
    if isinstance(value, bool):
        return repr(not value)
    if isinstance(value, int):
        return repr(value + 1)
    return repr("SENTINEL")  # None, strings, anything else


def defined_names(assignment: str, grade_id: str) -> list[str]:
    tree = ast.parse(reference_answer(assignment, grade_id))
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def mirror_answers(assignment: str, probes, outcomes: dict, only_floats: bool) -> dict[str, str]:
    """Answer cells whose functions return, for each probe's inputs, the reference result with sentinel content.

    Every type, shape and length check passes, so every test reaches the message it gives for wrong values.
    """
    answers = {}
    for grade_id in answer_ids(assignment):
        if grade_id in SENTINEL_OVERRIDES.get(assignment, {}):
            answers[grade_id] = SENTINEL_OVERRIDES[assignment][grade_id]
            continue
        names = defined_names(assignment, grade_id)
        table = {
            repr((p.function, key(codec.loads(codec.dumps(p.args))), key(codec.loads(codec.dumps(p.kwargs))))): mirror(
                outcomes[p.name].value, only_floats
            )
            for p in probes
            if p.driver == "call" and p.function in names and p.name in outcomes
        }
        tree = ast.parse(reference_answer(assignment, grade_id))
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        assert not classes, f"{assignment}: add sentinel classes for {classes} to SENTINEL_OVERRIDES[{grade_id!r}]"
        rows = "".join(f"    {k!r}: {v},\n" for k, v in table.items())
        lookup = f"_table_{grade_id}"  # one per cell: the cells share the notebook's namespace
        answers[grade_id] = (
            "import numpy as np\nimport torch\n\n"
            + inspect.getsource(key)
            + f"\n\n{lookup} = {{\n{rows}}}\n\n"
            + "".join(
                f"def {n}(*args, **kwargs):\n"
                f"    return {lookup}.get(repr(({n!r}, key(args), key(kwargs))), {SENTINEL!r})\n\n\n"
                for n in names
            )
        )
    return answers


def text_answers(assignment: str) -> dict[str, str]:
    """Answer cells whose functions all return the string "SENTINEL": every type check fails."""
    return {
        grade_id: "".join(
            f"def {n}(*args, **kwargs):\n    return 'SENTINEL'\n\n\n" for n in defined_names(assignment, grade_id)
        )
        for grade_id in answer_ids(assignment)
    }


def fragments(value) -> set[str]:
    """Texts that would reveal ``value``: ``tensor(`` for tensors (how ``str(tensor)`` starts); non-integer floats
    as repr, ``:.4f`` and ``:.3g`` (unsigned; with a decimal point and at least three significant digits, so
    "0.5" in "a score >= 0.5" and "100" for 99.99999 are not flagged); strings of 8+ characters that are not
    bare names, and their lines."""
    found: set[str] = set()

    def walk(v):
        if isinstance(v, torch.Tensor):
            found.add("tensor(")
            v = v.detach().to(torch.float64).numpy() if v.is_floating_point() else v.numpy()
        if isinstance(v, np.ndarray):
            for x in v.reshape(-1).tolist():
                walk(x)
        elif isinstance(v, float) and math.isfinite(v) and v != int(v):
            for text in (repr(v), f"{v:.4f}", f"{v:.3g}"):
                text = text.lstrip("-")
                if "." in text and len(text.replace(".", "").lstrip("0").split("e")[0]) >= 3:
                    found.add(text)
        elif isinstance(v, str) and len(v.strip()) >= 8 and not v.isidentifier():  # not a function name
            found.add(v.strip())
            found.update(line.strip() for line in v.splitlines() if len(line.strip()) >= 8)
        elif isinstance(v, dict):  # string keys are names (keyword arguments, fields), not values
            for k, x in v.items():
                walk(None if isinstance(k, str) else k)
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(value)
    return found


NUMBER = re.compile(r"\d+\.\d+(?:e[+-]?\d+)?|\d+(?:\.\d+)?e[+-]?\d+")


def leaks(text: str, forbidden: set[str]) -> list[str]:
    """The forbidden fragments in ``text``: numbers as whole tokens (0.123 is not in 10.1234), strings as substrings."""
    numbers = set(NUMBER.findall(text))
    return sorted(f for f in forbidden if (f in numbers) or (not NUMBER.fullmatch(f) and f in text))


def strings(data) -> list[str]:
    """Every string in decoded JSON: what a student can receive in ``grade --json`` output."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in [k, *strings(v)]]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    """One assignment: its probes, the reference outcomes, and stub and sentinel submissions graded by the CLI."""
    assignment = request.param
    work = tmp_path_factory.mktemp(assignment)
    with Autograder(assignment, COURSE, jobs=1, self_check=False) as grader:
        probes = grader.assignment.probes
        reference = grader.run_sandbox(grader.assignment.source_notebook)
    assert reference.error is None, reference.error
    ran = {name for name, o in reference.outcomes.items() if o.status in ("returned", "raised")}
    assert ran == {p.name for p in probes}, (
        f"the reference notebook did not run {sorted({p.name for p in probes} - ran)}"
    )
    outcomes = {name: o for name, o in reference.outcomes.items() if o.status == "returned"}
    plans = {
        "raise ValueError": raising_answers(assignment, "ValueError"),
        "raise TypeError": raising_answers(assignment, "TypeError"),
        "sentinel values": mirror_answers(assignment, probes, outcomes, only_floats=False),
        "sentinel floats": mirror_answers(assignment, probes, outcomes, only_floats=True),
        "sentinel strings": text_answers(assignment),
    }
    paths = {
        name: make_submission(assignment, work / f"{i}.ipynb", plan) for i, (name, plan) in enumerate(plans.items())
    }
    out = work / "results.json"
    cmd = [sys.executable, "-m", "autograder", "grade", assignment, *map(str, paths.values()), "--json", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's autograder, wherever the tests run from
    done = subprocess.run(
        [*cmd, "--course-dir", str(COURSE), "--jobs", "2"], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    records = dict(zip(paths, json.loads(out.read_text())["submissions"]))
    return assignment, probes, outcomes, records, out.read_text()


def test_functions_that_only_raise_score_zero(graded):
    """Stubs that raise ValueError (what bad-input tests look for) or TypeError earn nothing."""
    assignment, _, _, records, _ = graded
    for name in ("raise ValueError", "raise TypeError"):
        record = records[name]
        paid = [(t["name"], t["score"]) for t in record["tests"] if t["score"] > 0]
        assert record["score"] == 0, (
            f"{assignment}: functions that only {name} scored {record['score']}/{record['max_score']} from {paid}; "
            "a bad-input test must also require a right answer on valid input from the same function"
        )


NOT_A_VALUE_CHECK = re.compile(
    r"returned (a |an )?\w+(, expected|;| which|, must)|raised \w+|does not define|did not run|ran longer|not differentiable"
)


def test_sentinels_reach_the_value_checks(graded):
    """Sentinels pass the type and shape checks of most tests, so the leak test sees the messages for wrong values."""
    assignment, _, _, records, _ = graded
    tests = [t["name"] for t in records["sentinel values"]["tests"]]
    reached = {
        t["name"]
        for name in ("sentinel values", "sentinel floats")
        for t in records[name]["tests"]
        if t["status"] != "passed" and not NOT_A_VALUE_CHECK.search(t["output"])
    }
    assert len(reached) >= len(tests) / 2, (
        f"{assignment}: sentinels reach the value checks of only {sorted(reached)} of {tests}; "
        "mirror() or SENTINEL_OVERRIDES no longer match what the grader checks"
    )


def test_feedback_reveals_no_expected_value_or_hidden_input(graded):
    """No text a student receives holds a reference outcome of any probe or any probe input."""
    assignment, probes, outcomes, records, raw_json = graded
    forbidden: set[str] = set()
    for o in outcomes.values():
        forbidden |= fragments(o.value) | fragments(o.grads)
    for p in probes:
        forbidden |= fragments(p.args) | fragments(p.kwargs)

    # the detector finds what a leaky message would print
    def planted(v) -> str:
        """A leaky message: the value's repr, and each of its floats as ``:.4f``."""
        floats = re.findall(r"-?\d+\.\d+(?:e[+-]?\d+)?", repr(v))
        return f"expected {v!r} = " + ", ".join(f"{float(x):.4f}" for x in floats)

    missed = [name for name, o in outcomes.items() if fragments(o.value) and not leaks(planted(o.value), forbidden)]
    assert not missed, f"{assignment}: the leak detector misses the reference values of {missed}"
    texts = {
        "the JSON file (its strings; its numbers are scores and timings)": "\n".join(strings(json.loads(raw_json)))
    }
    for name, record in records.items():
        texts[f"{name}: summary"] = record["output"]
        texts.update({f"{name}: {t['name']}": t["output"] for t in record["tests"]})
    found = {where: leaks(text, forbidden) for where, text in texts.items()}
    found = {where: bad[:5] for where, bad in found.items() if bad}
    assert not found, (
        f"{assignment}: feedback reveals expected values or hidden inputs: {found}; "
        "rewrite the grader's messages to name the function and the kind of case, never a value"
    )
