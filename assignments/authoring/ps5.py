"""ps5_calibration: seed exercise 5, is the reward model calibrated (book chapter 6)."""

from nbbuild import SOURCE, answer, md, readonly, rules, save, tests, written

cells = [
    md(
        r"""
# Problem set 5: calibration of a reward model

*Seed exercise 5: is the reward model well-calibrated? Do high scores correspond to higher correctness rates?*

This problem set goes with **Chapter 6, "Calibration"** of the course book (`book/06_calibration.md`).
A Bradley–Terry reward model turns a reward gap into a probability $p = \sigma(r_a - r_b)$ that response $a$ is preferred.
It is **calibrated** when, among all pairs it gives $p \approx 0.8$, response $a$ really is preferred about 80% of the time.
You will implement the standard tools (Guo et al., 2017): the reliability curve, the expected calibration error (ECE),
the Brier score and temperature scaling, then apply them to the course's tiny reward model.

With $M$ equal-width bins $B_1, \dots, B_M$ of $[0, 1]$ and $N$ examples,

$$\mathrm{ECE} = \sum_{m:\,|B_m| > 0} \frac{|B_m|}{N}\,\big|\operatorname{acc}(B_m) - \operatorname{conf}(B_m)\big|,$$

where $\operatorname{conf}(B_m)$ is the mean probability in the bin and $\operatorname{acc}(B_m)$ the fraction of label 1 in it.
"""
        + rules(
            "Use NumPy",
            notes="All functions accept lists, NumPy arrays and torch tensors, and raise `ValueError` on empty input, "
            "on inputs of different lengths, and on probabilities outside $[0, 1]$. Scalar results are Python `float`s.\n",
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

torch.set_num_threads(1)  # the course's tiny models run fastest on one thread
""",
    ),
    md(
        r"""
## Problem 1 (4 points): reliability curve and ECE

* `reliability_curve(probs, labels, n_bins=10)` returns a list of `(mean confidence, accuracy, count)` tuples (`float`, `float`, `int`),
  one per **non-empty** bin, lowest bin first. Bin $k$ holds probabilities in $[k/M, (k+1)/M)$; the **last bin also holds 1.0**.
* `expected_calibration_error(probs, labels, n_bins=10)`: the ECE above, as a `float` (bins weighted by their size, empty bins skipped).
""",
        "p1_text",
    ),
    answer(
        "reliability_curve",
        '''
def check_inputs(probs, labels):
    """Both as 1-D float arrays; ValueError on empty, different lengths, or probabilities outside [0, 1]."""
    ### BEGIN SOLUTION
    p = np.asarray(probs.detach() if torch.is_tensor(probs) else probs, dtype=float).reshape(-1)
    y = np.asarray(labels.detach() if torch.is_tensor(labels) else labels, dtype=float).reshape(-1)
    if p.size == 0:
        raise ValueError("probs is empty")
    if p.size != y.size:
        raise ValueError(f"probs and labels differ in length: {p.size} vs {y.size}")
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("probabilities must be in [0, 1]")
    return p, y
    ### END SOLUTION


def reliability_curve(probs, labels, n_bins=10):
    """[(mean confidence, accuracy, count)] for each non-empty equal-width bin."""
    ### BEGIN SOLUTION
    p, y = check_inputs(probs, labels)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    curve = []
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            curve.append((float(p[inside].mean()), float(y[inside].mean()), int(inside.sum())))
    return curve
    ### END SOLUTION


def expected_calibration_error(probs, labels, n_bins=10):
    """Bin-size-weighted mean |accuracy - confidence|."""
    ### BEGIN SOLUTION
    curve = reliability_curve(probs, labels, n_bins)
    n = sum(count for _, _, count in curve)
    return float(sum(count / n * abs(acc - conf) for conf, acc, count in curve))
    ### END SOLUTION
''',
    ),
    tests(
        "test_ece",
        """
probs, labels = [0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]
curve = reliability_curve(probs, labels)
assert [count for _, _, count in curve] == [2, 2]
assert abs(expected_calibration_error(probs, labels) - 0.3) < 1e-9
assert reliability_curve([1.0], [1])[-1][2] == 1  # 1.0 falls in the last bin
print("visible tests passed")
""",
        4,
    ),
    md(
        r"""
## Problem 2 (1 point): Brier score

`brier_score(probs, labels)`: the mean squared error $\frac1N\sum_i (p_i - y_i)^2$, as a `float`.
""",
        "p2_text",
    ),
    answer(
        "brier_score",
        '''
def brier_score(probs, labels):
    """mean((p - y)^2)"""
    ### BEGIN SOLUTION
    p, y = check_inputs(probs, labels)
    return float(np.mean((p - y) ** 2))
    ### END SOLUTION
''',
    ),
    tests(
        "test_brier_score",
        """
assert abs(brier_score([0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]) - 0.225) < 1e-9
print("visible tests passed")
""",
        1,
    ),
    md(
        r"""
## Problem 3 (3 points): temperature scaling

`fit_temperature(margins, labels)` returns the temperature $T > 0$ (a `float`) that minimizes the binary cross-entropy of
$\sigma(m_i / T)$ against the labels $y_i \in \{0, 1\}$:

$$T^\star = \arg\min_{T > 0} \frac1N \sum_i \Big[\log\big(1 + e^{m_i/T}\big) - y_i\,\frac{m_i}{T}\Big].$$

Search $T$ in $[0.01, 100]$ (a grid over $\log T$ refined around the best point, or `scipy`-free golden-section search); it must be
accurate to 1%. $T$ must always be positive: if the margins point the wrong way (the model prefers the rejected response
more often than not), the loss keeps falling as $T$ grows, and the answer is the largest $T$ searched.
Raise `ValueError` on empty input or different lengths. Dividing by $T > 1$ softens an overconfident model
without changing which response it prefers.
""",
        "p3_text",
    ),
    answer(
        "fit_temperature",
        '''
def fit_temperature(margins, labels):
    """argmin over T > 0 of the BCE of sigmoid(margins / T)."""
    ### BEGIN SOLUTION
    m = np.asarray(margins.detach() if torch.is_tensor(margins) else margins, dtype=float).reshape(-1)
    y = np.asarray(labels.detach() if torch.is_tensor(labels) else labels, dtype=float).reshape(-1)
    if m.size == 0 or m.size != y.size:
        raise ValueError(f"need the same positive number of margins and labels, got {m.size} and {y.size}")

    def loss(log_t):
        z = m / math.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    lo, hi = math.log(0.01), math.log(100.0)
    for _ in range(4):  # grid, then zoom in around the best point
        grid = np.linspace(lo, hi, 41)
        best = int(np.argmin([loss(t) for t in grid]))
        lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, 40)]
    return float(math.exp((lo + hi) / 2))
    ### END SOLUTION
''',
    ),
    tests(
        "test_fit_temperature",
        """
rng = np.random.default_rng(0)
true_margins = rng.normal(0, 2, 4000)
labels = (rng.random(4000) < 1 / (1 + np.exp(-true_margins))).astype(float)
T = fit_temperature(3 * true_margins, labels)  # margins 3x too confident: T close to 3
assert isinstance(T, float) and 2.6 < T < 3.4, T
print("visible tests passed")
""",
        3,
    ),
    md(
        r"""
## The tiny reward model, before and after temperature scaling

The next cell trains the course's tiny reward model for a few seconds on 256 generated preference pairs, five passes over
them, long enough to fit them closely (training is not graded; it uses `course_lib`). It then scores 400 held-out pairs,
shuffles each pair's order so that labels are a mix of 0 and 1, fits the temperature on half of them with **your**
`fit_temperature`, and draws the reliability diagram of the other half before and after temperature scaling with **your**
functions.
""",
        "model_text",
    ),
    readonly(
        "plot",
        """
from course_lib.data.preferences import make_preference_pairs
from course_lib.evaluation.calibration import swap_pairs
from course_lib.models.backbone import build_tiny_backbone
from course_lib.training.reward_model import RewardModel, RewardTrainingConfig, reward_scores, train_reward_model

torch.manual_seed(0)
backbone, tokenizer = build_tiny_backbone()
model = RewardModel(backbone)
train_pairs, test_pairs = make_preference_pairs(256, seed=1), make_preference_pairs(400, seed=2)
config = RewardTrainingConfig(max_steps=80, batch_size=16, progress=False)  # 5 epochs
train_reward_model(model, tokenizer, train_pairs, None, config)
chosen = reward_scores(model, tokenizer, [p.prompt + p.chosen for p in test_pairs])
rejected = reward_scores(model, tokenizer, [p.prompt + p.rejected for p in test_pairs])
margins, labels = swap_pairs(np.asarray(chosen) - np.asarray(rejected), seed=0)
fit_m, fit_y, test_m, test_y = margins[:200], labels[:200], margins[200:], labels[200:]
T = fit_temperature(fit_m, fit_y)
before = 1 / (1 + np.exp(-test_m))
after = 1 / (1 + np.exp(-test_m / T))

fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], color="gray", ls="--", label="perfect calibration")
for name, probs in [("before", before), (f"after (T = {T:.2f})", after)]:
    curve = reliability_curve(probs, test_y)
    ece = expected_calibration_error(probs, test_y)
    ax.plot([c for c, _, _ in curve], [a for _, a, _ in curve], marker="o", label=f"{name}: ECE = {ece:.3f}")
ax.set_xlabel("confidence (predicted probability)")
ax.set_ylabel("accuracy (fraction preferred)")
ax.legend()
plt.show()
accuracy = [float(np.mean((m > 0) == (test_y == 1))) for m in (test_m, test_m / T)]
print(f"T = {T:.2f}; held-out pairwise accuracy before and after scaling: {accuracy[0]:.3f}, {accuracy[1]:.3f}")
""",
        skip=True,
    ),
    md(
        r"""
## Written question (2 points)

Is the tiny reward model well calibrated? Do higher predicted probabilities correspond to higher rates of being preferred?
Explain why reward models trained with the Bradley–Terry loss tend to be overconfident, and what temperature scaling can and
**cannot** fix (think about pairwise accuracy). (Three or four sentences.)
""",
        "written_text",
    ),
    written(
        "written_calibration",
        r"""
### BEGIN SOLUTION
**Rubric (2 points).** 1 point: reads the diagram: higher confidence does go with a higher rate of being preferred (the curve rises),
but points lie off the diagonal, typically below it at high confidence (overconfident); quotes the ECE before and after.
1 point: the BT loss keeps pushing margins apart on pairs already ranked right (the loss never reaches 0), and training to low loss on
easy pairs inflates margins, so probabilities drift toward 0 and 1; temperature scaling rescales all margins by one number, which can
fix that global over- or under-confidence (lower ECE, lower NLL) but cannot change any pair's ranking, so pairwise accuracy, and
errors on hard pairs, stay exactly the same. Half a point off for no reference to the diagram.
### END SOLUTION
""",
        2,
    ),
]
save(cells, SOURCE / "ps5_calibration" / "ps5_calibration.ipynb")
