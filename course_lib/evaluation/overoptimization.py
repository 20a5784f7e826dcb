"""Reward over-optimization in miniature: best-of-N against a proxy reward model (book chapter 12).

Gao et al. (2023) select the best of N samples with a *proxy* reward model and score the choice with
a *gold* one. As N grows (the KL from the policy is ``log N - (N-1)/N``), the proxy score of the
choice keeps rising, while its gold score rises, peaks and falls: the proxy's errors are what an
optimizer finds once the easy gains are used up (Goodhart's law).

Here the proxy is the outcome reward model of chapter 11 (a step verifier trained on final-answer
labels) and the gold reward is whether the chosen answer is right. As in Gao et al., the proxy is
learned from the gold reward's own labels on finite data; no shortcut is planted: its errors are the
wrong steps that one label per solution did not teach it to see (a wrong operation it rates as
right). The process reward model, trained on the same solutions with step labels, is scored the same
way for comparison.

Example:
    >>> config = OveroptimizationConfig(n_values=(1, 4), n_test_problems=10, progress=False,
    ...     verifiers=BestOfNConfig(n_train_problems=40, train_samples=4, training_steps=20, progress=False))
    >>> result = run_overoptimization(config)
    >>> [round(k, 3) for k in result.kl]
    [0.0, 0.636]
    >>> sorted(result.gold)
    ['orm', 'prm']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from course_lib.credit_assignment.process_reward import aggregate_steps
from course_lib.evaluation.best_of_n_experiment import BestOfNConfig, one_torch_thread, train_verifiers
from course_lib.models.step_verifier import claim_judge
from course_lib.training.step_verifier import encode_pools, step_scores


@dataclass
class OveroptimizationConfig:
    """N values to select among, test problems per seed, and how the verifiers are trained."""

    n_values: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    seed: int = 0
    n_test_problems: int = 80
    verifiers: BestOfNConfig = field(default_factory=lambda: BestOfNConfig(seeds=(0,), progress=False))
    progress: bool = True

    def __post_init__(self):
        if not self.n_values or any(not isinstance(n, int) or n < 1 for n in self.n_values):
            raise ValueError(f"n_values must be positive ints, got {self.n_values}")
        if self.n_test_problems < 1:
            raise ValueError(f"n_test_problems must be >= 1, got {self.n_test_problems}")


@dataclass
class OveroptimizationResult:
    """Per reward model (``orm``, ``prm``) and per N: the mean proxy score and gold reward of the chosen solution."""

    n_values: tuple[int, ...]
    kl: list[float]  # log N - (N-1)/N
    proxy: dict[str, list[float]]
    gold: dict[str, list[float]]


def best_of_n_kl(n: int) -> float:
    """The KL (nats) between best-of-N and the policy: ``log N - (N-1)/N``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.log(n) - (n - 1) / n


def run_overoptimization(config: OveroptimizationConfig | None = None) -> OveroptimizationResult:
    """Select the best of the first N of one pool of candidates per problem, for every N."""
    config = config or OveroptimizationConfig()
    world = train_verifiers(config.verifiers, config.seed)
    models = {"orm": world.orm, "prm": world.prm}
    proxy = {name: np.zeros(len(config.n_values)) for name in models}
    gold = {name: np.zeros(len(config.n_values)) for name in models}
    problems = [world.generator.problem() for _ in range(config.n_test_problems)]
    pools = [world.policy.sample(problem, max(config.n_values)) for problem in problems]
    encoded_pools = encode_pools(list(zip(problems, pools)), claim_judge(config.verifiers.pretrained_judge))
    for pool, encoded in tqdm(
        zip(pools, encoded_pools), total=len(pools), desc="best-of-N against the proxy", disable=not config.progress
    ):
        for name, model in models.items():
            with one_torch_thread():
                scores = np.array([aggregate_steps(s, "prod") for s in step_scores(model, encoded)])
            for j, n in enumerate(config.n_values):  # nested subsets of one pool: the first n candidates
                best = int(np.argmax(scores[:n]))
                proxy[name][j] += scores[best]
                gold[name][j] += pool[best].is_correct
    k = config.n_test_problems
    return OveroptimizationResult(
        n_values=tuple(config.n_values),
        kl=[best_of_n_kl(n) for n in config.n_values],
        proxy={name: (v / k).tolist() for name, v in proxy.items()},
        gold={name: (v / k).tolist() for name, v in gold.items()},
    )
