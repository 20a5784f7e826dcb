"""Training the step verifier as an ORM (outcome labels) or a PRM (step labels) on the same data (chapters 7, 11).

Both reward models are one :class:`~course_lib.models.step_verifier.StepVerifier` that gives every
step ``i`` of a solution a probability ``p_i = sigmoid(l_i)`` of being correct. They see the same
solutions and differ only in the labels they learn from:

* **process** (PRM): binary cross-entropy on each step's label, from the first step up to and
  including the first wrong one; later steps carry no label (-100), as in PRM800K's phase 2
  (Lightman et al., 2023):  ``L = -sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)]``.
* **outcome** (ORM): one label per solution, "is the final answer right?", so a lucky chain counts
  as right. The solution's score is the probability that every step is right,
  ``P = prod_i p_i``, and the loss is ``L = -[y log P + (1 - y) log(1 - P)]``. The model must find
  out by itself which step made a wrong answer wrong.

At selection time both give a solution the score ``prod_i p_i`` (or ``min_i p_i``).

Example:
    >>> from course_lib.data.arithmetic import ProblemGenerator
    >>> from course_lib.data.policy import SimulatedPolicy
    >>> from course_lib.models.step_verifier import N_FEATURES
    >>> gen, policy = ProblemGenerator(seed=0), SimulatedPolicy(seed=0)
    >>> problems = [gen.problem() for _ in range(20)]
    >>> data = encode_solutions([(p, s) for p in problems for s in policy.sample(p, 4)])
    >>> data.features.shape[0], data.features.shape[2] == N_FEATURES
    (80, True)
    >>> model = StepVerifier(seed=0)
    >>> history = train_step_verifier(model, data, VerifierTrainingConfig("outcome", max_steps=5, progress=False))
    >>> len(history.loss), len(step_scores(model, data)) == 80
    (5, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from course_lib.data.arithmetic import ArithmeticProblem, Solution
from course_lib.models.likelihood import ClaimLikelihood
from course_lib.models.neural_prm import IGNORE_INDEX, prm_loss
from course_lib.models.step_verifier import StepVerifier, claim_judge, prefetch_claims, solution_features
from course_lib.training.collate import pad_right
from course_lib.training.loop import EarlyStop, History, TrainConfig, fit

SUPERVISION = ("process", "outcome")


@dataclass
class EncodedSolutions:
    """Solutions as padded tensors: ``S`` solutions of at most ``K`` steps."""

    features: torch.Tensor  # [S, K, F]
    step_mask: torch.Tensor  # [S, K] bool, True on real steps
    step_labels: torch.Tensor  # [S, K] long: 1 right, 0 wrong, -100 after the first error and on padding
    outcome: torch.Tensor  # [S] float: 1.0 when the final answer is right

    def __len__(self) -> int:
        return self.features.shape[0]

    def subset(self, indices) -> EncodedSolutions:
        """The solutions at ``indices`` (a list or 1-D tensor of row numbers), in that order."""
        i = torch.as_tensor(indices, dtype=torch.long)  # [S']
        return EncodedSolutions(self.features[i], self.step_mask[i], self.step_labels[i], self.outcome[i])


def process_labels(solution: Solution) -> list[int]:
    """Step labels up to and including the first error, -100 after it (PRM800K phase 2).

    >>> from course_lib.data.arithmetic import Solution
    >>> process_labels(Solution("", 3.0, False, first_error=1, steps=("a", "b", "c", "d")))
    [1, 0, -100, -100]
    """
    n, cut = len(solution.steps), solution.first_error
    if cut is None:
        return [1] * n
    return [1] * cut + [0] + [IGNORE_INDEX] * (n - cut - 1)


def encode_solutions(
    pairs: Sequence[tuple[ArithmeticProblem, Solution]], judge: ClaimLikelihood | None = None
) -> EncodedSolutions:
    """Featurize ``(problem, solution)`` pairs once; both kinds of supervision train on the result.

    ``judge`` reads the steps' claims (default: the course-pretrained LM); all claims are scored in one batch.
    """
    judge = judge or claim_judge()
    prefetch_claims(judge, (step for _, solution in pairs for step in solution.steps))
    return _encode(pairs, judge)


def encode_pools(
    pools: Sequence[tuple[ArithmeticProblem, Sequence[Solution]]], judge: ClaimLikelihood | None = None
) -> list[EncodedSolutions]:
    """:func:`encode_solutions` for each ``(problem, candidates)`` pool, with every claim scored in one batch."""
    judge = judge or claim_judge()
    prefetch_claims(judge, (step for _, pool in pools for solution in pool for step in solution.steps))
    return [_encode([(problem, s) for s in pool], judge) for problem, pool in pools]


def _encode(pairs: Sequence[tuple[ArithmeticProblem, Solution]], judge: ClaimLikelihood) -> EncodedSolutions:
    if len(pairs) == 0:
        raise ValueError("pairs is empty; pass (problem, solution) pairs")
    rows = [torch.as_tensor(solution_features(p, solution.steps, judge)) for p, solution in pairs]  # [K_s, F]
    features = pad_sequence(rows, batch_first=True)  # [S, K, F], zeros after each solution's last step
    step_mask = pad_sequence([torch.ones(len(r), dtype=torch.bool) for r in rows], batch_first=True)  # [S, K]
    step_labels = pad_right([process_labels(solution) for _, solution in pairs], IGNORE_INDEX)  # [S, K]
    outcome = torch.tensor([float(solution.is_correct) for _, solution in pairs], dtype=torch.float32)  # [S]
    return EncodedSolutions(features, step_mask, step_labels, outcome)


def log_prob_all_correct(logits: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
    """``log prod_i sigmoid(l_i)`` over each solution's real steps: ``[S, K], [S, K] -> [S]``."""
    return (F.logsigmoid(logits) * step_mask).sum(-1)


def outcome_loss(logits: torch.Tensor, step_mask: torch.Tensor, outcome: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of ``P = prod_i p_i`` against the final-answer label: ``-> []``."""
    if logits.shape != step_mask.shape or logits.shape[:1] != outcome.shape:
        raise ValueError(
            f"need logits [S, K], step_mask [S, K], outcome [S]; got {tuple(logits.shape)}, "
            f"{tuple(step_mask.shape)}, {tuple(outcome.shape)}"
        )
    log_p = log_prob_all_correct(logits, step_mask)  # [S]
    log_not_p = torch.log(-torch.expm1(log_p.clamp(max=-1e-6)))  # log(1 - P), stable near P = 1
    return -(outcome * log_p + (1 - outcome) * log_not_p).mean()


def verifier_loss(model: StepVerifier, batch: EncodedSolutions, supervision: str) -> torch.Tensor:
    """The training loss of one batch under ``supervision`` ("process" or "outcome")."""
    if supervision not in SUPERVISION:
        raise ValueError(f"supervision must be one of {SUPERVISION}, got {supervision!r}")
    logits = model(batch.features)  # [S, K]
    if supervision == "process":
        return prm_loss(logits, batch.step_labels)
    return outcome_loss(logits, batch.step_mask, batch.outcome)


@dataclass
class VerifierTrainingConfig(TrainConfig):
    """Hyper-parameters of :func:`train_step_verifier`, the same for both kinds of supervision:
    ``supervision``, then :class:`TrainConfig`'s (keyword-only): a constant learning rate, no clipping."""

    supervision: str = "process"  # "process" (step labels) or "outcome" (final-answer labels)
    _: KW_ONLY
    weight_decay: float = 1e-2
    batch_size: int = 128  # solutions per step, drawn with replacement
    max_steps: int = 1500
    schedule: str = "constant"
    max_grad_norm: float | None = None
    eval_every: int = 100  # with validation data: keep the parameters with the lowest validation loss

    def __post_init__(self):
        super().__post_init__()
        if self.supervision not in SUPERVISION:
            raise ValueError(f"supervision must be one of {SUPERVISION}, got {self.supervision!r}")


VerifierHistory = History  # the name older code uses


def train_step_verifier(
    model: StepVerifier,
    data: EncodedSolutions,
    config: VerifierTrainingConfig | None = None,
    validation: EncodedSolutions | None = None,
) -> History:
    """Train ``model`` on random batches of solutions through :func:`~course_lib.training.loop.fit`.

    With ``validation``, the loss on it (same supervision) is measured every ``eval_every`` steps and
    the model ends with the parameters that scored lowest (early stopping), so neither kind of
    supervision is judged by how much it overfits at one fixed step count.
    """
    config = config or VerifierTrainingConfig()
    if len(data) == 0:
        raise ValueError("data has no solutions")
    generator = torch.Generator().manual_seed(config.seed)

    def batch(step: int) -> EncodedSolutions:
        idx = torch.randint(len(data), (min(config.batch_size, len(data)),), generator=generator)  # [B]
        return EncodedSolutions(data.features[idx], data.step_mask[idx], data.step_labels[idx], data.outcome[idx])

    def loss_fn(model: StepVerifier, batch: EncodedSolutions) -> torch.Tensor:
        return verifier_loss(model, batch, config.supervision)

    def held_out(model: StepVerifier) -> dict[str, float]:
        return {"loss": verifier_loss(model, validation, config.supervision).item()}

    if validation is not None and config.early_stop is None:
        config = replace(config, early_stop=EarlyStop("loss", "min", restore_best=True))
    evaluate = held_out if validation is not None else None
    return fit(model, loss_fn, batch, config, evaluate, desc=f"{config.supervision} verifier")


@torch.no_grad()
def step_scores(model: StepVerifier, data: EncodedSolutions) -> list[list[float]]:
    """``P(step correct)`` for every real step of every solution."""
    model.eval()
    probs = torch.sigmoid(model(data.features))  # [S, K]
    return [p[m].tolist() for p, m in zip(probs, data.step_mask)]
