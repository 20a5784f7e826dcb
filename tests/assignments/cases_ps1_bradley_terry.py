"""ps1_bradley_terry: alternative correct answers, typical mistakes, re-exports (see test_assignments.py)."""

from tests.assignments.stubs import raising_answers

ASSIGNMENT = "ps1_bradley_terry"

_LOSS_HEAD = "def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction='mean'):\n"
_CHECKS = """    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(reduction)
    c, r = torch.as_tensor(reward_chosen, dtype=torch.float32), torch.as_tensor(reward_rejected, dtype=torch.float32)
    if c.shape != r.shape:
        raise ValueError('shape mismatch')
"""
_REDUCE = "    return {'mean': loss.mean(), 'sum': loss.sum(), 'none': loss}[reduction]\n"


def _loss(body: str, checks: str = _CHECKS) -> str:
    return _LOSS_HEAD + checks + body + _REDUCE


def _metrics(accuracy: str) -> str:
    """The preference_metrics cell with ``pairwise_accuracy`` returning ``accuracy`` (of tensors c, r)."""
    return f"""
def preference_probability(reward_chosen, reward_rejected):
    return torch.sigmoid(torch.as_tensor(reward_chosen) - torch.as_tensor(reward_rejected))

def pairwise_accuracy(reward_chosen, reward_rejected):
    c, r = torch.as_tensor(reward_chosen), torch.as_tensor(reward_rejected)
    if c.shape != r.shape:
        raise ValueError('shapes')
    return {accuracy}
"""


ALTERNATIVES = {
    "softplus": {
        "bradley_terry_loss": _loss("    loss = F.softplus(-(c - r - torch.as_tensor(margin)))\n"),
        "loss_vs_gap": "def loss_vs_gap(gaps):\n    return F.softplus(-torch.as_tensor(gaps, dtype=torch.float32))\n",
    },
    "piecewise_log1p": {
        "bradley_terry_loss": _loss(
            "    x = c - r - margin\n    loss = torch.where(x >= 0, torch.log1p(torch.exp(-x.clamp(min=0))), -x + torch.log1p(torch.exp(x.clamp(max=0))))\n"
        ),
        "preference_metrics": """
def preference_probability(reward_chosen, reward_rejected):
    c, r = torch.as_tensor(reward_chosen).float(), torch.as_tensor(reward_rejected).float()
    if c.shape != r.shape:
        raise ValueError('shapes')
    return 1 / (1 + torch.exp(-(c - r).clamp(-80, 80)))

def pairwise_accuracy(reward_chosen, reward_rejected):
    c, r = np.asarray(reward_chosen, dtype=float), np.asarray(reward_rejected, dtype=float)
    if c.shape != r.shape:
        raise ValueError('shapes')
    return float(np.mean(c > r))
""",
        "loss_vs_gap": "def loss_vs_gap(gaps):\n    g = torch.as_tensor(gaps, dtype=torch.float32)\n"
        "    return torch.where(g > 0, torch.log1p(torch.exp(-g.abs())), -g + torch.log1p(torch.exp(-g.abs())))\n",
    },
}

WRONG = {
    # test_loss_stable_for_huge_gaps: inf for gap -1e4
    "unstable_log_sigmoid": {"bradley_terry_loss": _loss("    loss = -torch.log(torch.sigmoid(c - r - margin))\n")},
    # test_loss_mean_value / gradient: sign error
    "sign_error": {"bradley_terry_loss": _loss("    loss = -F.logsigmoid(r - c - margin)\n")},
    # test_loss_margin: margin added instead of subtracted
    "margin_added": {"bradley_terry_loss": _loss("    loss = -F.logsigmoid(c - r + margin)\n")},
    # test_loss_rejects_bad_input: no validation (broadcasts [2] vs [1])
    "no_shape_check": {
        "bradley_terry_loss": _LOSS_HEAD
        + "    c, r = torch.as_tensor(reward_chosen), torch.as_tensor(reward_rejected)\n"
        + "    loss = -F.logsigmoid(c - r - margin)\n"
        + "    return loss.sum() if reduction == 'sum' else (loss if reduction == 'none' else loss.mean())\n"
    },
    # test_loss_gradient: detached result, not differentiable
    "detached": {"bradley_terry_loss": _loss("    loss = (-F.logsigmoid(c - r - margin)).detach()\n")},
    # test_loss_gradient: max(-x, 0) + log1p(exp(-|x|)) is the right value, but its gradient at a tie is -1 not -1/2
    "clamp_gradient_at_tie": {
        "bradley_terry_loss": _loss(
            "    x = c - r - margin\n    loss = torch.clamp(-x, min=0) + torch.log1p(torch.exp(-x.abs()))\n"
        )
    },
    # test_accuracy_ties_are_wrong...: >= counts ties
    "ties_count_as_correct": {"preference_metrics": _metrics("(c >= r).float().mean().item()")},
    # test_accuracy_is_a_float: returns a tensor
    "accuracy_tensor": {"preference_metrics": _metrics("(c > r).float().mean()")},
    # test_loss_vs_gap_extreme: log(1 + exp(-g)) overflows
    "gap_overflow": {
        "loss_vs_gap": "def loss_vs_gap(gaps):\n    return torch.log(1 + torch.exp(-torch.as_tensor(gaps)))\n"
    },
    # every test: functions that only raise implement nothing (a bad-input test pays only with a right answer)
    "raise_everything": raising_answers(ASSIGNMENT),
}

REEXPORT = {
    "bradley_terry_loss": "from course_lib.training.reward_model import bradley_terry_loss\n",
    "preference_metrics": "from course_lib.training.reward_model import preference_probability, pairwise_accuracy\n",
}
