"""How fast the tiny reward model learns: seconds to 90% held-out pairwise accuracy on a CPU.

    .venv/bin/python bench/bench_reward_model.py [--threads 2] [--target 0.9]

Trains ``RewardModel(build_tiny_backbone())`` on generated preference pairs whose rejected responses
are the form kinds (no work shown, unfinished: the kinds a tiny model can learn, see course_lib/demo.py),
measures held-out accuracy every ``--eval-every`` steps and stops at ``--target``. Prints, all measured
in this run: the time to import transformers' GPT-2, the cold and warm time of ``build_tiny_backbone``
after that (goal: < 1 s), the time of one training step (the baseline), the wall-clock seconds to the
target, evaluations included (goal: < 60 s, the budget of the end-to-end test), and their ratio: how
many step-times reaching the target costs. On a CPU shared with other work, compare ``--threads 1``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from course_lib.data.preferences import FORM_KINDS, make_preference_pairs  # noqa: E402
from course_lib.models.backbone import build_tiny_backbone  # noqa: E402
from course_lib.training.reward_model import RewardModel, RewardTrainingConfig, train_reward_model  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--target", type=float, default=0.9, help="held-out pairwise accuracy to reach")
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-eval", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=300)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    imports, _ = timed(lambda: __import__("transformers").GPT2Model)  # paid once by any transformers user
    cold, _ = timed(build_tiny_backbone)  # trains the BPE tokenizer once per process
    warm = statistics.median(timed(build_tiny_backbone)[0] for _ in range(3))
    train = make_preference_pairs(args.n_train, seed=11, kinds=FORM_KINDS)
    held_out = make_preference_pairs(args.n_eval, seed=12, kinds=FORM_KINDS)

    def one_step() -> float:
        backbone, tokenizer = build_tiny_backbone()
        config = RewardTrainingConfig(batch_size=16, max_steps=1, progress=False)
        return train_reward_model(RewardModel(backbone), tokenizer, train[:16], config=config).seconds

    one_step()  # warm-up
    step = statistics.median(one_step() for _ in range(5))

    backbone, tokenizer = build_tiny_backbone()
    config = RewardTrainingConfig(
        batch_size=16,
        max_steps=args.max_steps,
        warmup_steps=5,
        eval_every=args.eval_every,
        stop_at_accuracy=args.target,
        progress=False,
    )
    history = train_reward_model(RewardModel(backbone), tokenizer, train, held_out, config)
    reached = history.eval_accuracy[-1] >= args.target

    print(f"torch threads: {args.threads}")
    print(f"import transformers' GPT2Model: {imports:.3f} s (not counted below)")
    print(f"build_tiny_backbone: cold {cold:.3f} s (tokenizer training included), warm {warm:.3f} s (goal < 1 s)")
    print(f"one training step (batch 16, baseline): {step:.3f} s")
    print(
        f"time to {args.target:.0%} held-out accuracy: {history.seconds:.2f} s in {len(history.step)} steps "
        f"(evaluating {args.n_eval} pairs every {args.eval_every} steps; goal < 60 s)"
        + ("" if reached else f" -- NOT reached, final accuracy {history.eval_accuracy[-1]:.3f}")
    )
    print(f"ratio time-to-target / one step: {history.seconds / step:.1f}")


if __name__ == "__main__":
    main()
