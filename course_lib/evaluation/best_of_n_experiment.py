"""ORM vs PRM for best-of-N, in miniature (book chapter 11; Lightman et al., 2023).

For each seed: sample training solutions from the simulated policy, train one
:class:`~course_lib.models.step_verifier.StepVerifier` on final-answer labels (an outcome reward
model, ORM) and one on step labels (a process reward model, PRM) — same model, same solutions,
only the supervision differs — then, on held-out problems, draw a pool of ``max(n_values)``
candidates each and select one from the first N with majority vote, the ORM, PRM-min and PRM-prod.
The solve rate is the fraction of problems whose selected answer is right; ``pass@N`` (any of the N
is right) is the ceiling.

    python -m course_lib.evaluation.best_of_n_experiment --n-max 256 --seeds 5

Example:
    >>> config = BestOfNConfig(n_values=(1, 4), seeds=(0,), n_train_problems=40, n_test_problems=20,
    ...                        train_samples=4, training_steps=20, progress=False)
    >>> result = run_best_of_n(config)
    >>> sorted(result.solve_rates)
    ['majority', 'orm', 'pass@n', 'prm_min', 'prm_prod']
    >>> len(result.solve_rates["orm"][4])  # one solve rate per seed
    1
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from course_lib.credit_assignment.process_reward import aggregate_steps
from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.policy import PolicyConfig, SimulatedPolicy
from course_lib.evaluation.best_of_n import select_majority, select_orm, select_prm
from course_lib.models.step_verifier import StepVerifier
from course_lib.training.step_verifier import (
    VerifierTrainingConfig,
    encode_solutions,
    step_scores,
    train_step_verifier,
)

METHODS = ("majority", "orm", "prm_min", "prm_prod", "pass@n")


@dataclass
class BestOfNConfig:
    """Settings of one best-of-N experiment; the defaults are the book's (about 20 s on 2 CPU cores)."""

    n_values: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train_problems: int = 2000
    train_samples: int = 4  # solutions sampled per training problem
    n_test_problems: int = 200
    training_steps: int = 1000
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    progress: bool = True

    def __post_init__(self):
        if not self.n_values or any(not isinstance(n, int) or n < 1 for n in self.n_values):
            raise ValueError(f"n_values must be positive ints, got {self.n_values}")
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed")
        for name in ("n_train_problems", "train_samples", "n_test_problems", "training_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class BestOfNResult:
    """``solve_rates[method][n]`` is a list with one solve rate per seed."""

    config: BestOfNConfig
    solve_rates: dict[str, dict[int, list[float]]]

    def mean(self, method: str, n: int) -> float:
        return float(np.mean(self.solve_rates[method][n]))

    def std(self, method: str, n: int) -> float:
        return float(np.std(self.solve_rates[method][n]))

    def to_rows(self) -> list[dict]:
        """One row per N: the mean solve rate of every method (for a table)."""
        return [{"N": n, **{m: round(self.mean(m, n), 3) for m in METHODS}} for n in self.config.n_values]


def _verifier(data, supervision: str, config: BestOfNConfig, seed: int) -> StepVerifier:
    model = StepVerifier(seed=seed)
    train_step_verifier(
        model, data, VerifierTrainingConfig(supervision, max_steps=config.training_steps, seed=seed, progress=False)
    )
    return model


@dataclass
class Verifiers:
    """One seed's world: the problem generator and policy (past the training data) and both verifiers."""

    generator: ProblemGenerator
    policy: SimulatedPolicy
    orm: StepVerifier
    prm: StepVerifier


def train_verifiers(config: BestOfNConfig, seed: int) -> Verifiers:
    """Sample training solutions and train the ORM and the PRM on them (same model, same data)."""
    torch.manual_seed(seed)
    gen, policy = ProblemGenerator(seed=1000 + seed), SimulatedPolicy(seed=2000 + seed, config=config.policy)
    problems = [gen.problem() for _ in range(config.n_train_problems)]
    data = encode_solutions([(p, s) for p in problems for s in policy.sample(p, config.train_samples)])
    return Verifiers(gen, policy, _verifier(data, "outcome", config, seed), _verifier(data, "process", config, seed))


def _one_seed(config: BestOfNConfig, seed: int) -> dict[str, dict[int, float]]:
    world = train_verifiers(config, seed)
    gen, policy, orm, prm = world.generator, world.policy, world.orm, world.prm
    pool_size = max(config.n_values)
    solved = {m: {n: 0 for n in config.n_values} for m in METHODS}
    for _ in range(config.n_test_problems):
        problem = gen.problem()
        pool = policy.sample(problem, pool_size)
        encoded = encode_solutions([(problem, s) for s in pool])
        orm_steps, prm_steps = step_scores(orm, encoded), step_scores(prm, encoded)
        for n in config.n_values:  # nested subsets of one pool: the first n candidates
            cands = pool[:n]
            picks = {
                "majority": select_majority([c.final_answer for c in cands]),
                "orm": select_orm([aggregate_steps(s, "prod") for s in orm_steps[:n]]),
                "prm_min": select_prm(prm_steps[:n], "min"),
                "prm_prod": select_prm(prm_steps[:n], "prod"),
            }
            for method, i in picks.items():
                solved[method][n] += cands[i].is_correct
            solved["pass@n"][n] += any(c.is_correct for c in cands)
    return {m: {n: solved[m][n] / config.n_test_problems for n in config.n_values} for m in METHODS}


def run_best_of_n(config: BestOfNConfig | None = None) -> BestOfNResult:
    """Run the experiment for every seed; reproducible: the same config gives the same numbers."""
    config = config or BestOfNConfig()
    rates: dict[str, dict[int, list[float]]] = {m: {n: [] for n in config.n_values} for m in METHODS}
    for seed in tqdm(config.seeds, desc="best-of-N seeds", disable=not config.progress):
        for method, by_n in _one_seed(config, seed).items():
            for n, rate in by_n.items():
                rates[method][n].append(rate)
    return BestOfNResult(config, rates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ORM vs PRM for best-of-N on the simulated policy.")
    parser.add_argument("--n-max", type=int, default=64, help="largest N (powers of two up to it)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--test-problems", type=int, default=200)
    parser.add_argument("--train-problems", type=int, default=400)
    args = parser.parse_args(argv)
    if args.n_max < 1:
        parser.error(f"--n-max must be >= 1, got {args.n_max}")
    n_values = tuple(2**k for k in range(args.n_max.bit_length()) if 2**k <= args.n_max)
    config = BestOfNConfig(
        n_values=n_values,
        seeds=tuple(range(args.seeds)),
        n_test_problems=args.test_problems,
        n_train_problems=args.train_problems,
    )
    result = run_best_of_n(config)
    print(f"{'N':>5} " + " ".join(f"{m:>9}" for m in METHODS))
    for row in result.to_rows():
        print(f"{row['N']:>5} " + " ".join(f"{row[m]:>9.3f}" for m in METHODS))


if __name__ == "__main__":
    main()
