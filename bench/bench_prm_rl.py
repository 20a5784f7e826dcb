"""PRMs inside RL, the long run of chapter 17: outcome vs summed step rewards vs the Delta and Clip fixes.

    .venv/bin/python bench/bench_prm_rl.py [--threads 1] [--steps 40] [--lr 3e-5] [--held-out 60]

Each reward trains a fresh copy of the pretrained ``course-tiny`` with the chapter's policy gradient
(REINFORCE, GRPO's group baseline, no KL penalty; the chapter's settings except the number of RL
steps) on the same problems in the same order:

* **ORM**: the outcome reward (1 for a right final answer);
* **outcome + PRM sum**: plus the sum of the step rewards (the pretrained LM judging each claim);
* **outcome + PRM delta**: plus ``sum_k r_k - r_{k+1}`` = ``r_1`` (Gao et al., 2024);
* **outcome + PRM clip**: plus ``sum_k min(r_k - eta, 0)`` (Gao et al., 2024).

Prints, for the last ``--window`` training steps, each run's own reward, accuracy, claim steps and the
judge's summed step reward; then every trained policy and the untrained one (the same-run baseline),
sampled on held-out problems (a seed training never uses), with the difference from the untrained
policy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data.arithmetic import ProblemGenerator  # noqa: E402
from course_lib.models.backbone import load_backbone  # noqa: E402
from course_lib.models.step_verifier import claim_judge  # noqa: E402
from course_lib.training.policy_gradient import (  # noqa: E402
    PolicyGradientConfig,
    RewardConfig,
    evaluate_policy,
    train_policy,
)

RUNS = {
    "ORM": RewardConfig(),
    "outcome + PRM sum": RewardConfig(aggregation="sum"),
    "outcome + PRM delta": RewardConfig(aggregation="delta"),
    "outcome + PRM clip": RewardConfig(aggregation="clip", eta=0.5),
}
HELD_OUT_SEED = 90_017
METRICS = ("accuracy", "steps", "step_reward_sum", "tokens")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=40, help="RL steps per run (the chapter runs 12)")
    parser.add_argument("--lr", type=float, default=PolicyGradientConfig().learning_rate, help="learning rate")
    parser.add_argument("--window", type=int, default=8, help="training steps averaged at the end")
    parser.add_argument("--held-out", type=int, default=60, help="held-out problems")
    parser.add_argument("--samples", type=int, default=4, help="samples per held-out problem")
    parser.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    judge = claim_judge()
    base = PolicyGradientConfig(max_steps=args.steps, learning_rate=args.lr, progress=True)
    gen = ProblemGenerator(seed=HELD_OUT_SEED, config=base.problems)
    held_out = [gen.problem() for _ in range(args.held_out)]

    def evaluate(model):
        return evaluate_policy(model, tokenizer, held_out, judge, base.sampling, args.samples, seed=1)

    untrained, tokenizer = load_backbone()
    rows = {"untrained": evaluate(untrained)}
    training, seconds = {}, {}
    for name in args.runs:
        policy, tokenizer = load_backbone()
        config = PolicyGradientConfig(max_steps=args.steps, learning_rate=args.lr, reward=RUNS[name], progress=True)
        begin = time.process_time()
        stats, _ = train_policy(policy, tokenizer, config, judge)
        seconds[name] = time.process_time() - begin
        training[name] = {
            key: float(np.mean(getattr(stats, key)[-args.window :]))
            for key in ("reward", "accuracy", "steps", "step_reward_sum", "signal")
        }
        rows[name] = evaluate(policy)

    print(f"\n{args.steps} RL steps x {base.problems_per_step} problems x {base.group_size} samples per run")
    print(f"training, mean of the last {args.window} steps")
    header = ("own reward", "accuracy", "claim steps", "step reward sum", "signal", "CPU s")
    print(f"{'':<22}" + "".join(f"{h:>16}" for h in header))
    for name, t in training.items():
        cells = [t["reward"], t["accuracy"], t["steps"], t["step_reward_sum"], t["signal"], seconds[name]]
        print(f"{name:<22}" + "".join(f"{c:>16.3f}" for c in cells))

    print(f"\nheld out: {args.held_out} problems x {args.samples} samples (difference from the untrained policy)")
    print(f"{'':<22}" + "".join(f"{m:>24}" for m in METRICS))
    for name, r in rows.items():
        cells = [f"{r[m]:.3f} ({r[m] - rows['untrained'][m]:+.3f})" for m in METRICS]
        print(f"{name:<22}" + "".join(f"{c:>24}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
