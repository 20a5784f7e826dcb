"""course_lib.training.collate: right padding with pad_sequence, and the mask that goes with it."""

import pytest
import torch

from course_lib.training.collate import length_batches, pad_right, pad_rows


def test_pad_rows_pads_on_the_right_and_masks_the_padding():
    batch = pad_rows([[5, 6, 7], [8], [9, 10]], pad_id=1)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1], [9, 10, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert batch["input_ids"].dtype == batch["attention_mask"].dtype == torch.long


def test_pad_right_accepts_tuples_and_tensors():
    assert pad_right([(1, 2), torch.tensor([3])], -100).tolist() == [[1, 2], [3, -100]]


def test_nothing_to_pad_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="rows is empty: pad at least one row"):
        pad_rows([], pad_id=0)


def test_length_batches_group_similar_lengths_and_cover_every_row_once():
    lengths = [7, 1, 5, 3, 3, 9, 2]
    batches = length_batches(lengths, batch_size=3)
    assert batches == [[1, 6, 3], [4, 2, 0], [5]]  # shortest first; ties keep their order
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert length_batches([], batch_size=4) == []


def test_length_batches_reject_a_batch_size_below_one():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        length_batches([1, 2], batch_size=0)


def test_evaluation_in_length_batches_matches_batches_in_order():
    """Sorting by length changes only the padding: every reward is what a batch in book order gives."""
    import torch

    from course_lib.data.preferences import make_preference_pairs
    from course_lib.models.backbone import build_tiny_backbone
    from course_lib.models.reward_model import RewardModel
    from course_lib.training.reward_model import EncodedPairs, evaluate

    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone).eval()
    data = EncodedPairs(tokenizer, make_preference_pairs(40, seed=3))
    with torch.no_grad():
        batch = data.batch(range(len(data)))  # one batch, padded to the longest row
        r_chosen, r_rejected = model(batch["input_ids"], batch["attention_mask"]).chunk(2)
    result = evaluate(model, tokenizer, data, batch_size=8)
    torch.testing.assert_close(result.margins, r_chosen - r_rejected, atol=1e-5, rtol=1e-5)
