"""course_lib.training.collate: right padding with pad_sequence, and the mask that goes with it."""

import pytest
import torch

from course_lib.training.collate import pad_right, pad_rows


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
