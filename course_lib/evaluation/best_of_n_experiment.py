"""ORM vs PRM for best-of-N, in miniature (book chapter 11; Lightman et al., 2023).

For each seed: sample training solutions from the simulated policy, train one
:class:`~course_lib.models.step_verifier.StepVerifier` on final-answer labels (an outcome reward
model, ORM) and one on step labels (a process reward model, PRM) — same model, same solutions,
only the supervision differs — then, on held-out problems, draw a pool of ``max(n_values)``
candidates each and select one from the first N with majority vote, the ORM, PRM-min and PRM-prod.
The solve rate is the fraction of problems whose selected answer is right; ``pass@N`` (any of the N
is right) is the ceiling. Both verifiers keep the parameters that score best on held-out problems
under their own labels (early stopping), so the comparison does not hinge on a step count.

Why the curves differ: the policy's misconceptions repeat across samples, so a shared wrong answer
can win the vote (majority plateaus); one label per solution never says which step was wrong, so
the ORM needs far more data than the PRM and keeps over-rating some wrong steps, which a large N
finds (its curve peaks, then falls: chapter 12); step labels point at the error (the PRM nears pass@N).
The defaults are the book's settings; larger ones run from the command line with a progress bar:

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
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from course_lib.credit_assignment.process_reward import aggregate_steps
from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.policy import PolicyConfig, SimulatedPolicy
from course_lib.evaluation.best_of_n import select_majority, select_orm, select_prm
from course_lib.models.step_verifier import StepVerifier, claim_judge
from course_lib.training.step_verifier import (
    VerifierTrainingConfig,
    encode_pools,
    encode_solutions,
    step_scores,
    train_step_verifier,
)

METHODS = ("majority", "orm", "prm_min", "prm_prod", "pass@n")


@dataclass
class BestOfNConfig:
    """Settings of one best-of-N experiment; the defaults are the book's (about 35 s on one CPU core)."""

    n_values: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    seeds: tuple[int, ...] = (0, 1)
    n_train_problems: int = 1000
    train_samples: int = 4  # solutions sampled per training problem (verifiers learn from several per problem)
    n_validation_problems: int = 100  # held-out problems (same sampling) for early stopping of both verifiers
    n_test_problems: int = 150
    training_steps: int = 300
    eval_every: int = 100  # validation loss every this many training steps; the best parameters are kept
    pretrained_judge: bool = True  # False: the verifiers read claims through course-tiny untrained (the baseline)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    progress: bool = True

    def __post_init__(self):
        if not self.n_values or any(not isinstance(n, int) or n < 1 for n in self.n_values):
            raise ValueError(f"n_values must be positive ints, got {self.n_values}")
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed")
        names = ("n_train_problems", "train_samples", "n_validation_problems", "n_test_problems", "training_steps")
        for name in (*names, "eval_every"):
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


@contextlib.contextmanager
def one_torch_thread():
    """Run torch on one thread inside the block, then restore the setting.

    Scoring one pool of candidates multiplies tiny matrices: a second thread gains nothing, and on a
    busy CPU OpenMP threads wait on each other (an earlier version of the book's settings took 18 s on
    one thread and 195 s on two shared cores).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _verifier(data, validation, supervision: str, config: BestOfNConfig, seed: int) -> StepVerifier:
    model = StepVerifier(seed=seed)
    training = VerifierTrainingConfig(
        supervision, max_steps=config.training_steps, eval_every=config.eval_every, seed=seed, progress=False
    )
    train_step_verifier(model, data, training, validation)
    return model


@dataclass
class Verifiers:
    """One seed's world: the problem generator and policy (past the training data) and both verifiers."""

    generator: ProblemGenerator
    policy: SimulatedPolicy
    orm: StepVerifier
    prm: StepVerifier


def train_verifiers(config: BestOfNConfig, seed: int) -> Verifiers:
    """Sample training solutions and train the ORM and the PRM on them (same model, same data).

    Each model keeps the parameters with the lowest loss on held-out problems under its own labels
    (early stopping), so neither is judged by how much it overfits at a fixed step count.
    """
    torch.manual_seed(seed)
    gen, policy = ProblemGenerator(seed=1000 + seed), SimulatedPolicy(seed=2000 + seed, config=config.policy)

    def sample(n_problems: int):
        problems = [gen.problem() for _ in range(n_problems)]
        pairs = [(p, s) for p in problems for s in policy.sample(p, config.train_samples)]
        return encode_solutions(pairs, claim_judge(config.pretrained_judge))

    data, validation = sample(config.n_train_problems), sample(config.n_validation_problems)
    orm = _verifier(data, validation, "outcome", config, seed)  # batches of 128 solutions: a second core helps
    prm = _verifier(data, validation, "process", config, seed)
    return Verifiers(gen, policy, orm, prm)


def _one_seed(config: BestOfNConfig, seed: int, bar: tqdm) -> dict[str, dict[int, float]]:
    bar.set_postfix_str(f"seed {seed}: training the ORM and the PRM")
    world = train_verifiers(config, seed)
    gen, policy, orm, prm = world.generator, world.policy, world.orm, world.prm
    bar.set_postfix_str(f"seed {seed}: selecting")
    pool_size = max(config.n_values)
    solved = {m: {n: 0 for n in config.n_values} for m in METHODS}
    problems = [gen.problem() for _ in range(config.n_test_problems)]
    pools = [policy.sample(problem, pool_size) for problem in problems]
    for pool, encoded in zip(pools, encode_pools(list(zip(problems, pools)), claim_judge(config.pretrained_judge))):
        with one_torch_thread():  # the MLP is tiny; the LM that read the claims in encode_pools is not
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
        bar.update(1)
    return {m: {n: solved[m][n] / config.n_test_problems for n in config.n_values} for m in METHODS}


def run_best_of_n(config: BestOfNConfig | None = None, progress: bool | None = None) -> BestOfNResult:
    """Run the experiment for every seed; reproducible: the same config gives the same numbers.

    ``progress`` (a tqdm bar over seeds and test problems) overrides ``config.progress`` when given.
    """
    config = config or BestOfNConfig()
    progress = config.progress if progress is None else progress
    rates: dict[str, dict[int, list[float]]] = {m: {n: [] for n in config.n_values} for m in METHODS}
    total = len(config.seeds) * config.n_test_problems
    with tqdm(total=total, desc="best-of-N", unit="problem", disable=not progress) as bar:
        for seed in config.seeds:
            for method, by_n in _one_seed(config, seed, bar).items():
                for n, rate in by_n.items():
                    rates[method][n].append(rate)
    return BestOfNResult(config, rates)


def main(argv: list[str] | None = None) -> None:
    default = BestOfNConfig()
    parser = argparse.ArgumentParser(
        description="ORM vs PRM for best-of-N on the simulated policy; the defaults are the book's settings."
    )
    parser.add_argument("--n-max", type=int, default=max(default.n_values), help="largest N (powers of two up to it)")
    parser.add_argument("--seeds", type=int, default=len(default.seeds), help="number of seeds (0, 1, ...)")
    parser.add_argument("--test-problems", type=int, default=default.n_test_problems)
    parser.add_argument("--train-problems", type=int, default=default.n_train_problems)
    parser.add_argument("--train-samples", type=int, default=default.train_samples, help="solutions per problem")
    parser.add_argument("--training-steps", type=int, default=default.training_steps)
    args = parser.parse_args(argv)
    if args.n_max < 1:
        parser.error(f"--n-max must be >= 1, got {args.n_max}")
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    try:
        config = BestOfNConfig(
            n_values=tuple(2**k for k in range(args.n_max.bit_length())),
            seeds=tuple(range(args.seeds)),
            n_test_problems=args.test_problems,
            n_train_problems=args.train_problems,
            train_samples=args.train_samples,
            training_steps=args.training_steps,
        )
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    result = run_best_of_n(config)
    seconds = time.perf_counter() - start
    print(f"{'N':>5} " + " ".join(f"{m:>9}" for m in METHODS) + "   (mean over seeds; ± std at the largest N)")
    for row in result.to_rows():
        print(f"{row['N']:>5} " + " ".join(f"{row[m]:>9.3f}" for m in METHODS))
    largest = max(config.n_values)
    print("  std " + " ".join(f"{result.std(m, largest):>9.3f}" for m in METHODS))
    print(f"{len(config.seeds)} seeds x {config.n_test_problems} test problems in {seconds:.1f} s")


if __name__ == "__main__":
    main()
