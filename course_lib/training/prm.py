"""Training a neural PRM (process supervision) or ORM (outcome supervision) on step labels (chapters 10-11).

Each example is tokenized as ``prompt\\n step_1\\n step_2\\n ...``. With ``supervision="process"`` every
step's closing newline carries that step's label; with ``supervision="outcome"`` only the last one
does, and it carries whether the final answer is right. Everything else is -100. The model and
the loss are the same, so the comparison isolates the kind of supervision (Lightman et al., 2023).

Example:
    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> from course_lib.data.step_labels import StepLabels
    >>> _, tokenizer = build_tiny_backbone()
    >>> ex = StepLabels("Add 2 and 3.", ("2 + 3 = 5", "The answer is: 5"), (True, True), 5.0)
    >>> ids, labels = encode_step_example(tokenizer, ex)
    >>> [l for l in labels if l != -100]
    [1, 1]
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from course_lib.credit_assignment.process_reward import extract_answer
from course_lib.data.step_labels import StepLabels
from course_lib.models.neural_prm import IGNORE_INDEX, NeuralPRM, prm_loss
from course_lib.training.optim import apply_gradients, require_positive

SUPERVISION = ("process", "outcome")


def _outcome_label(example: StepLabels) -> bool:
    answer = extract_answer(example.completions[-1])
    if example.answer is None or answer is None:
        return all(example.labels)
    return abs(answer - example.answer) < 1e-6


def encode_step_example(
    tokenizer, example: StepLabels, supervision: str = "process", max_length: int = 256
) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` with a label on each step's closing newline (or only the last one)."""
    if supervision not in SUPERVISION:
        raise ValueError(f"supervision must be one of {SUPERVISION}, got {supervision!r}")
    ids = tokenizer(example.prompt + "\n", add_special_tokens=False)["input_ids"]
    labels = [IGNORE_INDEX] * len(ids)
    pieces = tokenizer([s + "\n" for s in example.completions], add_special_tokens=False)["input_ids"]
    outcome = int(_outcome_label(example))
    for i, (piece, label) in enumerate(zip(pieces, example.labels)):
        last = i == len(pieces) - 1
        ids += piece
        target = int(label) if supervision == "process" else (outcome if last else IGNORE_INDEX)
        labels += [IGNORE_INDEX] * (len(piece) - 1) + [target]
    return ids[-max_length:], labels[-max_length:]


def collate_step_examples(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ``(input_ids, labels)`` rows from :func:`encode_step_example` into one batch.

    Padding gets ``pad_id``, label -100 and attention mask 0, so it never reaches the loss.

    >>> b = collate_step_examples([([5, 6, 7], [-100, -100, 1]), ([8], [0])], pad_id=0)
    >>> b["input_ids"].tolist(), b["labels"].tolist(), b["attention_mask"].tolist()
    ([[5, 6, 7], [8, 0, 0]], [[-100, -100, 1], [0, -100, -100]], [[1, 1, 1], [1, 0, 0]])
    """
    if not rows:
        raise ValueError("rows is empty: collate at least one (input_ids, labels) row")
    T = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), T), pad_id, dtype=torch.long)  # [B, T]
    labels = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)  # [B, T]
    mask = torch.zeros((len(rows), T), dtype=torch.long)  # [B, T]
    for i, (ids, lab) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


@dataclass
class PRMTrainingConfig:
    """Hyper-parameters of :func:`train_prm`."""

    supervision: str = "process"  # "process" (step labels) or "outcome" (final-answer label)
    learning_rate: float = 3e-3
    batch_size: int = 32
    max_steps: int = 300
    max_length: int = 256
    seed: int = 0
    progress: bool = True

    def __post_init__(self):
        if self.supervision not in SUPERVISION:
            raise ValueError(f"supervision must be one of {SUPERVISION}, got {self.supervision!r}")
        require_positive(self, ("learning_rate", "batch_size", "max_steps", "max_length"))


@dataclass
class PRMHistory:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_prm(
    model: NeuralPRM, tokenizer, examples: Sequence[StepLabels], config: PRMTrainingConfig | None = None
) -> PRMHistory:
    """Train ``model`` with BCE at step separators (AdamW, constant LR after a short warm-up)."""
    config = config or PRMTrainingConfig()
    if not examples:
        raise ValueError("examples is empty")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    rows = [encode_step_example(tokenizer, ex, config.supervision, config.max_length) for ex in examples]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 20))
    history, start, order = PRMHistory(), time.perf_counter(), []
    bar = tqdm(range(config.max_steps), desc=f"{config.supervision} RM", disable=not config.progress, leave=False)
    model.train()
    for step in bar:
        if len(order) < config.batch_size:
            order += rng.sample(range(len(rows)), len(rows))
        batch = collate_step_examples([rows[i] for i in order[: config.batch_size]], pad_id)
        order = order[config.batch_size :]
        loss = prm_loss(model(batch["input_ids"], batch["attention_mask"]), batch["labels"])
        apply_gradients(loss, model.parameters(), optimizer, scheduler)
        history.step.append(step)
        history.loss.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict_steps(
    model: NeuralPRM, tokenizer, examples: Sequence[StepLabels], batch_size: int = 64
) -> list[list[float]]:
    """``P(step correct)`` for every step of every example, read where training puts each step's label.

    That is the last token of each step (its closing newline), so a step whose text has newlines of
    its own (PRM800K's final ``...\\n\\n# Answer\\n\\n42``) still gets exactly one score.
    """
    model.eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[list[float]] = []
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        batch = collate_step_examples([encode_step_example(tokenizer, ex) for ex in chunk], pad_id)
        probs = torch.sigmoid(model(batch["input_ids"], batch["attention_mask"]))  # [B, T]
        at_step_end = batch["labels"] != IGNORE_INDEX  # [B, T]
        out += [probs[b][at_step_end[b]].tolist() for b in range(len(chunk))]
    return out
