"""``python -m autograder similarity``: copies flagged, independent work not, escaped output, no grade touched."""

from __future__ import annotations

import copy
import hashlib
import importlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.similarity import SimilarityConfig, run_similarity
from tests.support import ASSIGNMENTS, COURSE, ROOT, make_submission, released_course, source_notebook

ASSIGNMENT = "ps1_bradley_terry"
WRITTEN = "written_gradient"
CODE_CELLS = ("bradley_terry_loss", "preference_metrics", "loss_vs_gap")
THRESHOLD = SimilarityConfig().threshold
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[^\n]*\n?", re.S | re.M)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

# The reference answers of ps1 as a copier hands them in: every local renamed, the two functions of
# preference_metrics swapped, comments added and changed, the layout of loss_vs_gap changed.
COPIED = {
    "bradley_terry_loss": '''def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction="mean"):
    """-log sigmoid(r_chosen - r_rejected - margin), reduced by mean, sum or none."""
    # first make sure the reduction is one we know
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    good = torch.as_tensor(reward_chosen, dtype=torch.get_default_dtype()) if not torch.is_tensor(reward_chosen) else reward_chosen
    bad = torch.as_tensor(reward_rejected, dtype=torch.get_default_dtype()) if not torch.is_tensor(reward_rejected) else reward_rejected
    if good.shape != bad.shape:  # both sides need the same shape
        raise ValueError(f"shapes differ: {tuple(good.shape)} vs {tuple(bad.shape)}")
    per_pair = -F.logsigmoid(good - bad - margin)  # my loss
    if reduction == "mean":
        return per_pair.mean()
    if reduction == "sum":
        return per_pair.sum()
    return per_pair
''',
    "preference_metrics": '''def pairwise_accuracy(reward_chosen, reward_rejected):
    """Fraction of pairs ranked strictly right, as a float."""
    # accuracy = how often chosen beats rejected
    winners, losers = torch.as_tensor(reward_chosen), torch.as_tensor(reward_rejected)
    if winners.shape != losers.shape:
        raise ValueError("reward_chosen and reward_rejected must have the same shape")
    return (winners > losers).float().mean().item()


def preference_probability(reward_chosen, reward_rejected):
    """sigmoid(r_chosen - r_rejected), per pair."""
    w, l = torch.as_tensor(reward_chosen, dtype=torch.float32), torch.as_tensor(reward_rejected, dtype=torch.float32)
    if w.shape != l.shape:
        raise ValueError("reward_chosen and reward_rejected must have the same shape")
    return torch.sigmoid(w - l)
''',
    "loss_vs_gap": '''def loss_vs_gap(gaps):
    """Per-gap Bradley-Terry loss -log sigmoid(gap)."""
    # softplus is stable
    g = torch.as_tensor(gaps,
                        dtype=torch.float32)
    return F.softplus(-g)
''',
}

# Answers to ps1's written question, each written independently, and a light paraphrase of the first.
ANSWERS = {
    "ada": r"""The gradient with respect to $r^+$ is $\sigma(\Delta) - 1 = -\sigma(-\Delta)$, where $\Delta = r^+ - r^-$. As the gap
grows it goes to zero exponentially fast, like $-e^{-\Delta}$. So pairs that the model already ranks correctly by a wide margin
barely change the parameters: training effort goes to the pairs that are ranked wrongly or with a small gap.""",
    "bo": r"""Differentiating $-\log\sigma(r^+ - r^-)$ gives $-(1-\sigma(r^+ - r^-))$. When the model is confident and right,
$\sigma$ is close to one, so this derivative vanishes. Well separated pairs therefore contribute almost no gradient and the
updates are dominated by the hard examples near the decision boundary.""",
    "cy": """dL/dr+ = sigmoid(gap) - 1. For a big positive gap sigmoid is about 1 so the gradient is about 0. This means the easy
pairs stop teaching the model anything, it focuses on mistakes. Unlike a hinge loss it is never exactly zero though.""",
    "di": r"""The derivative of the loss is $-\sigma(-\Delta)$ which shrinks towards 0 when $\Delta$ is large. In practice the
correctly ordered pairs with large margins are almost ignored by gradient descent, and the reward model spends its capacity
on pairs it gets wrong.""",
    "ed": r"""Since $\partial L / \partial r^+ = \sigma(r^+ - r^-) - 1$, the gradient decays to 0 as the gap increases,
approaching it exponentially. Pairs already ranked right by a wide margin thus produce tiny updates; most of the learning signal
comes from misranked or close pairs. The loss behaves like a soft hinge.""",
}
PARAPHRASE = r"""The gradient w.r.t. $r^+$ equals $\sigma(\Delta) - 1 = -\sigma(-\Delta)$, with $\Delta = r^+ - r^-$. When the gap
grows it tends to zero exponentially quickly, like $-e^{-\Delta}$. Hence pairs the model already ranks correctly by a large margin
hardly change the parameters: the training effort goes to pairs ranked wrongly or with a small gap."""


def unsolved(assignment: str) -> dict[str, str]:
    """Every answer cell as nbgrader releases it: solutions cleared to the stub, written answers to the text stub."""
    out = {}
    for cell in source_notebook(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = (
                SOLUTION.sub(lambda m: "".join(m.group(1) + line + "\n" for line in STUB.split("\n")), cell.source)
                if cell.cell_type == "code"
                else "YOUR ANSWER HERE"
            )
    return out


def course(root: Path, assignment: str = ASSIGNMENT) -> Path:
    """A course directory with the source of ``assignment`` and no submissions yet."""
    shutil.copytree(COURSE / "source" / assignment, root / "source" / assignment)
    return root


def submit(root: Path, student: str, answers: dict[str, str], assignment: str = ASSIGNMENT) -> Path:
    """``student`` hands in the release with ``answers`` filled in (every other answer cell left unsolved)."""
    path = root / "submitted" / student / assignment / f"{assignment}.ipynb"
    return make_submission(assignment, path, {**unsolved(assignment), **answers})


def reference(assignment: str = ASSIGNMENT) -> dict[str, str]:
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }


def pairs_of(report) -> dict[frozenset, object]:
    return {frozenset((p.a, p.b)): p for p in report.pairs}


def test_a_renamed_reordered_recommented_copy_is_flagged(tmp_path):
    from tests.assignments.cases_ps1_bradley_terry import ALTERNATIVES

    root = course(tmp_path)
    assert all(COPIED[c] != reference()[c] for c in CODE_CELLS)
    submit(root, "ada", {**reference(), WRITTEN: ANSWERS["ada"]})
    submit(root, "copy", {**COPIED, WRITTEN: ANSWERS["bo"]})
    submit(root, "pia", {**ALTERNATIVES["piecewise_log1p"], WRITTEN: ANSWERS["cy"]})
    submit(root, "sol", {"loss_vs_gap": ALTERNATIVES["softplus"]["loss_vs_gap"], WRITTEN: ANSWERS["di"]})
    report = run_similarity(root, ASSIGNMENT)

    top = report.pairs[0]
    assert {top.a, top.b} == {"ada", "copy"}
    assert top.flagged and top.code >= 0.95, top
    assert set(top.cells) == {"bradley_terry_loss", "preference_metrics"}  # loss_vs_gap is too short to count alone
    assert [frozenset((p.a, p.b)) for p in report.pairs if p.flagged] == [frozenset(("ada", "copy"))]

    data = json.loads((root / "reports" / ASSIGNMENT / "similarity.json").read_text())
    assert len(data["pairs"]) == 6  # every pair of 4 students
    assert [p["score"] for p in data["pairs"]] == sorted((p["score"] for p in data["pairs"]), reverse=True)
    assert all(0 <= p["score"] <= 1 and isinstance(p["flagged"], bool) for p in data["pairs"])
    assert data["pairs"][0]["flagged"] and set(data["pairs"][0]["cells"]) == set(top.cells)
    page = (root / "reports" / ASSIGNMENT / "similarity.html").read_text()
    assert "<mark>" in page and 'src="data:image/png;base64,' in page


def test_a_lightly_paraphrased_written_answer_is_flagged_and_independent_ones_are_not(tmp_path):
    root = course(tmp_path)
    for student, text in ANSWERS.items():
        submit(root, student, {WRITTEN: text})
    submit(root, "fay", {WRITTEN: PARAPHRASE})
    report = run_similarity(root, ASSIGNMENT)

    pair = pairs_of(report)[frozenset(("ada", "fay"))]
    assert pair.flagged and pair.cells == (WRITTEN,) and pair.code == 0, pair
    others = [p for key, p in pairs_of(report).items() if key != frozenset(("ada", "fay"))]
    assert len(others) == 14 and max(p.score for p in others) < 0.4, max(others, key=lambda p: p.score)


def _given_lines(assignment: str) -> set[str]:
    return {line.strip() for src in unsolved(assignment).values() for line in src.splitlines()}


def _own_lines(answers: dict[str, str], given: set[str]) -> set[str]:
    """The substantial lines a student wrote (not the release's): two students sharing one are not independent."""
    lines = (line.strip() for src in answers.values() for line in src.splitlines())
    return {line for line in lines if len(line) >= 20 and line not in given}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_independent_solutions_right_or_wrong_are_not_flagged(tmp_path, assignment):
    """Every alternative and mistaken answer of tests/assignments/cases_<ps>.py, and the reference, one student each.

    Many mistakes are the reference with one line edited (``.replace``), and some alternatives share a
    helper: those pairs share lines and are not independent. Every pair that shares no line is, and
    none of them may be flagged; a case that is the reference edited must be.
    """
    cases = importlib.import_module(f"tests.assignments.cases_{assignment}")
    root = course(tmp_path, assignment)
    students = {"reference": reference(assignment)}
    students.update((name, answers) for name, answers in {**cases.ALTERNATIVES, **cases.WRONG}.items())
    for name, answers in students.items():
        submit(root, name, answers, assignment)
    report = run_similarity(root, assignment)

    given = _given_lines(assignment)
    lines = {name: _own_lines(answers, given) for name, answers in students.items()}
    scores = pairs_of(report)
    independent = [scores[frozenset(k)] for k in itertools.combinations(students, 2) if not lines[k[0]] & lines[k[1]]]
    assert len(independent) >= 10
    assert not [p for p in independent if p.flagged], [p for p in independent if p.flagged]
    derived = [p for p in report.pairs if "reference" in (p.a, p.b) and lines[p.a] & lines[p.b]]
    if derived:  # the reference edited in one place: its pair with the reference is near 1
        assert max(p.score for p in derived) >= THRESHOLD


def test_unsolved_releases_and_the_same_one_line_blanks_are_not_flagged(tmp_path):
    root = released_course(tmp_path / "course", ASSIGNMENT)
    release = nbformat.read(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for student in ("ada", "bo", "cy"):
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(release, folder / f"{ASSIGNMENT}.ipynb")
    filled = copy.deepcopy(release)  # the only one-line answer, filled in the same obvious way by two students
    for cell in filled.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "loss_vs_gap":
            cell.source = cell.source.replace(
                "raise NotImplementedError()", "return F.softplus(-torch.as_tensor(gaps))"
            )
    for student in ("di", "ed"):
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(filled, folder / f"{ASSIGNMENT}.ipynb")
    report = run_similarity(root, ASSIGNMENT)
    assert len(report.pairs) == 10
    assert not [p for p in report.pairs if p.flagged], report.pairs[0]
    assert max(p.score for p in report.pairs) < 0.2


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_student_markup_is_escaped_in_the_page(tmp_path):
    root = course(tmp_path)
    hostile_code = {cell: f"# {HOSTILE}\n{src}\nNOTE = '{HOSTILE}'\n" for cell, src in reference().items()}
    written = f"{ANSWERS['ada']}\n\n{HOSTILE}"
    submit(root, "ada", {**hostile_code, WRITTEN: written})
    submit(root, "<svg onload=alert(2)>", {**hostile_code, WRITTEN: written})
    report = run_similarity(root, ASSIGNMENT)
    assert report.pairs[0].flagged and WRITTEN in report.pairs[0].cells

    page = (root / "reports" / ASSIGNMENT / "similarity.html").read_text()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;svg onload=alert(2)&gt;" in page
    parser = _Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "iframe", "object", "embed", "form", "base", "link"}
    assert [tag for tag, attrs in parser.tags if tag == "img"] == ["img"]  # the histogram only
    assert not [(tag, a) for tag, attrs in parser.tags for a in attrs if a.startswith("on")]
    assert all(attrs["src"].startswith("data:image/png;base64,") for tag, attrs in parser.tags if tag == "img")
    assert "Content-Security-Policy" in page and "script-src" not in page  # default-src 'none' forbids scripts


def test_links_in_submitted_are_not_followed_and_broken_notebooks_are_listed(tmp_path):
    root = course(tmp_path)
    submit(root, "ada", reference())
    submit(root, "bo", {WRITTEN: ANSWERS["bo"]})
    outside = submit(tmp_path / "elsewhere", "x", reference())
    (root / "submitted" / "mal" / ASSIGNMENT).mkdir(parents=True)
    (root / "submitted" / "mal" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").symlink_to(outside)
    (root / "submitted" / "lnk").symlink_to(outside.parent.parent)
    (root / "submitted" / "bad" / ASSIGNMENT).mkdir(parents=True)
    (root / "submitted" / "bad" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [')
    report = run_similarity(root, ASSIGNMENT)
    assert {n for p in report.pairs for n in (p.a, p.b)} == {"ada", "bo"}
    assert "symbolic link" in report.not_compared["mal"] and "symbolic link" in report.not_compared["lnk"]
    assert "not valid JSON" in report.not_compared["bad"]
    data = json.loads((root / "reports" / ASSIGNMENT / "similarity.json").read_text())
    assert set(data["not_compared"]) == {"mal", "lnk", "bad"}


def test_code_moved_to_an_added_cell_is_compared_and_huge_cells_are_cut(tmp_path):
    root = course(tmp_path)
    submit(root, "ada", reference())

    def move(nb):  # the copied answers in one new cell at the end, the answer cells left as released
        nb.cells.append(nbformat.v4.new_code_cell("\n\n".join(COPIED.values())))

    make_submission(
        ASSIGNMENT, root / "submitted" / "copy" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", unsolved(ASSIGNMENT), move
    )
    huge = "x = [\n" + "    1,\n" * 20_000 + "]\n"
    submit(root, "big", {"loss_vs_gap": huge})
    report = run_similarity(root, ASSIGNMENT)
    pair = pairs_of(report)[frozenset(("ada", "copy"))]
    assert pair.flagged and pair.code >= 0.95 and "added cells" in pair.cells, pair
    page = (root / "reports" / ASSIGNMENT / "similarity.html").read_text()
    assert f"big: loss_vs_gap is {len(huge)} characters long; only the first 20000 were compared" in page


@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("course", ["similarity", "ps9_nothing"], "no assignment 'ps9_nothing'"),
        ("course", ["similarity", ASSIGNMENT], "collect them first"),
        ("one", ["similarity", ASSIGNMENT], "found ada"),
        ("none", ["similarity", ASSIGNMENT], "does not exist; pass --course-dir"),
        ("one", ["similarity", ASSIGNMENT, "--threshold", "1.5"], "got 1.5"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_the_fix(tmp_path, capsys, setup, args, message):
    root = tmp_path / "c"
    if setup != "none":
        course(root)
    if setup == "one":
        submit(root, "ada", reference())
    assert main([*args, "--course-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    if "ps9" in message:
        assert ASSIGNMENT in err  # the assignments there are
    assert not (root / "reports").exists()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("similarity.")
    }


@pytest.mark.slow
def test_batch_with_similarity_links_the_report_and_changes_no_grade(tmp_path):
    root = released_course(tmp_path / "course", ASSIGNMENT)
    submit(root, "ada", {**reference(), WRITTEN: ANSWERS["ada"]})
    submit(root, "copy", {**COPIED, WRITTEN: PARAPHRASE})
    submit(root, "bo", {"loss_vs_gap": reference()["loss_vs_gap"]})
    cmd = [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(root), "--jobs", "1"]
    proc = subprocess.run([*cmd, "--similarity"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "1 flagged" in proc.stdout and "ada and copy" in proc.stdout, proc.stdout
    reports = root / "reports" / ASSIGNMENT
    assert 'href="similarity.html"' in (reports / "report.html").read_text()
    assert (reports / "similarity.html").is_file()
    before = _snapshot(root)
    assert "gradebook.db" in before and f"reports/{ASSIGNMENT}/scores.csv" in before
    scores = (reports / "scores.csv").read_text()
    assert main(["similarity", ASSIGNMENT, "--course-dir", str(root)]) == 0
    assert _snapshot(root) == before
    assert (reports / "scores.csv").read_text() == scores and "copy" in scores
