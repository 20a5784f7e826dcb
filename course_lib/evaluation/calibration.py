"""Calibration of reward models: reliability curves, ECE, Brier score, temperature scaling (book chapter 6).

A Bradley-Terry reward model turns a reward gap into a probability, ``p = sigmoid(r_a - r_b)``. It is
*calibrated* when, among pairs it gives p = 0.8, response ``a`` is preferred 80% of the time.
Stored pairs are always (chosen, rejected), so every label would be 1; shuffle each pair's order
first (:func:`swap_pairs`) to get a mix of labels. Temperature scaling divides margins by ``T``:
``T > 1`` softens an overconfident model without changing which response it prefers.

Example:
    >>> probs, labels = [0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]
    >>> round(expected_calibration_error(probs, labels, n_bins=10), 3)
    0.3
    >>> round(brier_score(probs, labels), 3)
    0.225
"""

from __future__ import annotations

import math
import random

import numpy as np


def _as_array(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains nan or inf")
    return arr


def _probs_labels(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p, y = _as_array(probs, "probs"), _as_array(labels, "labels")
    if p.shape != y.shape:
        raise ValueError(f"probs and labels must have the same length, got {p.size} and {y.size}")
    if p.min() < 0 or p.max() > 1:
        bad = p[(p < 0) | (p > 1)][0]
        raise ValueError(f"probs must be in [0, 1], got {bad}; apply a sigmoid to margins first")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"labels must be 0 or 1, got {y[(y != 0) & (y != 1)][0]}")
    return p, y


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    if not (isinstance(n_bins, int) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    return np.minimum((p * n_bins).astype(int), n_bins - 1)  # bins [k/n, (k+1)/n); 1.0 in the last


def reliability_curve(probs, labels, n_bins: int = 10) -> list[tuple[float, float, int]]:
    """``(mean confidence, accuracy, count)`` for each non-empty equal-width bin, lowest bin first.

    Accuracy is the fraction of label 1 among the bin's examples; a calibrated model has accuracy
    close to confidence in every bin.
    """
    p, y = _probs_labels(probs, labels)
    idx = _bin_index(p, n_bins)
    return [
        (float(p[idx == b].mean()), float(y[idx == b].mean()), int((idx == b).sum()))
        for b in range(n_bins)
        if (idx == b).any()
    ]


def expected_calibration_error(probs, labels, n_bins: int = 10) -> float:
    """``ECE = sum_b |B_b|/N * |accuracy(B_b) - confidence(B_b)|`` over non-empty equal-width bins."""
    n = _probs_labels(probs, labels)[0].size
    return float(sum(count / n * abs(acc - conf) for conf, acc, count in reliability_curve(probs, labels, n_bins)))


def brier_score(probs, labels) -> float:
    """Mean squared error between probabilities and 0/1 labels: ``mean((p - y)^2)``."""
    p, y = _probs_labels(probs, labels)
    return float(np.mean((p - y) ** 2))


def _nll(margins: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = margins / temperature
    # -[y log s(z) + (1-y) log(1 - s(z))] = softplus(z) - y z, computed stably
    return float(np.mean(np.logaddexp(0.0, z) - labels * z))


def fit_temperature(margins, labels, bounds: tuple[float, float] = (1e-2, 1e2)) -> float:
    """The ``T > 0`` that minimizes the binary cross-entropy of ``sigmoid(margin / T)`` against ``labels``.

    The loss is convex in ``1/T``, so a golden-section search over ``log T`` finds the minimum within
    ``bounds``.
    """
    m = _as_array(margins, "margins")
    y = _as_array(labels, "labels")
    if m.shape != y.shape:
        raise ValueError(f"margins and labels must have the same length, got {m.size} and {y.size}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"labels must be 0 or 1, got {y[(y != 0) & (y != 1)][0]}")
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    if not lo < hi:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds}")
    ratio = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = _nll(m, y, math.exp(c)), _nll(m, y, math.exp(d))
    for _ in range(200):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _nll(m, y, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _nll(m, y, math.exp(d))
        if b - a < 1e-10:
            break
    return float(math.exp((a + b) / 2))


def swap_pairs(margins, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Randomly flip each (chosen, rejected) pair: returns ``(margins, labels)`` with labels 1 if unflipped."""
    m = _as_array(margins, "margins")
    rng = random.Random(seed)
    flips = np.array([rng.random() < 0.5 for _ in range(m.size)])
    return np.where(flips, -m, m), (~flips).astype(np.float64)


def sigmoid(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))
