"""Rank correlations: do two metrics order the same models the same way? (book chapter 16)

When a benchmark is meant to predict a downstream result, what matters is whether it ranks reward
models in the same order, not whether the numbers are on the same scale. Two standard measures:

* :func:`spearman_rho`: the Pearson correlation of the two rankings (mid-ranks for ties);
* :func:`kendall_tau`: Kendall's tau-b, ``(concordant - discordant) / sqrt((n0 - n1)(n0 - n2))``
  over all pairs of models; with no ties, ``(1 - tau) / 2`` is the fraction of pairs of models that the
  two metrics order the opposite way.

Both give the numbers of ``scipy.stats.spearmanr`` and ``scipy.stats.kendalltau`` (tau-b) without
depending on scipy.

Example:
    >>> spearman_rho([0.6, 0.7, 0.9], [0.3, 0.5, 0.4]), kendall_tau([0.6, 0.7, 0.9], [0.3, 0.5, 0.4])
    (0.5, 0.3333333333333333)
"""

from __future__ import annotations

import numpy as np

from course_lib.evaluation.ranking import _as_numbers, _mid_ranks


def _paired(x, y) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_numbers(x, "x", "numbers"), _as_numbers(y, "y", "numbers")
    if a.size != b.size:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    if a.size < 2:
        raise ValueError(f"need at least 2 paired values to rank, got {a.size}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("x or y is constant: a rank correlation is undefined; give values that differ")
    return a, b


def spearman_rho(x, y) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (same length, neither constant)."""
    a, b = _paired(x, y)
    return float(np.corrcoef(_mid_ranks(a), _mid_ranks(b))[0, 1])


def kendall_tau(x, y) -> float:
    """Kendall's tau-b of ``x`` and ``y``: ties in either count as neither concordant nor discordant."""
    a, b = _paired(x, y)
    i, j = np.triu_indices(a.size, k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])  # [P] over pairs of items
    n0 = i.size
    n1, n2 = int((da == 0).sum()), int((db == 0).sum())
    return float((da * db).sum() / np.sqrt((n0 - n1) * (n0 - n2)))
