from nbbuild import SOURCE, answer, md, readonly, rules, save, tests, written  # noqa: F401

cells = [
    md(
        r"""
# Problem set 1: the Bradley–Terry loss

*Seed exercise 1: show that the Bradley–Terry loss approaches 0 as the reward gap grows.*

This problem set goes with **Chapter 2, "The Bradley–Terry model"** of the course book (`book/02_bradley_terry.md`).
A reward model scores a chosen response $y^+$ and a rejected response $y^-$ to the same prompt; under the Bradley–Terry model
the probability that $y^+$ is preferred is $\sigma(r^+ - r^-)$, and training minimizes

$$\mathcal{L} = -\log \sigma\big(r^+ - r^- - m\big)$$

with an optional margin $m \ge 0$. You will implement the loss so that it stays finite and exact for reward gaps as large as $10^4$,
the probability and accuracy that go with it, and look at how the loss behaves as the gap grows.
"""
        + rules("Use `torch`"),
        "intro",
    ),
    readonly(
        "imports",
        """
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
""",
    ),
    md(
        r"""
## Problem 1 (4 points): `bradley_terry_loss`

Implement `bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction="mean")`:

* `reward_chosen`, `reward_rejected`: tensors of the same shape (lists and NumPy arrays should work too; convert them with `torch.as_tensor`);
  raise `ValueError` if the shapes differ.
* `margin`: a number or a tensor of the same shape.
* `reduction`: `"mean"` (default), `"sum"` or `"none"` (one loss per pair); raise `ValueError` for anything else.
* Return a **tensor** that is differentiable with respect to the rewards.
* It must be **numerically stable**: `-torch.log(torch.sigmoid(x))` gives `inf` for `x = -1000`. Use `F.logsigmoid` or `F.softplus`
  (chapter 2 shows why they are stable).
""",
        "p1_text",
    ),
    answer(
        "bradley_terry_loss",
        '''
def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction="mean"):
    """-log sigmoid(r_chosen - r_rejected - margin), reduced by mean, sum or none."""
    ### BEGIN SOLUTION
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    r_chosen = torch.as_tensor(reward_chosen, dtype=torch.get_default_dtype()) if not torch.is_tensor(reward_chosen) else reward_chosen
    r_rejected = torch.as_tensor(reward_rejected, dtype=torch.get_default_dtype()) if not torch.is_tensor(reward_rejected) else reward_rejected
    if r_chosen.shape != r_rejected.shape:
        raise ValueError(f"shapes differ: {tuple(r_chosen.shape)} vs {tuple(r_rejected.shape)}")
    loss = -F.logsigmoid(r_chosen - r_rejected - margin)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
    ### END SOLUTION
''',
    ),
    tests(
        "test_bradley_terry_loss",
        """
r_chosen = torch.tensor([2.0, 1.5, 2.5, 1.0])
r_rejected = torch.tensor([0.5, 0.3, 1.0, 0.8])
loss = bradley_terry_loss(r_chosen, r_rejected)
assert torch.is_tensor(loss) and loss.shape == ()
assert abs(loss.item() - 0.3161) < 1e-3
# equal rewards give log 2
assert abs(bradley_terry_loss(torch.zeros(3), torch.zeros(3)).item() - math.log(2)) < 1e-6
# stable for a huge gap in the wrong direction
assert torch.isfinite(bradley_terry_loss(torch.tensor([-1000.0]), torch.tensor([0.0])))
print("visible tests passed")
""",
        4,
    ),
    md(
        r"""
## Problem 2 (2 points): `preference_probability` and `pairwise_accuracy`

* `preference_probability(reward_chosen, reward_rejected)`: the Bradley–Terry probability $\sigma(r^+ - r^-)$ for each pair, as a tensor.
* `pairwise_accuracy(reward_chosen, reward_rejected)`: the fraction of pairs with $r^+ > r^-$, as a Python `float`.
  A tie is **not** a correct ranking. Raise `ValueError` on a shape mismatch.
""",
        "p2_text",
    ),
    answer(
        "preference_metrics",
        '''
def preference_probability(reward_chosen, reward_rejected):
    """sigmoid(r_chosen - r_rejected), per pair."""
    ### BEGIN SOLUTION
    r_chosen, r_rejected = torch.as_tensor(reward_chosen, dtype=torch.float32), torch.as_tensor(reward_rejected, dtype=torch.float32)
    if r_chosen.shape != r_rejected.shape:
        raise ValueError("reward_chosen and reward_rejected must have the same shape")
    return torch.sigmoid(r_chosen - r_rejected)
    ### END SOLUTION


def pairwise_accuracy(reward_chosen, reward_rejected):
    """Fraction of pairs ranked strictly right, as a float."""
    ### BEGIN SOLUTION
    r_chosen, r_rejected = torch.as_tensor(reward_chosen), torch.as_tensor(reward_rejected)
    if r_chosen.shape != r_rejected.shape:
        raise ValueError("reward_chosen and reward_rejected must have the same shape")
    return (r_chosen > r_rejected).float().mean().item()
    ### END SOLUTION
''',
    ),
    tests(
        "test_preference_metrics",
        """
p = preference_probability(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]))
assert torch.allclose(p, torch.tensor([0.7311, 0.5]), atol=1e-4)
acc = pairwise_accuracy(torch.tensor([2.0, 1.0, 0.0]), torch.tensor([1.0, 1.0, 1.0]))
assert type(acc) is float and abs(acc - 1 / 3) < 1e-6
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Problem 3 (2 points): the loss as a function of the gap

Write `loss_vs_gap(gaps)`: for a 1-D tensor of gaps $\Delta = r^+ - r^-$, return the tensor of per-pair losses $-\log\sigma(\Delta)$
(this is `softplus(-gap)`). It must be finite for gaps of $\pm 10^4$.
The cell after it plots your function; look at it before answering the written question.
""",
        "p3_text",
    ),
    answer(
        "loss_vs_gap",
        '''
def loss_vs_gap(gaps):
    """Per-gap Bradley-Terry loss -log sigmoid(gap)."""
    ### BEGIN SOLUTION
    gaps = torch.as_tensor(gaps, dtype=torch.float32)
    return F.softplus(-gaps)
    ### END SOLUTION
''',
    ),
    tests(
        "test_loss_vs_gap",
        """
losses = loss_vs_gap(torch.tensor([0.0, 10.0]))
assert abs(losses[0].item() - math.log(2)) < 1e-6 and losses[1].item() < 1e-4
print("visible tests passed")
""",
        2,
    ),
    readonly(
        "plot_loss_vs_gap",
        """
gaps = torch.linspace(-6, 6, 121)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(gaps, loss_vs_gap(gaps))
ax1.set_xlabel("reward gap $r^+ - r^-$")
ax1.set_ylabel("loss")
ax1.set_title("Bradley-Terry loss")
ax2.semilogy(gaps[gaps > 0], loss_vs_gap(gaps[gaps > 0]))
ax2.set_xlabel("reward gap")
ax2.set_title("log scale: the loss decays like exp(-gap)")
plt.tight_layout()
plt.show()
""",
        skip=True,
    ),
    md(
        r"""
## Written question (2 points)

The loss approaches 0 as the gap grows. What happens to the **gradient** of the loss with respect to $r^+$ at the same time,
and what does that mean for pairs the model already ranks correctly by a wide margin? Answer in two or three sentences,
using the formula for the gradient.
""",
        "written_text",
    ),
    written(
        "written_gradient",
        r"""
### BEGIN SOLUTION
**Rubric (2 points).** 1 point: the gradient is $\partial\mathcal L/\partial r^+ = \sigma(\Delta) - 1$ (or $-\sigma(-\Delta)$), which tends
to 0 as $\Delta \to \infty$ (exponentially, like $-e^{-\Delta}$). 1 point: so pairs that are already ranked right by a wide margin
contribute almost nothing to training; learning concentrates on pairs ranked wrongly or with small gaps (the loss is not a
hinge: it never becomes exactly 0). Half a point off for a correct statement with no formula.
### END SOLUTION
""",
        2,
    ),
]
save(cells, SOURCE / "ps1_bradley_terry" / "ps1_bradley_terry.ipynb")
