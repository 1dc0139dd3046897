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


def _texture_set(seed: int, n: int, rare: str | None = None, keep: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features, class index, class names) of ``n`` generated 64 px steel images, only
    ``keep`` of class ``rare``."""
    import torch

    from core.demo import plan_classes, render_sample
    from models.features.texture import TextureStats

    classes = plan_classes(n, seed=seed)
    chosen = [i for i, c in enumerate(classes) if c != rare] + [i for i, c in enumerate(classes) if c == rare][:keep]
    pixels = np.stack([render_sample(i, seed=seed, size=64, class_name=classes[i]).image for i in chosen])
    with torch.no_grad():
        x = TextureStats()(torch.from_numpy(pixels).float()[:, None] / 255.0).numpy()
    names = sorted(set(classes))
    return pca(x, 32), np.array([names.index(classes[i]) for i in chosen]), names


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
def rare_ok():
    """218 images: six defect classes of 35 and 8 OK images (4 %)."""
    return _texture_set(seed=1, n=300, rare="ok", keep=8)


def test_the_default_cold_start_finds_a_rare_class_within_two_rounds(rare_ok):
    x, y, names = rare_ok
    k = len(names)
    assert DEFAULT_SCHEDULE.startswith("coverage")
    for seed in range(3):
        order = _rounds(_pool(x, names), y, "default", k, rounds=2, seed=seed)
        assert names.index("ok") in set(y[order].tolist())
    # what TypiClust alone (the former default) misses: the largest clusters come first
    assert names.index("ok") not in set(y[_rounds(_pool(x, names), y, "typicality", k, rounds=2, seed=0)].tolist())


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
    assert all("unlike every labeled image" in p.reason for p in picks[1:])


@pytest.fixture(scope="module")
def steel():
    return _texture_set(seed=1, n=300)


def test_new_looking_images_surface_a_hidden_class_with_a_true_reason(steel):
    x, y, names = steel
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
