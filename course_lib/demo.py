"""The main job's first part: train two reward models on generated pairs and draw their plots.

    python -m course_lib.demo --out build/demo

The two judges of book chapter 4: the tiny backbone trained from scratch, and the course-pretrained
``course-tiny`` with the likelihood term, its head trained as a linear probe. It prints held-out
pairwise accuracy, overall and per kind of rejected response with a verdict for each (chapter 5), and
writes ``learning_curve.png`` (the from-scratch model) and ``orm_vs_prm.png``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from course_lib.data.preferences import FORM_KINDS, MATH_KINDS, REJECTED_KINDS, make_preference_pairs
from course_lib.models.backbone import COURSE_TINY, build_tiny_backbone, load_backbone
from course_lib.plots import plot_learning_curve, plot_orm_vs_prm
from course_lib.training.reward_model import (
    RewardModel,
    RewardTrainingConfig,
    accuracy_by_category,
    evaluate,
    train_reward_model,
)

SEED_SOLUTION = (
    "Step 1: The store starts with 45 apples.\n"
    "Step 2: It sells 18 apples. So 45 - 18 = 27.\n"
    "Step 3: The remaining count is 27.\n"
    "Step 4: No apples are returned, so 27 + 0 = 27.\n"
    "The answer is: 27"
)


@dataclass
class DemoConfig:
    n_train: int = 3000
    n_eval: int = 500
    seed: int = 0
    out_dir: Path = Path("build/demo")
    training: RewardTrainingConfig = field(default_factory=lambda: RewardTrainingConfig(batch_size=16, max_steps=300))
    probe_likelihood_weight: float = 5.0  # alpha's start for the pretrained judge (chapter 4)
    probe: RewardTrainingConfig = field(
        default_factory=lambda: RewardTrainingConfig(batch_size=16, max_steps=60, learning_rate=3e-2)
    )


def accuracy_by_kind(model, tokenizer, held_out) -> tuple[float, dict[str, float]]:
    """Held-out pairwise accuracy, overall and per kind of rejected response present in ``held_out``."""
    result = evaluate(model, tokenizer, held_out)
    by_category = accuracy_by_category(result, held_out)
    return result.accuracy, {kind: by_category[kind] for kind in REJECTED_KINDS if kind in by_category}


def run_demo(config: DemoConfig) -> dict:
    torch.manual_seed(config.seed)
    train = make_preference_pairs(config.n_train, seed=config.seed + 1)
    held_out = make_preference_pairs(config.n_eval, seed=config.seed + 2)
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone)
    start = time.perf_counter()
    history = train_reward_model(model, tokenizer, train, held_out, config.training)
    accuracy, by_kind = accuracy_by_kind(model, tokenizer, held_out)
    pretrained, pretrained_tokenizer = load_backbone(COURSE_TINY)
    probe = RewardModel(
        pretrained, seed=config.seed, likelihood_weight=config.probe_likelihood_weight, train_backbone=False
    )
    train_reward_model(probe, pretrained_tokenizer, train, None, config.probe)
    pretrained_accuracy, pretrained_by_kind = accuracy_by_kind(probe, pretrained_tokenizer, held_out)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"learning_curve": config.out_dir / "learning_curve.png", "orm_vs_prm": config.out_dir / "orm_vs_prm.png"}
    plot_learning_curve(history).savefig(paths["learning_curve"], dpi=110)
    plot_orm_vs_prm(SEED_SOLUTION).savefig(paths["orm_vs_prm"], dpi=110)
    return {
        "accuracy": accuracy,
        "by_kind": by_kind,
        "pretrained": {"accuracy": pretrained_accuracy, "by_kind": pretrained_by_kind},
        "seconds": time.perf_counter() - start,
        "paths": paths,
    }


def _verdict(accuracy: float, tolerance: float = 0.1) -> str:
    if accuracy >= 0.9:
        return "learned"
    if abs(accuracy - 0.5) <= tolerance:
        return "near chance (0.5)"
    return "below chance (0.5)" if accuracy < 0.5 else "above chance, not learned"


def summary(by_kind: dict[str, float]) -> str:
    """One line per group of kinds, with a verdict for each kind measured (never a fixed sentence).

    Each kind gets its own verdict: a group mean could average a kind below chance with one above it
    into "near chance".

    >>> print(summary({"no_work": 1.0, "unfinished": 0.98, "arithmetic_slip": 0.39, "wrong_operation": 0.7}))
      form kinds: no_work 1.000 learned; unfinished 0.980 learned
      math-error kinds: arithmetic_slip 0.390 below chance (0.5); wrong_operation 0.700 above chance, not learned
    """
    lines = []
    for name, kinds in (("form kinds", FORM_KINDS), ("math-error kinds", MATH_KINDS)):
        measured = [f"{k} {by_kind[k]:.3f} {_verdict(by_kind[k])}" for k in kinds if k in by_kind]
        if measured:
            lines.append(f"  {name}: {'; '.join(measured)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    config = DemoConfig(out_dir=args.out)
    config.training.max_steps = args.steps
    result = run_demo(config)
    print(f"{result['seconds']:.0f} s of training")
    for name, measured in (
        ("from scratch (tiny)", result),
        ("pretrained (course-tiny + likelihood)", result["pretrained"]),
    ):
        print(f"{name}: held-out pairwise accuracy {measured['accuracy']:.3f}")
        print(summary(measured["by_kind"]))
    for name, path in result["paths"].items():
        print(f"wrote {name}: {path}")


if __name__ == "__main__":
    main()
