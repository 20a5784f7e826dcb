"""course_lib.training.loop: the one training loop (fit), its config and its history."""

import math

import pytest
import torch
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

from course_lib.training.loop import EarlyStop, History, TrainConfig, fit, shuffled_batches

X = torch.linspace(-1, 1, 64)[:, None]  # [N, 1]
Y = 3 * X[:, 0] - 1  # [N]


def _regression(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(1, 1)


def _mse(model, idx):
    prediction = model(X[idx])[:, 0]  # [B]
    loss = torch.nn.functional.mse_loss(prediction, Y[idx])
    return loss, {"abs_error": (prediction - Y[idx]).abs().mean()}


def _held_out(model):
    return {"loss": torch.nn.functional.mse_loss(model(X)[:, 0], Y).item()}


def _config(**overrides) -> TrainConfig:
    return TrainConfig(**{"learning_rate": 0.1, "batch_size": 16, "max_steps": 60, "progress": False, **overrides})


def test_fit_lowers_the_loss_of_a_toy_regression_and_records_every_step():
    model = _regression()
    history = fit(model, _mse, shuffled_batches(len(X), 16), _config(eval_every=20), _held_out)
    assert isinstance(history, History)
    assert history.step == list(range(60)) and len(history.loss) == len(history.lr) == 60
    assert sum(history.loss[-5:]) < 0.1 * sum(history.loss[:5])
    assert len(history.metrics["abs_error"]) == 60
    assert history.eval_step == [20, 40, 60] and len(history.eval_loss) == 3
    assert history.eval_loss[-1] < history.eval_loss[0] and history.seconds > 0
    assert not model.training, "fit leaves the model in eval mode"


def test_fit_is_reproducible_and_takes_a_callable_or_an_iterable_of_batches():
    batches = list(shuffled_batches(len(X), 16, seed=3).__next__() for _ in range(10))
    by_list = fit(_regression(), _mse, batches, _config(max_steps=10))
    by_call = fit(_regression(), _mse, lambda step: batches[step], _config(max_steps=10))
    assert by_list.loss == by_call.loss
    short = fit(_regression(), _mse, batches[:4], _config(max_steps=10))
    assert short.step == [0, 1, 2, 3], "an iterable that runs out ends training"


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_the_learning_rate_follows_transformers_warmup_schedule(schedule):
    config = _config(warmup_steps=10, max_steps=50, schedule=schedule)
    history = fit(_regression(), _mse, shuffled_batches(len(X), 16), config)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    if schedule == "cosine":
        reference = get_cosine_schedule_with_warmup(optimizer, 10, 50)
    else:
        reference = get_constant_schedule_with_warmup(optimizer, 10)
    expected = []
    for _ in range(50):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    assert history.lr == pytest.approx(expected)
    assert history.lr[0] == 0.0 and history.lr[10] == pytest.approx(0.1)  # warm-up from 0 to the peak
    if schedule == "cosine":
        assert history.lr[30] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # half way down
    else:
        assert history.lr[-1] == pytest.approx(0.1)


@pytest.mark.parametrize(("max_grad_norm", "norm"), [(1e-3, 1e-3), (None, 4.0)])
def test_gradients_are_clipped_to_max_grad_norm(max_grad_norm, norm):
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(100.0)
    config = TrainConfig(learning_rate=1e-9, max_steps=1, max_grad_norm=max_grad_norm, progress=False)
    fit(model, lambda m, _: (m(torch.ones(1, 1)) ** 2 * 0.02).sum(), lambda step: None, config)
    assert model.weight.grad.norm().item() == pytest.approx(norm, rel=1e-4)  # the raw gradient: d(0.02 w^2)/dw = 4


def test_early_stop_at_a_target_ends_training_after_that_evaluation():
    stop = EarlyStop("loss", "min", target=0.5)
    history = fit(_regression(), _mse, shuffled_batches(len(X), 16), _config(eval_every=5, early_stop=stop), _held_out)
    assert len(history.step) < 60 and len(history.step) == history.eval_step[-1]
    assert history.eval_loss[-1] <= 0.5 and all(loss > 0.5 for loss in history.eval_loss[:-1])
    assert history.best_step == history.eval_step[-1]


def test_early_stop_restores_the_parameters_of_the_best_evaluation():
    # the held-out "loss" is lowest at the second evaluation; training goes on, then those parameters come back
    scores = iter([3.0, 1.0, 2.0, 5.0])
    snapshots = []

    def evaluate(model):
        snapshots.append(model.weight.detach().clone())
        return {"loss": next(scores)}

    model = _regression()
    stop = EarlyStop("loss", "min", restore_best=True)
    history = fit(
        model, _mse, shuffled_batches(len(X), 16), _config(max_steps=40, eval_every=10, early_stop=stop), evaluate
    )
    assert history.eval_step == [10, 20, 30, 40] and history.best_step == 20
    assert torch.equal(model.weight.detach(), snapshots[1])


def test_early_stop_in_max_mode_keeps_the_highest():
    stop = EarlyStop("accuracy", "max", target=0.9)
    assert stop.better(0.7, 0.6) and not stop.better(0.6, 0.6) and stop.reached(0.9) and not stop.reached(0.89)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"learning_rate": 0}, "learning_rate must be > 0, got 0"),
        ({"max_steps": -1}, "max_steps must be > 0, got -1"),
        ({"batch_size": 0}, "batch_size must be > 0, got 0"),
        ({"eval_every": 0}, "eval_every must be > 0, got 0"),
        ({"warmup_steps": -5}, "warmup_steps must be >= 0, got -5"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0, got -0.1"),
        ({"max_grad_norm": 0.0}, r"max_grad_norm must be > 0 or None \(no clipping\), got 0.0"),
        ({"schedule": "linear"}, "schedule must be one of .*, got 'linear'"),
    ],
)
def test_bad_config_values_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


def test_bad_input_to_fit_says_what_to_fix():
    with pytest.raises(ValueError, match="mode must be one of"):
        EarlyStop("loss", "lowest")
    with pytest.raises(ValueError, match="early_stop needs evaluate="):
        fit(_regression(), _mse, shuffled_batches(len(X), 16), _config(early_stop=EarlyStop()))
    with pytest.raises(ValueError, match=r"early_stop watches 'accuracy' but evaluate returned only \['loss'\]"):
        fit(_regression(), _mse, shuffled_batches(64, 16), _config(early_stop=EarlyStop("accuracy", "max")), _held_out)
    with pytest.raises(ValueError, match="loss_fn must return a scalar tensor"):
        fit(_regression(), lambda m, b: 1.0, shuffled_batches(64, 16), _config())
    with pytest.raises(ValueError, match="n and batch_size must be > 0, got 0 and 16"):
        next(shuffled_batches(0, 16))


def test_shuffled_batches_cover_each_epoch_once():
    batches = shuffled_batches(10, 5, seed=1)
    first, second = next(batches) + next(batches), next(batches) + next(batches)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
