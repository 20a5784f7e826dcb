"""course_lib.evaluation.pairwise_judge: a likelihood judge that reads two responses, and its position bias."""

import pytest
import torch

from course_lib.data.preferences import PreferencePair, make_preference_pairs
from course_lib.evaluation.pairwise_judge import (
    PairwiseScores,
    encode_pair_in_context,
    judge_pairs,
    position_bias,
)
from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.likelihood import mean_log_likelihood, token_log_likelihoods


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_tiny_backbone()
    return model.eval(), tokenizer


def test_the_masks_mark_each_response(tiny):
    _, tokenizer = tiny
    ids, first, second = encode_pair_in_context(tokenizer, "2 + 3?", "2 + 3 = 5", "2 + 3 = 6")
    assert len(ids) == len(first) == len(second)
    assert tokenizer.decode([t for t, m in zip(ids, first) if m]) == "2 + 3 = 5\n\n"
    assert tokenizer.decode([t for t, m in zip(ids, second) if m]) == "2 + 3 = 6"
    assert not any(a and b for a, b in zip(first, second))
    with pytest.raises(ValueError, match="non-empty"):
        encode_pair_in_context(tokenizer, "2 + 3?", "", "2 + 3 = 6")


def test_judge_scores_are_the_mean_log_likelihood_of_each_slot(tiny):
    model, tokenizer = tiny
    pairs = [PreferencePair("2 + 3?", "2 + 3 = 5", "2 + 3 = 6 and 7"), PreferencePair("", "1 + 1 = 2", "1 + 1 = 3")]
    scores = judge_pairs(model, tokenizer, pairs, chosen_first=False, batch_size=1)
    for i, p in enumerate(pairs):
        ids, first, second = encode_pair_in_context(tokenizer, p.prompt, p.rejected, p.chosen)
        logp = token_log_likelihoods(model, torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
        assert scores.first[i].item() == pytest.approx(
            mean_log_likelihood(logp, torch.tensor([first])).item(), rel=1e-4
        )
        assert scores.second[i].item() == pytest.approx(
            mean_log_likelihood(logp, torch.tensor([second])).item(), rel=1e-4
        )


def test_the_judge_refuses_bad_input(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="empty"):
        judge_pairs(model, tokenizer, [], chosen_first=True)
    with pytest.raises(ValueError, match="batch_size"):
        judge_pairs(model, tokenizer, make_preference_pairs(1), chosen_first=True, batch_size=0)
    long = PreferencePair("x" * 10, "1 + 1 = 2 " * 200, "1 + 1 = 3")
    with pytest.raises(ValueError, match="at most"):
        judge_pairs(model, tokenizer, [long], chosen_first=True)


def test_a_judge_that_always_picks_the_first_slot_flips_every_verdict():
    first_wins = PairwiseScores(torch.tensor([-1.0, -1.0, -1.0]), torch.tensor([-2.0, -2.0, -2.0]))
    bias = position_bias(first_wins, first_wins)
    assert (bias.accuracy_chosen_first, bias.accuracy_chosen_second) == (1.0, 0.0)
    assert bias.flip_rate == 1.0 and bias.first_slot_rate == 1.0
    assert bias.accuracy_one_order == 0.5
    assert bias.accuracy_both_orders == 0.0  # every response scores the same over both orders: a tie is wrong


def test_an_order_free_judge_has_no_position_bias():
    chosen, rejected = torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -2.5])
    bias = position_bias(PairwiseScores(chosen, rejected), PairwiseScores(rejected, chosen))
    assert bias.flip_rate == 0.0 and bias.first_slot_rate == 0.5
    assert bias.accuracy_chosen_first == bias.accuracy_chosen_second == bias.accuracy_both_orders == 0.5


def test_position_bias_refuses_mismatched_orders():
    one = PairwiseScores(torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="same pairs"):
        position_bias(one, PairwiseScores(torch.zeros(3), torch.zeros(3)))
    with pytest.raises(ValueError, match="one shape"):
        PairwiseScores(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="no pairs"):
        position_bias(PairwiseScores(torch.zeros(0), torch.zeros(0)), PairwiseScores(torch.zeros(0), torch.zeros(0)))
