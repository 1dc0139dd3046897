"""The map's layouts of the classifier's features (``[w * embedding, texture statistics]``,
:func:`core.training.pretrain.load_features`):

- ``pca``: the first two principal axes, fitted on a sample. Immediate (well under a
  second for 100,000 images), but classes overlap.
- ``tsne``: t-SNE (Barnes-Hut) on a few thousand *landmarks*, spread over k-means
  groups of the data so that small groups get some too; every other image goes to the
  distance-weighted mean of its nearest landmarks, searched in a 50-D PCA space. t-SNE on
  all 100,000 images would take many minutes on two cores; this takes seconds
  (``benchmarks/map_bench.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Generator

import numpy as np

from core.jobs.base import Progress, check_cancel
from core.map.threads import Reporter, in_thread

FIT_ROWS = 10_000  # rows the 50 principal axes of the refinement are fitted on
LAYOUT_FIT_ROWS = 5_000  # rows the two axes of the PCA layout are fitted on (plenty for two; half the time)
REDUCED_DIMS = 50  # the space landmarks and neighbours are searched in
LANDMARKS = 4_000  # t-SNE points: ~8 s of t-SNE on 2 cores (benchmarks/map_bench.py)
GROUPS = 200  # k-means groups the landmarks are spread over (fewer for fewer landmarks)
NEIGHBOURS = 8  # landmarks averaged to place an image
PLACE_CHUNK = 10_000  # images placed per step (~50 ms)
MIN_TSNE_POINTS = 8  # fewer images: the refined layout is the PCA one


def principal_axes(features: np.ndarray, dims: int, *, fit_rows: int = FIT_ROWS, seed: int = 0,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), axes (dims, D)) of ``features``, fitted on at most ``fit_rows`` rows
    (randomized SVD: a tenth of a second for 10,000 x 1,000)."""
    from sklearn.decomposition import PCA

    n, d = features.shape
    dims = int(max(1, min(dims, d, n)))
    rng = np.random.default_rng(seed)
    sample = features if n <= fit_rows else features[np.sort(rng.choice(n, fit_rows, replace=False))]
    solver = "randomized" if dims < min(sample.shape) // 2 else "full"
    model = PCA(n_components=dims, svd_solver=solver, random_state=seed).fit(sample)
    return model.mean_.astype(np.float32), model.components_.astype(np.float32)


def project_rows(features: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``(features - mean) @ axes.T`` as float32."""
    return (features @ axes.T - mean @ axes.T).astype(np.float32)  # no centred copy of the features


def pca_layout(features: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """(N, 2) float32: ``features`` (N, D) on their first two principal axes, scaled to about -1..1."""
    from threadpoolctl import threadpool_limits

    features = np.asarray(features, dtype=np.float32)
    if len(features) < 2:
        return np.zeros((len(features), 2), np.float32)
    with threadpool_limits(limits=1):  # 3-6x faster than two BLAS threads on a busy laptop
        mean, axes = principal_axes(features, 2, fit_rows=LAYOUT_FIT_ROWS, seed=seed)
        return normalise(pad_columns(project_rows(features, mean, axes)))


def normalise(xy: np.ndarray) -> np.ndarray:
    """Centres ``xy`` on its median and scales it so that 98 % of the points lie within -1..1
    (the same frame for both layouts, whatever their units)."""
    xy = np.asarray(xy, dtype=np.float32)
    if not len(xy):
        return xy.reshape(0, 2)
    centred = xy - np.median(xy, axis=0)
    scale = float(np.percentile(np.abs(centred), 98)) if len(xy) > 1 else 0.0
    return (centred / scale if scale > 0 else centred).astype(np.float32)


def choose_landmarks(x: np.ndarray, n: int, *, groups: int = GROUPS, seed: int = 0) -> np.ndarray:
    """Indices (ascending) of ``n`` rows of ``x`` that cover it: ``x`` is cut into k-means
    groups, each group gets an equal share (all its rows when it is smaller), and the rest
    goes to the larger groups by size. A rare group of images thus gets landmarks, where
    a uniform draw would give it few or none."""
    total = len(x)
    if n >= total:
        return np.arange(total)
    from sklearn.cluster import MiniBatchKMeans

    k = int(min(groups, max(1, n // 20)))  # groups of at least 20 landmarks each
    rng = np.random.default_rng(seed)
    sample = x if total <= FIT_ROWS else x[rng.choice(total, FIT_ROWS, replace=False)]
    groups_model = MiniBatchKMeans(n_clusters=k, batch_size=2048, n_init=1, max_iter=10, random_state=seed)
    labels = groups_model.fit(sample).predict(x)
    counts = np.bincount(labels, minlength=k)
    share = _share(counts, n)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    picked = [rng.choice(order[starts[g]:starts[g + 1]], share[g], replace=False) for g in range(k) if share[g]]
    return np.sort(np.concatenate(picked))


def _share(counts: np.ndarray, n: int) -> np.ndarray:
    """How many of ``n`` landmarks each group gets: water-filling, at most its size."""
    share = np.zeros_like(counts)
    left = n
    open_ = counts > 0
    while left > 0 and open_.any():
        each = max(1, left // int(open_.sum()))
        add = np.where(open_, np.minimum(each, counts - share), 0)
        if add.sum() > left:  # the last round: one each until none are left
            add = np.where(open_, 1, 0)
            add[np.flatnonzero(add)[left:]] = 0
        share += add
        left -= int(add.sum())
        open_ = share < counts
    return share


def place_by_landmarks(x: np.ndarray, landmarks: np.ndarray, landmark_xy: np.ndarray, *, k: int = NEIGHBOURS,
                       chunk: int = PLACE_CHUNK) -> Generator[int, None, np.ndarray]:
    """Places every row of ``x`` at the inverse-square-distance weighted mean of the 2-D
    positions of its ``k`` nearest landmarks in ``x``-space (a landmark lands on its own
    position). Yields the rows placed so far after each chunk; returns (N, 2) float32."""
    from scipy.spatial import cKDTree

    k = int(min(k, len(landmarks)))
    tree = cKDTree(x[landmarks])
    out = np.empty((len(x), 2), np.float32)
    for start in range(0, len(x), chunk):
        stop = min(start + chunk, len(x))
        distance, nearest = tree.query(x[start:stop], k=k, workers=-1)
        if k == 1:
            distance, nearest = distance[:, None], nearest[:, None]
        weight = 1.0 / np.maximum(distance, 1e-9) ** 2
        weight /= weight.sum(axis=1, keepdims=True)
        out[start:stop] = np.einsum("nk,nkd->nd", weight, landmark_xy[nearest])
        yield stop
    out[landmarks] = landmark_xy
    return out


def tsne(x: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """(n, 2) Barnes-Hut t-SNE of the rows of ``x`` (perplexity 30, or less for few rows)."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", method="barnes_hut",
                random_state=seed).fit_transform(x).astype(np.float32)


def refined_layout(features: np.ndarray, *, landmarks: int = LANDMARKS, seed: int = 0,
                   cancel: threading.Event | None = None) -> Generator[Progress, None, np.ndarray]:
    """The refined (t-SNE on landmarks) layout of ``features`` (N, D): (N, 2) float32,
    scaled to about -1..1. Yields progress several times a second (one phase, "map").

    t-SNE itself cannot be interrupted: it runs on a helper thread while this generator
    reports; a cancel raises :class:`JobCancelled` at once and the helper finishes its few
    seconds alone, its result dropped."""
    features = np.asarray(features, dtype=np.float32)
    n = len(features)
    report = Reporter(n, min(landmarks, n))
    if n < MIN_TSNE_POINTS:
        return pca_layout(features, seed=seed)
    x = yield from in_thread(lambda: project_rows(features, *principal_axes(features, REDUCED_DIMS, seed=seed)),
                              cancel, report, "reducing the features", expected_s=0.1 + n / 500_000)
    chosen = yield from in_thread(lambda: choose_landmarks(x, landmarks, seed=seed), cancel, report,
                                   "choosing landmarks", expected_s=0.5)
    landmark_xy = yield from in_thread(lambda: tsne(x[chosen], seed=seed), cancel, report,
                                        f"laying out {len(chosen):,} representative images",
                                        expected_s=report.expected_tsne_s)
    if len(chosen) == n:
        return normalise(landmark_xy)
    placing = place_by_landmarks(x, chosen, landmark_xy)
    while True:
        check_cancel(cancel)
        try:
            done = next(placing)
        except StopIteration as stop:
            return normalise(stop.value)
        yield report("placing the other images", done / n)


def pad_columns(xy: np.ndarray) -> np.ndarray:
    """Two columns (a second of zeros when the features had a single dimension)."""
    return xy if xy.shape[1] == 2 else np.concatenate([xy, np.zeros((len(xy), 2 - xy.shape[1]), np.float32)], 1)
