"""Cold-start candidates measured by ``cold_start_bench.py`` and not chosen as the default
(the numbers are in its docstring and in the issue-17 note); kept here, out of the app, so
the table can be reproduced. Registered as strategies by the bench only.

- ``probcover`` (ProbCover, Yehuda et al. 2022): a ball of radius delta around every image,
  delta the largest radius at which 95 % of the balls hold images of one k-means cluster
  only; greedily the image whose ball covers the most images no labeled or picked image
  covers yet.
- ``peaks``: density peaks (Rodriguez & Laio 2014).
- ``spread_typicality``: TypiClust over 3x more clusters than picks, far clusters first.
- ``coverage_stay`` / ``coverage_climb5``: coverage whose picks do not move / move among their 5 nearest.
"""

from __future__ import annotations

import functools

import numpy as np

from core.active.cold_start import coverage
from core.active.pool import Pick, Pool, candidate_rows, kmeans, min_distances, sq_distances
from core.active.reasons import images

PURITY = 0.95  # probcover: share of balls that must hold one cluster only
MAX_POOL = 20_000
MAX_GRAPH = 4000  # probcover: candidates in its ball graph (a sample in larger projects)


def peaks(pool: Pool, n: int, rng: np.random.Generator, neighbours: int = 20) -> list[Pick]:
    """Density peaks (Rodriguez & Laio 2014): a candidate scores its distance to the
    nearest denser image (or labeled or picked one, when nearer) over its neighbourhood
    radius, so the centres of the groups come first, a small group's as well."""
    rows = candidate_rows(pool, rng, MAX_POOL)
    if len(rows) == 0 or n <= 0:
        return []
    reference = pool.reference()
    radius = np.maximum(pool.spread(rows, neighbours), 1e-9)
    reference_radius = pool.spread(reference, neighbours)
    denser = np.full(len(rows), np.inf)
    for start in range(0, len(rows), 2048):
        part = slice(start, start + 2048)
        d = np.sqrt(sq_distances(pool.x[rows[part]], pool.x[reference]))
        d[reference_radius[None, :] >= radius[part, None]] = np.inf
        denser[part] = d.min(axis=1)
    denser[np.isinf(denser)] = np.sqrt(sq_distances(pool.x[rows], pool.x[rows]).max()) if len(rows) < 4000 else 1e9
    x = pool.x[rows]
    gap = min_distances(x, pool.x[pool.labeled])
    usual = pool.nn_distance()
    taken = np.zeros(len(rows), dtype=bool)
    picks: list[Pick] = []
    for _ in range(min(n, len(rows))):
        score = np.where(taken, -np.inf, np.minimum(denser, gap) / radius)
        j = int(np.argmax(score))
        taken[j] = True
        picks.append(Pick(int(rows[j]), float(score[j]), f"the centre of a group of similar images, "
                          f"{min(denser[j], gap[j]) / usual:.1f}× the usual distance from any labeled or denser one",
                          "peaks"))
        gap = np.minimum(gap, min_distances(x, x[j:j + 1]))
    return picks


def spread_typicality(pool: Pool, n: int, rng: np.random.Generator, factor: int = 3, power: float = 1.0) -> list[Pick]:
    """TypiClust over ``factor`` x more clusters than picks, the clusters taken far-first:
    the most typical member of the cluster whose own most typical member is farthest from
    everything labeled or picked, times its size to the ``power``."""
    from core.active.strategies import _typical_member, typicality

    candidates = np.flatnonzero(pool.candidate)
    if len(candidates) == 0 or n <= 0:
        return []
    k = int(min(pool.n_labeled + factor * n, 600, len(pool.x)))
    cluster = kmeans(pool.x, max(1, k), rng)
    sizes = np.bincount(cluster, minlength=k)
    covered = np.bincount(cluster[pool.labeled], minlength=k)
    open_ = [c for c in range(k) if covered[c] == 0 and pool.candidate[cluster == c].any()]
    reps = np.array([_typical_member(pool.x, np.flatnonzero(cluster == c), pool.candidate, rng) for c in open_],
                    dtype=np.int64)
    weight = sizes[open_].astype(float) ** power
    gap = min_distances(pool.x[reps], pool.x[pool.labeled]) if len(reps) else np.zeros(0)
    taken = np.zeros(len(reps), dtype=bool)
    picks: list[Pick] = []
    while len(picks) < n and not taken.all():
        score = np.where(taken, -np.inf, weight if np.isinf(gap[~taken]).all() else gap * weight)
        j = int(np.argmax(score))
        taken[j] = True
        size = images(int(sizes[open_[j]]))
        picks.append(Pick(int(reps[j]), float(score[j]), f"typical of an unlabeled cluster of {size} unlike the labeled"
                          f" ones", "spread_typicality"))
        gap = np.minimum(gap, min_distances(pool.x[reps], pool.x[reps[j]:reps[j] + 1]))
    if len(picks) < n:
        seen = {p.index for p in picks}
        picks += [p for p in typicality(pool, n, rng) if p.index not in seen][:n - len(picks)]
    return picks


def ball_radius(x: np.ndarray, n_clusters: int, rng: np.random.Generator, purity: float = PURITY) -> float:
    """ProbCover's delta: the largest radius at which a ``purity`` share of the balls
    around the rows of ``x`` hold rows of their own k-means cluster only."""
    cluster = kmeans(x, max(2, min(n_clusters, len(x) - 1)), rng)
    d = np.sqrt(sq_distances(x, x))
    d[cluster[:, None] == cluster[None, :]] = np.inf
    nearest_other = d.min(axis=1)  # a ball is pure up to this radius
    return float(np.quantile(nearest_other[np.isfinite(nearest_other)], 1.0 - purity))


def probcover(pool: Pool, n: int, rng: np.random.Generator) -> list[Pick]:
    """ProbCover's greedy max coverage of delta-balls (see the module docstring)."""
    rows = candidate_rows(pool, rng, MAX_GRAPH)
    if len(rows) == 0 or n <= 0:
        return []
    universe = pool.reference()
    delta = ball_radius(pool.x[universe], len(pool.class_names), rng)
    ball = np.sqrt(sq_distances(pool.x[rows], pool.x[universe])) <= delta  # (candidates, universe)
    covered = min_distances(pool.x[universe], pool.x[pool.labeled]) <= delta
    degree = ball[:, ~covered].sum(axis=1).astype(np.int64)
    picks: list[Pick] = []
    usual = pool.nn_distance()
    taken = np.zeros(len(rows), dtype=bool)
    while len(picks) < min(n, len(rows)):
        j = int(np.argmax(np.where(taken, -1, degree)))
        if degree[j] <= 0:  # every image is covered: the rest by distance to the labeled and picked
            rest = [p for p in _farthest(pool, rows[~taken], [p.index for p in picks], n - len(picks))]
            return picks + rest
        share = degree[j] * len(pool.x) / len(universe)
        picks.append(Pick(int(rows[j]), float(degree[j]),
                          f"stands for {images(int(round(share)))} no labeled image is near "
                          f"(within {delta / usual:.1f}× the usual distance between neighbours)", "probcover"))
        taken[j] = True
        newly = ball[j] & ~covered
        covered |= newly
        degree -= ball[:, newly].sum(axis=1)
    return picks


def _farthest(pool: Pool, rows: np.ndarray, picked: list[int], n: int) -> list[Pick]:
    gap = min_distances(pool.x[rows], pool.x[np.concatenate([np.flatnonzero(pool.labeled), picked]).astype(int)])
    order = np.argsort(-gap)[:n]
    usual = pool.nn_distance()
    return [Pick(int(rows[j]), float(gap[j]), f"far from every labeled image: {gap[j] / usual:.1f}× the usual "
                 f"distance between neighbours", "probcover") for j in order]


CANDIDATES = {"probcover": probcover, "peaks": peaks, "spread_typicality": spread_typicality,
              "coverage_stay": functools.partial(coverage, climb=0),
              "coverage_climb5": functools.partial(coverage, climb=5)}


def register() -> None:
    """Makes the candidates usable by name (and in schedules) in this process."""
    from core.active.strategies import STRATEGY_FUNCTIONS

    STRATEGY_FUNCTIONS.update(CANDIDATES)
