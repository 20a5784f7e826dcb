"""Pretraining the course's tiny causal language model on its own text (book chapter 4).

The model reads :func:`course_lib.data.corpus.pretraining_documents` (drills and worked problems)
packed into rows of ``seq_len`` tokens, and learns to predict each next token with the causal LM
loss ``-log p(x_t | x_<t)``, through the course's one training loop (:func:`~course_lib.training.loop.fit`).
Rows are short to keep a step cheap; each row's position ids start at a random offset, so every
one of the ``n_positions`` position embeddings is trained, as the reward models read longer texts.

What it should learn is measured by :func:`digit_accuracy`: on held-out solutions, how often the
next-token prediction is right on the digits of ``c`` in each claim ``a op b = c``.

Example (two steps of a model far too small to learn anything):
    >>> config = PretrainConfig(n_layer=1, n_embd=32, n_head=2, seq_len=32, batch_size=4, max_steps=2,
    ...                         eval_every=2, eval_solutions=2, progress=False)
    >>> model, tokenizer, history = pretrain(config)
    >>> len(history.loss), 0.0 <= history.eval_metrics["digit_accuracy"][-1] <= 1.0
    (2, True)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from course_lib.data.corpus import held_out_solutions, pretraining_documents
from course_lib.data.step_text import CLAIM
from course_lib.models.backbone import TinyBackboneConfig, build_tiny_backbone
from course_lib.training.loop import History, TrainConfig, fit


@dataclass(kw_only=True)
class PretrainConfig(TrainConfig):
    """Model size, data mix and schedule of :func:`pretrain` (defaults: the shipped ``course-tiny``)."""

    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 256
    seq_len: int = 128  # tokens per row
    batch_size: int = 64  # rows per step
    drill_fraction: float = 0.8  # share of documents that are drills (the rest: worked problems)
    learning_rate: float = 2e-3
    weight_decay: float = 0.1
    dropout: float = 0.0  # every row is fresh text, so nothing to regularise; dropout cost 40% of a step
    activation: str = "gelu"  # exact GELU: one fused kernel on CPU, where GPT-2's tanh form is many
    warmup_steps: int = 200
    max_steps: int = 3000
    eval_every: int = 250
    eval_solutions: int = 200  # held-out worked problems for digit_accuracy

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.seq_len <= self.n_positions:
            raise ValueError(f"seq_len must be in [1, n_positions={self.n_positions}], got {self.seq_len}")
        if self.eval_solutions < 1:
            raise ValueError(f"eval_solutions must be >= 1, got {self.eval_solutions}")

    def backbone_config(self) -> TinyBackboneConfig:
        return TinyBackboneConfig(
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            n_positions=self.n_positions,
            dropout=self.dropout,
            activation=self.activation,
            seed=self.seed,
        )


def packed_rows(tokenizer, documents: Iterator[str], batch_size: int, seq_len: int) -> Iterator[torch.Tensor]:
    """Endless ``[batch_size, seq_len]`` batches of token ids: documents joined by EOS and cut into rows."""
    buffer: list[int] = []
    while True:
        rows = []
        for _ in range(batch_size):
            while len(buffer) < seq_len:
                buffer += tokenizer(next(documents) + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
            rows.append(buffer[:seq_len])
            buffer = buffer[seq_len:]
        yield torch.tensor(rows)  # [B, T]


def lm_loss(model, input_ids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Causal LM loss of ``input_ids`` ``[B, T]``, each row placed at a random offset among the positions."""
    B, T = input_ids.shape
    n_positions = model.config.n_positions
    offset = torch.randint(0, n_positions - T + 1, (B, 1), generator=generator)  # [B, 1]
    position_ids = offset + torch.arange(T)  # [B, T]
    return model(input_ids=input_ids, position_ids=position_ids, labels=input_ids).loss


@torch.no_grad()
def digit_accuracy(model, tokenizer, solutions: Sequence[str]) -> dict[str, float]:
    """Next-token accuracy on the digits of ``c`` in every claim ``a op b = c`` of ``solutions``.

    Returns ``{"digit_accuracy": ..., "claim_accuracy": ...}``; a claim counts when all its digits are right.
    """
    was_training = model.training
    model.eval()
    hits = total = claims_right = claims = 0
    for text in solutions:
        enc = tokenizer(tokenizer.eos_token + text, add_special_tokens=False, return_offsets_mapping=True)
        ids = torch.tensor([enc["input_ids"]])  # [1, T]
        predicted = model(input_ids=ids).logits[0].argmax(-1)  # [T]: prediction for the next token
        shift = len(tokenizer.eos_token)
        for match in CLAIM.finditer(text):
            start, end = (i + shift for i in match.span("rhs"))
            digits = [
                j
                for j, (a, b) in enumerate(enc["offset_mapping"])
                if start <= a < b <= end and text[a - shift].isdigit()
            ]
            right = [bool(predicted[j - 1] == ids[0, j]) for j in digits]
            hits, total = hits + sum(right), total + len(right)
            claims_right, claims = claims_right + all(right), claims + 1
    model.train(was_training)
    if not claims:
        raise ValueError("no claims 'a op b = c' in solutions; pass worked problems with correct solutions")
    return {"digit_accuracy": hits / total, "claim_accuracy": claims_right / claims}


def pretrain(config: PretrainConfig | None = None) -> tuple[torch.nn.Module, object, History]:
    """Build a tiny GPT-2 with an LM head and pretrain it on the course's text; returns ``(model, tokenizer, history)``."""
    config = config or PretrainConfig()
    model, tokenizer = build_tiny_backbone(config.backbone_config(), language_model_head=True)
    rows = packed_rows(
        tokenizer, pretraining_documents(config.seed, config.drill_fraction), config.batch_size, config.seq_len
    )
    solutions = held_out_solutions(config.eval_solutions)
    offsets = torch.Generator().manual_seed(config.seed)
    history = fit(
        model,
        lambda m, batch: lm_loss(m, batch, offsets),
        rows,
        config,
        evaluate=lambda m: digit_accuracy(m, tokenizer, solutions),
        desc="pretraining",
    )
    return model, tokenizer, history
