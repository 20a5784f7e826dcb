"""course_lib.data.corpus and course_lib.training.pretrain: the course-pretrained tiny LM (book chapter 4)."""

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib.data.arithmetic import ProblemGenerator
from course_lib.data.corpus import DRILL_OPS, claims_in, drill, held_out_solutions, operation_of, pretraining_documents
from course_lib.models import backbone
from course_lib.training.pretrain import PretrainConfig, digit_accuracy, lm_loss, packed_rows, pretrain

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(n_layer=1, n_embd=32, n_head=2, seq_len=32, batch_size=8, eval_solutions=5, progress=False)


def test_documents_are_seeded_drills_and_worked_problems():
    first = list(itertools.islice(pretraining_documents(seed=3), 20))
    assert first == list(itertools.islice(pretraining_documents(seed=3), 20))
    drills = [d for d in first if not d.startswith(("A ", "Maya"))]
    assert 10 <= len(drills) < 20  # about 80% drills
    for line in drills[0].splitlines():
        a, op, b, eq, c = line.split()
        assert eq == "=" and op in "+-*x/"
    assert all(d.startswith(("A ", "Maya")) for d in itertools.islice(pretraining_documents(drill_fraction=0.0), 5))


def test_drill_claims_are_correct_arithmetic():
    import random

    text = drill(ProblemGenerator(seed=1), random.Random(1), lines=30)
    for a, op, b, _, c in (line.split() for line in text.splitlines()):
        a, b, c = float(a), float(b), float(c)
        exact = {"+": a + b, "-": a - b, "*": a * b, "x": a * b, "/": a / b}[op]
        assert abs(exact - c) < 0.01


def test_drills_give_every_operation_about_the_same_share():
    import random
    from collections import Counter

    gen, rng = ProblemGenerator(seed=2), random.Random(2)
    counts = Counter(operation_of(line.split(" = ")[0]) for _ in range(100) for line in drill(gen, rng).splitlines())
    assert set(counts) == set(DRILL_OPS) and min(counts.values()) > 0.2 * 800  # uniform: 200 each of 800 lines


def test_operation_of_reads_the_canonical_operator():
    assert [operation_of(lhs) for lhs in ("12 x 4", "12 * 4", "45 - 18", "1,200 / 3", "2 + 2")] == [
        "*",
        "*",
        "-",
        "/",
        "+",
    ]


@pytest.mark.parametrize("bad", ["12", "12x4", ""])
def test_operation_of_bad_input(bad):
    with pytest.raises(ValueError, match=f"no operator between spaces in {bad!r}; pass a claim's left side"):
        operation_of(bad)


def test_drill_bad_input():
    import random

    with pytest.raises(ValueError, match="lines must be >= 1, got 0"):
        drill(ProblemGenerator(seed=1), random.Random(1), lines=0)


def test_claims_in_reads_every_step_claim():
    solution = held_out_solutions(1)[0]
    assert len(claims_in(solution)) == solution.count(" = ")
    assert claims_in("So 1,200 x 2 = 2,400.") == [("1,200 x 2", "2,400")]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: next(pretraining_documents(drill_fraction=1.5)), "drill_fraction must be in \\[0, 1\\], got 1.5"),
        (lambda: held_out_solutions(0), "n must be >= 1, got 0"),
        (lambda: PretrainConfig(seq_len=300), "seq_len must be in \\[1, n_positions=256\\], got 300"),
        (lambda: PretrainConfig(eval_solutions=0), "eval_solutions must be >= 1, got 0"),
        (lambda: PretrainConfig(learning_rate=0), "learning_rate must be > 0, got 0"),
    ],
)
def test_bad_input_names_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_packed_rows_cut_documents_joined_by_eos():
    _, tokenizer = backbone.build_tiny_backbone()
    rows = packed_rows(tokenizer, iter(["1 + 2 = 3"] * 100), batch_size=4, seq_len=10)
    batch = next(rows)
    assert batch.shape == (4, 10)
    flat = batch.flatten().tolist()
    assert tokenizer.decode(flat).startswith("1 + 2 = 3<|endoftext|>1 + 2 = 3")


def test_lm_loss_places_rows_at_seeded_random_offsets():
    model, tokenizer = backbone.build_tiny_backbone(
        backbone.TinyBackboneConfig(n_layer=1, n_embd=32, n_head=2, n_positions=64), language_model_head=True
    )
    model.eval()  # no dropout: the offsets are the only randomness
    ids = torch.randint(0, len(tokenizer), (3, 16))
    seen = []
    model.transformer.wpe.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    a = lm_loss(model, ids, torch.Generator().manual_seed(0))
    b = lm_loss(model, ids, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.item() > 0
    assert torch.equal(seen[0], seen[1]) and seen[0].shape == (3, 16)
    assert (seen[0][:, 1:] - seen[0][:, :-1] == 1).all() and seen[0].min() >= 0 and seen[0].max() < 64
    lm_loss(model, ids, torch.Generator().manual_seed(1))
    assert not torch.equal(seen[0], seen[2])


def test_digit_accuracy_reads_the_result_digits():
    model, tokenizer = backbone.build_tiny_backbone(
        backbone.TinyBackboneConfig(n_layer=1, n_embd=32, n_head=2), language_model_head=True
    )
    scores = digit_accuracy(model, tokenizer, held_out_solutions(3))
    assert set(scores) == {"digit_accuracy", "claim_accuracy"}
    assert 0.0 <= scores["claim_accuracy"] <= scores["digit_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="no claims"):
        digit_accuracy(model, tokenizer, ["The answer is: 4"])


def test_a_few_pretraining_steps_lower_the_loss():
    torch.set_num_threads(1)
    _, _, history = pretrain(PretrainConfig(**SMALL, max_steps=30, eval_every=30, warmup_steps=5, learning_rate=3e-3))
    assert sum(history.loss[-5:]) / 5 < sum(history.loss[:5]) / 5 - 1.0  # from ~6.2 nats (uniform) down
    assert history.eval_step == [30]


def test_course_tiny_missing_says_how_to_rebuild(tmp_path, monkeypatch):
    monkeypatch.setattr(backbone, "COURSE_TINY_DIR", tmp_path / "course-tiny")
    with pytest.raises(OSError, match="scripts/pretrain_backbone.py"):
        backbone.load_backbone("course-tiny")


@pytest.mark.slow
def test_the_script_writes_a_checkpoint_that_loads_through_from_pretrained(tmp_path, monkeypatch):
    out = tmp_path / "course-tiny"
    cmd = [sys.executable, str(ROOT / "scripts" / "pretrain_backbone.py"), "--max-steps", "2", "--eval-every", "2"]
    subprocess.run([*cmd, "--out", str(out), "--threads", "1"], check=True, capture_output=True, timeout=300)
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", "learning_curve.png"} <= {
        p.name for p in out.iterdir()
    }
    monkeypatch.setattr(backbone, "COURSE_TINY_DIR", out)
    model, tokenizer = backbone.load_backbone("course-tiny")
    assert type(model).__name__ == "GPT2Model" and tokenizer.pad_token == "<pad>"
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert "| step | digit accuracy |" in (out / "README.md").read_text()


def test_from_scratch_keeps_the_architecture_and_draws_fresh_seeded_weights(tmp_path, monkeypatch):
    model, tokenizer = backbone.build_tiny_backbone(
        backbone.TinyBackboneConfig(n_layer=1, n_embd=32, n_head=2), language_model_head=True
    )
    with torch.no_grad():
        model.transformer.h[0].attn.c_attn.weight.add_(1.0)  # stands in for pretraining
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    monkeypatch.setattr(backbone, "COURSE_TINY_DIR", tmp_path)
    trained, _ = backbone.load_backbone("course-tiny")
    default, _ = backbone.load_backbone()  # reward models start from the pretrained LM unless told otherwise
    assert torch.equal(default.h[0].attn.c_attn.weight, trained.h[0].attn.c_attn.weight)
    fresh, fresh_tokenizer = backbone.load_backbone("course-tiny", from_scratch=True)
    again, _ = backbone.load_backbone("course-tiny", from_scratch=True)
    assert fresh.config.n_embd == 32 and len(fresh_tokenizer) == len(tokenizer)
    assert torch.equal(fresh.h[0].attn.c_attn.weight, again.h[0].attn.c_attn.weight)
    assert not torch.equal(fresh.h[0].attn.c_attn.weight, trained.h[0].attn.c_attn.weight)
    assert torch.equal(trained.h[0].attn.c_attn.weight, model.transformer.h[0].attn.c_attn.weight)
