"""ps6_policy_from_reward: from a reward to a policy, and beyond pairs (book chapters 13 and 14)."""

from nbbuild import SOURCE, answer, md, readonly, rules, save, tests, written

cells = [
    md(
        r"""
# Problem set 6: from a reward to a policy

This problem set goes with **Chapter 13, "From a reward to a policy"** (`book/13_reward_to_policy.md`) and
**Chapter 14, "Beyond pairs"** (`book/14_beyond_pairs.md`) of the course book.

A reward model is trained on comparisons, and a policy is then trained to get a high reward without drifting far from
the model it started from, $\pi_{\text{ref}}$. You will implement the four pieces that connect the two:

1. the **Plackett–Luce** loss, which trains a reward model on rankings of $K$ responses instead of pairs;
2. the **DPO** loss, which trains the policy on preference pairs directly, and the **implicit reward**
   $\beta \log \pi(y \mid x) / \pi_{\text{ref}}(y \mid x)$ it defines;
3. the **pairwise accuracy** of that implicit reward;
4. the **KL-regularised optimum** $\pi^*(y \mid x) \propto \pi_{\text{ref}}(y \mid x)\, e^{r(x, y)/\beta}$, the policy that
   $\max_\pi \mathbb{E}_\pi[r] - \beta\, \mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})$ asks for.

Each must stay finite and exact for rewards or log-ratios as large as $\pm 10^4$: work with `logsumexp`,
`log_softmax` and `F.logsigmoid`, never `log(exp(...))` or `log(sigmoid(...))`.
"""
        + rules(
            "Use `torch`",
            notes="Every function raises `ValueError` on bad input, with a message that names the bad value.\n",
        ),
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

torch.set_num_threads(1)  # the course's tiny models run fastest on one thread
""",
    ),
    md(
        r"""
## Problem 1 (3 points): `plackett_luce_loss`

A labeller ranks $K$ responses to one prompt. The Plackett–Luce model reads the ranking $\sigma$ (response indices,
best first) as $K$ successive choices: the best of all $K$, then the best of the rest, and so on, each a softmax of the
rewards still in play:

$$P(\sigma \mid r) = \prod_{i=1}^{K} \frac{\exp(r_{\sigma_i})}{\sum_{j \ge i} \exp(r_{\sigma_j})},
\qquad \mathcal{L} = -\log P(\sigma \mid r) = \sum_{i=1}^{K} \Big[\operatorname{logsumexp}_{j \ge i} r_{\sigma_j} - r_{\sigma_i}\Big].$$

Implement `plackett_luce_loss(rewards, ranking)`:

* `rewards` is `[K]` (one ranking) or `[B, K]` (a batch); `ranking` has the same shape and lists response indices,
  **best first**: `ranking = [2, 0, 1]` says response 2 is best and response 1 worst. Lists work too.
* Return a scalar tensor: the **mean** over the batch of the negative log-likelihood, differentiable with respect to
  the rewards. For $K = 2$ it is the Bradley–Terry loss of problem set 1.
* Raise `ValueError` if the shapes differ or a ranking is not a permutation of $0, \dots, K-1$.
""",
        "p1_text",
    ),
    answer(
        "plackett_luce_loss",
        '''
def plackett_luce_loss(rewards, ranking):
    """Mean negative log-likelihood of the rankings (indices, best first) under Plackett-Luce."""
    ### BEGIN SOLUTION
    r = rewards if torch.is_tensor(rewards) else torch.as_tensor(rewards, dtype=torch.float32)
    r = r if r.is_floating_point() else r.float()
    order = torch.as_tensor(ranking)
    if order.is_floating_point() or r.dim() not in (1, 2) or order.shape != r.shape:
        raise ValueError(f"rewards and ranking (integer indices) must both be [K] or [B, K], got {tuple(r.shape)} and {tuple(order.shape)}")
    k = r.shape[-1]
    order = order.long()
    if not torch.equal(order.sort(dim=-1).values, torch.arange(k).expand_as(order)):
        raise ValueError(f"each ranking must be a permutation of 0..{k - 1}, got {order.tolist()}")
    ranked = r.gather(-1, order)  # [B, K] rewards, best first
    rest = torch.stack([ranked[..., i:].logsumexp(-1) for i in range(k)], dim=-1)  # [B, K]
    return (rest - ranked).sum(-1).mean()
    ### END SOLUTION
''',
    ),
    tests(
        "test_plackett_luce_loss",
        """
rewards = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
ranking = torch.tensor([[0, 1, 2], [1, 2, 0]])
loss = plackett_luce_loss(rewards, ranking)
assert torch.is_tensor(loss) and loss.shape == ()
assert abs(loss.item() - 0.9608) < 1e-3
# all orders equally likely when the rewards are equal: -log(1 / 3!)
assert abs(plackett_luce_loss([0.0, 0.0, 0.0], [2, 0, 1]).item() - math.log(6)) < 1e-5
# K = 2 is the Bradley-Terry loss
assert abs(plackett_luce_loss([1.0, 3.0], [1, 0]).item() - F.softplus(torch.tensor(-2.0)).item()) < 1e-6
assert torch.isfinite(plackett_luce_loss(torch.tensor([1e4, -1e4]), torch.tensor([1, 0])))
print("visible tests passed")
""",
        3,
    ),
    md(
        r"""
### Rankings pin the rewards down only up to a constant

The next cell draws 400 rankings of five responses from the Plackett–Luce model with known rewards (sorting
"reward + Gumbel noise" gives exactly a Plackett–Luce sample) and fits rewards to them with **your** loss. Adding the same
number to every reward leaves every probability, and so the loss, unchanged: its gradient sums to zero over the
responses, gradient descent from all zeros never moves the mean, and the fit recovers the rewards only up to a constant. Compare the raw fitted values with the true ones, and the centred values with the centred truth.
""",
        "pl_demo_text",
    ),
    readonly(
        "pl_demo",
        """
torch.manual_seed(0)
true_rewards = torch.tensor([3.0, 2.0, 1.5, 0.5, 0.0])
gumbel = -torch.log(-torch.log(torch.rand(400, 5)))
rankings = (true_rewards + gumbel).argsort(dim=-1, descending=True)  # [400, 5], best first
fitted = torch.zeros(5, requires_grad=True)
optimizer = torch.optim.SGD([fitted], lr=1.0)  # plain gradient descent from all zeros
for _ in range(300):
    loss = plackett_luce_loss(fitted.expand(400, 5), rankings)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
fitted = fitted.detach()
fig, ax = plt.subplots(figsize=(5, 4))
ax.plot(true_rewards, fitted, "o", label="fitted (raw)")
ax.plot(true_rewards, fitted - fitted.mean() + true_rewards.mean(), "x", label="fitted, shifted to the truth's mean")
ax.plot([0, 3], [0, 3], color="gray", ls="--", label="fitted = true")
ax.set_xlabel("true reward")
ax.set_ylabel("fitted reward")
ax.legend()
plt.show()
print("true:  ", [round(x, 2) for x in true_rewards.tolist()])
print("fitted:", [round(x, 2) for x in fitted.tolist()], f"(mean {fitted.mean():.2f}: the gradient sums to 0 over the responses)")
""",
        skip=True,
    ),
    md(
        r"""
## Problem 2 (2 points): `dpo_loss`

DPO (Rafailov et al., 2023) trains the policy $\pi$ on preference pairs $(x, y^+, y^-)$ without a separate reward model.
With the summed log-probabilities of each response under the policy and under the frozen reference,

$$\mathcal{L}_{\text{DPO}} = -\log \sigma\Big(\beta \big[(\log \pi(y^+) - \log \pi_{\text{ref}}(y^+)) - (\log \pi(y^-) - \log \pi_{\text{ref}}(y^-))\big]\Big).$$

Implement `dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1)`:

* The four arguments are `[B]` tensors of log-probabilities, one per pair.
* Return a tuple `(loss, chosen_rewards, rejected_rewards)`: `loss` is the **mean** over the pairs, a scalar tensor
  differentiable with respect to the policy log-probs; the rewards are the **implicit rewards**
  $\beta\,(\log \pi - \log \pi_{\text{ref}})$ of the chosen and of the rejected responses, `[B]` each, **detached**
  (they are for reading, not for training).
* It must be finite for log-ratios of $\pm 10^4$.
* Raise `ValueError` if `beta <= 0` or the four shapes are not all the same.
""",
        "p2_text",
    ),
    answer(
        "dpo_loss",
        '''
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    """(mean DPO loss, implicit rewards of the chosen, of the rejected), the rewards detached."""
    ### BEGIN SOLUTION
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    logps = [policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps]
    shapes = {tuple(x.shape) for x in logps}
    if len(shapes) != 1:
        raise ValueError(f"all four log-prob tensors must have the same shape, got {sorted(shapes)}")
    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps)  # [B]
    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps)  # [B]
    loss = -F.logsigmoid(chosen_rewards - rejected_rewards).mean()
    return loss, chosen_rewards.detach(), rejected_rewards.detach()
    ### END SOLUTION
''',
    ),
    tests(
        "test_dpo_loss",
        """
policy_chosen, policy_rejected = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -4.0])
ref = torch.tensor([-4.0, -4.5])
loss, chosen_rewards, rejected_rewards = dpo_loss(policy_chosen, policy_rejected, ref, ref, beta=1.0)
assert torch.is_tensor(loss) and loss.shape == ()
assert abs(loss.item() - 0.8133) < 1e-3
assert torch.allclose(chosen_rewards, torch.tensor([1.0, -0.5]))
assert torch.allclose(rejected_rewards, torch.tensor([0.0, 0.5]))
# at the start of training the policy is the reference: loss log 2, rewards 0
loss, c, r = dpo_loss(ref, ref, ref, ref)
assert abs(loss.item() - math.log(2)) < 1e-6 and c.abs().max() == 0
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
## Problem 3 (1 point): `implicit_reward_accuracy`

`implicit_reward_accuracy(chosen_rewards, rejected_rewards)`: the fraction of pairs whose chosen response gets the
higher reward, as a Python `float`. A tie is **not** a correct ranking (as in problem set 1). Raise `ValueError` if the
shapes differ.
""",
        "p3_text",
    ),
    answer(
        "implicit_reward_accuracy",
        '''
def implicit_reward_accuracy(chosen_rewards, rejected_rewards):
    """Fraction of pairs with chosen > rejected (strict), as a float."""
    ### BEGIN SOLUTION
    chosen, rejected = torch.as_tensor(chosen_rewards), torch.as_tensor(rejected_rewards)
    if chosen.shape != rejected.shape:
        raise ValueError(f"shapes differ: {tuple(chosen.shape)} vs {tuple(rejected.shape)}")
    return (chosen > rejected).float().mean().item()
    ### END SOLUTION
''',
    ),
    tests(
        "test_implicit_reward_accuracy",
        """
acc = implicit_reward_accuracy(torch.tensor([0.2, -0.1, 0.0]), torch.tensor([0.1, 0.3, 0.0]))
assert type(acc) is float and abs(acc - 1 / 3) < 1e-6
print("visible tests passed")
""",
        1,
    ),
    md(
        r"""
## Problem 4 (2 points): `kl_regularized_optimum`

Over a finite set of responses $y_1, \dots, y_N$ to one prompt, the policy that maximises
$\mathbb{E}_\pi[r] - \beta\,\mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})$ is the reference tilted by the reward:

$$\pi^*(y_i) = \frac{\pi_{\text{ref}}(y_i)\, \exp(r_i / \beta)}{\sum_j \pi_{\text{ref}}(y_j)\, \exp(r_j / \beta)}.$$

Implement `kl_regularized_optimum(ref_probs, rewards, beta)`:

* `ref_probs` and `rewards` have the same shape, `[N]` or `[..., N]`: the responses are the **last** dimension.
* Return the tensor $\pi^*$, of the same shape, summing to 1 over the last dimension. A response with
  $\pi_{\text{ref}} = 0$ gets $\pi^* = 0$.
* It must be finite for $r/\beta$ of $\pm 10^4$: work in log space.
* Raise `ValueError` if `beta <= 0`, the shapes differ, or `ref_probs` has a negative entry or does not sum to 1 over
  the last dimension (up to rounding: a tolerance of `1e-4` is fine).
""",
        "p4_text",
    ),
    answer(
        "kl_regularized_optimum",
        '''
def kl_regularized_optimum(ref_probs, rewards, beta):
    """pi* proportional to ref_probs * exp(rewards / beta) over the last dimension, computed in log space."""
    ### BEGIN SOLUTION
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    ref = torch.as_tensor(ref_probs, dtype=torch.float32) if not torch.is_tensor(ref_probs) else ref_probs
    r = torch.as_tensor(rewards, dtype=ref.dtype)
    if ref.shape != r.shape or ref.dim() == 0:
        raise ValueError(f"ref_probs and rewards must have the same shape, got {tuple(ref.shape)} and {tuple(r.shape)}")
    if (ref < 0).any() or ((ref.sum(-1) - 1).abs() > 1e-4).any():
        raise ValueError(f"ref_probs must be >= 0 and sum to 1 over the last dimension, got sums {ref.sum(-1).tolist()}")
    return torch.softmax(ref.log() + r / beta, dim=-1)
    ### END SOLUTION
''',
    ),
    tests(
        "test_kl_regularized_optimum",
        """
pi = kl_regularized_optimum(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), beta=1.0)
assert torch.allclose(pi, torch.tensor([0.7311, 0.2689]), atol=1e-4)
ref = torch.tensor([0.2, 0.3, 0.5])
assert torch.allclose(kl_regularized_optimum(ref, torch.zeros(3), beta=0.5), ref)  # a constant reward changes nothing
huge = kl_regularized_optimum(ref, torch.tensor([1e4, 0.0, -1e4]), beta=1.0)
assert torch.isfinite(huge).all() and abs(huge.sum().item() - 1) < 1e-6
print("visible tests passed")
""",
        2,
    ),
    md(
        r"""
### The strength of the KL penalty

The next cell tilts a reference over six responses with **your** `kl_regularized_optimum` for three values of $\beta$,
and traces the expected reward of $\pi^*$ against its KL divergence from $\pi_{\text{ref}}$ as $\beta$ goes from large to
small: a large $\beta$ keeps $\pi_{\text{ref}}$; a small one puts all the mass on the best response (what best-of-$N$
approaches as $N$ grows).
""",
        "kl_demo_text",
    ),
    readonly(
        "kl_demo",
        """
ref_probs = torch.tensor([0.30, 0.25, 0.20, 0.12, 0.08, 0.05])
rewards = torch.tensor([0.0, 0.5, -0.5, 1.0, 2.0, 1.5])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
width = 0.2
ax1.bar(np.arange(6) - 1.5 * width, ref_probs, width, label="$\\\\pi_{ref}$", color="gray")
for i, beta in enumerate([2.0, 0.5, 0.1]):
    ax1.bar(np.arange(6) + (i - 0.5) * width, kl_regularized_optimum(ref_probs, rewards, beta), width, label=f"$\\\\beta$ = {beta}")
ax1.set_xticks(range(6), [f"y{i}\\nr={r:.1f}" for i, r in enumerate(rewards.tolist())])
ax1.set_ylabel("probability")
ax1.legend()
betas = torch.logspace(1.5, -2, 60)
pis = torch.stack([kl_regularized_optimum(ref_probs, rewards, float(b)) for b in betas])  # [60, 6]
kl = (pis * (pis.clamp_min(1e-30).log() - ref_probs.log())).sum(-1)
ax2.plot(kl, pis @ rewards, marker=".")
ax2.set_xlabel("KL($\\\\pi^*$ || $\\\\pi_{ref}$) (nats)")
ax2.set_ylabel("expected reward under $\\\\pi^*$")
ax2.set_title("smaller $\\\\beta$: more reward, further from $\\\\pi_{ref}$")
plt.tight_layout()
plt.show()
""",
        skip=True,
    ),
    md(
        r"""
### DPO on a table: the implicit reward is the reward, up to a constant per prompt

The next cell trains DPO with **your** `dpo_loss` on a policy that is just a table of logits: three prompts, six
responses each, and 3000 preference pairs labelled by a Bradley–Terry model of known rewards (prompt 0's responses are
all good, prompt 2's all poor). It then reads the implicit reward $\beta \log \pi / \pi_{\text{ref}}$ off the trained
table, measures its held-out pairwise accuracy with **your** `implicit_reward_accuracy`, and compares the trained policy
with the KL-regularised optimum of the true reward computed by **your** `kl_regularized_optimum`. Look at the left plot
before answering the written question.
""",
        "dpo_demo_text",
    ),
    readonly(
        "dpo_demo",
        """
torch.manual_seed(0)
P, N, beta = 3, 6, 0.5
true_reward = torch.tensor([[2.0], [0.0], [-2.0]]) + torch.randn(P, N)  # [P, N]: per-prompt levels differ
ref_logps = torch.log_softmax(0.5 * torch.randn(P, N), dim=-1)  # [P, N]
prompt = torch.randint(P, (4000,))
a = torch.randint(N, (4000,))
b = (a + torch.randint(1, N, (4000,))) % N  # a different response to the same prompt
a_wins = torch.rand(4000) < torch.sigmoid(true_reward[prompt, a] - true_reward[prompt, b])
chosen, rejected = torch.where(a_wins, a, b), torch.where(a_wins, b, a)
train, test = slice(0, 3000), slice(3000, None)

logits = ref_logps.clone().requires_grad_(True)  # the policy starts at pi_ref
optimizer = torch.optim.Adam([logits], lr=0.05)
x, c, r = prompt[train], chosen[train], rejected[train]
for _ in range(400):
    logps = torch.log_softmax(logits, dim=-1)
    loss, _, _ = dpo_loss(logps[x, c], logps[x, r], ref_logps[x, c], ref_logps[x, r], beta=beta)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
policy_logps = torch.log_softmax(logits.detach(), dim=-1)
implicit = beta * (policy_logps - ref_logps)  # [P, N]

x, c, r = prompt[test], chosen[test], rejected[test]
_, test_chosen, test_rejected = dpo_loss(policy_logps[x, c], policy_logps[x, r], ref_logps[x, c], ref_logps[x, r], beta=beta)
dpo_accuracy = implicit_reward_accuracy(test_chosen, test_rejected)
true_accuracy = implicit_reward_accuracy(true_reward[x, c], true_reward[x, r])
target = kl_regularized_optimum(ref_logps.exp(), true_reward, beta)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for p in range(P):
    ax1.plot(true_reward[p], implicit[p], "o", label=f"prompt {p}")
ax1.set_xlabel("true reward $r(x, y)$")
ax1.set_ylabel("implicit reward $\\\\beta \\\\log \\\\pi / \\\\pi_{ref}$")
ax1.legend()
ax2.plot(target.flatten(), policy_logps.exp().flatten(), "o")
ax2.plot([0, target.max()], [0, target.max()], color="gray", ls="--")
ax2.set_xlabel("$\\\\pi^*$ of the true reward (your kl_regularized_optimum)")
ax2.set_ylabel("DPO policy $\\\\pi$")
plt.tight_layout()
plt.show()
print(f"held-out pairwise accuracy: implicit reward {dpo_accuracy:.3f}, true reward {true_accuracy:.3f} (labels are noisy)")
print("true reward minus implicit reward, per prompt (mean, spread):")
for p in range(P):
    gap = true_reward[p] - implicit[p]
    print(f"  prompt {p}: {gap.mean():+.2f}, {gap.std():.2f}")
""",
        skip=True,
    ),
    md(
        r"""
## Written question (2 points)

Since $\pi^*(y \mid x) = \pi_{\text{ref}}(y \mid x)\, e^{r(x, y)/\beta} / Z(x)$, DPO's implicit reward
$\beta \log \pi^*(y \mid x) / \pi_{\text{ref}}(y \mid x) = r(x, y) - \beta \log Z(x)$ equals the reward only up to a
constant **per prompt**. Use the left plot of the DPO demo: what does this mean for comparing implicit rewards of two
responses to the **same** prompt, and of responses to **different** prompts (say, keeping only the training examples whose
implicit reward is above a threshold)? Does a Bradley–Terry or Plackett–Luce reward model trained on comparisons within
prompts have the same freedom? (Three or four sentences.)
""",
        "written_text",
    ),
    written(
        "written_per_prompt_constant",
        r"""
### BEGIN SOLUTION
**Rubric (2 points).** 1 point: within one prompt the constant $\beta \log Z(x)$ cancels in every difference, so the
implicit reward ranks responses to the same prompt correctly (what the held-out accuracy and the DPO loss measure); across
prompts the offset is arbitrary (in the plot: one line of slope 1 per prompt, shifted by a different amount), so a higher
implicit reward for a response to prompt A than to prompt B says nothing about which is better, and a global threshold
mostly selects prompts, not good responses. 1 point: a Bradley–Terry or Plackett–Luce model trained on within-prompt
comparisons has the same freedom (the loss depends only on reward differences within a prompt; the ranking demo's fitted
rewards never moved their mean), so raw reward values are comparable across prompts only after normalising per prompt
(subtract a per-prompt baseline, mean or reference response) or with data that compares across prompts; a per-prompt
baseline in policy-gradient RL makes the constant harmless there. Half a point off for no reference to the plot or to
$Z(x)$.
### END SOLUTION
""",
        2,
    ),
]
save(cells, SOURCE / "ps6_policy_from_reward" / "ps6_policy_from_reward.ipynb")
