"""What the map's dots show: each image's label, the latest classifier's prediction and the
open label suggestions, aligned with a layout's image ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.store import Project, RunKind


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
