"""The main job's first part: train the tiny reward model on generated pairs and draw its plots.

    python -m course_lib.demo --out build/demo

It prints held-out pairwise accuracy, overall and per kind of rejected response (book chapters 4
and 5), and writes ``learning_curve.png`` and ``orm_vs_prm.png``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from course_lib.data.preferences import FORM_KINDS, MATH_KINDS, REJECTED_KINDS, make_preference_pairs
from course_lib.models.backbone import build_tiny_backbone
from course_lib.plots import plot_learning_curve, plot_orm_vs_prm
from course_lib.training.reward_model import RewardModel, RewardTrainingConfig, evaluate, train_reward_model

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


def run_demo(config: DemoConfig) -> dict:
    torch.manual_seed(config.seed)
    train = make_preference_pairs(config.n_train, seed=config.seed + 1)
    held_out = make_preference_pairs(config.n_eval, seed=config.seed + 2)
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone)
    start = time.perf_counter()
    history = train_reward_model(model, tokenizer, train, held_out, config.training)
    overall = evaluate(model, tokenizer, held_out)
    by_kind = {
        kind: evaluate(model, tokenizer, [p for p in held_out if p.category == kind]).accuracy
        for kind in REJECTED_KINDS
        if any(p.category == kind for p in held_out)  # a small held-out set may lack a kind
    }
    config.out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"learning_curve": config.out_dir / "learning_curve.png", "orm_vs_prm": config.out_dir / "orm_vs_prm.png"}
    plot_learning_curve(history).savefig(paths["learning_curve"], dpi=110)
    plot_orm_vs_prm(SEED_SOLUTION).savefig(paths["orm_vs_prm"], dpi=110)
    return {"accuracy": overall.accuracy, "by_kind": by_kind, "seconds": time.perf_counter() - start, "paths": paths}


def _verdict(accuracy: float, tolerance: float = 0.1) -> str:
    if accuracy >= 0.9:
        return "learned"
    if abs(accuracy - 0.5) <= tolerance:
        return "near chance (0.5)"
    return "below chance (0.5)" if accuracy < 0.5 else "above chance, not learned"


def summary(by_kind: dict[str, float]) -> str:
    """One line per group of kinds, saying what the measured accuracies show (never a fixed sentence).

    >>> print(summary({"no_work": 1.0, "unfinished": 0.98, "arithmetic_slip": 0.39, "wrong_operation": 0.7}))
      form kinds (no_work, unfinished): mean 0.990: learned
      math-error kinds (arithmetic_slip, wrong_operation): mean 0.545: near chance (0.5)
    """
    lines = []
    for name, kinds in (("form kinds", FORM_KINDS), ("math-error kinds", MATH_KINDS)):
        measured = {k: by_kind[k] for k in kinds if k in by_kind}
        if measured:
            mean = sum(measured.values()) / len(measured)
            lines.append(f"  {name} ({', '.join(measured)}): mean {mean:.3f}: {_verdict(mean)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    config = DemoConfig(out_dir=args.out)
    config.training.max_steps = args.steps
    result = run_demo(config)
    print(f"held-out pairwise accuracy: {result['accuracy']:.3f} ({result['seconds']:.0f} s of training)")
    for kind, acc in result["by_kind"].items():
        print(f"  rejected response with {kind:<20} {acc:.3f}")
    print(summary(result["by_kind"]))
    for name, path in result["paths"].items():
        print(f"wrote {name}: {path}")


if __name__ == "__main__":
    main()
