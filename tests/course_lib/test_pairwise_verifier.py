"""A step verifier trained with the Bradley-Terry loss on solution pairs (chapter 16)."""

import random

import pytest
import torch

from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.verbosity import add_filler_steps
from course_lib.models.step_verifier import StepVerifier
from course_lib.training.pairwise_verifier import (
    PairwiseVerifierConfig,
    solution_rewards,
    train_pairwise_verifier,
)
from course_lib.training.step_verifier import encode_solutions


class SilentJudge:
    """A claim judge with no opinion (every claim as likely as can be): fast, and these tests need no arithmetic."""

    def __call__(self, lhs, rhs):
        return 0.0, 0.0

    def prefetch(self, claims):
        pass


@pytest.fixture(scope="module")
def judge():
    return SilentJudge()


def _pairs(judge, n=48, pad_chosen=0):
    gen, rng = ProblemGenerator(seed=7), random.Random(7)
    problems = [gen.problem() for _ in range(n)]
    chosen = [(p, add_filler_steps(gen.correct_solution(p), pad_chosen, rng)) for p in problems]
    rejected = [(p, gen.wrong_solution(p, "wrong_operation")) for p in problems]
    return encode_solutions(chosen, judge), encode_solutions(rejected, judge)


def test_solution_reward_is_the_sum_of_step_logits(judge):
    chosen, _ = _pairs(judge, n=4)
    model = StepVerifier(seed=0)
    with torch.no_grad():
        logits = model(chosen.features)  # [S, K]
        expected = torch.stack([row[m].sum() for row, m in zip(logits, chosen.step_mask)])
        assert torch.allclose(solution_rewards(model, chosen), expected)


def test_training_separates_chosen_from_rejected(judge):
    chosen, rejected = _pairs(judge)
    model = StepVerifier(seed=0)
    history = train_pairwise_verifier(model, chosen, rejected, PairwiseVerifierConfig(max_steps=60, progress=False))
    assert history.loss[-1] < history.loss[0]
    with torch.no_grad():
        margin = solution_rewards(model, chosen) - solution_rewards(model, rejected)
    assert (margin > 0).float().mean() > 0.8


def test_a_summed_reward_learns_length_when_length_predicts_the_label(judge):
    # chosen always 3 filler steps longer: the model can win by counting steps
    chosen, rejected = _pairs(judge, pad_chosen=3)
    model = StepVerifier(seed=0)
    train_pairwise_verifier(model, chosen, rejected, PairwiseVerifierConfig(max_steps=60, progress=False))
    padded, plain = _pairs(judge, n=16, pad_chosen=3)[0], _pairs(judge, n=16, pad_chosen=0)[0]
    with torch.no_grad():
        assert (solution_rewards(model, padded) > solution_rewards(model, plain)).all()


def test_subset_keeps_rows_in_order(judge):
    chosen, _ = _pairs(judge, n=5)
    part = chosen.subset([3, 1])
    assert len(part) == 2 and torch.equal(part.features[0], chosen.features[3])
    assert torch.equal(part.step_labels[1], chosen.step_labels[1])


def test_bad_input(judge):
    chosen, rejected = _pairs(judge, n=6)
    with pytest.raises(ValueError, match="row i"):
        train_pairwise_verifier(
            StepVerifier(), chosen, rejected.subset([0, 1]), PairwiseVerifierConfig(progress=False)
        )
    with pytest.raises(ValueError, match="max_steps"):
        PairwiseVerifierConfig(max_steps=0)
