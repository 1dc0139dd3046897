"""The cold start: the first images to label, chosen to find every class and still be
typical of what they stand for (measured by ``benchmarks/cold_start_bench.py``, where
the candidates that lost are kept).

``coverage`` is a density-weighted k-center. Every candidate has a neighbourhood radius
(the mean distance to its 10 nearest images: small where many images look alike); again
and again the candidate with the largest distance to everything labeled or picked,
divided by its radius ** 1.5, goes next, and then moves to the most typical of its 10
nearest candidates that score at least half as high (a better stand-in for its group:
it lifted the classifier's accuracy after the first round from 54 to 59 % on X-SDD).

Plain k-center finds classes but picks outliers; TypiClust (``typicality``) picks
typical images but, with as many clusters as picks, splits the large classes and misses
the small ones. In the first round (one pick per class, 10 seeds) this found 4.0 / 5.1 /
2.7 classes on X-SDD / generated data with a 2 % class / magnetic tiles, against 3.8 /
4.5 / 2.5 at random and 4.2 / 3.8 / 2.1 for TypiClust, with picks denser around them
than 81 / 76 / 89 % of the images; on magnetic tiles (71 % defect-free) random finds
more classes from the third round on.
"""

from __future__ import annotations

import numpy as np

from core.active.pool import Pick, Pool, candidate_rows, min_distances

COVER_NEIGHBOURS = 10  # an image's neighbourhood radius is its mean distance to this many nearest
COVER_POWER = 1.5  # distance over radius ** this (1: spread alone, 2: mostly typicality)
COVER_CLIMB = 10  # a pick moves to the most typical of this many nearest candidates (0: stays)
MAX_POOL = 20_000


def coverage(pool: Pool, n: int, rng: np.random.Generator, neighbours: int = COVER_NEIGHBOURS,
             power: float = COVER_POWER, climb: int = COVER_CLIMB) -> list[Pick]:
    """Density-weighted k-center (see the module docstring); the first pick without
    labels is the most typical image."""
    rows = candidate_rows(pool, rng, MAX_POOL)
    if len(rows) == 0 or n <= 0:
        return []
    radius = np.maximum(pool.spread(rows, neighbours), 1e-9) ** power
    x = pool.x[rows]
    gap = min_distances(x, pool.x[pool.labeled])
    usual = pool.nn_distance()
    picks: list[Pick] = []
    for _ in range(min(n, len(rows))):
        if np.isinf(gap).all():
            j = int(np.argmin(radius))
            picks.append(Pick(int(rows[j]), 0.0, "the most typical image (nothing is labeled yet)", "coverage"))
        else:
            score = gap / radius
            j = int(np.argmax(score))
            if gap[j] <= 0:
                break
            if climb > 1:  # to a denser neighbour that still scores at least half as high
                near = np.argsort(((x - x[j]) ** 2).sum(axis=1))[:climb]
                near = near[score[near] >= 0.5 * score[j]]
                j = int(near[np.argmin(radius[near])])
            nearest = "labeled or suggested image" if picks else "labeled image"
            picks.append(Pick(int(rows[j]), float(gap[j] / radius[j]), f"typical, and {gap[j] / usual:.1f}× the usual"
                              f" distance between neighbours from the nearest {nearest}", "coverage"))
        gap = np.minimum(gap, min_distances(x, x[j:j + 1]))
        gap[j] = -np.inf
    return picks
