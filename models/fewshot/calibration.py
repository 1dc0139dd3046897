"""Temperature scaling and expected calibration error.

Guo et al., "On Calibration of Modern Neural Networks", ICML 2017: one scalar T divides
the logits, fitted by minimising the negative log-likelihood of held-out labels.

With a handful of labels there is no held-out set. ``heldout_folds`` then gives a
stratified k-fold split (k = min(``max_folds``, smallest class count >= 2)) in which a
class with a single label is never held out (it stays in every training fold, so the
model always knows it). The caller refits its model per fold and collects the
out-of-fold logits; ``fit_temperature`` on those is the cross-validated estimate. With
two labels per class this is leave-one-out per class. When no class has two labels
there is nothing to hold out and the caller uses a fixed default temperature.
"""

from __future__ import annotations

import numpy as np

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 100.0


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float((log_norm - z[np.arange(len(labels)), labels]).mean())


def fit_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    min_temperature: float = MIN_TEMPERATURE,
    max_temperature: float = MAX_TEMPERATURE,
    iterations: int = 60,
) -> float:
    """Temperature T minimising the NLL of ``softmax(logits / T)``.

    The NLL is convex in 1/T, so a golden-section search over log T in
    ``[min_temperature, max_temperature]`` finds the optimum. When every held-out point is
    classified correctly the optimum is T -> 0; the bound stops it there.

    Args:
        logits: ``(N, C)`` held-out (or out-of-fold) logits.
        labels: ``(N,)`` int class indices.
        min_temperature: Lower bound on T.
        max_temperature: Upper bound on T.
        iterations: Golden-section steps.

    Returns:
        T in ``[min_temperature, max_temperature]``; 1.0 clipped to the bounds for empty input.
    """
    if len(labels) == 0:
        return float(np.clip(1.0, min_temperature, max_temperature))
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    lo, hi = np.log(min_temperature), np.log(max_temperature)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll(z, y, np.exp(a)), _nll(z, y, np.exp(b))
    for _ in range(iterations):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _nll(z, y, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(z, y, np.exp(b))
    return float(np.exp((lo + hi) / 2.0))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise ``softmax(logits / temperature)`` of an ``(N, C)`` array."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error (Naeini et al. 2015; Guo et al. 2017, Eq. 3).

    Args:
        probabilities: ``(N, C)`` predicted class probabilities.
        labels: ``(N,)`` int true classes.
        bins: Equal-width confidence bins on ``[0, 1]``.

    Returns:
        ``sum_b |B_b|/N * |accuracy(B_b) - confidence(B_b)|``; 0.0 for empty input.
    """
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def heldout_folds(labels: np.ndarray, *, max_folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Stratified held-out index sets for cross-validated temperature scaling.

    Args:
        labels: ``(N,)`` int class indices of the labelled rows.
        max_folds: Upper bound on k.
        seed: Shuffling seed.

    Returns:
        k arrays of row indices to hold out (disjoint). Classes with one label are never
        held out. Empty list when no class has two labels.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    eligible = classes[counts >= 2]
    if len(eligible) == 0:
        return []
    k = int(min(max_folds, counts[counts >= 2].min()))
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for c in eligible:
        rows = rng.permutation(np.flatnonzero(labels == c))
        for position, row in enumerate(rows):
            folds[position % k].append(int(row))
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]
