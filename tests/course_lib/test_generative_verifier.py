"""course_lib.models.generative_verifier and course_lib.training.generative_verifier: GenRM's prompt, reward and loss."""

import math

import pytest
import torch

from course_lib.models.backbone import build_tiny_backbone
from course_lib.models.generative_verifier import (
    VerificationFormat,
    encode_verification,
    verdict_token_ids,
    verification_text,
    yes_probability,
)
from course_lib.models.likelihood import mean_log_likelihood, token_log_likelihoods
from course_lib.training.collate import pad_rows
from course_lib.training.generative_verifier import (
    EncodedVerifications,
    GenRMConfig,
    VerificationExample,
    generative_verifier_scores,
    genrm_loss,
    train_generative_verifier,
)

PROMPT = "Tom has 12 apples. He buys 5 more. How many apples are there now?"
RIGHT = "Step 1: We start with 12 apples.\nStep 2: He buys 5. So 12 + 5 = 17.\nThe answer is: 17"
WRONG = "Step 1: We start with 12 apples.\nStep 2: He buys 5. So 12 + 5 = 18.\nThe answer is: 18"


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_tiny_backbone()
    return model.eval(), tokenizer


# -- the format and the reward -------------------------------------------------------------------


def test_verification_text_puts_the_question_after_the_solution():
    fmt = VerificationFormat()
    assert verification_text(PROMPT, RIGHT, fmt) == f"{PROMPT}\n{RIGHT}\nIs the answer correct? "
    assert verification_text("", RIGHT) == f"{RIGHT}\nIs the answer correct? "


@pytest.mark.parametrize("kwargs", [{"question": " "}, {"yes": ""}, {"yes": "No", "no": "No"}])
def test_a_bad_format_is_refused(kwargs):
    with pytest.raises(ValueError):
        VerificationFormat(**kwargs)


def test_verdicts_start_with_different_tokens(tiny):
    _, tokenizer = tiny
    yes, no = verdict_token_ids(tokenizer)
    assert yes != no
    assert tokenizer.convert_ids_to_tokens([yes, no]) == ["Y", "N"]


def test_verdicts_that_share_their_first_token_are_refused(tiny):
    _, tokenizer = tiny
    with pytest.raises(ValueError, match="leading space"):
        verdict_token_ids(tokenizer, VerificationFormat(question="Is the answer correct?", yes=" Yes", no=" No"))


def test_encoding_keeps_the_parts_apart_and_refuses_an_empty_solution(tiny):
    _, tokenizer = tiny
    enc = encode_verification(tokenizer, PROMPT, RIGHT)
    assert tokenizer.decode(list(enc.solution)) == RIGHT + "\n"
    assert tokenizer.decode(enc.input_ids) == verification_text(PROMPT, RIGHT)
    with pytest.raises(ValueError, match="empty"):
        encode_verification(tokenizer, PROMPT, "")


def test_yes_probability_is_the_next_token_probability_of_yes(tiny):
    model, tokenizer = tiny
    yes = verdict_token_ids(tokenizer)[0]
    row = encode_verification(tokenizer, PROMPT, WRONG).input_ids
    p = yes_probability(model, torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long), yes)
    with_yes = torch.tensor([row + [yes]])
    logp = token_log_likelihoods(model, with_yes, torch.ones_like(with_yes))  # [1, T]
    assert p.item() == pytest.approx(math.exp(logp[0, -1].item()), rel=1e-4)


def test_yes_probability_ignores_padding(tiny):
    model, tokenizer = tiny
    yes = verdict_token_ids(tokenizer)[0]
    rows = [encode_verification(tokenizer, PROMPT, s).input_ids for s in (RIGHT, "The answer is: 17")]
    batch = pad_rows(rows, tokenizer.pad_token_id)
    together = yes_probability(model, batch["input_ids"], batch["attention_mask"], yes)
    alone = [yes_probability(model, torch.tensor([r]), torch.ones(1, len(r), dtype=torch.long), yes) for r in rows]
    assert together.tolist() == pytest.approx(torch.cat(alone).tolist(), rel=1e-4)


def test_yes_probability_checks_its_input(tiny):
    model, _ = tiny
    ids = torch.tensor([[5, 6, 7]])
    with pytest.raises(ValueError, match="same shape"):
        yes_probability(model, ids, torch.ones(1, 2), 3)
    with pytest.raises(ValueError, match="yes_token_id"):
        yes_probability(model, ids, torch.ones_like(ids), 10_000)


# -- the loss ------------------------------------------------------------------------------------


def test_genrm_loss_matches_its_equation():
    token_logp = torch.log(torch.tensor([[0.5, 0.2, 0.8, 0.4], [0.9, 0.1, 0.3, 0.6]]))  # [2, 4]
    verdict = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 1]])
    solution = torch.tensor([[0, 1, 1, 0], [0, 0, 0, 0]])  # the second row is a wrong solution
    verify = -(math.log(0.4) + math.log(0.3) + math.log(0.6)) / 3
    correct = -(math.log(0.2) + math.log(0.8)) / 2
    assert genrm_loss(token_logp, verdict, solution, 0.0).item() == pytest.approx(verify, rel=1e-5)
    assert genrm_loss(token_logp, verdict, solution, 0.5).item() == pytest.approx(verify + 0.5 * correct, rel=1e-5)


def test_genrm_loss_checks_its_input():
    logp, mask = torch.zeros(1, 3), torch.tensor([[0, 0, 1]])
    with pytest.raises(ValueError, match="solution_weight"):
        genrm_loss(logp, mask, mask, -1.0)
    with pytest.raises(ValueError, match="one shape"):
        genrm_loss(logp, mask[:, :2], mask)
    with pytest.raises(ValueError, match="no token"):
        genrm_loss(logp, torch.zeros_like(mask), mask)


# -- encoding, training and scoring --------------------------------------------------------------


def test_encoded_rows_mark_the_verdict_and_only_correct_solutions(tiny):
    _, tokenizer = tiny
    data = EncodedVerifications(
        tokenizer, [VerificationExample(PROMPT, RIGHT, True), VerificationExample(PROMPT, WRONG, False)]
    )
    batch = data.batch([0, 1])
    ids = batch["input_ids"]
    assert tokenizer.decode(ids[0][batch["verdict_mask"][0].bool()].tolist()) == "Yes"
    assert tokenizer.decode(ids[1][batch["verdict_mask"][1].bool()].tolist()) == "No"
    assert tokenizer.decode(ids[0][batch["solution_mask"][0].bool()].tolist()) == RIGHT + "\n"
    assert batch["solution_mask"][1].sum() == 0  # no LM loss on a wrong solution
    questions = data.questions([0, 1])
    for b, text in enumerate((RIGHT, WRONG)):
        real = questions["input_ids"][b][questions["attention_mask"][b].bool()].tolist()
        assert tokenizer.decode(real) == verification_text(PROMPT, text)
        assert (
            tokenizer.decode(questions["input_ids"][b][questions["solution_mask"][b].bool()].tolist()) == text + "\n"
        )


def test_truncation_keeps_the_end_of_the_row(tiny):
    _, tokenizer = tiny
    data = EncodedVerifications(tokenizer, [VerificationExample(PROMPT, RIGHT, True)], max_length=20)
    row = data.rows[0]
    assert len(row) == 20 and tokenizer.decode(row).endswith("correct? Yes")
    a, b = data.solution_spans[0]
    assert 0 <= a <= b <= data.prompt_lengths[0]
    with pytest.raises(ValueError, match="max_length"):
        EncodedVerifications(tokenizer, [VerificationExample(PROMPT, RIGHT, True)], max_length=2)
    with pytest.raises(ValueError, match="empty"):
        EncodedVerifications(tokenizer, [])


@pytest.mark.parametrize("kwargs", [{"solution_weight": -0.1}, {"max_length": 1}, {"learning_rate": 0}])
def test_genrm_config_refuses_bad_values(kwargs):
    with pytest.raises(ValueError):
        GenRMConfig(**kwargs)


def test_scores_keep_the_order_of_the_examples(tiny):
    model, tokenizer = tiny
    examples = [
        VerificationExample(PROMPT, RIGHT, True),
        VerificationExample(PROMPT, "The answer is: 17", True),
        VerificationExample("", WRONG, False),
    ]
    readout = generative_verifier_scores(model, tokenizer, examples, batch_size=2)
    yes = verdict_token_ids(tokenizer)[0]
    for i, ex in enumerate(examples):
        enc = encode_verification(tokenizer, ex.prompt, ex.solution)
        ids = torch.tensor([enc.input_ids])
        assert readout.yes[i].item() == pytest.approx(
            yes_probability(model, ids, torch.ones_like(ids), yes).item(), rel=1e-4
        )
        solution = torch.tensor([[0] * len(enc.problem) + [1] * len(enc.solution) + [0] * len(enc.question)])
        expected = mean_log_likelihood(token_log_likelihoods(model, ids, torch.ones_like(ids)), solution)
        assert readout.mean_log_likelihood[i].item() == pytest.approx(expected.item(), rel=1e-4)
    with pytest.raises(ValueError, match="batch_size"):
        generative_verifier_scores(model, tokenizer, examples, batch_size=0)


def test_training_teaches_the_verdict():
    model, tokenizer = build_tiny_backbone()
    bare = "The answer is: 3"  # no work shown: a flaw a tiny random model can see
    examples = [VerificationExample(PROMPT, RIGHT, True), VerificationExample(PROMPT, bare, False)] * 4
    config = GenRMConfig(max_steps=40, batch_size=8, learning_rate=3e-3, warmup_steps=0, progress=False)
    history = train_generative_verifier(model, tokenizer, examples, config)
    assert history.loss[-1] < 0.2 * history.loss[0]
    yes = generative_verifier_scores(model, tokenizer, examples[:2]).yes
    assert yes[0] > 0.5 > yes[1]  # it says Yes to the worked solution and No to the bare answer
