"""The cold start and new-looking images on generated steel images (their texture
statistics as the geometry, reduced by the app's own PCA), and on blobs of known shape."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.active.cold_start import coverage
from core.active.novelty import novelty
from core.active.pool import Pool, min_distances
from core.active.suggest import DEFAULT_SCHEDULE, pca, select


@pytest.fixture(scope="module")
def steel() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(texture statistics, class index, class names) of 300 generated 64 px steel images."""
    import torch

    from core.demo import plan_classes, render_sample
    from models.features.texture import TextureStats

    classes = plan_classes(300, seed=1)
    pixels = np.stack([render_sample(i, seed=1, size=64, class_name=c).image for i, c in enumerate(classes)])
    with torch.no_grad():
        x = TextureStats()(torch.from_numpy(pixels).float()[:, None] / 255.0).numpy()
    names = sorted(set(classes))
    return x, np.array([names.index(c) for c in classes]), names


def _pool(x: np.ndarray, names: list[str], labeled: np.ndarray | None = None, y: np.ndarray | None = None) -> Pool:
    labeled = np.zeros(len(x), bool) if labeled is None else labeled
    return Pool(ids=np.arange(len(x)) + 1, x=x.astype(np.float32), labeled=labeled.copy(), candidate=~labeled,
                label=np.where(labeled, y if y is not None else -1, -1), class_names=names)


def _rounds(pool: Pool, y: np.ndarray, strategy: str, k: int, rounds: int, seed: int) -> list[int]:
    """Rows labeled in ``rounds`` rounds of ``k`` picks, the true class revealed after each."""
    order: list[int] = []
    for r in range(rounds):
        rows = [p.index for p in select(pool, strategy, k, seed=seed if r == 0 else seed * 1000 + r)]
        order += rows
        pool.labeled[rows], pool.candidate[rows], pool.label[rows] = True, False, y[rows]
    return order


@pytest.fixture(scope="module")
def rare_ok(steel):
    """220 of them: six defect classes of 35 and 10 OK images (4.5 %). At 64 px only the
    OK images form a group of their own in the texture statistics (a defect class's ten
    nearest images are half other classes), so OK is the class that can be rare here."""
    x, y, names = steel
    ok = np.flatnonzero(y == names.index("ok"))
    keep = np.sort(np.concatenate([np.flatnonzero(y != names.index("ok")), ok[:10]]))
    return pca(x[keep], 32), y[keep], names


def test_the_default_cold_start_finds_a_rare_class_within_two_rounds(rare_ok):
    x, y, names = rare_ok
    k, rare = len(names), names.index("ok")
    assert DEFAULT_SCHEDULE.startswith("coverage")
    for seed in range(3):
        assert rare in set(y[_rounds(_pool(x, names), y, "default", k, rounds=2, seed=seed)].tolist())
    # 2K random picks miss it more often than not
    found = [rare in set(y[_rounds(_pool(x, names), y, "random", k, rounds=2, seed=s)].tolist()) for s in range(3)]
    assert sum(found) < 3


def test_coverage_starts_typical_and_spreads_out():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8)) * 20
    sizes = [200, 120, 60, 12]  # one small group
    x = np.concatenate([c + rng.normal(size=(s, 8)) for c, s in zip(centres, sizes, strict=True)])
    x = np.concatenate([x, centres[0] + rng.normal(size=(3, 8)) * 30])  # three far outliers
    group = np.repeat(np.arange(5), sizes + [3])
    picks = coverage(_pool(x, ["a", "b"]), 4, np.random.default_rng(0))
    assert sorted(group[p.index] for p in picks) == [0, 1, 2, 3]  # every group once, no outlier
    assert picks[0].reason == "the most typical image (nothing is labeled yet)"
    assert picks[1].reason.endswith("from the nearest labeled or suggested image")


def test_new_looking_images_surface_a_hidden_class_with_a_true_reason(steel):
    features, y, names = steel
    x = pca(features, 32)
    hidden = names.index("crazing")
    rng = np.random.default_rng(0)
    labeled = np.zeros(len(y), bool)
    for c in range(len(names)):
        if c != hidden:  # five labels of every other class, none of the hidden one
            labeled[rng.choice(np.flatnonzero(y == c), 5, replace=False)] = True
    pool = _pool(x, names, labeled, y)
    picks = novelty(pool, 5, np.random.default_rng(0))
    assert picks and y[picks[0].index] == hidden
    gap = min_distances(pool.x[pool.candidate], pool.x[labeled])
    usual = np.median(gap)
    for p in picks:
        ratio = float(re.search(r"the nearest labeled one is ([0-9.]+)× the usual distance away", p.reason).group(1))
        assert ratio == pytest.approx(min_distances(pool.x[p.index:p.index + 1], pool.x[labeled])[0] / usual, abs=0.05)
        assert ratio >= 2.0
    assert novelty(_pool(x, names), 5, np.random.default_rng(0)) == []  # nothing labeled: the cold start's job
