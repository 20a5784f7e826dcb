"""End to end: the tiny reward model learns generated preferences on a CPU (book chapters 4 and 5).

The rejected responses are the *form* kinds (no work shown, unfinished): a tiny transformer learns
them in seconds. The math-error kinds need arithmetic that it cannot learn in a CPU minute; see
course_lib/demo.py, which reports accuracy per kind.
"""

import pytest

from course_lib.data.preferences import FORM_KINDS, make_preference_pairs
from course_lib.models.backbone import build_tiny_backbone
from course_lib.training.reward_model import RewardModel, RewardTrainingConfig, evaluate, train_reward_model


@pytest.mark.slow
def test_tiny_reward_model_reaches_90_percent_held_out_accuracy():
    train = make_preference_pairs(600, seed=11, kinds=FORM_KINDS)
    held_out = make_preference_pairs(200, seed=12, kinds=FORM_KINDS)
    backbone, tokenizer = build_tiny_backbone()
    model = RewardModel(backbone)
    before = evaluate(model, tokenizer, held_out).accuracy
    config = RewardTrainingConfig(batch_size=16, max_steps=40, warmup_steps=5, eval_every=10, progress=False)
    history = train_reward_model(model, tokenizer, train, held_out, config)
    after = evaluate(model, tokenizer, held_out)
    assert before < 0.75, "the untrained model must not already rank the pairs"
    assert after.accuracy >= 0.9, history.eval_accuracy
    assert after.mean_margin > 0
    assert history.eval_accuracy[-1] == after.accuracy
