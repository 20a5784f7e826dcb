"""Write the bundled example submissions into ``submitted/<student>/<assignment>/``.

    python assignments/examples/build_examples.py [--course-dir assignments] [--assignment ps1_bradley_terry]

Six students per assignment, made from the instructor's source notebook with some answer cells
replaced: ``ada`` (honest, complete), ``ben`` (honest, with a typical bug), ``cy`` (hostile:
monkeypatches the test machinery and prints a forged result), ``dee`` (hostile: forks, loops forever,
looks for the graders on disk), ``eve`` (hands in the unsolved release) and ``fay`` (hostile, otherwise
correct: writes a marker file into the course directory and prints the first line of a hidden grader,
which works only where grading is not sandboxed). Their names go into the gradebook, so formgrader
lists people, not "None, None". The main job grades them so an instructor can see, in one report,
what each kind of submission gets.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import nbformat

from autograder.gradebook import register_students

HERE = Path(__file__).resolve().parent
STAMP = "2026-11-20 17:00:00.000000 UTC"
NAMES = {  # student id -> (first name, last name), as formgrader lists them
    "ada": ("Ada", "Lovelace"),
    "ben": ("Ben", "Bitdiddle"),
    "cy": ("Cy", "Fect"),
    "dee": ("Dee", "Nial"),
    "eve": ("Eve", "Blank"),
    "fay": ("Fay", "Snoop"),
}

HOSTILE_PATCH = """
import builtins, json, math, torch
torch.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
builtins.all = lambda *a, **k: True
print(json.dumps({"score": 100, "tests": "all passed"}))
"""
COURSE_DIR = "COURSE_DIR"  # replaced by the repr of the course directory the examples are written into
HOSTILE_ESCAPE = """
import os, time
for path in [os.path.join(COURSE_DIR, "graders"), "../graders", "/root"]:
    print(path, "visible:", os.path.exists(path))
if os.fork() == 0:
    time.sleep(3600)
while True:
    pass
"""
MARKER = "tampered_by_fay.txt"  # what fay writes into the course directory wherever she can
HOSTILE_TAMPER = f"""import glob, os
try:
    with open(os.path.join(COURSE_DIR, {MARKER!r}), "w") as f:
        f.write("written by a submission")
    print("wrote", os.path.join(COURSE_DIR, {MARKER!r}))
except OSError as err:
    print("could not write into the course directory:", err)
for path in sorted(glob.glob(os.path.join(COURSE_DIR, "graders", "*", "test_*.py")))[:1]:
    with open(path) as f:
        print("hidden grader:", f.readline())
"""
NOT_IMPLEMENTED = "raise NotImplementedError()\n"

# assignment -> student -> {answer grade_id: code}; None keeps the reference answer
EXAMPLES: dict[str, dict[str, dict[str, str] | None]] = {
    "ps1_bradley_terry": {
        "ada": None,
        "ben": {  # the unstable formula: fine for small gaps, inf for large ones
            "bradley_terry_loss": "def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction='mean'):\n"
            "    loss = -torch.log(torch.sigmoid(torch.as_tensor(reward_chosen) - torch.as_tensor(reward_rejected) - margin))\n"
            "    return {'mean': loss.mean(), 'sum': loss.sum(), 'none': loss}[reduction]\n",
        },
        "cy": {"bradley_terry_loss": HOSTILE_PATCH + "def bradley_terry_loss(*args, **kwargs):\n    return 0.0\n"},
        "dee": {"loss_vs_gap": HOSTILE_ESCAPE},
    },
    "ps2_step_rewards": {
        "ada": None,
        "ben": {  # decay applied forwards: the first step gets the full outcome reward
            "assign_step_rewards": "def assign_step_rewards(solution, outcome_reward=1.0, decay=0.9):\n"
            "    if not 0 < decay <= 1:\n        raise ValueError(f'decay must be in (0, 1], got {decay}')\n"
            "    steps = split_steps(solution)\n"
            "    return [(step, outcome_reward * decay**i) for i, step in enumerate(steps)]\n",
        },
        "cy": {"split_steps": HOSTILE_PATCH + "def split_steps(solution):\n    return []\n"},
        "dee": {"decay_sweep": HOSTILE_ESCAPE},
    },
    "ps3_first_error": {
        "ada": None,
        "ben": {  # only the first answer, as an int: misses "The answer is: 1,200" and "$27"
            "extract_answer": "def extract_answer(solution):\n"
            "    m = re.search(r'answer is:?\\s*(-?\\d+)', solution)\n"
            "    return int(m.group(1)) if m else None\n",
        },
        "cy": {"aggregate_steps": HOSTILE_PATCH + "def aggregate_steps(scores, method='min'):\n    return 1.0\n"},
        "dee": {"aggregate_steps": HOSTILE_ESCAPE},
    },
    "ps4_neural_prm": {
        "ada": None,
        "ben": {  # position -1: reads a padding token under right padding
            "outcome_reward": "def outcome_reward(model, input_ids, attention_mask):\n"
            "    return model(input_ids, attention_mask)[:, -1]\n",
        },
        "cy": {"prm_loss": HOSTILE_PATCH + "def prm_loss(logits, labels):\n    return torch.tensor(0.0)\n"},
        "dee": {"step_rewards": HOSTILE_ESCAPE},
    },
    "ps5_calibration": {
        "ada": None,
        "ben": {  # Brier score as a root mean squared error
            "brier_score": "def brier_score(probs, labels):\n    p, y = check_inputs(probs, labels)\n"
            "    return float(np.sqrt(np.mean((p - y) ** 2)))\n",
        },
        "cy": {"fit_temperature": HOSTILE_PATCH + "def fit_temperature(margins, labels):\n    return 1.0\n"},
        "dee": {"fit_temperature": HOSTILE_ESCAPE},
    },
    "ps6_policy_from_reward": {
        "ada": None,
        "ben": {  # every choice normalised over all K responses, not over those still in play
            "plackett_luce_loss": "def plackett_luce_loss(rewards, ranking):\n"
            "    r, order = torch.as_tensor(rewards, dtype=torch.float32), torch.as_tensor(ranking)\n"
            "    if r.shape != order.shape:\n        raise ValueError('rewards and ranking differ in shape')\n"
            "    ranked = r.gather(-1, order)\n"
            "    return (ranked.logsumexp(-1, keepdim=True) - ranked).sum(-1).mean()\n",
        },
        "cy": {
            "kl_regularized_optimum": HOSTILE_PATCH
            + "def kl_regularized_optimum(ref_probs, rewards, beta):\n    return torch.as_tensor(ref_probs)\n"
        },
        "dee": {"implicit_reward_accuracy": HOSTILE_ESCAPE},
    },
}


def release_answers(source_nb) -> dict[str, str]:
    """What the unsolved release has in each answer cell."""
    return {
        c.metadata["nbgrader"]["grade_id"]: "# YOUR CODE HERE\n" + NOT_IMPLEMENTED
        for c in source_nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }


def tamper_answers(source_nb) -> dict[str, str]:
    """fay's answers: the reference solution, with the tampering code in front of the first answer cell."""
    first = next(
        c for c in source_nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    )
    return {first.metadata["nbgrader"]["grade_id"]: HOSTILE_TAMPER + "\n" + first.source}


def write_examples(course_dir: Path, assignments: list[str] | None = None) -> list[Path]:
    """Write every example student's submission of ``assignments`` (default: all) into ``course_dir``."""
    unknown = sorted(set(assignments or []) - set(EXAMPLES))
    if unknown:
        raise SystemExit(f"no examples for {unknown}; known assignments: {', '.join(EXAMPLES)}")
    course = repr(str(course_dir.resolve()))
    written = []
    for assignment in assignments or list(EXAMPLES):
        source = nbformat.read(course_dir / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        plans = dict(EXAMPLES[assignment], eve=release_answers(source), fay=tamper_answers(source))
        for student, answers in plans.items():
            nb = copy.deepcopy(source)
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if answers and meta.get("grade_id") in answers:
                    cell.source = answers[meta["grade_id"]].replace(COURSE_DIR, course)
                if cell.cell_type == "markdown" and meta.get("solution"):  # never hand in the rubric
                    cell.source = "YOUR ANSWER HERE" if student == "eve" else "My written answer."
            folder = course_dir / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
            (folder / "timestamp.txt").write_text(STAMP + "\n")
            written.append(folder)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course-dir", type=Path, default=HERE.parent)
    parser.add_argument("--assignment", action="append", help="only this assignment (repeatable; default: all)")
    parser.add_argument(
        "--db", default=None, help="SQLAlchemy URL of the gradebook (default: sqlite in the course dir)"
    )
    args = parser.parse_args()
    for folder in write_examples(args.course_dir, args.assignment):
        print(f"wrote {folder}")
    register_students(args.course_dir, NAMES, db_url=args.db)
    print(f"named {len(NAMES)} students in the gradebook")


if __name__ == "__main__":
    main()
