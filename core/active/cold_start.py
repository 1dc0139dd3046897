"""Cold-start strategies: the first images to label, chosen to find every class and still
be typical of what they stand for (measured by ``benchmarks/cold_start_bench.py``).

- ``coverage``: greedy k-center on the typical images only. Density prunes the pool to
  its typical part (each image's mean distance to its 20 nearest, the denser half), then
  again and again the image farthest from everything labeled or picked: spread over the
  data like k-center, without k-center's taste for outliers.
- ``probcover`` (ProbCover, Yehuda et al. 2022): a ball of radius delta around every image,
  delta the largest radius at which 95 % of the balls hold images of one k-means cluster
  only; greedily the image whose ball covers the most images that no labeled or picked
  image covers yet.
"""

from __future__ import annotations

import numpy as np

from core.active.pool import Pick, Pool, candidate_rows, images, kmeans, min_distances, sq_distances

KEEP_TYPICAL = 0.5  # coverage: the denser half of the candidates
PURITY = 0.95  # probcover: share of balls that must hold one cluster only
MAX_POOL = 20_000
MAX_GRAPH = 4000  # probcover: candidates in its ball graph (a sample in larger projects)


def coverage(pool: Pool, n: int, rng: np.random.Generator, keep: float = KEEP_TYPICAL) -> list[Pick]:
    """Greedy k-center among the typical candidates (the denser ``keep`` of them); the first
    pick without labels is the most typical image."""
    rows = candidate_rows(pool, rng, MAX_POOL)
    if len(rows) == 0 or n <= 0:
        return []
    spread = pool.spread(rows)
    typical = spread <= np.quantile(spread, keep)
    rows, spread = rows[typical], spread[typical]
    denser_than = 1.0 - np.searchsorted(np.sort(spread), spread, side="right") / len(spread)
    x = pool.x[rows]
    gap = min_distances(x, pool.x[pool.labeled])
    usual = pool.nn_distance()
    picks: list[Pick] = []
    for _ in range(min(n, len(rows))):
        if np.isinf(gap).all():
            j = int(np.argmin(spread))
            reason = "the most typical image (nothing is labeled yet)"
            score = 0.0
        else:
            j = int(np.argmax(gap))
            score = float(gap[j])
            if score <= 0:
                break
            share = 100 * (1 - keep + keep * denser_than[j])
            reason = (f"typical (denser around it than {share:.0f} % of the images) and unlike every labeled "
                      f"image: {score / usual:.1f}× the usual distance between neighbours")
        picks.append(Pick(int(rows[j]), score, reason, "coverage"))
        gap = np.minimum(gap, min_distances(x, x[j:j + 1]))
        gap[j] = -np.inf
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
