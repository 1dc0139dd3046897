"""The embedding map: every image placed in 2-D by the features of the latest pretraining run.

Two layouts of the classifier's features (``[w * embedding, texture statistics]``,
:func:`core.training.pretrain.load_features`):

- ``pca``: the first two principal axes, fitted on a sample. Immediate (well under a
  second for 100,000 images), but classes overlap.
- ``tsne``: t-SNE (Barnes-Hut) on a few thousand *landmarks*, spread over k-means
  groups of the data so that small groups get some too; every other image goes to the
  distance-weighted mean of its nearest landmarks, searched in a 50-D PCA space. t-SNE on
  all 100,000 images would take many minutes on two cores; this takes seconds
  (``benchmarks/map_bench.py``).

Both are cached in ``cache/map-<run>-<kind>.npz`` (image ids and coordinates, written
whole or not at all); :func:`load_layout` returns a cached layout only while its ids are
the project's images. The cache folder is safe to delete.

:func:`map_job` is a job (:mod:`core.jobs.base`): ``refine=False`` returns the PCA layout
(and the refined one when it is cached) in well under a second; ``refine=True`` computes
the refined layout, yielding progress several times a second and checking its cancel
flag between steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from core.files import atomic_writer
from core.jobs.base import JobCancelled, Progress, check_cancel
from core.store import Project, Run, RunKind

logger = logging.getLogger(__name__)
T = TypeVar("T")

KINDS = ("pca", "tsne")
FORMAT = 1  # bump when the layouts change meaning: older cache files are then recomputed
FIT_ROWS = 10_000  # rows the 50 principal axes of the refinement are fitted on
LAYOUT_FIT_ROWS = 5_000  # rows the two axes of the PCA layout are fitted on (plenty for two; half the time)
REDUCED_DIMS = 50  # the space landmarks and neighbours are searched in
LANDMARKS = 4_000  # t-SNE points: ~8 s of t-SNE on 2 cores (benchmarks/map_bench.py)
GROUPS = 200  # k-means groups the landmarks are spread over (fewer for fewer landmarks)
NEIGHBOURS = 8  # landmarks averaged to place an image
PLACE_CHUNK = 10_000  # images placed per step (~50 ms)
POLL_S = 0.2  # progress interval while t-SNE runs
TSNE_S_PER_LANDMARK = 0.003  # rough single-thread t-SNE cost, for the progress bar only
MIN_TSNE_POINTS = 8  # fewer images: the refined layout is the PCA one
NO_ENCODER = ("No map yet: the map places every image by its embedding, which Retrain (Ctrl+R) computes "
              "by pretraining an encoder on all images (a few minutes).")
IMAGES_CHANGED = ("The images changed since the encoder was pretrained: Retrain (Ctrl+R) pretrains it again "
                  "on every image, and the map follows.")


@dataclass(frozen=True)
class MapLayout:
    """2-D coordinates of the images, from one pretraining run.

    Attributes:
        run_id: the pretraining run whose features were laid out.
        kind: "pca" or "tsne".
        ids: (N,) int64 image ids, ascending.
        xy: (N, 2) float32 coordinates, centred, about -1..1.
    """

    run_id: int
    kind: str
    ids: np.ndarray
    xy: np.ndarray


@dataclass(frozen=True)
class MapRequest:
    project_root: Path
    refine: bool = False  # False: the PCA layout only (plus the refined one if cached)
    landmarks: int = LANDMARKS
    seed: int = 0


@dataclass(frozen=True)
class MapPoints:
    """What the map colours its points by, aligned with a layout's ``ids``.

    Attributes:
        label: (N,) int64 label class id, 0 when unlabeled.
        predicted: (N,) int64 class id predicted by the latest classifier run, 0 when none.
        confidence / uncertainty: (N,) float32 of that prediction, NaN when none.
        rank: (N,) int64 rank of the image's label suggestion (1 = label first), 0 when
            none; an image labeled since keeps its rank here (see :meth:`suggested`).
        prediction_run: the classifier run the predictions come from, None when none.
    """

    label: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    uncertainty: np.ndarray
    rank: np.ndarray
    prediction_run: int | None = None

    def suggested(self) -> np.ndarray:
        """(N,) bool: a suggestion names the image and it is still unlabeled."""
        return (self.rank > 0) & (self.label == 0)


@dataclass(frozen=True)
class MapResult:
    """What :func:`map_job` returns; ``message`` says why there is no layout."""

    run_id: int | None
    pca: MapLayout | None
    refined: MapLayout | None
    seconds: float
    cancelled: bool = False
    message: str = ""
    points: MapPoints | None = None


# -- layouts ---------------------------------------------------------------------------------
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
        return normalise(_pad_columns(project_rows(features, mean, axes)))


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
    report = _Reporter(n, min(landmarks, n))
    if n < MIN_TSNE_POINTS:
        return pca_layout(features, seed=seed)
    x = yield from _in_thread(lambda: project_rows(features, *principal_axes(features, REDUCED_DIMS, seed=seed)),
                              cancel, report, "reducing the features", expected_s=0.1 + n / 500_000)
    chosen = yield from _in_thread(lambda: choose_landmarks(x, landmarks, seed=seed), cancel, report,
                                   "choosing landmarks", expected_s=0.5)
    landmark_xy = yield from _in_thread(lambda: tsne(x[chosen], seed=seed), cancel, report,
                                        f"t-SNE on {len(chosen):,} landmarks", expected_s=report.expected_tsne_s)
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


class _Reporter:
    """Progress records over the stages of :func:`refined_layout`, weighted by their
    expected share of the time."""

    STAGES = {"reducing the features": 0.05, "choosing landmarks": 0.05, "t-SNE": 0.8,
              "placing the other images": 0.1}

    def __init__(self, n: int, landmarks: int) -> None:
        self.n = n
        self.landmarks = landmarks
        self.expected_tsne_s = max(0.5, TSNE_S_PER_LANDMARK * landmarks)

    def __call__(self, stage: str, fraction: float) -> Progress:
        done = 0.0
        for name, weight in self.STAGES.items():
            if stage.startswith(name):
                done += weight * min(1.0, fraction)
                break
            done += weight
        return Progress(phase="map", step=int(1000 * done), total=1000,
                        message=f"Map: {stage} ({self.n:,} images)")


def _in_thread(work: Callable[[], T], cancel: threading.Event | None, report: _Reporter, stage: str, *,
               expected_s: float) -> Generator[Progress, None, T]:
    """Runs ``work`` (a library call that cannot stop halfway) on a daemon thread with one
    OpenMP / BLAS thread (a core stays free for the window and a training job), reporting
    every :data:`POLL_S` until it ends; a cancel raises at once and leaves the thread to
    finish alone."""
    box: dict[str, object] = {}

    def target() -> None:
        from threadpoolctl import threadpool_limits

        try:
            # spinning OpenMP / BLAS threads: 2 took 3x as long as 1 under load. (OpenBLAS's limit is
            # process-wide: a cancelled job's thread still running beside a new one may leave it at 1.)
            with threadpool_limits(limits=1):
                box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the job's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="map-tsne", daemon=True)
    started = time.perf_counter()
    thread.start()
    while thread.is_alive():
        thread.join(POLL_S)
        check_cancel(cancel)
        elapsed = time.perf_counter() - started
        yield report(stage, 0.95 * min(1.0, elapsed / expected_s))
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _pad_columns(xy: np.ndarray) -> np.ndarray:
    """Two columns (a second of zeros when the features had a single dimension)."""
    return xy if xy.shape[1] == 2 else np.concatenate([xy, np.zeros((len(xy), 2 - xy.shape[1]), np.float32)], 1)


# -- cache -------------------------------------------------------------------------------------
def layout_path(project: Project, run_id: int, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown map layout {kind!r}; expected one of {', '.join(KINDS)}")
    return project.cache_dir / f"map-{int(run_id)}-{kind}.npz"


def current_image_ids(project: Project) -> np.ndarray:
    """(N,) int64 ids of the project's images, ascending."""
    return project.images.ids()


def save_layout(project: Project, layout: MapLayout) -> Path:
    """Writes ``layout`` to the cache whole (temp file, then ``os.replace``)."""
    path = layout_path(project, layout.run_id, layout.kind)
    with atomic_writer(path, durable=False) as handle:  # a cache: recomputed if lost
        np.savez(handle, ids=layout.ids.astype(np.int64), xy=layout.xy.astype(np.float32), format=FORMAT)
    return path


def load_layout(project: Project, run_id: int, kind: str, ids: np.ndarray | None = None) -> MapLayout | None:
    """The cached ``kind`` layout of run ``run_id``, or None when there is none, it is
    unreadable or of an older format, or its image ids are not ``ids`` (default: the
    project's current images)."""
    path = layout_path(project, run_id, kind)
    if not path.exists():
        return None
    expected = current_image_ids(project) if ids is None else np.asarray(ids, dtype=np.int64)
    try:
        with np.load(path) as stored:
            if int(stored["format"]) != FORMAT or not np.array_equal(stored["ids"], expected):
                return None
            xy = stored["xy"].astype(np.float32)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        logger.warning("ignoring unreadable map cache %s: %s", path, exc)
        return None
    if xy.shape != (len(expected), 2) or not np.isfinite(xy).all():
        return None
    return MapLayout(run_id=int(run_id), kind=kind, ids=expected, xy=xy)


# -- what the points show ----------------------------------------------------------------------
def read_labels(project: Project, ids: np.ndarray) -> np.ndarray:
    """(N,) int64 label class id of each image of ``ids`` (ascending), 0 when unlabeled."""
    ids = np.asarray(ids, dtype=np.int64)
    label = np.zeros(len(ids), np.int64)
    if len(ids):
        labels = project.labels.class_by_image(None if len(ids) > 1000 else ids.tolist())
        _scatter(ids, _keys(labels), [_values(labels)], [label])
    return label


def read_points(project: Project, ids: np.ndarray) -> MapPoints:
    """Labels, the latest classifier run's predictions and the open label suggestions of
    the images ``ids`` (ascending)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    predicted, confidence, uncertainty = np.zeros(n, np.int64), np.full(n, np.nan, np.float32), \
        np.full(n, np.nan, np.float32)
    run_id = project.predictions.latest_run(RunKind.CLASSIFIER)
    if run_id is not None:
        stored = project.predictions.class_columns(run_id)
        _scatter(ids, stored.ids, [stored.class_ids, stored.confidence, stored.uncertainty],
                 [predicted, confidence, uncertainty])
    rank = np.zeros(n, np.int64)
    ranks = project.suggestions.ranks()
    _scatter(ids, _keys(ranks), [_values(ranks)], [rank])
    return MapPoints(label=read_labels(project, ids), predicted=predicted, confidence=confidence,
                     uncertainty=uncertainty, rank=rank, prediction_run=run_id)


def _scatter(ids: np.ndarray, image_ids: np.ndarray, values: list[np.ndarray], columns: list[np.ndarray]) -> None:
    """Writes ``values`` (one array per column, aligned with ``image_ids``) into ``columns`` at
    the images' positions in ``ids`` (ascending); other images are skipped, NaN values left
    as they were."""
    if not len(image_ids) or not len(ids):
        return
    image_ids = np.asarray(image_ids, dtype=np.int64)
    position = np.minimum(np.searchsorted(ids, image_ids), len(ids) - 1)
    found = ids[position] == image_ids
    for value, column in zip(values, columns, strict=True):
        value = np.asarray(value, dtype=np.float64)
        keep = found & ~np.isnan(value)
        column[position[keep]] = value[keep].astype(column.dtype)


def _keys(table: dict[int, int]) -> np.ndarray:
    return np.fromiter(table.keys(), dtype=np.int64, count=len(table))


def _values(table: dict[int, int]) -> np.ndarray:
    return np.fromiter(table.values(), dtype=np.float64, count=len(table))


# -- the job -------------------------------------------------------------------------------------
def map_features(project: Project, run: Run, ids: np.ndarray) -> np.ndarray:
    """The features of the images ``ids`` (ascending) from ``run``, in that order."""
    from core.training.pretrain import load_features

    run_ids, features = load_features(project, run)
    position = np.argsort(run_ids, kind="stable")
    found = position[np.searchsorted(run_ids[position], ids)]
    if not np.array_equal(run_ids[found], ids):
        raise ValueError(f"pretraining run #{run.id} has no features for some images")
    return np.ascontiguousarray(features[found], dtype=np.float32)


def map_job(request: MapRequest, cancel: threading.Event | None = None) -> Generator[Progress, None, MapResult]:
    """Lays out the images of the latest pretraining run (opens its own connection: any thread).

    With ``refine=False`` it returns the cached layouts, computing the PCA one if it is
    missing; with ``refine=True`` it computes (and caches) the refined layout too. A
    project without an encoder covering its images gets a result without layouts and a
    ``message`` saying what to do.
    """
    from core.training.classify import latest_pretrain_run

    started = time.perf_counter()
    with Project.open(request.project_root) as project:
        run = latest_pretrain_run(project)
        if run is None:
            message = IMAGES_CHANGED if any(r.kind is RunKind.PRETRAIN for r in project.runs.list()) \
                else NO_ENCODER
            return MapResult(run_id=None, pca=None, refined=None, seconds=0.0, message=message)
        ids = current_image_ids(project)
        pca = load_layout(project, run.id, "pca", ids)
        refined = load_layout(project, run.id, "tsne", ids)
        features = None
        if pca is None:
            yield Progress(phase="map", step=0, total=1000, message=f"Map: principal axes ({len(ids):,} images)")
            features = map_features(project, run, ids)
            pca = MapLayout(run_id=run.id, kind="pca", ids=ids, xy=pca_layout(features, seed=request.seed))
            save_layout(project, pca)
        if refined is None and request.refine:
            features = map_features(project, run, ids) if features is None else features
            try:
                xy = yield from refined_layout(features, landmarks=request.landmarks, seed=request.seed, cancel=cancel)
            except JobCancelled:
                return MapResult(run_id=run.id, pca=pca, refined=None, cancelled=True,
                                 seconds=time.perf_counter() - started)
            refined = MapLayout(run_id=run.id, kind="tsne", ids=ids, xy=xy)
            save_layout(project, refined)
        points = read_points(project, ids)
    from scipy.spatial import cKDTree  # noqa: F401 - imported here, off the GUI thread, for the map's hit-testing
    return MapResult(run_id=run.id, pca=pca, refined=refined, seconds=time.perf_counter() - started, points=points)
