"""Ranking metrics: the standard ROC AUC, with ties counted one half.

``roc_auc(labels, scores)`` (the argument order of ``sklearn.metrics.roc_auc_score``) is the probability
that a randomly drawn positive scores higher than a randomly drawn negative, a tie counting ½:

    AUC = (#{pos > neg} + ½ #{pos = neg}) / (n_pos * n_neg) = U / (n_pos * n_neg),

the Mann-Whitney U statistic of the positives, normalised. It is computed from mid-ranks in
O(n log n), so a scorer that gives every example the same score gets exactly 0.5.

This is not :func:`course_lib.training.reward_model.pairwise_accuracy`, which keeps its strict meaning:
the fraction of (chosen, rejected) pairs with ``r_chosen > r_rejected``, a tie counting as wrong. On a set
of pairs the two differ. Scoring each margin ``m = r_chosen - r_rejected`` against a single negative at 0
gives ``P(m > 0) + ½ P(m = 0)``, which exceeds the pairwise accuracy by half the fraction of tied pairs;
pooling all chosen rewards against all rejected ones compares responses *across* pairs, another number
again.

Example:
    >>> roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.4, 0.1])  # 3 of 4 (pos, neg) pairs right, 1 tie
    0.875
    >>> roc_auc([True, False], [2.0, 2.0])  # a constant scorer is at chance
    0.5
    >>> margins = [1.0, 0.0, 0.0, -1.0]  # r_chosen - r_rejected of 4 pairs; pairwise accuracy 0.25
    >>> roc_auc([1, 1, 1, 1, 0], margins + [0.0])  # the two ties count 1/2 each
    0.5
"""

from __future__ import annotations

import numpy as np


def _as_numbers(x, name: str, what: str) -> np.ndarray:
    """``x`` (list, numpy array or torch tensor) as a flat float64 array; a ValueError names a non-number."""
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x).reshape(-1)
    if arr.dtype.kind not in "biuf":
        bad = [v for v in arr if not isinstance(v, (bool, int, float, np.bool_, np.number))]
        if bad:
            first = bad[0].item() if isinstance(bad[0], np.generic) else bad[0]
            raise ValueError(f"{name} must be {what}, got {first!r}")
    return arr.astype(np.float64)


def _mid_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, tied values sharing the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # start index of each run of equal values, and the run each sorted element belongs to
    new_run = np.concatenate(([True], sorted_x[1:] != sorted_x[:-1]))
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.concatenate((starts[1:], [x.size]))  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = mean_rank[run_id]
    return ranks


def roc_auc(labels, scores) -> float:
    """The ROC AUC of ``scores`` against binary ``labels``, ties counting ½.

    Args:
        labels: 0/1 (or ``False``/``True``) class of each example; a list, numpy array or torch tensor.
        scores: a real score for each example; higher means "more likely positive".

    Returns:
        ``P(score of a positive > score of a negative) + ½ P(equal)``, in [0, 1].

    Raises:
        ValueError: if the lengths differ, a label is not 0/1, a score is nan or inf, or either class
            is empty.
    """
    y = _as_numbers(labels, "labels", "0 or 1 (or False/True)")
    s = _as_numbers(scores, "scores", "real numbers")
    if y.size != s.size:
        raise ValueError(f"labels and scores must have the same length, got {y.size} labels and {s.size} scores")
    not_binary = (y != 0) & (y != 1)
    if not_binary.any():
        raise ValueError(f"labels must be 0 or 1 (or False/True), got {y[not_binary][0]:g}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores must be finite, got {s[~np.isfinite(s)][0]}")
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"roc_auc needs at least one positive and one negative, got {n_pos} positives and {n_neg} negatives"
        )
    rank_sum = float(_mid_ranks(s)[pos].sum())
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)
