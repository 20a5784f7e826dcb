"""course_lib.models.pooling and the reward model built on it: the score is read at the last real token."""

import pytest
import torch

from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.pooling import gather_last, last_token_index, position_ids_from_mask
from course_lib.models.reward_model import RewardModel, backbone_hidden_states


def test_last_token_index_right_and_left_padding():
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [2, 4, 4, 1]


@pytest.mark.parametrize(
    "mask, message",
    [
        (torch.ones(4, dtype=torch.long), r"must be \[B, T\], got shape \(4,\)"),
        (torch.tensor([[1, 1], [0, 0]]), r"rows \[1\] have no real token"),
    ],
)
def test_last_token_index_bad_input(mask, message):
    with pytest.raises(ValueError, match=message):
        last_token_index(mask)


def test_position_ids_count_only_real_tokens():
    mask = torch.tensor([[1, 1, 1, 0], [0, 0, 1, 1]])
    assert position_ids_from_mask(mask).tolist() == [[0, 1, 2, 2], [0, 0, 0, 1]]
    assert position_ids_from_mask(torch.ones(1, 3)).tolist() == [[0, 1, 2]]
    with pytest.raises(ValueError, match=r"must be \[B, T\], got shape \(3,\)"):
        position_ids_from_mask(torch.ones(3))


def test_gather_last_picks_the_last_real_position():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # [B, T, H]
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]])
    assert gather_last(hidden, mask).tolist() == [hidden[0, 1].tolist(), hidden[1, 3].tolist()]
    assert gather_last(hidden[..., 0], mask).tolist() == [
        hidden[0, 1, 0].item(),
        hidden[1, 3, 0].item(),
    ]  # [B, T] -> [B]
    with pytest.raises(ValueError, match="no real token"):
        gather_last(hidden, torch.zeros(2, 4))


def _padded(rows: list[list[int]], pad_id: int, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(map(len, rows))
    ids = torch.full((len(rows), T), pad_id)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        where = slice(0, len(r)) if side == "right" else slice(T - len(r), T)
        ids[i, where], mask[i, where] = torch.tensor(r), 1
    return ids, mask


@pytest.fixture(scope="module")
def tiny_model():
    backbone, tokenizer = build_tiny_backbone()
    return RewardModel(backbone).eval(), tokenizer


def test_reward_is_the_same_under_left_and_right_padding_and_alone(tiny_model):
    model, tokenizer = tiny_model
    texts = ["2 + 2 = 4", "Step 1: We start with 45 apples.\nThe answer is: 45", "x"]
    rows = [tokenizer(t + tokenizer.eos_token, add_special_tokens=False)["input_ids"] for t in texts]
    with torch.no_grad():
        right = model(*_padded(rows, tokenizer.pad_token_id, "right"))
        left = model(*_padded(rows, tokenizer.pad_token_id, "left"))
        alone = torch.cat([model(torch.tensor([r]), torch.ones(1, len(r), dtype=torch.long)) for r in rows])
    assert right.shape == (3,)
    assert torch.allclose(right, left, atol=1e-5) and torch.allclose(right, alone, atol=1e-5)


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_equal_to_eos_inside_the_text_does_not_confuse_pooling(tiny_model, side):
    """GPT-2's trap: pad id == eos id, and an eos sits inside the text. The mask, not the id, says where to read."""
    model, tokenizer = tiny_model
    eos = tokenizer.eos_token_id
    a = tokenizer("2 + 2 = 4", add_special_tokens=False)["input_ids"]
    b = tokenizer("The answer is: 4", add_special_tokens=False)["input_ids"]
    row = a + [eos] + b + [eos]  # an eos in the middle, and one at the end
    short = a + [eos]
    ids, mask = _padded([row, short], eos, side)
    assert last_token_index(mask).tolist() == (
        [len(row) - 1, len(short) - 1] if side == "right" else [len(row) - 1] * 2
    )
    with torch.no_grad():
        batched = model(ids, mask)
        hidden = backbone_hidden_states(model.backbone, torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long))
        alone_row = model.score(hidden[:, -1]).squeeze(-1)
        first_eos = model.score(hidden[:, len(a)]).squeeze(-1)  # where "first pad token" pooling would read
    assert batched[0].item() == pytest.approx(alone_row.item(), abs=1e-5)
    assert batched[0].item() != pytest.approx(first_eos.item(), abs=1e-4)


def test_reward_model_head_is_seeded_and_reads_one_reward_per_row():
    b1, _ = build_tiny_backbone()
    b2, _ = build_tiny_backbone()
    assert torch.equal(RewardModel(b1).score.weight, RewardModel(b2).score.weight)
    assert not torch.equal(RewardModel(b1, seed=1).score.weight, RewardModel(b1, seed=0).score.weight)
    assert RewardModel(b1).score.bias.item() == 0.0
    with pytest.raises(ValueError, match="no real token"):
        RewardModel(b1)(torch.tensor([[5, 6]]), torch.zeros(1, 2, dtype=torch.long))
