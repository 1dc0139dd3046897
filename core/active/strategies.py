"""Active-learning strategies on embeddings and classifier probabilities (numpy / scikit-learn).

Every strategy takes a :class:`Pool` (all images of a project: reduced features, which
are labeled, which may be suggested, the classifier's probabilities when there is one)
and returns up to ``n`` :class:`Pick` s, best first, each with a reason in words.

- ``random``: the baseline every curve is compared with.
- ``typicality`` (TypiClust, Hacohen et al. 2022): k-means into labeled + n clusters,
  then the densest image of the largest clusters that hold no label. For a cold start.
- ``kcenter``: greedy k-center (Sener & Savarese 2018), the image farthest from every
  labeled or already picked image.
- ``coverage`` (:mod:`core.active.cold_start`): k-center weighted by typicality, the
  default cold start: finds the classes with typical images.
- ``novelty`` (:mod:`core.active.novelty`): new-looking images, unlike every labeled one.
- ``margin`` / ``entropy`` / ``least_confidence``: uncertainty of the classifier.
- ``badge`` (Ash et al. 2020): k-means++ seeding on gradient embeddings
  ``(p - onehot(argmax p)) x features``: uncertain and diverse in one step.
- ``balance``: class-balanced uncertainty, the most undecided images predicted as the
  classes with the fewest labels, so rare classes get labels early.

Uncertainty picks are de-duplicated (:func:`deduplicate`): a batch of ten near-copies
teaches what one of them does. Without a classifier the uncertainty strategies fall back
to random picks (the usual start of uncertainty sampling), ``balance`` and ``badge`` to
typicality.

Each pick's reason comes from :mod:`core.active.reasons`: true of the image it is given for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.active.cold_start import coverage
from core.active.novelty import novelty
from core.active.pool import NEIGHBOURS, Pick, Pool, kmeans, min_distances, sq_distances
from core.active.reasons import badge_reason, balance_reason, kcenter_reason, typicality_reason, uncertainty_reason

MAX_CLUSTERS = 600  # k-means cost grows with k; beyond this, clusters are merged (100k images)
BATCH_CLUSTERS = 30  # typicality clusters into labeled + this many: a long queue (200) would cut tiny clusters
DEDUP_FACTOR = 0.25  # near-copy: closer than a quarter of that (robust to data full of near-copies)

_sq_distances = sq_distances
_min_distances = min_distances


def _names(pool: Pool, columns: np.ndarray) -> list[str]:
    return [pool.class_names[int(pool.prob_classes[c])] for c in columns]


# -- strategies ------------------------------------------------------------------------------
def random_picks(pool: Pool, n: int, rng: np.random.Generator) -> list[Pick]:
    candidates = np.flatnonzero(pool.candidate)
    chosen = rng.choice(candidates, size=min(n, len(candidates)), replace=False)
    return [Pick(int(i), 0.0, "drawn at random (the baseline)", "random") for i in chosen]


def _typical_member(x: np.ndarray, members: np.ndarray, allowed: np.ndarray, rng: np.random.Generator) -> int:
    """The allowed member of a cluster with the highest typicality: the inverse of the
    mean distance to its nearest neighbours inside the cluster."""
    if len(members) > 3000:  # density from a sample of the cluster: enough to rank
        reference = rng.choice(members, size=3000, replace=False)
    else:
        reference = members
    options = members[allowed[members]]
    if len(options) == 1:
        return int(options[0])
    k = min(NEIGHBOURS, len(reference) - 1)
    if k < 1:
        return int(options[0])
    d = np.sqrt(_sq_distances(x[options], x[reference]))
    d.sort(axis=1)
    mean_nn = d[:, 1:k + 1].mean(axis=1)  # column 0 is the image itself (when it is in the reference)
    return int(options[int(np.argmin(mean_nn))])


def typicality(pool: Pool, n: int, rng: np.random.Generator) -> list[Pick]:
    """TypiClust: clusters the whole pool into labeled + n clusters (n at most
    :data:`BATCH_CLUSTERS`, about what one labels between retrains) and picks the most
    typical candidate of each large cluster without labels; when those run out, the
    clusters with the most images per label (or pick) get another."""
    candidates = np.flatnonzero(pool.candidate)
    if len(candidates) == 0 or n <= 0:
        return []
    k = int(min(pool.n_labeled + min(n, BATCH_CLUSTERS), MAX_CLUSTERS, len(pool.x)))
    cluster = kmeans(pool.x, max(1, k), rng)
    sizes = np.bincount(cluster, minlength=k)
    labels_in = np.bincount(cluster[pool.labeled], minlength=k)
    picked_in = np.zeros(k, dtype=np.int64)
    covered = labels_in.astype(float)  # labels and the picks so far
    allowed = pool.candidate.copy()
    members_of = {c: np.flatnonzero(cluster == c) for c in range(k)}
    open_count = np.bincount(cluster[allowed], minlength=k)
    picks: list[Pick] = []
    while len(picks) < n:
        worth = np.where(open_count > 0, sizes / (1.0 + covered), -1.0)
        c = int(np.argmax(worth))
        if worth[c] < 0:
            break
        index = _typical_member(pool.x, members_of[c], allowed, rng)
        reason = typicality_reason(int(sizes[c]), int(labels_in[c]), int(picked_in[c]))
        picks.append(Pick(index, float(worth[c]), reason, "typicality"))
        picked_in[c] += 1
        covered[c] += 1
        open_count[c] -= 1
        allowed[index] = False
    return picks


def kcenter(pool: Pool, n: int, rng: np.random.Generator, max_pool: int = 20_000) -> list[Pick]:
    """Greedy k-center: again and again the candidate farthest from every labeled or picked
    image (among a random ``max_pool`` of the candidates in very large projects)."""
    candidates = np.flatnonzero(pool.candidate)
    if len(candidates) == 0 or n <= 0:
        return []
    if len(candidates) > max_pool:  # distances to every labeled image cost candidates x labeled
        candidates = np.sort(rng.choice(candidates, size=max_pool, replace=False))
    x = pool.x[candidates]
    gap = _min_distances(x, pool.x[pool.labeled])
    typical = pool.nn_distance()
    picks: list[Pick] = []
    for _ in range(min(n, len(candidates))):
        if np.isinf(gap).all():  # nothing labeled yet: start from the image nearest the centre
            j = int(np.argmin(_min_distances(x, x.mean(axis=0, keepdims=True))))
            reason, score = "the most central image (nothing is labeled yet)", 0.0
        else:
            j = int(np.argmax(gap))
            score = float(gap[j])
            if score <= 0:
                break
            reason = kcenter_reason(score / typical, after_picks=bool(picks))
        picks.append(Pick(int(candidates[j]), score, reason, "kcenter"))
        gap = np.minimum(gap, _min_distances(x, x[j:j + 1]))
        gap[j] = -np.inf
    return picks


def _uncertainty(pool: Pool, kind: str) -> tuple[np.ndarray, list[str]]:
    """(score per candidate row, reason per candidate row) of one uncertainty measure."""
    candidates = np.flatnonzero(pool.candidate)
    p = pool.probabilities[candidates]
    order = np.argsort(-p, axis=1)
    top = np.take_along_axis(p, order[:, :3], axis=1)
    if kind == "margin":
        second = top[:, 1] if p.shape[1] > 1 else np.zeros(len(p))
        score = 1.0 - (top[:, 0] - second)
    elif kind == "entropy":
        score = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1) / np.log(max(p.shape[1], 2))
    else:
        score = 1.0 - top[:, 0]
    return score, [uncertainty_reason(kind, _names(pool, order[row, :3]), top[row]) for row in range(len(candidates))]


def deduplicate(pool: Pool, ranked: list[int], n: int, factor: float = DEDUP_FACTOR) -> list[int]:
    """The first ``n`` of ``ranked`` (pool rows, best first), skipping any closer than
    ``factor`` × the typical nearest-neighbour distance to one already taken."""
    limit = factor * pool.nn_distance()
    taken: list[int] = []
    for index in ranked:
        if taken and _min_distances(pool.x[index:index + 1], pool.x[taken])[0] < limit:
            continue
        taken.append(index)
        if len(taken) == n:
            break
    return taken


def _uncertainty_strategy(kind: str) -> Callable[[Pool, int, np.random.Generator], list[Pick]]:
    def pick(pool: Pool, n: int, rng: np.random.Generator) -> list[Pick]:
        if pool.probabilities is None:
            return [Pick(p.index, p.score, "no classifier yet: " + p.reason, kind) for p in random_picks(pool, n, rng)]
        candidates = np.flatnonzero(pool.candidate)
        score, reasons = _uncertainty(pool, kind)
        order = np.argsort(-score, kind="stable")
        rows = deduplicate(pool, [int(candidates[j]) for j in order[: max(n * 20, 200)]], n)
        where = {int(candidates[j]): j for j in order[: max(n * 20, 200)]}
        return [Pick(r, float(score[where[r]]), reasons[where[r]], kind) for r in rows]

    pick.__name__ = kind
    return pick


margin = _uncertainty_strategy("margin")
entropy = _uncertainty_strategy("entropy")
least_confidence = _uncertainty_strategy("least_confidence")


def badge(pool: Pool, n: int, rng: np.random.Generator, max_pool: int = 20_000) -> list[Pick]:
    """BADGE: k-means++ seeding on the last-layer gradient embeddings of the candidates
    (on a random subset of ``max_pool`` for very large projects)."""
    if pool.probabilities is None:
        return [Pick(p.index, p.score, p.reason, "badge") for p in typicality(pool, n, rng)]
    candidates = np.flatnonzero(pool.candidate)
    if len(candidates) > max_pool:
        candidates = np.sort(rng.choice(candidates, size=max_pool, replace=False))
    p = pool.probabilities[candidates]
    guess = p.argmax(axis=1)
    residual = p.copy()
    residual[np.arange(len(p)), guess] -= 1.0
    x = pool.x[candidates]
    # the last layer's gradient for weights and bias: the bias column keeps images near the
    # centre of the (centred) features from looking certain just because their features are small
    x = np.concatenate([x, np.full((len(x), 1), np.median(np.linalg.norm(x, axis=1)) + 1e-6)], axis=1)
    g = (residual[:, :, None] * x[:, None, :]).reshape(len(p), -1).astype(np.float32)
    norms = np.sqrt((g * g).sum(axis=1))
    picks: list[Pick] = []
    first = int(np.argmax(norms))
    chosen = [first]
    gap = _min_distances(g, g[first:first + 1]) ** 2
    while len(chosen) < min(n, len(candidates)):
        total = gap.sum()
        if total <= 0:
            break
        j = int(rng.choice(len(g), p=gap / total))
        chosen.append(j)
        gap = np.minimum(gap, _min_distances(g, g[j:j + 1]) ** 2)
    top2 = np.sort(p, axis=1)[:, ::-1]
    for j in chosen:
        m = float(top2[j, 0] - (top2[j, 1] if p.shape[1] > 1 else 0.0))
        name = _names(pool, np.array([guess[j]]))[0]
        picks.append(Pick(int(candidates[j]), float(norms[j]), badge_reason(name, m), "badge"))
    return picks


def balance(pool: Pool, n: int, rng: np.random.Generator) -> list[Pick]:
    """Class-balanced uncertainty: round-robin over the classes with the fewest labels
    (counting the picks so far), each time the most undecided candidate predicted as that
    class, skipping near-copies of earlier picks. Rare classes get labels early, and
    the labels land where that class's boundary is unclear."""
    if pool.probabilities is None:
        return [Pick(p.index, p.score, p.reason, "balance") for p in typicality(pool, n, rng)]
    candidates = np.flatnonzero(pool.candidate)
    labels_per_class = pool.label_counts()
    counts = labels_per_class[pool.prob_classes].astype(float)  # labels and the picks so far
    label_counts = {pool.class_names[int(c)]: int(labels_per_class[c]) for c in pool.prob_classes}
    p = pool.probabilities[candidates]
    order = np.argsort(-p, axis=1)
    guess = order[:, 0]
    second = order[:, 1] if p.shape[1] > 1 else order[:, 0]
    rows = np.arange(len(p))
    margin_ = p[rows, guess] - (p[rows, second] if p.shape[1] > 1 else 0.0)
    available = np.ones(len(candidates), dtype=bool)
    limit = DEDUP_FACTOR * pool.nn_distance()
    taken: list[int] = []
    picks: list[Pick] = []
    while len(picks) < n and available.any():
        predicted = np.bincount(guess[available], minlength=p.shape[1]) > 0
        column = int(np.argmin(np.where(predicted, counts, np.inf))) if predicted.any() else 0
        options = np.flatnonzero(available & (guess == column))
        j = int(options[np.argmin(margin_[options])])
        available[j] = False
        row = int(candidates[j])
        if taken and _min_distances(pool.x[row:row + 1], pool.x[taken])[0] < limit:
            continue
        name = pool.class_names[int(pool.prob_classes[column])]
        other = pool.class_names[int(pool.prob_classes[second[j]])]
        picks.append(Pick(row, float(1.0 - margin_[j]),
                          balance_reason(name, float(p[j, column]), other, float(p[j, second[j]]), label_counts),
                          "balance"))
        taken.append(row)
        counts[column] += 1
    return picks


STRATEGY_FUNCTIONS: dict[str, Callable[[Pool, int, np.random.Generator], list[Pick]]] = {
    "random": random_picks,
    "typicality": typicality,
    "kcenter": kcenter,
    "coverage": coverage,
    "novelty": novelty,
    "margin": margin,
    "entropy": entropy,
    "least_confidence": least_confidence,
    "badge": badge,
    "balance": balance,
}


def interleave(parts: list[list[Pick]], n: int) -> list[Pick]:
    """Takes picks from each list in turn (best first), skipping images already taken."""
    out: list[Pick] = []
    seen: set[int] = set()
    cursors = [0] * len(parts)
    while len(out) < n and any(c < len(p) for c, p in zip(cursors, parts, strict=True)):
        for k, part in enumerate(parts):
            while cursors[k] < len(part) and part[cursors[k]].index in seen:
                cursors[k] += 1
            if cursors[k] < len(part) and len(out) < n:
                out.append(part[cursors[k]])
                seen.add(part[cursors[k]].index)
                cursors[k] += 1
    return out
