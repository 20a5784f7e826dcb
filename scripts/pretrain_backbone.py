"""Pretrain the course's tiny language model and write the ``course-tiny`` checkpoint with its model card.

    .venv/bin/python scripts/pretrain_backbone.py                # the shipped checkpoint (seeded)
    .venv/bin/python scripts/pretrain_backbone.py --max-steps 50 --out /tmp/course-tiny   # a quick try

Writes ``model.safetensors``, ``config.json``, the tokenizer files, ``history.json``,
``learning_curve.png`` and ``README.md`` (the model card) into ``--out``
(default ``course_lib/models/course-tiny``), where ``load_backbone("course-tiny")`` finds them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.models.backbone import COURSE_TINY_DIR  # noqa: E402
from course_lib.training.pretrain import PretrainConfig, pretrain  # noqa: E402


def main(argv=None) -> int:
    defaults = PretrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=COURSE_TINY_DIR)
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps)
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = dataclasses.replace(defaults, max_steps=args.max_steps, eval_every=args.eval_every)
    start = time.perf_counter()
    model, tokenizer, history = pretrain(config)
    minutes = (time.perf_counter() - start) / 60
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    record = {
        "config": dataclasses.asdict(config),
        "parameters": sum(p.numel() for p in model.parameters()),
        "minutes": minutes,
        "threads": args.threads,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "torch": torch.__version__,
        "step": history.step,
        "loss": history.loss,
        "eval_step": history.eval_step,
        "eval": history.eval_metrics,
    }
    (args.out / "history.json").write_text(json.dumps(record, indent=1))
    write_learning_curve(record, args.out / "learning_curve.png")
    (args.out / "README.md").write_text(model_card(record))
    print(
        f"wrote {args.out} in {minutes:.1f} min; held-out digit accuracy {history.eval_metrics['digit_accuracy'][-1]:.3f}"
    )
    return 0


def write_learning_curve(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(record["step"], record["loss"], lw=0.6)
    left.set(xlabel="step", ylabel="training loss (nats per token)", title="causal LM loss")
    for name, values in record["eval"].items():
        right.plot(record["eval_step"], values, marker="o", label=name.replace("_", " "))
    right.axhline(0.9, color="grey", ls="--", lw=0.8)
    right.set(xlabel="step", ylabel="held-out accuracy", ylim=(0, 1), title="arithmetic on held-out solutions")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def model_card(record: dict) -> str:
    c = record["config"]
    rows = "\n".join(
        f"| {s} | {d:.3f} | {a:.3f} |"
        for s, d, a in zip(record["eval_step"], record["eval"]["digit_accuracy"], record["eval"]["claim_accuracy"])
    )
    return f"""# course-tiny

A GPT-2-style causal language model of {record["parameters"]:,} parameters, pretrained from scratch on
the course's own generated text. The course's reward models are fine-tuned from it (book chapter 4),
as InstructGPT initialises its reward model from a pretrained model. Load it with
`course_lib.models.backbone.load_backbone("course-tiny")` (`from_pretrained(..., local_files_only=True)`).

## Model
{c["n_layer"]} layers, {c["n_head"]} heads, width {c["n_embd"]}, {c["n_positions"]} positions. The tokenizer is
the course's byte-level BPE (`train_tokenizer()`): every digit is its own token, so numbers are spelled.

## Data
An endless seeded stream (`course_lib.data.corpus.pretraining_documents`, seed {c["seed"]}) from the
course's arithmetic generator with its default number ranges:
- {c["drill_fraction"]:.0%} drills: eight bare claims per document (`71 - 28 = 43`), taken from correct solutions,
  each line's operation drawn uniformly from + - * /;
- {1 - c["drill_fraction"]:.0%} worked problems: a question and its correct step-by-step solution.

Why: a drill line teaches one fact in about 12 tokens, where a worked problem spends about 150 tokens
on 3 to 5 facts, so drills let a small model learn the arithmetic on a CPU budget; the worked
problems teach it the course's language. Division is the rarest claim in solutions (about 1 in 13)
and the hardest, so drills give it as many lines as addition. Rows are {c["seq_len"]} tokens, {c["batch_size"]} per step; each
row starts at a random position offset so all position embeddings are trained.

## Training
AdamW, peak learning rate {c["learning_rate"]}, weight decay {c["weight_decay"]}, {c["warmup_steps"]} warm-up steps and
cosine decay over {c["max_steps"]} steps, gradient norm clipped at {c["max_grad_norm"]}. Dropout is
{c["dropout"]} (every row is fresh text, so there is nothing to regularise, and on a CPU dropout cost 40%
of a step) and the activation is the exact GELU (one fused kernel, where GPT-2's tanh form is many). It took
{record["minutes"]:.1f} minutes on {record["threads"]} CPU threads ({record["machine"]}, torch {record["torch"]}).
Final training loss {record["loss"][-1]:.3f} nats per token.

## Evaluation
Next-token accuracy on the digits of `c` in every claim `a op b = c` of {c["eval_solutions"]} held-out
correct solutions (generator seed 10000, never used for training); a claim counts when all its
digits are right.

| step | digit accuracy | claim accuracy |
|---:|---:|---:|
{rows}

![learning curve](learning_curve.png)

## Reproduce
`python scripts/pretrain_backbone.py` (seeded; `--threads 2`). The result is the same up to
floating-point differences between machines.
"""


if __name__ == "__main__":
    raise SystemExit(main())
