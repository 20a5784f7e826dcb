"""Hidden grader for ps4_neural_prm (never released; runs in the judge, not in the sandbox).

Points: NeuralPRM 2, outcome_reward 2, step_rewards 2, prm_loss 2.
``outcome_reward`` and ``step_rewards`` are tested on a stand-in model whose logits the grader
chooses, so each function is judged on its own; ``NeuralPRM`` is built in the sandbox on a small
seeded GPT-2 that the judge rebuilds to compute the expected logits.
"""

import torch

from autograder.grading import call, driver, points, to_tensor
from autograder.worker import need  # drivers run in the sandbox with need() in scope
from course_lib.models.neural_prm import NeuralPRM as RefPRM
from course_lib.models.neural_prm import prm_loss as ref_loss
from course_lib.models.pooling import last_token_index

REFERENCE = [
    "course_lib.models.neural_prm.NeuralPRM",
    "course_lib.models.neural_prm.outcome_reward",
    "course_lib.models.neural_prm.step_rewards",
    "course_lib.models.neural_prm.prm_loss",
]
PRELOAD = ["transformers.models.gpt2.modeling_gpt2"]
H = 32


@driver
def build_prm(ns, input_ids, attention_mask, check_grad=False):
    """Build the student's NeuralPRM on a seeded GPT-2 (dropout off), set a known head, run it."""
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0
    )
    backbone = GPT2Model(config)
    model = need(ns, "NeuralPRM")(backbone)
    score = getattr(model, "score", None)
    out = {
        "backbone_kept": getattr(model, "backbone", None) is backbone,
        "score_shape": [score.in_features, score.out_features] if isinstance(score, torch.nn.Linear) else None,
    }
    if out["score_shape"] == [32, 1]:
        with torch.no_grad():
            score.weight.copy_(torch.linspace(-1.0, 1.0, 32)[None])
            score.bias.fill_(0.25)
    logits = model(input_ids, attention_mask)
    out["logits"] = logits.detach() if isinstance(logits, torch.Tensor) else logits
    if check_grad:
        logits[attention_mask.bool()].sum().backward()
        out["backbone_grad"] = any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in backbone.parameters())
    return out


@driver
def with_logits(ns, fn_name, logits, input_ids, attention_mask, *extra):
    """Call the student's ``fn_name(model, input_ids, attention_mask, *extra)`` with a model that returns ``logits``."""

    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, input_ids=None, attention_mask=None):
            return logits * self.scale

    out = need(ns, fn_name)(Fixed(), input_ids, attention_mask, *extra)
    if isinstance(out, torch.Tensor):
        return out.detach()
    if isinstance(out, list):
        return [o.detach() if isinstance(o, torch.Tensor) else o for o in out]
    return out


def _batch(lengths, T, left: bool, seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 64, (len(lengths), T), generator=g)
    mask = torch.zeros(len(lengths), T, dtype=torch.long)
    for b, n in enumerate(lengths):
        if left:
            mask[b, T - n :] = 1
        else:
            mask[b, :n] = 1
    return ids * mask, mask  # padding id 0 (also a real id inside rows: the pad == eos trap)


RIGHT_IDS, RIGHT_MASK = _batch([7, 4, 10, 1], 10, left=False, seed=1)
LEFT_IDS, LEFT_MASK = _batch([7, 4, 10, 1], 10, left=True, seed=1)
LOGITS = torch.randn(4, 10, generator=torch.Generator().manual_seed(2)) * 3
STEP = 5
STEP_IDS = RIGHT_IDS.clone()
STEP_IDS[:, ::3] = STEP  # step tokens everywhere, including inside the padding
STEP_IDS_LEFT = LEFT_IDS.clone()
STEP_IDS_LEFT[:, 1::3] = STEP
LABELS = torch.full((3, 6), -100)
LABELS[0, 2], LABELS[0, 5], LABELS[1, 4], LABELS[2, 0], LABELS[2, 1] = 1, 0, 1, 0, 1
LOSS_LOGITS = torch.randn(3, 6, generator=torch.Generator().manual_seed(3))
EXTREME = torch.tensor([[200.0, -200.0, 3.0]])
EXTREME_LABELS = torch.tensor([[0, 1, -100]])

# -- probes: run in the sandbox ---------------------------------------------------------------
forward_right = build_prm.probe(RIGHT_IDS, RIGHT_MASK, check_grad=True, timeout=30)
outcome_right = with_logits.probe("outcome_reward", LOGITS, RIGHT_IDS, RIGHT_MASK)
outcome_left = with_logits.probe("outcome_reward", LOGITS, LEFT_IDS, LEFT_MASK)
steps_right = with_logits.probe("step_rewards", LOGITS, STEP_IDS, RIGHT_MASK, STEP)
steps_left = with_logits.probe("step_rewards", LOGITS, STEP_IDS_LEFT, LEFT_MASK, STEP)
loss_typical = call("prm_loss", LOSS_LOGITS, LABELS, grad=(0,))
loss_extreme = call("prm_loss", EXTREME, EXTREME_LABELS, grad=(0,))
loss_all_ignored = call("prm_loss", LOSS_LOGITS, torch.full((3, 6), -100))
loss_mismatch = call("prm_loss", LOSS_LOGITS, LABELS[:, :4])


def _reference_logits(ids, mask):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0
    )
    model = RefPRM(GPT2Model(config))
    with torch.no_grad():
        model.score.weight.copy_(torch.linspace(-1.0, 1.0, H)[None])
        model.score.bias.fill_(0.25)
        return model(ids, mask)


def close(a, b, atol=1e-4) -> bool:
    a, b = to_tensor(a), to_tensor(b)
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=1e-4))


# -- NeuralPRM: 2 points ----------------------------------------------------------------------------
CELL = "test_neural_prm"


@points(0.5, cell=CELL)
def test_prm_structure(student):
    out = student[forward_right].of_type(dict)
    assert out["backbone_kept"] is True, "NeuralPRM must keep the backbone as self.backbone"
    assert out["score_shape"] == [H, 1], f"self.score must be nn.Linear(hidden_size, 1), got {out['score_shape']}"


@points(1, cell=CELL)
def test_prm_logits(student):
    out = student[forward_right].of_type(dict)
    logits = out["logits"]
    assert isinstance(logits, torch.Tensor) and tuple(logits.shape) == tuple(RIGHT_IDS.shape), (
        f"forward must return [B, T] logits, got {getattr(logits, 'shape', type(logits).__name__)}"
    )
    real = RIGHT_MASK.bool()
    assert close(logits[real], _reference_logits(RIGHT_IDS, RIGHT_MASK)[real]), (
        "logits differ from score(last_hidden_state) at the real tokens"
    )


@points(0.5, cell=CELL)
def test_prm_gradient_reaches_backbone(student):
    assert student[forward_right].of_type(dict).get("backbone_grad") is True, "no gradient reaches the backbone"


# -- outcome_reward: 2 points ------------------------------------------------------------------------
CELL = "test_outcome_reward"


def _expected_outcome(mask):
    return LOGITS[torch.arange(4), last_token_index(mask)]


@points(1, cell=CELL)
def test_outcome_right_padding(student):
    got = student[outcome_right].tensor()
    assert close(got, _expected_outcome(RIGHT_MASK)), "right padding: not the logit at the last real token"


@points(1, cell=CELL)
def test_outcome_left_padding(student):
    got = student[outcome_left].tensor()
    assert close(got, _expected_outcome(LEFT_MASK)), "left padding: not the logit at the last real token"


# -- step_rewards: 2 points ----------------------------------------------------------------------------
CELL = "test_step_rewards"


def _expected_steps(ids, mask):
    at = (ids == STEP) & mask.bool()
    return [torch.sigmoid(LOGITS[b][at[b]]) for b in range(4)]


def expect_steps(outcome, ids, mask, what):
    got = outcome.of_type(list)
    expected = _expected_steps(ids, mask)
    assert len(got) == len(expected), f"{what}: {len(got)} rows, expected {len(expected)}"
    for b, (g, e) in enumerate(zip(got, expected)):
        assert isinstance(g, torch.Tensor) and g.dim() == 1, f"{what}: row {b} must be a 1-D tensor"
        assert close(g, e), f"{what}: row {b} should hold sigmoid(logit) at its {len(e)} step tokens inside the mask"


@points(1, cell=CELL)
def test_steps_right_padding(student):
    expect_steps(student[steps_right], STEP_IDS, RIGHT_MASK, "right padding")


@points(1, cell=CELL)
def test_steps_left_padding(student):
    expect_steps(student[steps_left], STEP_IDS_LEFT, LEFT_MASK, "left padding")


# -- prm_loss: 2 points ----------------------------------------------------------------------------------
CELL = "test_prm_loss"


@points(1, cell=CELL)
def test_loss_value_and_gradient(student):
    logits = LOSS_LOGITS.clone().requires_grad_(True)
    expected = ref_loss(logits, LABELS)
    (grad,) = torch.autograd.grad(expected, logits)
    got = student[loss_typical]
    assert close(got.tensor(), expected.detach()), "the loss is not the mean BCE over labelled positions"
    assert close(got.gradients()[0], grad), "the gradient is wrong (check which positions count)"


@points(0.5, cell=CELL)
def test_loss_is_stable(student):
    got = student[loss_extreme].tensor()
    assert bool(torch.isfinite(got)) and close(got, ref_loss(EXTREME, EXTREME_LABELS), atol=1e-3), (
        "logits of +-200 need BCE with logits (sigmoid then log underflows)"
    )


@points(0.5, cell=CELL)
def test_loss_rejects_bad_input(student):
    assert student[loss_all_ignored].raises("ValueError"), "every label -100 must raise ValueError"
    assert student[loss_mismatch].raises("ValueError"), "different shapes must raise ValueError"
