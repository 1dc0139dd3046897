"""The images a strategy chooses from (:class:`Pool`), what it returns (:class:`Pick`),
and the geometry every strategy shares: distances, the usual distance between
neighbours, and how typical (dense around it) each image is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 20  # typicality: mean distance to this many neighbours (TypiClust)
NN_RANK = 5  # the "usual distance between neighbours" is the median distance to the 5th nearest one
REFERENCE = 4000  # density is measured against at most this many images of the pool (a sample)


@dataclass
class Pool:
    """The images a strategy chooses from; row ``i`` is image ``ids[i]``.

    Attributes:
        ids: (N,) image ids.
        x: (N, d) float32 features for geometry (PCA-reduced classifier features).
        labeled: (N,) bool, the image has a label.
        candidate: (N,) bool, the image may be suggested (unlabeled, not held out).
        label: (N,) int class index into ``class_names`` for labeled images, -1 otherwise.
        class_names: names of every class of the project.
        probabilities: (N, K) classifier probabilities, or None without a classifier.
        prob_classes: (K,) class index (into ``class_names``) of each probability column.
        run_id: the classifier run the probabilities come from.
    """

    ids: np.ndarray
    x: np.ndarray
    labeled: np.ndarray
    candidate: np.ndarray
    label: np.ndarray
    class_names: list[str]
    probabilities: np.ndarray | None = None
    prob_classes: np.ndarray | None = None
    run_id: int | None = None  # the classifier run the probabilities come from
    _nn_distance: float | None = None
    _reference: np.ndarray | None = None

    @property
    def n_labeled(self) -> int:
        return int(self.labeled.sum())

    def label_counts(self) -> np.ndarray:
        """(C,) labels per class."""
        return np.bincount(self.label[self.labeled], minlength=len(self.class_names))

    def nn_distance(self) -> float:
        """The usual distance between neighbours: the median distance from an image to its
        :data:`NN_RANK`-th nearest one, on a sample (the 1st would be ~0 in data with many
        near-copies)."""
        if self._nn_distance is None:
            rng = np.random.default_rng(0)
            sample = rng.choice(len(self.x), size=min(len(self.x), 2000), replace=False)
            if len(sample) < 2:
                self._nn_distance = 1.0
            else:
                d = np.sqrt(sq_distances(self.x[sample], self.x[sample]))
                d.sort(axis=1)
                self._nn_distance = float(np.median(d[:, min(NN_RANK, len(sample) - 1)]))
        return max(self._nn_distance, 1e-9)

    def reference(self) -> np.ndarray:
        """Rows density is measured against: every row, or a fixed sample of :data:`REFERENCE`."""
        if self._reference is None:
            n = len(self.x)
            self._reference = (np.arange(n) if n <= REFERENCE
                               else np.sort(np.random.default_rng(0).choice(n, size=REFERENCE, replace=False)))
        return self._reference

    def spread(self, rows: np.ndarray, neighbours: int = NEIGHBOURS, chunk: int = 2048) -> np.ndarray:
        """(len(rows),) mean distance from each row to its ``neighbours`` nearest images of
        the pool (itself left out; on the reference sample in large pools). Small = typical:
        the image sits where many others look alike (TypiClust's typicality is 1 / this)."""
        reference = self.reference()
        k = int(min(neighbours, len(reference) - 1))
        out = np.zeros(len(rows))
        if k < 1:
            return out
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            d = sq_distances(self.x[part], self.x[reference])
            d[part[:, None] == reference[None, :]] = np.inf  # not its own neighbour
            nearest = np.partition(d, k - 1, axis=1)[:, :k]
            out[start:start + chunk] = np.sqrt(nearest).mean(axis=1)
        return out


@dataclass(frozen=True)
class Pick:
    index: int  # row in the pool
    score: float  # higher = more worth labeling, within one strategy
    reason: str
    strategy: str


def sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def min_distances(x: np.ndarray, centres: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Distance from every row of ``x`` to its nearest row of ``centres`` (inf when none)."""
    if len(centres) == 0:
        return np.full(len(x), np.inf)
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        out[start:start + chunk] = sq_distances(x[start:start + chunk], centres).min(axis=1)
    return np.sqrt(out)


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, fit_rows: int = 20_000) -> np.ndarray:
    """Cluster of every row; the centres are fitted on at most ``fit_rows`` rows."""
    from sklearn.cluster import KMeans

    seed = int(rng.integers(2**31 - 1))
    model = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=100)
    if len(x) <= fit_rows:
        return model.fit_predict(x)
    model.fit(x[np.sort(rng.choice(len(x), size=fit_rows, replace=False))])
    return model.predict(x)


def candidate_rows(pool: Pool, rng: np.random.Generator, max_pool: int) -> np.ndarray:
    """The candidates' rows, ascending; a random ``max_pool`` of them in very large projects."""
    rows = np.flatnonzero(pool.candidate)
    if len(rows) > max_pool:
        rows = np.sort(rng.choice(rows, size=max_pool, replace=False))
    return rows
