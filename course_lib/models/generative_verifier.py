"""A generative verifier: the reward is the LM's probability of "Yes" after a verification question (book chapter 15).

A scalar reward model puts a new head on the backbone (chapter 4). Zhang et al. (2024, "Generative
Verifiers: Reward Modeling as Next-Token Prediction") keep the language model as it is and ask it::

    <problem>
    <solution>
    Is the answer correct? Yes

The verifier (GenRM) is the LM fine-tuned to write "Yes" or "No" there; its reward is the probability
of the "Yes" token, read off the next-token distribution after the question:

    r(x, y) = p_theta("Yes" | x, y, "Is the answer correct? ")

Nothing is added to the model: GPT-2's tied input embeddings give the next-token logits
(:mod:`course_lib.models.likelihood`). :class:`VerificationFormat` holds the question and the two
verdicts; :func:`encode_verification` tokenizes the parts apart (as TRL does with prompt and response),
so training and scoring see the same tokens; :func:`yes_probability` reads the reward.

Example:
    >>> from course_lib.models.backbone import build_tiny_backbone
    >>> model, tokenizer = build_tiny_backbone()
    >>> fmt = VerificationFormat()
    >>> verification_text("Add 2 and 3.", "2 + 3 = 5\\nThe answer is: 5", fmt)
    'Add 2 and 3.\\n2 + 3 = 5\\nThe answer is: 5\\nIs the answer correct? '
    >>> row = encode_verification(tokenizer, "Add 2 and 3.", "2 + 3 = 5\\nThe answer is: 5", fmt)
    >>> tokenizer.decode(row.input_ids[-len(row.question):])
    'Is the answer correct? '
    >>> yes = verdict_token_ids(tokenizer, fmt)[0]
    >>> p = yes_probability(model, torch.tensor([row.input_ids]), torch.ones(1, len(row.input_ids)), yes)
    >>> p.shape, bool(0 < p.item() < 1)
    (torch.Size([1]), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.models.likelihood import next_token_logits
from course_lib.models.pooling import gather_last
from course_lib.models.reward_model import backbone_hidden_states


@dataclass(frozen=True)
class VerificationFormat:
    """The question that follows a solution, and the two verdicts the verifier may write after it.

    The question ends with the space before the verdict, so "Yes" and "No" start with different
    tokens (``'Y'`` and ``'N'`` in the course's BPE): the reward is one token's probability, as in the paper.
    """

    question: str = "Is the answer correct? "
    yes: str = "Yes"
    no: str = "No"

    def __post_init__(self):
        for name in ("question", "yes", "no"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.yes == self.no:
            raise ValueError(f"yes and no must differ, got {self.yes!r} twice")


def verification_text(prompt: str, solution: str, fmt: VerificationFormat | None = None) -> str:
    """``prompt``, the ``solution`` and the question, one per line: the text the verifier continues."""
    fmt = fmt or VerificationFormat()
    head = f"{prompt}\n" if prompt else ""
    return f"{head}{solution}\n{fmt.question}"


def verdict_token_ids(tokenizer, fmt: VerificationFormat | None = None) -> tuple[int, int]:
    """The first token ids of "Yes" and "No"; an error when they coincide (the reward could not tell them apart)."""
    fmt = fmt or VerificationFormat()
    yes, no = (tokenizer(word, add_special_tokens=False)["input_ids"] for word in (fmt.yes, fmt.no))
    if not yes or not no or yes[0] == no[0]:
        raise ValueError(
            f"the verdicts {fmt.yes!r} and {fmt.no!r} must start with different tokens, got {yes} and {no}; "
            "move what they share (a leading space) to the end of the question"
        )
    return yes[0], no[0]


@dataclass(frozen=True)
class EncodedVerification:
    """One solution's verification row, as token-id parts: ``problem + solution + question`` (+ a verdict)."""

    problem: tuple[int, ...]
    solution: tuple[int, ...]
    question: tuple[int, ...]

    @property
    def input_ids(self) -> list[int]:
        """The row the verifier reads (no verdict): its next token is the verdict."""
        return [*self.problem, *self.solution, *self.question]


def encode_verification(
    tokenizer, prompt: str, solution: str, fmt: VerificationFormat | None = None
) -> EncodedVerification:
    """Tokenize ``prompt + "\\n"``, ``solution + "\\n"`` and the question apart (see :func:`verification_text`)."""
    if not solution.strip():
        raise ValueError(f"solution is empty ({solution!r}); a verifier needs a solution to judge")
    fmt = fmt or VerificationFormat()
    texts = [f"{prompt}\n" if prompt else "", f"{solution}\n", fmt.question]
    problem, sol, question = (tuple(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return EncodedVerification(problem, sol, question)


def next_token_distribution(
    model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, hidden: torch.Tensor | None = None
) -> torch.Tensor:
    """``p(. | row)`` after each row's last real token: ``[B, V]`` (left or right padding).

    Pass ``hidden`` (``[B, T, H]``, from the same model and batch) to reuse a forward pass.
    """
    if hidden is None:
        hidden = backbone_hidden_states(model, input_ids, attention_mask)  # [B, T, H]
    last = gather_last(hidden, attention_mask)  # [B, H]
    return torch.softmax(next_token_logits(model, last).float(), dim=-1)  # [B, V]


def yes_probability(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    yes_token_id: int,
    hidden: torch.Tensor | None = None,
) -> torch.Tensor:
    """The GenRM reward ``p("Yes" | row)``, ``[B]``: rows end with the verification question.

    Pass ``hidden`` (``[B, T, H]``, from the same model and batch) to reuse a forward pass.
    """
    if input_ids.shape != attention_mask.shape:
        raise ValueError(
            f"input_ids and attention_mask must have the same shape, got {tuple(input_ids.shape)} and "
            f"{tuple(attention_mask.shape)}"
        )
    probs = next_token_distribution(model, input_ids, attention_mask, hidden)  # [B, V]
    if not 0 <= yes_token_id < probs.shape[-1]:
        raise ValueError(f"yes_token_id must be in [0, {probs.shape[-1]}), got {yes_token_id}")
    return probs[:, yes_token_id]
