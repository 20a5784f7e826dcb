"""Reward models fine-tuned from the course-pretrained LM vs the same models trained from scratch.

    .venv/bin/python bench/bench_pretrained.py [--threads 2] [--step-verifier]

Same data, same training settings, same architecture and tokenizer; only the start differs:

* **from scratch**: ``load_backbone("course-tiny", from_scratch=True)``, fresh random weights;
* **pretrained**: ``load_backbone("course-tiny")``, fine-tuned with a scalar head only;
* **pretrained + LM**: the same, with ``likelihood_weight``: the reward also reads how likely a
  frozen copy of the pretrained LM finds the text (chapter 4), the PRM the worst step so far (chapter 10).

Prints, for each start:

* the Bradley-Terry reward model's held-out pairwise accuracy (strict: ties are wrong), overall and
  per kind of rejected response; goals: overall >= 0.9, every math-error kind >= 0.8;
* the neural PRM's step-level ROC AUC (ties count 1/2) on held-out solutions, next to a baseline
  that reads only the step's position; goals: AUC >= 0.85 and >= 0.10 above the position baseline.

The goals are checked on the "pretrained + LM" column. With ``--step-verifier`` it runs chapter 11's
best-of-N experiment instead (the book's settings), twice: the step verifier reading claims through
course-tiny untrained (from scratch) and pretrained, and prints the solve rates at the largest N.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data.preferences import MATH_KINDS, REJECTED_KINDS, make_preference_pairs  # noqa: E402
from course_lib.data.step_labels import make_step_labels  # noqa: E402
from course_lib.evaluation.ranking import roc_auc  # noqa: E402
from course_lib.models.backbone import COURSE_TINY, load_backbone  # noqa: E402
from course_lib.models.neural_prm import NeuralPRM, step_token_id  # noqa: E402
from course_lib.models.reward_model import RewardModel  # noqa: E402
from course_lib.training.prm import PRMTrainingConfig, predict_steps, train_prm  # noqa: E402
from course_lib.training.reward_model import RewardTrainingConfig, evaluate, train_reward_model  # noqa: E402

STARTS = ("from scratch", "pretrained", "pretrained + LM")
GOALS_ON = "pretrained + LM"


def make_start(name: str, args) -> tuple:
    """``(backbone, tokenizer, likelihood_weight)`` of a start."""
    backbone, tokenizer = load_backbone(COURSE_TINY, from_scratch=name == "from scratch")
    return backbone, tokenizer, args.likelihood_weight if name == "pretrained + LM" else None


def reward_model_row(name: str, args) -> dict:
    backbone, tokenizer, weight = make_start(name, args)
    model = RewardModel(backbone, likelihood_weight=weight)
    train = make_preference_pairs(args.rm_pairs, seed=1)
    held_out = make_preference_pairs(args.held_out, seed=2)
    config = RewardTrainingConfig(
        max_steps=args.rm_steps, batch_size=16, learning_rate=args.rm_lr, progress=not args.quiet
    )
    start = time.perf_counter()
    train_reward_model(model, tokenizer, train, None, config)
    seconds = time.perf_counter() - start
    kinds = {k: evaluate(model, tokenizer, [p for p in held_out if p.category == k]).accuracy for k in REJECTED_KINDS}
    return {"accuracy": evaluate(model, tokenizer, held_out).accuracy, "kinds": kinds, "seconds": seconds}


def prm_row(name: str, args) -> dict:
    backbone, tokenizer, weight = make_start(name, args)
    model = NeuralPRM(backbone, likelihood_weight=weight, step_token_id=step_token_id(tokenizer))
    train, test = make_step_labels(args.prm_solutions, seed=1), make_step_labels(args.held_out // 2, seed=2)
    config = PRMTrainingConfig(
        max_steps=args.prm_steps, batch_size=16, learning_rate=args.prm_lr, progress=not args.quiet
    )
    start = time.perf_counter()
    train_prm(model, tokenizer, train, config)
    seconds = time.perf_counter() - start
    labels = [y for ex in test for y in ex.labels]
    scores = [p for ps in predict_steps(model, tokenizer, test) for p in ps]
    return {"auc": roc_auc(labels, scores), "seconds": seconds, "position_auc": position_auc(train, test)}


def position_auc(train, test) -> float:
    """ROC AUC of a baseline that scores a step by how often training steps at its position are right."""
    by_position = defaultdict(list)
    for ex in train:
        for i, y in enumerate(ex.labels):
            by_position[i].append(y)
    rate = {i: float(np.mean(ys)) for i, ys in by_position.items()}
    labels = [y for ex in test for y in ex.labels]
    scores = [rate.get(i, 0.5) for ex in test for i in range(len(ex.labels))]
    return roc_auc(labels, scores)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rm-pairs", type=int, default=2000)
    parser.add_argument("--likelihood-weight", type=float, default=10.0, help="alpha's start in 'pretrained + LM'")
    parser.add_argument("--rm-steps", type=int, default=100)
    parser.add_argument("--rm-lr", type=float, default=1e-3)
    parser.add_argument("--prm-solutions", type=int, default=600)
    parser.add_argument("--prm-steps", type=int, default=100)
    parser.add_argument("--prm-lr", type=float, default=1e-3)
    parser.add_argument("--held-out", type=int, default=600)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--step-verifier", action="store_true", help="chapter 11's ORM and PRM instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.step_verifier:
        step_verifier_table()
        return 0
    rm = {name: reward_model_row(name, args) for name in STARTS}
    prm = {name: prm_row(name, args) for name in STARTS}

    print(f"\nreward model: held-out pairwise accuracy (strict), {args.held_out} pairs, {args.rm_steps} steps")
    print(f"{'kind of rejected':<22}" + "".join(f"{name:>17}" for name in STARTS) + f"   goal ({GOALS_ON})")
    print(f"{'all':<22}" + "".join(f"{rm[n]['accuracy']:>17.3f}" for n in STARTS) + "   >= 0.9")
    for kind in REJECTED_KINDS:
        goal = ">= 0.8" if kind in MATH_KINDS else ""
        print(f"{kind:<22}" + "".join(f"{rm[n]['kinds'][kind]:>17.3f}" for n in STARTS) + f"   {goal}")
    print(f"{'training seconds':<22}" + "".join(f"{rm[n]['seconds']:>17.1f}" for n in STARTS))

    print(f"\nneural PRM: step-level ROC AUC (ties 1/2), {args.prm_steps} steps")
    print(f"{'':<22}" + "".join(f"{name:>17}" for name in STARTS) + f"   goal ({GOALS_ON})")
    print(f"{'PRM':<22}" + "".join(f"{prm[n]['auc']:>17.3f}" for n in STARTS) + "   >= 0.85")
    print(f"{'position baseline':<22}" + "".join(f"{prm[n]['position_auc']:>17.3f}" for n in STARTS))
    print(
        f"{'PRM - baseline':<22}"
        + "".join(f"{prm[n]['auc'] - prm[n]['position_auc']:>17.3f}" for n in STARTS)
        + "   >= 0.10"
    )
    print(f"{'training seconds':<22}" + "".join(f"{prm[n]['seconds']:>17.1f}" for n in STARTS))
    pre = rm[GOALS_ON]
    met = (
        pre["accuracy"] >= 0.9
        and all(pre["kinds"][k] >= 0.8 for k in MATH_KINDS)
        and prm[GOALS_ON]["auc"] >= 0.85
        and prm[GOALS_ON]["auc"] - prm[GOALS_ON]["position_auc"] >= 0.10
    )
    print(f"\ngoals met by '{GOALS_ON}': {'yes' if met else 'NO'}")
    return 0


def step_verifier_table() -> None:
    """Chapter 11's experiment with the claims read by course-tiny untrained vs pretrained."""
    from course_lib.evaluation.best_of_n_experiment import METHODS, BestOfNConfig, run_best_of_n

    results, seconds = {}, {}
    for name, pretrained in (("from scratch", False), ("pretrained", True)):
        start = time.perf_counter()
        results[name] = run_best_of_n(BestOfNConfig(pretrained_judge=pretrained, progress=False))
        seconds[name] = time.perf_counter() - start
    config = BestOfNConfig()
    largest = max(config.n_values)
    print(
        f"\nstep verifier (chapter 11): best-of-{largest} solve rate, {len(config.seeds)} seeds x "
        f"{config.n_test_problems} problems; the claims read by course-tiny"
    )
    print(f"{'':<22}" + "".join(f"{name:>17}" for name in results))
    for m in METHODS:
        print(f"{m:<22}" + "".join(f"{r.mean(m, largest):>17.3f}" for r in results.values()))
    print(f"{'seconds':<22}" + "".join(f"{s:>17.1f}" for s in seconds.values()))


if __name__ == "__main__":
    raise SystemExit(main())
