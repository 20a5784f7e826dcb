"""ps4_neural_prm: seed exercise 4, a neural process reward model (book chapter 10)."""

from nbbuild import SOURCE, answer, md, readonly, rules, save, tests, written

cells = [
    md(
        r"""
# Problem set 4: a neural process reward model

*Seed exercise 4: implement a neural PRM using a small transformer (distilgpt2) that scores each step.*

This problem set goes with **Chapter 10, "A neural PRM"** of the course book (`book/10_neural_prm.md`).
A neural PRM puts a scalar head on **every** position of a causal transformer: `score = nn.Linear(hidden_size, 1)` turns each
hidden state $h_t$ into a logit $\ell_t$. Training labels sit only at the token that ends each step (1 = correct step, 0 = wrong)
and are $-100$ everywhere else:

$$\mathcal{L} = -\frac{1}{|S|}\sum_{t \in S}\big[y_t \log\sigma(\ell_t) + (1-y_t)\log(1-\sigma(\ell_t))\big], \qquad S = \{t : y_t \ne -100\}.$$

You will work with the course's tiny GPT-2 backbone, built locally in a fraction of a second; the last cells show how the same
code runs on `distilgpt2` when you have it cached.
"""
        + rules("Use `torch`", allowed="; `build_tiny_backbone` is allowed"),
        "intro",
    ),
    readonly(
        "imports",
        """
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models.backbone import build_tiny_backbone

torch.set_num_threads(1)  # the course's tiny models run fastest on one thread
torch.manual_seed(0)
backbone, tokenizer = build_tiny_backbone()
STEP = tokenizer("\\n", add_special_tokens=False)["input_ids"][0]  # the token that ends a step
""",
    ),
    md(
        r"""
## Problem 1 (2 points): the model

`NeuralPRM(backbone)` keeps the transformers base model as `self.backbone` and adds `self.score = nn.Linear(hidden_size, 1)`
(`hidden_size` is `backbone.config.hidden_size`). `forward(input_ids, attention_mask)` runs the backbone, takes
`.last_hidden_state` (`[B, T, H]`) and returns the per-token logits, shape `[B, T]`. Gradients must reach the backbone.
The hidden tests run it under right **and** left padding and compare the logits at the real tokens. With left padding, GPT-2
numbers positions from the first column, padding included; passing `position_ids` computed from the mask (chapter 4) fixes
that. Either way is accepted here.
""",
        "p1_text",
    ),
    answer(
        "neural_prm",
        '''
class NeuralPRM(nn.Module):
    """A transformer backbone with a scalar head on every token."""

    def __init__(self, backbone):
        super().__init__()
        ### BEGIN SOLUTION
        self.backbone = backbone
        self.score = nn.Linear(backbone.config.hidden_size, 1)
        ### END SOLUTION

    def forward(self, input_ids, attention_mask):
        ### BEGIN SOLUTION
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, T, H]
        return self.score(hidden).squeeze(-1)  # [B, T]
        ### END SOLUTION
''',
    ),
    tests(
        "test_neural_prm",
        """
model = NeuralPRM(backbone)
batch = tokenizer(["Step 1: 2 + 2 = 4.\\nThe answer is: 4\\n", "The answer is: 5\\n"], padding=True, return_tensors="pt")
logits = model(batch["input_ids"], batch["attention_mask"])
assert logits.shape == batch["input_ids"].shape
assert isinstance(model.score, nn.Linear) and model.score.out_features == 1
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Problem 2 (2 points): the outcome reward

`outcome_reward(model, input_ids, attention_mask)` returns the logit at each row's **last non-padding token**, shape `[B]`.
It must work for right padding (`[tokens..., pad]`) **and** left padding (`[pad, tokens...]`): find the position from the
attention mask, never by "position -1" or by searching for the pad token (GPT-2's pad may equal its end-of-text token).
""",
        "p2_text",
    ),
    answer(
        "outcome_reward",
        '''
def outcome_reward(model, input_ids, attention_mask):
    """Logit at the last real token of each row: [B]."""
    ### BEGIN SOLUTION
    logits = model(input_ids, attention_mask)  # [B, T]
    T = attention_mask.shape[1]
    positions = torch.arange(T).expand_as(attention_mask)
    last = torch.where(attention_mask.bool(), positions, torch.full_like(positions, -1)).max(dim=1).values  # [B]
    return logits[torch.arange(logits.shape[0]), last]
    ### END SOLUTION
''',
    ),
    tests(
        "test_outcome_reward",
        """
tokenizer.padding_side = "right"
right = tokenizer(["Step 1: 2 + 2 = 4.\\n", "The answer is: 4"], padding=True, return_tensors="pt")
model.eval()
r = outcome_reward(model, right["input_ids"], right["attention_mask"])
assert r.shape == (2,)
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Problem 3 (2 points): step rewards

`step_rewards(model, input_ids, attention_mask, step_token_id)` returns a **list of B 1-D tensors**: for each row, the
`sigmoid` of the logits at the positions holding `step_token_id` **inside the attention mask** (padding never counts), in order.
""",
        "p3_text",
    ),
    answer(
        "step_rewards",
        '''
def step_rewards(model, input_ids, attention_mask, step_token_id):
    """[P(step correct) at each step token of row b] for every row b."""
    ### BEGIN SOLUTION
    probs = torch.sigmoid(model(input_ids, attention_mask))  # [B, T]
    at_step = (input_ids == step_token_id) & attention_mask.bool()  # [B, T]
    return [probs[b][at_step[b]] for b in range(input_ids.shape[0])]
    ### END SOLUTION
''',
    ),
    tests(
        "test_step_rewards",
        """
scores = step_rewards(model, right["input_ids"], right["attention_mask"], STEP)
assert isinstance(scores, list) and len(scores) == 2
assert scores[0].shape == (1,) and scores[1].shape == (0,)  # one step token in the first row, none in the second
assert bool(((scores[0] > 0) & (scores[0] < 1)).all())
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Problem 4 (2 points): the loss

`prm_loss(logits, labels)` is the mean binary cross-entropy **over the positions whose label is not -100** (both `[B, T]`),
computed from logits (stable for logits of $\pm 200$). Raise `ValueError` if every label is -100, and if the shapes differ.
""",
        "p4_text",
    ),
    answer(
        "prm_loss",
        '''
def prm_loss(logits, labels):
    """BCE with logits over labelled positions."""
    ### BEGIN SOLUTION
    if logits.shape != labels.shape:
        raise ValueError(f"shapes differ: {tuple(logits.shape)} vs {tuple(labels.shape)}")
    keep = labels != -100
    if not keep.any():
        raise ValueError("no labelled positions (every label is -100)")
    return F.binary_cross_entropy_with_logits(logits[keep], labels[keep].float())
    ### END SOLUTION
''',
    ),
    tests(
        "test_prm_loss",
        """
loss = prm_loss(torch.zeros(1, 4), torch.tensor([[-100, 1, -100, 0]]))
assert abs(loss.item() - math.log(2)) < 1e-6
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Training it for a few seconds

The next cell trains your model with your loss on generated step labels (`course_lib.data.step_labels`) and plots the loss.
Chapter 10 explains why the tiny model learns little about arithmetic in this time.
""",
        "train_text",
    ),
    readonly(
        "train",
        """
from course_lib.data.step_labels import make_step_labels
from course_lib.training.prm import collate_step_examples, encode_step_example

torch.manual_seed(0)
prm = NeuralPRM(backbone)
rows = [encode_step_example(tokenizer, ex) for ex in make_step_labels(256, seed=1)]
optimizer = torch.optim.AdamW(prm.parameters(), lr=3e-3)
losses = []
for step in range(40):
    batch = collate_step_examples(rows[(step * 16) % len(rows) :][:16], tokenizer.pad_token_id)  # right-padded
    loss = prm_loss(prm(batch["input_ids"], batch["attention_mask"]), batch["labels"])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
plt.plot(losses)
plt.xlabel("training step")
plt.ylabel("prm_loss")
plt.show()
""",
        skip=True,
    ),
    md(
        r"""
## The same code on `distilgpt2`

If `distilgpt2` is in your Hugging Face cache (download it once while online: `huggingface-cli download distilgpt2`),
this cell builds your PRM on it; offline and without the cache it explains how to get it.
""",
        "distil_text",
    ),
    readonly(
        "distilgpt2",
        """
from course_lib.models.backbone import load_backbone

try:
    big_backbone, big_tokenizer = load_backbone("distilgpt2", local_files_only=True)  # never downloads
    big = NeuralPRM(big_backbone)
    print(sum(p.numel() for p in big.parameters()) / 1e6, "M parameters")
except OSError as err:
    print(err)
""",
        skip=True,
    ),
    md(
        r"""
## Written question (2 points)

Why does the head read the hidden state at the **step-separator token** rather than, say, the first token of the step?
What do the $-100$ labels do during training, and what would go wrong if you trained with label 0 at those positions instead?
(Three or four sentences.)
""",
        "written_text",
    ),
    written(
        "written_prm",
        r"""
### BEGIN SOLUTION
**Rubric (2 points).** 1 point: the model is causal, so the hidden state at a position has seen only the tokens up to it; at the
step's last token (the newline) it has read the whole step and the steps before it, and nothing after it, so the score judges
exactly that step given its context. 1 point: positions labelled -100 are excluded from the loss (no gradient from them); labelling
them 0 would teach the model that most tokens are "wrong", swamp the few real step labels with meaningless targets and bias every
score towards 0. Half a point off for only one of the two parts justified.
### END SOLUTION
""",
        2,
    ),
]
save(cells, SOURCE / "ps4_neural_prm" / "ps4_neural_prm.ipynb")
