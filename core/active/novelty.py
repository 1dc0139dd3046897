"""New-looking images: unlabeled images unlike every labeled one, where a defect type
nobody has labeled yet shows up (a classifier can only force it into a known class).

For every candidate: ``gap``, the distance to its nearest labeled image, against the
usual such distance (the median over the candidates), and ``spread``, the mean
distance to its nearest images. A new kind of image comes as a group: far from every
label (a large gap) yet close to its own kind (a small spread), so candidates are
ranked by ``gap / spread``, which a lone odd image (large spread) does not win. Each
pick counts as labeled for the next one, so one group gives one pick, not ten, and a
candidate qualifies only while it is at least :data:`NEW_LOOKING` times the usual
distance from every labeled (or picked) image: the strategy may return fewer than
asked, or none when nothing looks new.
"""

from __future__ import annotations

import numpy as np

from core.active.pool import Pick, Pool, candidate_rows, min_distances

NEW_LOOKING = 2.0  # the nearest labeled image at least this many times the usual distance
GROUP_NEIGHBOURS = 10  # spread: mean distance to this many nearest images
MAX_POOL = 20_000


def novelty(pool: Pool, n: int, rng: np.random.Generator, factor: float = NEW_LOOKING) -> list[Pick]:
    """Up to ``n`` new-looking candidates, best first (see the module docstring); none
    while nothing is labeled (then everything is new: the cold start's job)."""
    rows = candidate_rows(pool, rng, MAX_POOL)
    if len(rows) == 0 or n <= 0 or pool.n_labeled == 0:
        return []
    x = pool.x[rows]
    gap = min_distances(x, pool.x[pool.labeled])
    usual = max(float(np.median(gap)), 1e-9)
    first_gap = gap.copy()
    spread = np.maximum(pool.spread(rows, neighbours=GROUP_NEIGHBOURS), 1e-9)
    picks: list[Pick] = []
    while len(picks) < n:
        score = np.where(gap >= factor * usual, gap / spread, -np.inf)
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break
        ratio = first_gap[j] / usual
        picks.append(Pick(int(rows[j]), float(score[j]),
                          f"unlike any labeled image: the nearest labeled one is {ratio:.1f}× the usual distance away",
                          "novelty"))
        gap = np.minimum(gap, min_distances(x, x[j:j + 1]))
    return picks
