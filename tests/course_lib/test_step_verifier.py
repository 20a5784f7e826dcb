"""course_lib.models.step_verifier and course_lib.training.step_verifier: one MLP, outcome or process labels."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.data.arithmetic import ProblemGenerator, Solution
from course_lib.data.policy import SimulatedPolicy
from course_lib.models.backbone import COURSE_TINY, load_backbone
from course_lib.models.likelihood import ClaimLikelihood
from course_lib.models.step_verifier import (
    N_FEATURES,
    PHRASES,
    StepVerifier,
    StepVerifierConfig,
    claim_features,
    claim_judge,
    claim_of,
    number_features,
    phrase_index,
    solution_features,
)
from course_lib.training.step_verifier import (
    VerifierTrainingConfig,
    encode_solutions,
    outcome_loss,
    process_labels,
    step_scores,
    train_step_verifier,
    verifier_loss,
)


def _pairs(n_problems: int, samples: int, seed: int = 0):
    gen, policy = ProblemGenerator(seed=seed), SimulatedPolicy(seed=seed)
    problems = [gen.problem() for _ in range(n_problems)]
    return [(p, s) for p in problems for s in policy.sample(p, samples)]


# -- features ------------------------------------------------------------------------------


def test_number_features():
    assert number_features(None) == [0.0] * len(number_features(1.0))
    f = number_features(-42.5)
    assert f[0] == 1.0 and f[3] == 1.0 and f[4] == 1.0  # present, fractional, negative
    assert [f[5 + 10 * k : 15 + 10 * k].index(1.0) for k in range(3)] == [2, 4, 0]


def test_phrase_index():
    assert phrase_index("It sells 18") == PHRASES.index(("store", "-"))
    assert phrase_index("Her aunt gives her $1,200") == PHRASES.index(("savings", "+"))
    assert phrase_index("Something else 3") == phrase_index(None) == len(PHRASES)


def test_claim_of():
    assert claim_of("Step 2: It sells 18. So 45 - 18 = 27.") == ("45 - 18", "27")
    assert claim_of("Step 3: So 1,200 x 4 = 4,800.") == ("1,200 x 4", "4,800")
    assert claim_of("The answer is: 27") is None


def test_claim_features_read_the_pretrained_lm():
    judge = claim_judge()
    assert judge is claim_judge(pretrained=True)  # loaded once
    right = claim_features("Step 2: It sells 18. So 45 - 18 = 27.", judge)
    slip = claim_features("Step 2: It sells 18. So 45 - 18 = 28.", judge)
    assert right[0] == slip[0] == 1.0 and right[2] == 0.0  # the LM would write 27 itself
    assert slip[1] > right[1] and slip[2] > 0.05  # and doubts the 8
    assert claim_features("Step 2: It buys 18. So 45 + 18 = 63.", judge)[2] == 0.0  # wrong op, true claim
    assert claim_features("The answer is: 27", judge) == [0.0, 0.0, 0.0]
    assert all(0.0 <= f <= 1.0 for f in claim_features("So 12 / 0 = 4.", judge))


def test_claim_likelihood_batches_like_one_at_a_time_and_rejects_bad_input():
    backbone, tokenizer = load_backbone(COURSE_TINY)
    claims = [("45 - 18", "27"), ("45 - 18", "28"), ("96 / 4", "24"), ("12 x 4", "46"), ("7 + 8", "15")]
    batched = ClaimLikelihood(backbone, tokenizer, batch_size=3)
    batched.prefetch(claims + claims[:2])
    assert sorted(batched.cache) == sorted(claims)
    for claim in claims:
        alone = ClaimLikelihood(backbone, tokenizer)(*claim)
        assert alone == pytest.approx(batched.cache[claim], abs=1e-4)
        assert alone[0] <= alone[1] <= 0.0
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        ClaimLikelihood(backbone, tokenizer, batch_size=0)


def test_a_judge_that_learned_nothing_barely_tells_a_slip():
    fresh = claim_judge(pretrained=False)
    right, slip = fresh("45 - 18", "27"), fresh("45 - 18", "28")
    trained = claim_judge()
    assert (trained("45 - 18", "27")[0] - trained("45 - 18", "28")[0]) > 3 * abs(right[0] - slip[0])


def test_solution_features_tell_a_wrong_operation_from_the_right_one():
    gen = ProblemGenerator(seed=0)
    problem = gen.problem()
    right = gen.correct_solution(problem)
    wrong = gen.wrong_solution(problem, "wrong_operation")
    x, y = solution_features(problem, right.steps), solution_features(problem, wrong.steps)
    assert x.shape == (len(right.steps), N_FEATURES) and x.dtype.name == "float32"
    fields, claim = slice(0, N_FEATURES - 3), slice(N_FEATURES - 3, N_FEATURES)  # the LM's view comes last
    assert (x[: wrong.first_error, fields] == y[: wrong.first_error, fields]).all()
    # the same true claims before the error ("72 * 9" here, "72 x 9" there): the LM is as sure of both
    assert np.allclose(x[: wrong.first_error, claim], y[: wrong.first_error, claim], atol=0.01)
    assert (x[wrong.first_error] != y[wrong.first_error]).any()
    with pytest.raises(ValueError, match="steps is empty"):
        solution_features(problem, [])


def test_step_verifier_shapes_and_seed():
    x = torch.randn(3, 5, N_FEATURES)
    assert StepVerifier(seed=1)(x).shape == (3, 5)
    assert torch.equal(StepVerifier(seed=1)(x), StepVerifier(seed=1)(x))
    assert not torch.equal(StepVerifier(seed=1)(x), StepVerifier(seed=2)(x))
    assert StepVerifier(StepVerifierConfig(hidden_size=8, n_layers=3))(x).shape == (3, 5)
    with pytest.raises(ValueError, match=f"features must end in {N_FEATURES} fields"):
        StepVerifier()(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="hidden_size and n_layers must be >= 1, got 0 and 2"):
        StepVerifierConfig(hidden_size=0)


# -- labels and losses -----------------------------------------------------------------------


def test_process_labels():
    assert process_labels(Solution("", 1.0, True, steps=("a", "b", "c"))) == [1, 1, 1]
    assert process_labels(Solution("", 1.0, False, first_error=0, steps=("a", "b"))) == [0, -100]
    assert process_labels(Solution("", 1.0, True, first_error=2, steps=("a", "b", "c"))) == [1, 1, 0]  # lucky


def test_encode_solutions():
    pairs = _pairs(6, 3)
    data = encode_solutions(pairs)
    S, K = len(pairs), max(len(s.steps) for _, s in pairs)
    assert data.features.shape == (S, K, N_FEATURES) and len(data) == S
    assert data.step_mask.sum(1).tolist() == [len(s.steps) for _, s in pairs]
    for row, (_, s) in zip(data.step_labels, pairs):
        assert row[: len(s.steps)].tolist() == process_labels(s) and (row[len(s.steps) :] == -100).all()
    assert data.outcome.tolist() == [float(s.is_correct) for _, s in pairs]
    with pytest.raises(ValueError, match="pairs is empty"):
        encode_solutions([])


def test_outcome_loss_is_the_cross_entropy_of_the_product():
    logits = torch.tensor([[2.0, 1.0, 9.0], [0.5, -1.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    outcome = torch.tensor([1.0, 0.0])
    p = torch.stack([torch.sigmoid(logits[0, :2]).prod(), torch.sigmoid(logits[1]).prod()])
    assert outcome_loss(logits, mask, outcome).item() == pytest.approx(F.binary_cross_entropy(p, outcome).item())
    with pytest.raises(ValueError, match="need logits"):
        outcome_loss(logits, mask, torch.tensor([1.0]))


def test_verifier_loss_and_config_reject_bad_values():
    data = encode_solutions(_pairs(2, 2))
    with pytest.raises(ValueError, match="supervision must be one of .* got 'both'"):
        verifier_loss(StepVerifier(), data, "both")
    with pytest.raises(ValueError, match="supervision must be one of"):
        VerifierTrainingConfig(supervision="steps")
    with pytest.raises(ValueError, match="learning_rate must be > 0, got 0"):
        VerifierTrainingConfig(learning_rate=0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        VerifierTrainingConfig(weight_decay=-1.0)


# -- training ----------------------------------------------------------------------------------


def _auc(scores: list[float], labels: list[int]) -> float:
    """How often a score labelled 1 exceeds a score labelled 0 (pairwise accuracy, ties count half)."""
    right = torch.tensor([s for s, y in zip(scores, labels) if y == 1])
    wrong = torch.tensor([s for s, y in zip(scores, labels) if y == 0])
    diff = right[:, None] - wrong[None, :]
    return ((diff > 0).float() + 0.5 * (diff == 0).float()).mean().item()


def _held_out_auc(model, data, supervision: str) -> float:
    """PRM: labelled steps against their step labels; ORM: the solution score prod_i p_i against the outcome."""
    scores = step_scores(model, data)
    if supervision == "outcome":
        return _auc([math.prod(s) for s in scores], [int(y) for y in data.outcome.tolist()])
    pairs = [(p, y) for s, row, m in zip(scores, data.step_labels, data.step_mask) for p, y in zip(s, row[m].tolist())]
    return _auc([p for p, y in pairs if y != -100], [y for p, y in pairs if y != -100])


@pytest.mark.parametrize("supervision", ["process", "outcome"])
def test_training_learns_what_its_labels_say(supervision):
    # 4000 solutions: on a few hundred the ORM memorizes them (one label per solution) and learns nothing general
    train, held_out = encode_solutions(_pairs(1000, 4, seed=0)), encode_solutions(_pairs(60, 4, seed=1))
    model = StepVerifier(seed=0)
    before = _held_out_auc(model, held_out, supervision)
    config = VerifierTrainingConfig(supervision, max_steps=300, eval_every=100, progress=False)
    history = train_step_verifier(model, train, config, validation=held_out)
    assert len(history.loss) == 300 and history.eval_step == [100, 200, 300]
    assert history.best_step in history.eval_step and history.seconds > 0
    with torch.no_grad():  # the kept parameters are the ones with the lowest validation loss
        assert verifier_loss(model, held_out, supervision).item() == pytest.approx(min(history.eval_loss), rel=1e-5)
    assert _held_out_auc(model, held_out, supervision) > max(before, 0.8)
    scores = step_scores(model, held_out)
    assert [len(s) for s in scores] == held_out.step_mask.sum(1).tolist()
    assert all(0.0 <= p <= 1.0 for s in scores for p in s)


def test_train_step_verifier_rejects_empty_data():
    data = encode_solutions(_pairs(1, 1))
    empty = type(data)(data.features[:0], data.step_mask[:0], data.step_labels[:0], data.outcome[:0])
    with pytest.raises(ValueError, match="data has no solutions"):
        train_step_verifier(StepVerifier(), empty, VerifierTrainingConfig(max_steps=1, progress=False))
