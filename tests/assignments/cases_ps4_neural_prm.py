"""ps4_neural_prm: alternative correct answers, typical mistakes, re-exports (see test_assignments.py)."""

from tests.assignments.stubs import raising_answers
from tests.support import reference_answer

ASSIGNMENT = "ps4_neural_prm"


_PRM = reference_answer(ASSIGNMENT, "neural_prm")
_OUTCOME = reference_answer(ASSIGNMENT, "outcome_reward")
_STEPS = reference_answer(ASSIGNMENT, "step_rewards")
_LOSS = reference_answer(ASSIGNMENT, "prm_loss")

ALTERNATIVES = {
    "einsum_head_and_cumsum_pooling": {
        "neural_prm": """
class NeuralPRM(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.score = nn.Linear(backbone.config.n_embd, 1)

    def forward(self, input_ids, attention_mask):
        h = self.backbone(input_ids, attention_mask=attention_mask)[0]
        return torch.einsum("bth,oh->bt", h, self.score.weight) + self.score.bias
""",
        "outcome_reward": """
def outcome_reward(model, input_ids, attention_mask):
    logits = model(input_ids, attention_mask)
    idx = attention_mask.shape[1] - 1 - attention_mask.flip(1).argmax(dim=1)  # last 1 in each row
    return logits.gather(1, idx[:, None]).squeeze(1)
""",
    },
    "mask_positions_and_tuple_output": {  # position ids from the mask: left padding shifts nothing
        "neural_prm": """
class NeuralPRM(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.score = nn.Linear(backbone.config.hidden_size, 1)

    def forward(self, input_ids, attention_mask):
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, return_dict=False)
        return self.score(out[0])[..., 0]
""",
        "step_rewards": """
def step_rewards(model, input_ids, attention_mask, step_token_id):
    probs = model(input_ids, attention_mask).sigmoid()
    return [row_probs[(row_ids == step_token_id) & (row_mask == 1)]
            for row_probs, row_ids, row_mask in zip(probs, input_ids, attention_mask)]
""",
    },
    "loops_and_manual_bce": {
        "step_rewards": """
def step_rewards(model, input_ids, attention_mask, step_token_id):
    logits = model(input_ids, attention_mask)
    out = []
    for b in range(input_ids.shape[0]):
        keep = [t for t in range(input_ids.shape[1]) if input_ids[b, t] == step_token_id and attention_mask[b, t] == 1]
        out.append(torch.sigmoid(logits[b, keep]))
    return out
""",
        "prm_loss": """
def prm_loss(logits, labels):
    if logits.shape != labels.shape:
        raise ValueError("shape mismatch")
    mask = labels != -100
    if mask.sum() == 0:
        raise ValueError("nothing labelled")
    y = labels[mask].to(logits.dtype)
    x = logits[mask]
    return (F.softplus(-x) * y + F.softplus(x) * (1 - y)).mean()
""",
        "outcome_reward": """
def outcome_reward(model, input_ids, attention_mask):
    logits = model(input_ids, attention_mask)
    rows = []
    for b in range(logits.shape[0]):
        last = int(attention_mask[b].nonzero().max())
        rows.append(logits[b, last])
    return torch.stack(rows)
""",
    },
}

WRONG = {
    # test_prm_gradient_reaches_backbone: frozen backbone
    "detached_backbone": {
        "neural_prm": _PRM.replace(".last_hidden_state  # [B, T, H]", ".last_hidden_state.detach()  # [B, T, H]")
    },
    # test_prm_logits_*_padding: sigmoid applied in forward (probabilities, not logits)
    "sigmoid_in_forward": {
        "neural_prm": _PRM.replace(
            "return self.score(hidden).squeeze(-1)", "return torch.sigmoid(self.score(hidden)).squeeze(-1)"
        )
    },
    # test_outcome_right_padding, test_outcome_on_your_prm: position -1 reads padding
    "last_position": {
        "outcome_reward": "def outcome_reward(model, input_ids, attention_mask):\n    return model(input_ids, attention_mask)[:, -1]\n"
    },
    # test_outcome_left_padding, test_outcome_on_your_prm: sum(mask) - 1 only works for right padding
    "mask_sum_minus_one": {
        "outcome_reward": "def outcome_reward(model, input_ids, attention_mask):\n    logits = model(input_ids, attention_mask)\n"
        "    return logits[torch.arange(logits.shape[0]), attention_mask.sum(1) - 1]\n"
    },
    # test_steps_right_padding, test_steps_left_padding: step tokens in the padding counted
    "steps_ignore_mask": {"step_rewards": _STEPS.replace(" & attention_mask.bool()", "")},
    # test_steps_*: logits instead of probabilities (on the stand-in model and on your NeuralPRM)
    "steps_logits": {
        "step_rewards": _STEPS.replace(
            "torch.sigmoid(model(input_ids, attention_mask))", "model(input_ids, attention_mask)"
        )
    },
    # test_loss_value_and_gradient: -100 positions counted as label 0
    "loss_all_positions": {
        "prm_loss": "def prm_loss(logits, labels):\n    if logits.shape != labels.shape:\n        raise ValueError('shape')\n"
        "    if (labels == -100).all():\n        raise ValueError('none')\n"
        "    return F.binary_cross_entropy_with_logits(logits, (labels == 1).float())\n"
    },
    # test_loss_is_stable: sigmoid then BCE underflows at +-200
    "loss_sigmoid_then_bce": {
        "prm_loss": _LOSS.replace(
            "F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float())",
            "F.binary_cross_entropy(torch.sigmoid(logits[keep]), labels[keep].float())",
        )
    },
    # test_loss_value_and_gradient: sum over labelled positions divided by the batch size
    "loss_mean_over_batch": {
        "prm_loss": _LOSS.replace(
            "return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float())",
            "return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float(), reduction='sum') / logits.shape[0]",
        )
    },
    # test_loss_value_and_gradient: mean per row, then mean over rows (rows have different numbers of steps)
    "loss_mean_of_row_means": {
        "prm_loss": _LOSS.replace(
            "return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float())",
            "per_token = F.binary_cross_entropy_with_logits(logits, labels.clamp(min=0).float(), reduction='none')\n"
            "    return ((per_token * keep).sum(1) / keep.sum(1).clamp(min=1)).mean()",
        )
    },
    # test_loss_rejects_bad_input: returns nan instead of raising
    "loss_no_check": {
        "prm_loss": "def prm_loss(logits, labels):\n    keep = labels != -100\n"
        "    return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float())\n"
    },
    # every test: functions that only raise implement nothing (a bad-input test pays only with a right answer)
    "raise_everything": raising_answers(ASSIGNMENT),
}

REEXPORT = {
    "neural_prm": "from course_lib.models.neural_prm import NeuralPRM\n",
    "outcome_reward": "from course_lib.models.neural_prm import outcome_reward\n",
    "step_rewards": "from course_lib.models.neural_prm import step_rewards\n",
    "prm_loss": "from course_lib.models.neural_prm import prm_loss\n",
}
