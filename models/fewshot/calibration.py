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
import torch
import torch.nn.functional as F

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 100.0


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, max_iter: int = 100) -> float:
    """Temperature T minimising the NLL of ``softmax(logits / T)``.

    Args:
        logits: ``(N, C)`` held-out (or out-of-fold) logits.
        labels: ``(N,)`` int class indices.
        max_iter: L-BFGS iterations.

    Returns:
        T, clipped to ``[MIN_TEMPERATURE, MAX_TEMPERATURE]``; 1.0 for empty input.
    """
    if len(labels) == 0:
        return 1.0
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.detach().exp())
    if not np.isfinite(t):
        return 1.0
    return float(np.clip(t, MIN_TEMPERATURE, MAX_TEMPERATURE))


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
