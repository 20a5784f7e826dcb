"""Transformer backbones without a model hub (book chapters 4 and 10).

The course never downloads weights. :func:`build_tiny_backbone` builds a GPT-2-style model with a
byte-level BPE tokenizer trained, in a few milliseconds, on text from our own arithmetic generator.
:func:`load_backbone` loads a real checkpoint such as ``distilgpt2`` from the local Hugging Face
cache or a folder (``local_files_only=True``) and says how to get it when it is missing. Both return
``(base_model, tokenizer)``; the base model maps ``input_ids`` to ``.last_hidden_state`` ``[B, T, H]``,
so the reward-model and PRM code is the same for both.

Example:
    >>> model, tokenizer = build_tiny_backbone()
    >>> model.config.n_layer, tokenizer.pad_token, tokenizer.eos_token
    (2, '<pad>', '<|endoftext|>')
    >>> tokenizer.tokenize("So 45 - 18")
    ['S', 'o', 'Ġ', '4', '5', 'Ġ-', 'Ġ', '1', '8']
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from course_lib.data.arithmetic import ProblemGenerator

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<pad>"
TINY = "tiny"  # built here, randomly initialised: the from-scratch baseline
COURSE_TINY = "course-tiny"  # pretrained on the course's text (scripts/pretrain_backbone.py), shipped
COURSE_TINY_DIR = Path(__file__).resolve().parent / "course-tiny"


@dataclass(frozen=True)
class TinyBackboneConfig:
    """A GPT-2 small enough to train on a laptop CPU in seconds (about 0.1M parameters)."""

    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    n_positions: int = 256
    vocab_size: int = 512  # upper bound; the BPE stops earlier on a repetitive corpus
    corpus_size: int = 1500  # problems used to train the tokenizer
    dropout: float = 0.0  # GPT-2 used 0.1; our runs see a pair about once, and attention dropout doubled a step
    activation: str = "gelu_new"  # GPT-2's tanh GELU; "gelu" (exact) is one fused kernel on CPU
    seed: int = 0

    def __post_init__(self):
        for name in ("n_layer", "n_head", "n_embd", "n_positions", "corpus_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in ("gelu_new", "gelu"):
            raise ValueError(f"activation must be 'gelu_new' or 'gelu', got {self.activation!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd must be a multiple of n_head, got {self.n_embd} and {self.n_head}")


def course_corpus(n_problems: int = 1500, seed: int = 0) -> list[str]:
    """Questions, correct and wrong solutions from the arithmetic generator: the tokenizer's corpus."""
    gen = ProblemGenerator(seed=seed)
    texts = []
    for _ in range(n_problems):
        problem = gen.problem()
        texts += [problem.question, gen.correct_solution(problem).text, gen.wrong_solution(problem).text]
    return texts


@lru_cache(maxsize=4)
def train_tokenizer(vocab_size: int = 512, n_problems: int = 1500, seed: int = 0):
    """Train a byte-level BPE on :func:`course_corpus`; digits stay single tokens so numbers are spelled.

    ``<|endoftext|>`` is BOS and EOS; ``<pad>`` is a separate padding token, so padding never hides EOS.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 300:
        raise ValueError(f"vocab_size must be >= 300 (256 bytes + merges), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(course_corpus(n_problems, seed), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOS_TOKEN, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN)


def gpt2_config(config: TinyBackboneConfig, tokenizer):
    """The ``transformers.GPT2Config`` of ``config``, with the tokenizer's ``bos/eos/pad`` ids."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        activation_function=config.activation,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_backbone(config: TinyBackboneConfig | None = None, language_model_head: bool = False):
    """Build ``(GPT2Model, tokenizer)`` locally, seeded, with ``bos/eos/pad`` ids set in the config.

    With ``language_model_head`` the model is a ``GPT2LMHeadModel`` (next-token logits), the form
    that pretraining (:mod:`course_lib.training.pretrain`) trains and saves.
    """
    from transformers import GPT2LMHeadModel, GPT2Model

    config = config or TinyBackboneConfig()
    tokenizer = train_tokenizer(config.vocab_size, config.corpus_size, config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = (GPT2LMHeadModel if language_model_head else GPT2Model)(gpt2_config(config, tokenizer))
    return model, tokenizer


def load_backbone(
    name_or_path: str = COURSE_TINY, local_files_only: bool = True, from_scratch: bool = False, seed: int = 0
):
    """Return ``(base_model, tokenizer)`` for ``"course-tiny"`` (the default), ``"tiny"``, a local folder, or a cached hub name.

    ``"course-tiny"`` is the course-pretrained checkpoint shipped in ``course_lib/models/course-tiny``:
    reward models start from a pretrained LM, as InstructGPT's start from its SFT model (chapter 4).
    It loads through the same ``from_pretrained(..., local_files_only=True)`` path as ``distilgpt2``.

    Nothing is downloaded unless ``local_files_only=False``. GPT-2 tokenizers have no pad token; we
    reuse EOS for padding (the reward model pools with the attention mask, so EOS is never mistaken
    for padding) and record it in ``model.config.pad_token_id``.

    ``from_scratch=True`` keeps the checkpoint's architecture and tokenizer but draws fresh weights
    (seeded): the baseline that shows what pretraining brings (chapter 4).
    """
    if name_or_path == TINY:
        return build_tiny_backbone()
    if name_or_path == COURSE_TINY:
        if not (COURSE_TINY_DIR / "model.safetensors").is_file():
            raise OSError(
                f"the course-pretrained checkpoint is missing from {COURSE_TINY_DIR}; rebuild it with "
                "`python scripts/pretrain_backbone.py` (about an hour on 2 CPU cores)"
            )
        name_or_path = str(COURSE_TINY_DIR)
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=local_files_only)
        if from_scratch:
            config = AutoConfig.from_pretrained(name_or_path, local_files_only=local_files_only)
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                model = AutoModel.from_config(config)
        else:
            model = AutoModel.from_pretrained(name_or_path, local_files_only=local_files_only)
    except OSError as err:
        cache = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
        raise OSError(
            f"backbone {name_or_path!r} is not available offline (looked in the folder and in the "
            f"Hugging Face cache under {cache}). On a machine with network access run\n"
            f'    python -c "from transformers import AutoModel, AutoTokenizer; '
            f"AutoModel.from_pretrained('{name_or_path}'); AutoTokenizer.from_pretrained('{name_or_path}')\"\n"
            f"then copy that cache here (or set HF_HOME to it), or pass a folder written by "
            f"save_pretrained(). Use load_backbone('tiny') to work without it."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
