"""DPO's implicit reward vs an explicit Bradley-Terry reward model, same start, same pairs (part III groundwork).

    .venv/bin/python bench/bench_dpo.py [--threads 2] [--steps 60]

Both start from the pretrained ``course-tiny`` and see the same training pairs for the same number of
steps (batch 16); both are scored on the same held-out pairs:

* **Bradley-Terry RM**: ``RewardModel(course-tiny, likelihood_weight=10)`` fine-tuned (chapter 4's
  "pretrained + LM"), lr 1e-3;
* **DPO**: ``train_dpo`` (beta 0.1, lr 1e-4); its reward is ``beta log pi(y|x) / pi_ref(y|x)``.

Prints the held-out pairwise accuracy (strict: a tie is wrong), overall and per kind of rejected
response, and the ROC AUC (ties 1/2) of all responses pooled (chosen = 1, rejected = 0). The pooled
AUC compares rewards across prompts; DPO's reward is fixed only up to ``beta log Z(x)`` per prompt, so
the two figures can disagree. The baseline is the untrained start: the pretrained LM's plain
log-likelihood of each response, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data.preferences import REJECTED_KINDS, make_preference_pairs  # noqa: E402
from course_lib.evaluation.ranking import roc_auc  # noqa: E402
from course_lib.models.backbone import COURSE_TINY, load_backbone  # noqa: E402
from course_lib.models.reward_model import RewardModel  # noqa: E402
from course_lib.training.dpo import DPOConfig, EncodedResponses, implicit_rewards, pair_log_probs, train_dpo  # noqa: E402
from course_lib.training.reward_model import RewardTrainingConfig, reward_scores, train_reward_model  # noqa: E402


def scores_table(name: str, chosen: torch.Tensor, rejected: torch.Tensor, pairs, seconds: float) -> dict:
    """Accuracy overall and per kind, pooled AUC."""
    right = (chosen > rejected).float()  # [N]
    kinds = {k: right[[i for i, p in enumerate(pairs) if p.category == k]].mean().item() for k in REJECTED_KINDS}
    labels = [1] * len(chosen) + [0] * len(rejected)
    auc = roc_auc(labels, torch.cat([chosen, rejected]).tolist())
    return {"name": name, "accuracy": right.mean().item(), "kinds": kinds, "auc": auc, "seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-pairs", type=int, default=800)
    parser.add_argument("--held-out", type=int, default=400)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--beta", type=float, default=0.1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train = make_preference_pairs(args.train_pairs, seed=1)
    held_out = make_preference_pairs(args.held_out, seed=2)
    rows = []

    start_model, tokenizer = load_backbone(COURSE_TINY)  # the baseline: the start's log-likelihood
    chosen, rejected = pair_log_probs(start_model.eval(), EncodedResponses(tokenizer, held_out))
    rows.append(scores_table("pretrained LM, untrained", chosen, rejected, held_out, 0.0))

    backbone, tokenizer = load_backbone(COURSE_TINY)
    rm = RewardModel(backbone, likelihood_weight=10.0)
    config = RewardTrainingConfig(max_steps=args.steps, batch_size=16, learning_rate=1e-3, progress=True)
    begin = time.perf_counter()
    train_reward_model(rm, tokenizer, train, None, config)
    seconds = time.perf_counter() - begin
    chosen = reward_scores(rm, tokenizer, [f"{p.prompt}\n{p.chosen}" for p in held_out])  # [N]
    rejected = reward_scores(rm, tokenizer, [f"{p.prompt}\n{p.rejected}" for p in held_out])  # [N]
    rows.append(scores_table("Bradley-Terry RM", chosen, rejected, held_out, seconds))

    policy, tokenizer = load_backbone(COURSE_TINY)
    config = DPOConfig(max_steps=args.steps, batch_size=16, beta=args.beta, progress=True)
    begin = time.perf_counter()
    _, reference = train_dpo(policy, tokenizer, train, None, config)
    seconds = time.perf_counter() - begin
    rewards = implicit_rewards(policy, reference, tokenizer, held_out, args.beta)
    rows.append(scores_table("DPO implicit reward", rewards.chosen, rewards.rejected, held_out, seconds))

    print(f"\n{args.train_pairs} training pairs, {args.steps} steps of 16; {args.held_out} held-out pairs")
    print(f"{'':<26}" + "".join(f"{r['name']:>26}" for r in rows))
    print(f"{'pairwise accuracy (strict)':<26}" + "".join(f"{r['accuracy']:>26.3f}" for r in rows))
    for kind in REJECTED_KINDS:
        print(f"{'  ' + kind:<26}" + "".join(f"{r['kinds'][kind]:>26.3f}" for r in rows))
    print(f"{'pooled ROC AUC (ties 1/2)':<26}" + "".join(f"{r['auc']:>26.3f}" for r in rows))
    print(f"{'training seconds':<26}" + "".join(f"{r['seconds']:>26.1f}" for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
