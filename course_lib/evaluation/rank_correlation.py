"""Rank correlations: do two metrics order the same models the same way? (book chapter 16)

When a benchmark is meant to predict a downstream result, what matters is whether it ranks reward
models in the same order, not whether the numbers are on the same scale. Two standard measures:

* :func:`spearman_rho`: the Pearson correlation of the two rankings (mid-ranks for ties);
* :func:`kendall_tau`: Kendall's tau-b, ``(concordant - discordant) / sqrt((n0 - n1)(n0 - n2))``
  over all pairs of models; with no ties, ``(1 - tau) / 2`` is the fraction of pairs of models that the
  two metrics order the opposite way.

Both are ``scipy.stats.spearmanr`` and ``scipy.stats.kendalltau`` (tau-b), with the checks scipy
leaves out: where scipy returns NaN for a constant input, these name the problem.

Example:
    >>> x, y = [0.6, 0.7, 0.9], [0.3, 0.5, 0.4]
    >>> round(spearman_rho(x, y), 4), round(kendall_tau(x, y), 4)
    (0.5, 0.3333)
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from course_lib.evaluation.ranking import _as_numbers


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
    return float(stats.spearmanr(*_paired(x, y)).statistic)


def kendall_tau(x, y) -> float:
    """Kendall's tau-b of ``x`` and ``y``: ties in either count as neither concordant nor discordant."""
    return float(stats.kendalltau(*_paired(x, y)).statistic)  # tau-b: scipy's default variant
