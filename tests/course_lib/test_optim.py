"""course_lib.training.optim: the optimizer step and the config check every training loop shares."""

from dataclasses import dataclass

import pytest
import torch

from course_lib.training.optim import apply_gradients, require_positive


def test_apply_gradients_clips_the_norm_then_steps():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    apply_gradients((w**2).sum(), [w], opt, max_norm=1.0)  # gradient [6, 8], norm 10 -> [0.6, 0.8]
    assert torch.allclose(w.detach(), torch.tensor([2.4, 3.2]))


def test_apply_gradients_steps_the_scheduler_and_clears_old_gradients():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    w.grad = torch.tensor([100.0])  # stale: must not leak into the step
    opt = torch.optim.SGD([w], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    apply_gradients(w.sum(), [w], opt, scheduler, max_norm=10.0)
    assert w.item() == pytest.approx(0.9) and opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_apply_gradients_rejects_a_loss_without_graph():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        apply_gradients(torch.tensor(1.0), [w], torch.optim.SGD([w], lr=0.1))


@dataclass
class _Config:
    learning_rate: float = 1e-3
    batch_size: int = 8


def test_require_positive_accepts_positive_fields():
    require_positive(_Config(), ("learning_rate", "batch_size"))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_Config(learning_rate=0.0), "learning_rate must be > 0, got 0.0"),
        (_Config(batch_size=-2), "batch_size must be > 0, got -2"),
    ],
)
def test_require_positive_names_the_bad_field(config, message):
    with pytest.raises(ValueError, match=message):
        require_positive(config, ("learning_rate", "batch_size"))


def test_require_positive_checks_only_the_named_fields():
    require_positive(_Config(batch_size=0), ("learning_rate",))
