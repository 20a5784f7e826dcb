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

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

import torch

from course_lib.data.step_labels import StepLabels
from course_lib.data.step_text import extract_answer
from course_lib.models.neural_prm import IGNORE_INDEX, NeuralPRM, prm_loss
from course_lib.training.collate import length_batches, pad_right, pad_rows
from course_lib.training.loop import History, TrainConfig, fit, shuffled_batches

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
    batch = pad_rows([ids for ids, _ in rows], pad_id)  # input_ids, attention_mask: [B, T]
    return {**batch, "labels": pad_right([labels for _, labels in rows], IGNORE_INDEX)}  # labels: [B, T]


@dataclass
class PRMTrainingConfig(TrainConfig):
    """Hyper-parameters of :func:`train_prm`: ``supervision``, then :class:`TrainConfig`'s (keyword-only),
    with defaults for the tiny backbone: 20 warm-up steps, then a constant learning rate."""

    supervision: str = "process"  # "process" (step labels) or "outcome" (final-answer label)
    _: KW_ONLY
    weight_decay: float = 1e-2
    warmup_steps: int = 20
    schedule: str = "constant"
    max_length: int = 256  # tokens per example; longer ones keep their end

    def __post_init__(self):
        super().__post_init__()
        if self.supervision not in SUPERVISION:
            raise ValueError(f"supervision must be one of {SUPERVISION}, got {self.supervision!r}")
        if self.max_length <= 0:
            raise ValueError(f"max_length must be > 0, got {self.max_length}")


PRMHistory = History  # the name older code uses


def train_prm(
    model: NeuralPRM, tokenizer, examples: Sequence[StepLabels], config: PRMTrainingConfig | None = None
) -> History:
    """Train ``model`` with BCE at step separators through :func:`~course_lib.training.loop.fit`."""
    config = config or PRMTrainingConfig()
    if not examples:
        raise ValueError("examples is empty")
    rows = [encode_step_example(tokenizer, ex, config.supervision, config.max_length) for ex in examples]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def loss_fn(model: NeuralPRM, indices: list[int]) -> torch.Tensor:
        batch = collate_step_examples([rows[i] for i in indices], pad_id)
        logits = model(batch["input_ids"], batch["attention_mask"])  # [B, T]
        return prm_loss(logits, batch["labels"])

    batches = shuffled_batches(len(rows), config.batch_size, config.seed)
    return fit(model, loss_fn, batches, config, desc=f"{config.supervision} RM")


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
    encoded = [encode_step_example(tokenizer, ex) for ex in examples]
    out: list[list[float]] = [[] for _ in examples]
    for index in length_batches([len(ids) for ids, _ in encoded], batch_size):
        batch = collate_step_examples([encoded[i] for i in index], pad_id)
        probs = torch.sigmoid(model(batch["input_ids"], batch["attention_mask"]))  # [B, T]
        at_step_end = batch["labels"] != IGNORE_INDEX  # [B, T]
        for b, i in enumerate(index):
            out[i] = probs[b][at_step_end[b]].tolist()
    return out
