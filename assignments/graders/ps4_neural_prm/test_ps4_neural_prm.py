"""Hidden grader for ps4_neural_prm (never released; runs in the judge, not in the sandbox).

Points: NeuralPRM 2, outcome_reward 2, step_rewards 2, prm_loss 2.
Each function is judged on its own first: ``outcome_reward`` and ``step_rewards`` on a stand-in model
whose logits the grader chooses. Then the student's ``NeuralPRM`` is built in the sandbox on the
course's tiny backbone (``build_tiny_backbone``: seeded, no network), its head is set to known
weights, and forward, ``outcome_reward`` and ``step_rewards`` run on it under right and left padding;
the judge rebuilds the same backbone to compute the expected logits.
"""

from functools import lru_cache

import torch

from autograder.probes import call, driver, points, to_tensor
from autograder.worker import need  # drivers run in the sandbox with need() in scope
from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.neural_prm import NeuralPRM as RefPRM
from course_lib.models.neural_prm import prm_loss as ref_loss
from course_lib.models.pooling import gather_last, last_token_index

REFERENCE = [
    "course_lib.models.neural_prm.NeuralPRM",
    "course_lib.models.neural_prm.outcome_reward",
    "course_lib.models.neural_prm.step_rewards",
    "course_lib.models.neural_prm.prm_loss",
]
COURSE_LIB = [  # what the notebook and the drivers use; nothing of the answers' modules
    "course_lib.models.backbone.build_tiny_backbone",
    "course_lib.models.backbone.load_backbone",
    "course_lib.data.step_labels.make_step_labels",
    "course_lib.training.prm.collate_step_examples",
    "course_lib.training.prm.encode_step_example",
]
PRELOAD = ["transformers.models.gpt2.modeling_gpt2"]  # never course_lib: the sandbox has its own copy


@driver
def on_tiny_backbone(ns, fn_name, input_ids, attention_mask, *extra):
    """Build the student's NeuralPRM on the seeded tiny backbone, set a known head, run it (and ``fn_name``).

    ``fn_name="forward"``: structure, logits and whether a gradient reaches the backbone.
    Otherwise: the model's logits and ``fn_name(model, input_ids, attention_mask, *extra)``.
    """
    from course_lib.models.backbone import build_tiny_backbone

    backbone, _ = build_tiny_backbone()  # seeded: the judge builds the same weights
    model = need(ns, "NeuralPRM")(backbone)
    model.eval()  # dropout off, so logits are comparable
    score = getattr(model, "score", None)
    H = backbone.config.hidden_size
    out = {
        "backbone_kept": getattr(model, "backbone", None) is backbone,
        "score_shape": [score.in_features, score.out_features] if isinstance(score, torch.nn.Linear) else None,
    }
    if out["score_shape"] == [H, 1]:
        with torch.no_grad():
            score.weight.copy_(torch.linspace(-1.0, 1.0, H)[None])
            score.bias.fill_(0.25)

    def plain(x):
        if isinstance(x, torch.Tensor):
            return x.detach()
        if isinstance(x, (list, tuple)):
            return [o.detach() if isinstance(o, torch.Tensor) else o for o in x]
        return x

    if fn_name == "forward":
        logits = model(input_ids, attention_mask)
        out["logits"] = plain(logits)
        if isinstance(logits, torch.Tensor) and logits.shape == input_ids.shape:
            logits[attention_mask.bool()].sum().backward()
            out["backbone_grad"] = any(
                p.grad is not None and bool(p.grad.abs().sum() > 0) for p in backbone.parameters()
            )
        return out
    fn = need(ns, fn_name)
    with torch.no_grad():
        logits = model(input_ids, attention_mask)
    return {"logits": plain(logits), "result": plain(fn(model, input_ids, attention_mask, *extra))}


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


# -- inputs -----------------------------------------------------------------------------------------
_, TOKENIZER = build_tiny_backbone()
EOS = TOKENIZER.eos_token_id
NEWLINE = TOKENIZER("\n", add_special_tokens=False)["input_ids"][0]  # the step separator
TEXTS = [
    "Step 1: 12 + 7 = 19.\nStep 2: 19 * 2 = 38.\nThe answer is: 38\n<|endoftext|>",
    "The answer is: 5\n",
    "Step 1: 9 - 4 = 5.\nStep 2: 5 * 3 = 16.\nStep 3: 16 + 1 = 17.\nThe answer is: 17\n<|endoftext|>",
    "Step 1: 3 * 3 = 9.",
]


def _pad(rows, left: bool, pad_id: int):
    """``[B, T]`` ids and mask; GPT-2 style padding with EOS, so EOS is also a real token in some rows."""
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad_id)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    for b, r in enumerate(rows):
        span = slice(T - len(r), T) if left else slice(0, len(r))
        ids[b, span], mask[b, span] = torch.tensor(r), 1
    return ids, mask


_ROWS = [TOKENIZER(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
TEXT_RIGHT = _pad(_ROWS, left=False, pad_id=EOS)
TEXT_LEFT = _pad(_ROWS, left=True, pad_id=EOS)


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
forward_right = on_tiny_backbone.probe("forward", *TEXT_RIGHT, timeout=30)
forward_left = on_tiny_backbone.probe("forward", *TEXT_LEFT, timeout=30)
outcome_model = {
    side: on_tiny_backbone.probe("outcome_reward", *batch, timeout=30)
    for side, batch in [("right", TEXT_RIGHT), ("left", TEXT_LEFT)]
}
steps_model = {
    side: on_tiny_backbone.probe("step_rewards", *batch, NEWLINE, timeout=30)
    for side, batch in [("right", TEXT_RIGHT), ("left", TEXT_LEFT)]
}
outcome_right = with_logits.probe("outcome_reward", LOGITS, RIGHT_IDS, RIGHT_MASK)
outcome_left = with_logits.probe("outcome_reward", LOGITS, LEFT_IDS, LEFT_MASK)
steps_right = with_logits.probe("step_rewards", LOGITS, STEP_IDS, RIGHT_MASK, STEP)
steps_left = with_logits.probe("step_rewards", LOGITS, STEP_IDS_LEFT, LEFT_MASK, STEP)
loss_typical = call("prm_loss", LOSS_LOGITS, LABELS, grad=(0,))
loss_extreme = call("prm_loss", EXTREME, EXTREME_LABELS, grad=(0,))
loss_all_ignored = call("prm_loss", LOSS_LOGITS, torch.full((3, 6), -100))
loss_mismatch = call("prm_loss", LOSS_LOGITS, LABELS[:, :4])


@lru_cache(maxsize=1)
def _reference_model():
    model = RefPRM(build_tiny_backbone()[0]).eval()
    H = model.score.in_features
    with torch.no_grad():
        model.score.weight.copy_(torch.linspace(-1.0, 1.0, H)[None])
        model.score.bias.fill_(0.25)
    return model


@torch.no_grad()
def _reference_logits(ids, mask) -> list[torch.Tensor]:
    """The expected ``[B, T]`` logits: positions from the mask (the reference), or the backbone's default positions.

    Both agree at the real tokens under right padding; under left padding a student may or may not pass
    mask-derived ``position_ids`` (the notebook says either is accepted).
    """
    model = _reference_model()
    default_positions = model.score(model.backbone(input_ids=ids, attention_mask=mask).last_hidden_state)
    return [model(ids, mask), default_positions.squeeze(-1)]


def close(a, b, atol=1e-4) -> bool:
    a, b = to_tensor(a), to_tensor(b)
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=1e-4))


# -- NeuralPRM: 2 points ----------------------------------------------------------------------------
CELL = "test_neural_prm"


@points(0.5, cell=CELL)
def test_prm_structure(student):
    out = student[forward_right].of_type(dict)
    H = _reference_model().score.in_features
    assert out["backbone_kept"] is True, "NeuralPRM must keep the backbone as self.backbone"
    assert out["score_shape"] == [H, 1], "NeuralPRM: self.score must be nn.Linear(hidden_size, 1)"


def expect_logits(outcome, ids, mask, what):
    logits = outcome.of_type(dict)["logits"]
    assert isinstance(logits, torch.Tensor), (
        f"NeuralPRM.forward returned a {type(logits).__name__}; it must return a [B, T] tensor of logits"
    )
    assert tuple(logits.shape) == tuple(ids.shape), "NeuralPRM.forward: wrong shape (one logit per token, [B, T])"
    real = mask.bool()
    assert any(close(logits[real], expected[real]) for expected in _reference_logits(ids, mask)), (
        f"NeuralPRM.forward, {what}: the logits are not score(last_hidden_state) at the real tokens"
    )


@points(0.5, cell=CELL)
def test_prm_logits_right_padding(student):
    expect_logits(student[forward_right], *TEXT_RIGHT, "right padding")


@points(0.5, cell=CELL)
def test_prm_logits_left_padding(student):
    expect_logits(student[forward_left], *TEXT_LEFT, "left padding")


@points(0.5, cell=CELL)
def test_prm_gradient_reaches_backbone(student):
    assert student[forward_right].of_type(dict).get("backbone_grad") is True, (
        "NeuralPRM: no gradient reaches the backbone"
    )


def model_run(outcome, mask, what) -> tuple[torch.Tensor, object]:
    """The student's own NeuralPRM logits ``[B, T]`` and what the function under test returned with it."""
    out = outcome.of_type(dict)
    logits = out["logits"]
    assert isinstance(logits, torch.Tensor) and logits.shape == mask.shape, (
        f"{what}: needs a NeuralPRM whose forward returns [B, T] logits"
    )
    return logits, out["result"]


# -- outcome_reward: 2 points ------------------------------------------------------------------------
CELL = "test_outcome_reward"


def _expected_outcome(mask):
    return LOGITS[torch.arange(4), last_token_index(mask)]


@points(0.75, cell=CELL)
def test_outcome_right_padding(student):
    got = student[outcome_right].tensor()
    assert close(got, _expected_outcome(RIGHT_MASK)), (
        "outcome_reward, right padding: not the logit at each row's last real token"
    )


@points(0.75, cell=CELL)
def test_outcome_left_padding(student):
    got = student[outcome_left].tensor()
    assert close(got, _expected_outcome(LEFT_MASK)), (
        "outcome_reward, left padding: not the logit at each row's last real token"
    )


@points(0.5, cell=CELL)
def test_outcome_on_your_prm(student):
    for side, (_, mask) in [("right", TEXT_RIGHT), ("left", TEXT_LEFT)]:
        logits, got = model_run(
            student[outcome_model[side]], mask, f"outcome_reward on the tiny backbone, {side} padding"
        )
        assert isinstance(got, torch.Tensor) and close(got, gather_last(logits, mask)), (
            f"outcome_reward on your NeuralPRM, {side} padding (EOS pads and also ends some rows): "
            "not the logit at each row's last real token"
        )


# -- step_rewards: 2 points ----------------------------------------------------------------------------
CELL = "test_step_rewards"


def expect_steps(got, logits, ids, mask, step, what):
    at = (ids == step) & mask.bool()
    expected = [torch.sigmoid(logits[b][at[b]]) for b in range(ids.shape[0])]
    assert type(got) is list, f"{what}: step_rewards returned a {type(got).__name__}; it must return a list"
    assert len(got) == len(expected), f"{what}: wrong number of rows (one tensor per row of the batch)"
    for g, e in zip(got, expected):
        assert isinstance(g, torch.Tensor) and g.dim() == 1, f"{what}: each row must be a 1-D tensor"
        assert close(g, e), f"{what}: a row must hold sigmoid(logit) at its step tokens inside the mask, in order"


@points(0.75, cell=CELL)
def test_steps_right_padding(student):
    expect_steps(student[steps_right].returned(), LOGITS, STEP_IDS, RIGHT_MASK, STEP, "step_rewards, right padding")


@points(0.75, cell=CELL)
def test_steps_left_padding(student):
    expect_steps(student[steps_left].returned(), LOGITS, STEP_IDS_LEFT, LEFT_MASK, STEP, "step_rewards, left padding")


@points(0.5, cell=CELL)
def test_steps_on_your_prm(student):
    for side, (ids, mask) in [("right", TEXT_RIGHT), ("left", TEXT_LEFT)]:
        what = f"step_rewards on your NeuralPRM, {side} padding"
        logits, got = model_run(student[steps_model[side]], mask, what)
        expect_steps(got, logits, ids, mask, NEWLINE, what)


# -- prm_loss: 2 points ----------------------------------------------------------------------------------
CELL = "test_prm_loss"


@points(1, cell=CELL)
def test_loss_value_and_gradient(student):
    logits = LOSS_LOGITS.clone().requires_grad_(True)
    expected = ref_loss(logits, LABELS)
    (grad,) = torch.autograd.grad(expected, logits)
    got = student[loss_typical]
    assert close(got.tensor(), expected.detach()), "prm_loss: wrong value (the mean BCE over labelled positions)"
    assert close(got.gradients()[0], grad), "prm_loss: wrong gradient (check which positions count)"


@points(0.5, cell=CELL)
def test_loss_is_stable(student):
    got = student[loss_extreme].tensor()
    assert bool(torch.isfinite(got)) and close(got, ref_loss(EXTREME, EXTREME_LABELS), atol=1e-3), (
        "prm_loss on huge logits: wrong value (use BCE with logits; sigmoid then log underflows)"
    )


@points(0.5, cell=CELL)
def test_loss_rejects_bad_input(student):
    """Pays only with a right answer on valid input too: a function that always raises earns nothing."""
    expected = ref_loss(LOSS_LOGITS, LABELS)
    assert close(student[loss_typical].tensor(), expected), (
        "prm_loss: wrong value (the mean BCE over labelled positions)"
    )
    assert student[loss_all_ignored].raises("ValueError"), "prm_loss: every label -100 must raise ValueError"
    assert student[loss_mismatch].raises("ValueError"), (
        "prm_loss: logits and labels of different shapes must raise ValueError"
    )
