"""One training loop for every model of the course (book chapters 4, 10 and 11).

The reward model, the neural PRM, the step verifier and the pretrained backbone all train through
:func:`fit`, which reads top to bottom like nanoGPT's ``train.py``: seed; AdamW with a warm-up
and a cosine (or constant) learning rate from ``transformers``; then, each step, draw a batch,
compute the loss, backpropagate, clip the gradient norm, step; every ``eval_every`` steps evaluate
and maybe stop early. What differs between models comes in as arguments:

* ``loss_fn(model, batch)`` returns the loss, or ``(loss, {"accuracy": ...})`` with metrics to log;
* ``batches`` is ``batches(step) -> batch`` or an iterable of batches (:func:`shuffled_batches`);
* ``evaluate(model)`` returns held-out metrics such as ``{"loss": ..., "accuracy": ...}``; it runs
  in eval mode without gradients.

Example (least squares on a toy regression):
    >>> import torch
    >>> x = torch.linspace(-1, 1, 64)[:, None]
    >>> y = 3 * x[:, 0] - 1  # [N]
    >>> model = torch.nn.Linear(1, 1)
    >>> def loss_fn(model, idx):
    ...     return torch.nn.functional.mse_loss(model(x[idx])[:, 0], y[idx])
    >>> config = TrainConfig(learning_rate=0.1, batch_size=16, max_steps=200, progress=False)
    >>> history = fit(model, loss_fn, shuffled_batches(64, config.batch_size), config)
    >>> len(history.loss), history.loss[-1] < 0.01 < history.loss[0]
    (200, True)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

SCHEDULES = ("cosine", "constant")
MODES = ("min", "max")
_END = object()


@dataclass(frozen=True)
class EarlyStop:
    """Which held-out metric to watch, and what to do about it.

    ``EarlyStop("accuracy", "max", target=0.9)`` stops once held-out accuracy reaches 0.9;
    ``EarlyStop("loss", "min", restore_best=True)`` trains to the end and keeps the parameters
    with the lowest held-out loss.
    """

    metric: str = "loss"  # a key of the dict that evaluate() returns
    mode: str = "min"  # "min": lower is better; "max": higher is better
    target: float | None = None  # stop as soon as the metric reaches this value
    restore_best: bool = False  # end with the parameters of the best evaluation

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    def better(self, value: float, best: float | None) -> bool:
        """Strictly better than ``best`` (the first evaluation always is)."""
        return best is None or (value < best if self.mode == "min" else value > best)

    def reached(self, value: float) -> bool:
        if self.target is None:
            return False
        return value <= self.target if self.mode == "min" else value >= self.target


@dataclass(kw_only=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit`; every field is keyword-only (``TrainConfig(max_steps=100)``)."""

    learning_rate: float = 3e-3  # peak, reached after warm-up
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    batch_size: int = 32  # read by the caller's batches (fit takes batches ready-made)
    max_steps: int = 300
    warmup_steps: int = 0  # the learning rate rises linearly from 0 over these steps
    schedule: str = "cosine"  # after warm-up: "cosine" decays to 0 at max_steps, "constant" stays
    max_grad_norm: float | None = 1.0  # clip the gradient norm to this; None: no clipping
    eval_every: int = 50  # steps between evaluations (the last step is always evaluated)
    early_stop: EarlyStop | None = None  # needs evaluate=
    seed: int = 0  # torch's global seed, set when training starts (dropout, initial heads)
    progress: bool = True  # show a tqdm bar

    def __post_init__(self):
        for name in ("learning_rate", "batch_size", "max_steps", "eval_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("weight_decay", "warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0 or None (no clipping), got {self.max_grad_norm}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")


@dataclass
class History:
    """What happened during :func:`fit`: one entry per step, and one per evaluation.

    ``step[i]`` is how many updates came before ``loss[i]`` was measured (0, 1, ...);
    ``eval_step[j]`` is how many updates came before evaluation ``j`` (``eval_every``, ..., the last).
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # the learning rate of each step's update
    metrics: dict[str, list[float]] = field(default_factory=dict)  # from loss_fn, one value per step
    eval_step: list[int] = field(default_factory=list)
    eval_metrics: dict[str, list[float]] = field(default_factory=dict)  # from evaluate, one value per evaluation
    best_step: int | None = None  # with early_stop: the eval_step of the best evaluation
    seconds: float = 0.0

    @property
    def accuracy(self) -> list[float]:
        """Training accuracy per step, when ``loss_fn`` reports one."""
        return self.metrics.get("accuracy", [])

    @property
    def eval_loss(self) -> list[float]:
        return self.eval_metrics.get("loss", [])

    @property
    def eval_accuracy(self) -> list[float]:
        return self.eval_metrics.get("accuracy", [])


def shuffled_batches(n: int, batch_size: int, seed: int = 0) -> Iterator[list[int]]:
    """Endless batches of indices into ``n`` examples: each epoch a fresh shuffle, batches run across epochs.

    >>> batches = shuffled_batches(5, 2, seed=0)
    >>> sorted(next(batches) + next(batches) + next(batches)[:1])  # the first epoch, shuffled
    [0, 1, 2, 3, 4]
    """
    if n <= 0 or batch_size <= 0:
        raise ValueError(f"n and batch_size must be > 0, got {n} and {batch_size}")
    rng, order = random.Random(seed), []
    while True:
        if len(order) < batch_size:
            order += rng.sample(range(n), n)
        batch, order = order[:batch_size], order[batch_size:]
        yield batch


def _schedule(optimizer: torch.optim.Optimizer, config: TrainConfig):
    # imported here: the losses of this package (which graders import) need no transformers (1.4 s)
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    if config.schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    return get_constant_schedule_with_warmup(optimizer, config.warmup_steps)


def _loss_and_metrics(out) -> tuple[torch.Tensor, dict[str, float]]:
    loss, metrics = out if isinstance(out, tuple) else (out, {})
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise ValueError(f"loss_fn must return a scalar tensor (or (loss, metrics)), got {type(loss).__name__}")
    return loss, _floats(metrics)


def _floats(metrics: dict) -> dict[str, float]:
    """Metric values as plain floats (tensors are detached first)."""
    return {name: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for name, v in metrics.items()}


def fit(
    model: torch.nn.Module,
    loss_fn: Callable,
    batches: Callable[[int], object] | Iterable,
    config: TrainConfig | None = None,
    evaluate: Callable[[torch.nn.Module], dict] | None = None,
    *,
    desc: str = "training",
) -> History:
    """Train ``model`` with AdamW on ``loss_fn`` over ``batches``; returns the :class:`History`.

    With ``evaluate``, the held-out metrics are measured every ``config.eval_every`` steps and after
    the last; ``config.early_stop`` watches one of them. The model ends in eval mode.
    """
    config = config or TrainConfig()
    stop = config.early_stop
    if stop is not None and evaluate is None:
        raise ValueError("config.early_stop needs evaluate= (held-out metrics to watch); pass one or drop early_stop")
    torch.manual_seed(config.seed)
    stream = None if callable(batches) else iter(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = _schedule(optimizer, config)
    history, best, best_state, start = History(), None, None, time.perf_counter()
    bar = tqdm(range(config.max_steps), desc=desc, disable=not config.progress, leave=False)
    model.train()
    for step in bar:
        # one update on one batch
        batch = batches(step) if stream is None else next(stream, _END)
        if batch is _END:  # an iterable of batches ran out
            break
        loss, metrics = _loss_and_metrics(loss_fn(model, batch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        history.lr.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        history.step.append(step)
        history.loss.append(loss.item())
        for name, value in metrics.items():
            history.metrics.setdefault(name, []).append(value)
        bar.set_postfix(loss=f"{loss.item():.3f}")

        # every eval_every updates, and after the last: held-out metrics, maybe an early stop
        done = step + 1
        if evaluate is None or (done % config.eval_every and done < config.max_steps):
            continue
        model.eval()
        with torch.no_grad():
            scores = _floats(evaluate(model))
        model.train()
        history.eval_step.append(done)
        for name, value in scores.items():
            history.eval_metrics.setdefault(name, []).append(value)
        bar.set_postfix(loss=f"{loss.item():.3f}", **{f"eval_{k}": f"{v:.3f}" for k, v in scores.items()})
        if stop is None:
            continue
        if stop.metric not in scores:
            raise ValueError(f"early_stop watches {stop.metric!r} but evaluate returned only {sorted(scores)}")
        if stop.better(scores[stop.metric], best):
            best, history.best_step = scores[stop.metric], done
            if stop.restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if stop.reached(scores[stop.metric]):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
