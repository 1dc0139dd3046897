"""Which images a run predicts first, and when it commits a batch of predictions.

After a retrain the grid should change within seconds, whatever the project size: a
run that predicts every image stores them in priority order, in batches (each one
transaction, announced with a :class:`~core.jobs.base.StoredPredictions` progress
record). First the images the grid shows (``priority_ids`` of the request; none: the
first :data:`FIRST_BATCH` in import order, the grid's default), then the labeled ones,
then those the run shown until now was unsure of, then the rest in import order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np

from core.jobs.base import Progress, StoredPredictions
from core.store import Project, RunKind

FIRST_BATCH = 128  # images of the first stored batch taken from the priority list
BATCH_SECONDS = 1.0  # a batch is committed at least this often while predicting ...
MAX_BATCH = 4096  # ... or when it holds this many images
UNSURE = 0.5  # images the shown run predicted with at least this uncertainty come before the rest


def prediction_order(image_ids: np.ndarray, priority: Sequence[int] = (), then: Iterable[Iterable[int]] = (),
                     ) -> np.ndarray:
    """Every id of ``image_ids`` once: ``priority`` (or, when empty, the first
    :data:`FIRST_BATCH` ids in import order), then each list of ``then`` in turn, then
    the rest in import order; ids not in ``image_ids`` are dropped."""
    image_ids = np.asarray(image_ids, dtype=np.int64)
    known = set(image_ids.tolist())
    head = list(priority) if len(priority) else image_ids[:FIRST_BATCH].tolist()
    seen: set[int] = set()
    order: list[int] = []
    for group in (head, *then, image_ids.tolist()):
        for image_id in group:
            image_id = int(image_id)
            if image_id in known and image_id not in seen:
                seen.add(image_id)
                order.append(image_id)
    return np.array(order, dtype=np.int64)


def unsure_ids(project: Project, kind: RunKind) -> list[int]:
    """The images the run of ``kind`` the grid shows now was unsure of (uncertainty at
    least :data:`UNSURE`: 1 - margin for the classifier, 1 - |2p - 1| for the detector),
    most unsure first."""
    run_id = project.predictions.latest_run(kind)
    if run_id is None:
        return []
    columns = project.predictions.class_columns(run_id)
    uncertainty = np.nan_to_num(columns.uncertainty, nan=0.0)
    pick = np.flatnonzero(uncertainty >= UNSURE)
    return columns.ids[pick[np.argsort(-uncertainty[pick], kind="stable")]].tolist()


class BatchClock:
    """Says when the predictions gathered since the last commit are due: every
    :data:`BATCH_SECONDS`, or at :data:`MAX_BATCH` images."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def due(self, pending: int) -> bool:
        return pending >= MAX_BATCH or (pending > 0 and time.perf_counter() - self._last >= BATCH_SECONDS)

    def committed(self) -> None:
        self._last = time.perf_counter()


def stored_progress(phase: str, *, run_id: int, kind: RunKind, image_ids: Sequence[int], stored: int, total: int,
                    complete: bool = False, announced: int = 0) -> Progress:
    """The progress record that announces a committed batch of a run's predictions
    (``announced``: those of a first pass this one replaces, counted in
    ``StoredPredictions.stored`` so that a receiver's count still adds up)."""
    return Progress(phase=phase, step=stored, total=total, unit="image",
                    message=f"{'defect detector' if kind is RunKind.SEGDEC else kind.value}: predictions of "
                            f"{stored:,} of {total:,} images stored",
                    stored=StoredPredictions(run_id=run_id, kind=kind.value,
                                             image_ids=tuple(int(i) for i in image_ids), stored=announced + stored,
                                             total=announced + total, complete=complete))
