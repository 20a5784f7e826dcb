"""Training a generative verifier (GenRM) with next-token cross-entropy (book chapter 15).

Each labelled solution becomes one row, ``problem \\n solution \\n Is the answer correct? Yes`` (or
``No``), and the LM learns to write the verdict (Zhang et al., 2024). Their GenRM also keeps the
ordinary LM loss on correct solutions, weighted by ``lambda``, so that verifying and solving share one
model:

    L_GenRM = L_SFT(verdict tokens) + lambda * L_SFT(tokens of correct solutions)

:func:`genrm_loss` reads like that line: each term is the mean next-token cross-entropy over the
tokens its mask marks. :func:`train_generative_verifier` runs the course's one training loop,
:func:`~course_lib.training.loop.fit`; :func:`generative_verifier_scores` reads the reward
``p("Yes")`` (:func:`~course_lib.models.generative_verifier.yes_probability`) for held-out solutions.

Example:
    >>> import torch
    >>> token_logp = torch.log(torch.tensor([[0.5, 0.5, 0.25, 0.5]]))  # log p(x_t | x_<t), [B, T]
    >>> verdict = torch.tensor([[0, 0, 0, 1]]); solution = torch.tensor([[0, 1, 1, 0]])
    >>> round(genrm_loss(token_logp, verdict, solution, solution_weight=0.0).item(), 4)  # -log 0.5
    0.6931
    >>> round(genrm_loss(token_logp, verdict, solution, solution_weight=1.0).item(), 4)  # + mean(-log .5, -log .25)
    1.7329
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models.generative_verifier import (
    VerificationFormat,
    encode_verification,
    verdict_token_ids,
    yes_probability,
)
from course_lib.models.likelihood import mean_log_likelihood, token_log_likelihoods
from course_lib.models.reward_model import backbone_hidden_states
from course_lib.training.collate import length_batches, pad_right, pad_rows
from course_lib.training.loop import History, TrainConfig, fit, shuffled_batches


@dataclass(frozen=True)
class VerificationExample:
    """A solution to judge: the problem (``prompt``), the solution's text, and whether its final answer is right."""

    prompt: str
    solution: str
    is_correct: bool


def genrm_loss(
    token_logp: torch.Tensor, verdict_mask: torch.Tensor, solution_mask: torch.Tensor, solution_weight: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy of the verdict tokens, plus ``solution_weight`` times that of the solution tokens.

    ``token_logp`` is ``log p(x_t | x_<t)``, ``[B, T]``; the masks are ``[B, T]`` with 1 on the tokens
    each term trains (``solution_mask`` marks correct solutions only). A batch with no correct
    solution adds nothing for the second term.
    """
    if solution_weight < 0:
        raise ValueError(f"solution_weight must be >= 0, got {solution_weight}")
    if not token_logp.shape == verdict_mask.shape == solution_mask.shape:
        raise ValueError(
            f"token_logp, verdict_mask and solution_mask must have one shape, got {tuple(token_logp.shape)}, "
            f"{tuple(verdict_mask.shape)} and {tuple(solution_mask.shape)}"
        )
    verdict, solution = verdict_mask.to(token_logp.dtype), solution_mask.to(token_logp.dtype)
    if verdict.sum() == 0:
        raise ValueError("verdict_mask marks no token; every row needs its verdict")
    verify = -(token_logp * verdict).sum() / verdict.sum()  # L_SFT(D_verify)
    correct = -(token_logp * solution).sum() / solution.sum().clamp(min=1)  # L_SFT(D_correct)
    return verify + solution_weight * correct


class EncodedVerifications:
    """Examples tokenized once; :meth:`batch` pads rows with their verdict and the masks :func:`genrm_loss` needs.

    Rows longer than ``max_length`` lose tokens on the left (the problem's start), so the solution's
    end, the question and the verdict always stay.
    """

    def __init__(
        self,
        tokenizer,
        examples: Sequence[VerificationExample],
        fmt: VerificationFormat | None = None,
        max_length: int = 256,
    ):
        if not examples:
            raise ValueError("examples is empty; pass at least one VerificationExample")
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        fmt = fmt or VerificationFormat()
        verdicts = {
            True: tokenizer(fmt.yes, add_special_tokens=False)["input_ids"],
            False: tokenizer(fmt.no, add_special_tokens=False)["input_ids"],
        }
        longest = max(len(v) for v in verdicts.values())
        if max_length <= longest:
            raise ValueError(f"max_length must exceed the verdict's {longest} tokens, got {max_length}")
        self.yes_token_id = verdict_token_ids(tokenizer, fmt)[0]
        self.rows, self.verdict_masks, self.solution_masks, self.prompt_lengths = [], [], [], []
        self.solution_spans: list[tuple[int, int]] = []  # [start, end) of each row's solution tokens
        for ex in examples:
            enc = encode_verification(tokenizer, ex.prompt, ex.solution, fmt)
            verdict = verdicts[bool(ex.is_correct)]
            keep_solution = 1 if ex.is_correct else 0
            mask_parts = [[0] * len(enc.problem), [keep_solution] * len(enc.solution), [0] * len(enc.question)]
            row = (enc.input_ids + verdict)[-max_length:]
            self.rows.append(row)
            self.verdict_masks.append(([0] * len(enc.input_ids) + [1] * len(verdict))[-max_length:])
            self.solution_masks.append((sum(mask_parts, []) + [0] * len(verdict))[-max_length:])
            self.prompt_lengths.append(len(row) - len(verdict))
            cut = len(enc.input_ids) + len(verdict) - len(row)  # tokens lost on the left
            start = max(len(enc.problem) - cut, 0)
            self.solution_spans.append((start, max(len(enc.problem) + len(enc.solution) - cut, start)))
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask``, ``verdict_mask``, ``solution_mask``: each ``[B, T]``, with the verdict."""
        batch = pad_rows([self.rows[i] for i in indices], self.pad_id)
        batch["verdict_mask"] = pad_right([self.verdict_masks[i] for i in indices], 0)
        batch["solution_mask"] = pad_right([self.solution_masks[i] for i in indices], 0)
        return batch

    def questions(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """The same rows up to the question (no verdict), padded, and ``solution_mask`` ``[B, T]`` marking
        every row's solution tokens (whatever its label): what the verifier reads to score."""
        rows = [self.rows[i][: self.prompt_lengths[i]] for i in indices]
        batch = pad_rows(rows, self.pad_id)
        spans = [self.solution_spans[i] for i in indices]
        batch["solution_mask"] = pad_right([[0] * a + [1] * (b - a) for a, b in spans], 0)
        T = batch["input_ids"].shape[1]
        batch["solution_mask"] = F.pad(batch["solution_mask"], (0, T - batch["solution_mask"].shape[1]))
        return batch


@dataclass(kw_only=True)
class GenRMConfig(TrainConfig):
    """Hyper-parameters of :func:`train_generative_verifier`: its own three, then :class:`TrainConfig`'s."""

    solution_weight: float = 0.0  # lambda: the LM loss on correct solutions (the paper's unified training)
    max_length: int = 256  # tokens per row, verdict included; longer rows keep their end
    fmt: VerificationFormat = VerificationFormat()

    def __post_init__(self):
        super().__post_init__()
        if self.solution_weight < 0:
            raise ValueError(f"solution_weight must be >= 0, got {self.solution_weight}")
        if self.max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {self.max_length}")


def train_generative_verifier(
    model: nn.Module, tokenizer, examples: Sequence[VerificationExample], config: GenRMConfig | None = None
) -> History:
    """Fine-tune the causal LM ``model`` (a GPT-2 base model with tied embeddings) with :func:`genrm_loss`."""
    config = config or GenRMConfig()
    data = EncodedVerifications(tokenizer, examples, config.fmt, config.max_length)

    def loss_fn(model: nn.Module, indices: list[int]):
        batch = data.batch(indices)
        token_logp = token_log_likelihoods(model, batch["input_ids"], batch["attention_mask"])  # [B, T]
        return genrm_loss(token_logp, batch["verdict_mask"], batch["solution_mask"], config.solution_weight)

    batches = shuffled_batches(len(data), config.batch_size, config.seed)
    return fit(model, loss_fn, batches, config, desc="GenRM")


@dataclass
class VerifierReadout:
    """Two judgements read off one forward pass of the verification rows, ``[N]`` each.

    ``yes`` is the GenRM reward ``p("Yes")``; ``mean_log_likelihood`` is how likely the LM finds the
    solution itself, ``mean_t log p(x_t | x_<t)`` over its tokens (chapter 4's likelihood, used as a judge).
    """

    yes: torch.Tensor
    mean_log_likelihood: torch.Tensor


@torch.no_grad()
def generative_verifier_scores(
    model: nn.Module,
    tokenizer,
    examples: Sequence[VerificationExample],
    fmt: VerificationFormat | None = None,
    max_length: int = 256,
    batch_size: int = 64,
) -> VerifierReadout:
    """``p("Yes")`` and the solution's mean log-likelihood for every example (their ``is_correct`` is not read)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    data = EncodedVerifications(tokenizer, examples, fmt, max_length)
    model.eval()
    yes, likelihood = torch.zeros(len(data)), torch.zeros(len(data))
    for rows in length_batches(data.prompt_lengths, batch_size):  # by length: little padding
        batch = data.questions(rows)
        ids, mask = batch["input_ids"], batch["attention_mask"]  # [B, T]
        hidden = backbone_hidden_states(model, ids, mask)  # [B, T, H], one forward for both readouts
        yes[rows] = yes_probability(model, ids, mask, data.yes_token_id, hidden)
        token_logp = token_log_likelihoods(model, ids, mask, hidden)  # [B, T]
        likelihood[rows] = mean_log_likelihood(token_logp, batch["solution_mask"])
    return VerifierReadout(yes, likelihood)
