"""Speed of ``python -m autograder similarity`` on a large class, against a small one, in the same run.

    .venv/bin/python bench/bench_similarity.py [--n 300] [--baseline-n 30] [--repeat 2]

Generates ``--n`` students' ps1 notebooks (each answer cell one of the course's reference, alternative
or mistaken answers with its locals renamed, a helper of the student's own, and a written answer
assembled from phrases; students who draw the same answers are copies of each other, so about 2% of
pairs are flagged and the page holds its most side-by-side views, the costly case), then times whole
cold ``python -m autograder similarity`` commands (imports, reading, fingerprints, every pair, the
page and the JSON) on all of them and on the first ``--baseline-n``, the fastest of ``--repeat`` each. Then, in this process, where the large run's time
goes. Goal: ``--n`` 300 (44,850 pairs) in under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import builtins
import io
import keyword
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.assignments.cases_ps1_bradley_terry import ALTERNATIVES, WRONG  # noqa: E402
from tests.support import COURSE, make_submission, reference_answer  # noqa: E402

ASSIGNMENT = "ps1_bradley_terry"
CELLS = ("bradley_terry_loss", "preference_metrics", "loss_vs_gap")
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
PHRASES = [
    "the gradient is {a} minus one",
    "it {goes} to zero as the gap grows",
    "pairs ranked right by a {wide} margin {barely} move the weights",
    "learning {focuses} on the pairs the model gets wrong",
    "the loss is never exactly zero unlike a hinge",
    "the derivative {shrinks} exponentially fast",
    "easy pairs {barely} contribute to the update",
    "hard pairs near the boundary dominate the gradient",
    "with a {wide} gap sigmoid saturates and the slope vanishes",
]
WORDS = {
    "a": ["sigma of the gap", "the sigmoid of delta", "sigmoid(gap)"],
    "goes": ["goes", "tends", "decays", "shrinks"],
    "wide": ["wide", "large", "big", "comfortable"],
    "barely": ["barely", "hardly", "scarcely", "almost never"],
    "focuses": ["focuses", "concentrates", "is spent", "centres"],
    "shrinks": ["shrinks", "falls", "vanishes", "decays"],
}


def variants() -> dict[str, list[str]]:
    """Every answer the course's cases give for each cell of ps1, the reference first."""
    out = {cell: [reference_answer(ASSIGNMENT, cell)] for cell in CELLS}
    for answers in [*ALTERNATIVES.values(), *WRONG.values()]:
        for cell, src in answers.items():
            if src not in out[cell]:
                out[cell].append(src)
    return out


def rename(src: str, rnd: random.Random) -> str:
    """``src`` with each name that is not a keyword, attribute or well-known module given a student's own name."""
    keep = {"torch", "F", "np", "math", "self", "True", "False", "None", *dir(builtins)}
    names, out, prev = {}, [], None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            own = tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and tok.string not in keep
            if own and not (prev and prev.string in (".", "def")):
                names.setdefault(tok.string, f"{tok.string[:2]}{rnd.randint(0, 99)}")
                tok = tok._replace(string=names[tok.string])
            out.append(tok)
            prev = tok
        return tokenize.untokenize(out)
    except (tokenize.TokenError, IndentationError):
        return src


def student(rnd: random.Random, pool: dict[str, list[str]], i: int) -> dict[str, str]:
    answers = {cell: rename(rnd.choice(srcs), rnd) for cell, srcs in pool.items()}
    k, n = rnd.randint(2, 9), rnd.randint(3, 30)
    answers["loss_vs_gap"] += (
        f"\n\ndef check_{i}(values, scale={k}):\n    seen = [round(v * scale + {n}, {k}) for v in values]\n"
        f"    return sum(seen) / max(len(seen), {n}) if seen else {k}.0\n"
    )
    text = ". ".join(
        p.format(**{key: rnd.choice(opts) for key, opts in WORDS.items()}) for p in rnd.sample(PHRASES, 4)
    )
    answers["written_gradient"] = text.capitalize() + "."
    return answers


def make_class(root: Path, n: int, seed: int = 0) -> Path:
    """A course with ps1's source and ``n`` generated submissions (s000, s001, ...)."""
    shutil.copytree(COURSE / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT)
    rnd, pool = random.Random(seed), variants()
    for i in range(n):
        path = root / "submitted" / f"s{i:03d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        make_submission(ASSIGNMENT, path, student(rnd, pool, i))
    return root


def copy_class(src: Path, dest: Path, n: int) -> Path:
    """The first ``n`` submissions of ``src``, in a course of their own."""
    shutil.copytree(src / "source", dest / "source")
    for folder in sorted((src / "submitted").iterdir())[:n]:
        shutil.copytree(folder, dest / "submitted" / folder.name)
    return dest


def timed(course: Path, repeat: int) -> tuple[float, str]:
    """The fastest of ``repeat`` cold ``similarity`` commands (seconds), and the last one's output."""
    cmd = [sys.executable, "-m", "autograder", "similarity", ASSIGNMENT, "--course-dir", str(course)]
    best, out = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        best, out = min(best, time.perf_counter() - start), proc.stdout
    return best, out


def parts(course: Path) -> list[tuple[str, float]]:
    """Where one in-process run goes: imports, reading, fingerprints, pairs, side-by-side views and page."""
    out, start = [], time.perf_counter()
    import copydetect  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import nbformat  # noqa: F401

    import autograder.similarity as sim
    import autograder.similarity_html  # noqa: F401
    from autograder.notebook import source_roles

    out.append(("imports (nbformat, copydetect, matplotlib)", time.perf_counter() - start))
    config, course = sim.SimilarityConfig(), course.resolve()
    start = time.perf_counter()
    source_nb = sim.source_notebook(course, ASSIGNMENT)
    roles = source_roles(source_nb)
    students, _ = sim.read_students(course, ASSIGNMENT, roles, config.max_cell_chars)
    out.append((f"read {len(students)} notebooks (as the batch does)", time.perf_counter() - start))
    start = time.perf_counter()
    code, text = sim.template_cells(course, ASSIGNMENT, source_nb)
    boilerplate = sim.boilerplate_hashes(code, config.noise)
    given = sim.shingles([w for t in text for w in sim.content_words(t)])
    for s in students:
        s.chunks, s.cell_fps = sim.code_fingerprints(s.code, config.noise, config.window, boilerplate)
        s.words, s.cell_uni, s.cell_bi = sim.written_index(s.written, given)
    sim.drop_common(students, config)
    out.append(("fingerprints and words (the baseline)", time.perf_counter() - start))
    start = time.perf_counter()
    pairs = sim.score_pairs(students, config, {})
    out.append((f"score all {len(pairs)} pairs", time.perf_counter() - start))
    start = time.perf_counter()
    sim.run_similarity(course, ASSIGNMENT, config)
    out.append(("the whole run again, page and JSON included", time.perf_counter() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="students in the large class")
    parser.add_argument("--baseline-n", type=int, default=30, help="students in the small class (baseline)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each command; the fastest counts")
    args = parser.parse_args()
    if not 2 <= args.baseline_n < args.n:
        parser.error(f"need 2 <= --baseline-n < --n, got {args.baseline_n} and {args.n}")
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        big = make_class(tmp / "big", args.n)
        made = time.perf_counter() - start
        small = copy_class(big, tmp / "small", args.baseline_n)
        t_small, _ = timed(small, args.repeat)
        t_big, out = timed(big, args.repeat)
        breakdown = parts(big)
    n_pairs, b_pairs = args.n * (args.n - 1) // 2, args.baseline_n * (args.baseline_n - 1) // 2
    print(f"similarity on ps1, {cores} cores; {args.n} generated submissions ({made:.0f} s to write them)")
    print(f"   {out.splitlines()[0]}")
    print(f"   {args.baseline_n:4d} submissions ({b_pairs:6d} pairs): {t_small:6.1f} s   (baseline)")
    print(f"   {args.n:4d} submissions ({n_pairs:6d} pairs): {t_big:6.1f} s   (goal < 60 s)")
    print(f"   {args.n} / {args.baseline_n}: {t_big / t_small:.1f}x the time for {n_pairs / b_pairs:.0f}x the pairs")
    print(f"\n   where the {args.n}-submission run goes (in one process):")
    for name, seconds in breakdown:
        print(f"   {name:48s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
