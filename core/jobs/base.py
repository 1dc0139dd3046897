"""The job protocol shared by the GUI (a QThread forwards it) and the CLI (a tqdm bar).

A job is a generator: built from an immutable request, it yields :class:`Progress`
records at least twice a second, checks its cancel flag between yields, and returns
its result. Nothing in a job touches Qt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

R = TypeVar("R")
Job = Generator["Progress", None, R]


class JobCancelled(Exception):
    """Raised inside a job when its cancel flag is set; the job's recorder marks the run
    cancelled and removes what the run had written."""


@dataclass(frozen=True)
class StoredPredictions:
    """Predictions a running job has just committed to the store: the grid may show them.

    A training job that streams its predictions (:class:`~core.store.PredictionState`)
    finishes its run first, then stores the predictions batch by batch, each batch one
    transaction, and yields a :class:`Progress` carrying one of these after each commit.
    The receiver (the GUI, in another thread or process) re-reads the predictions of
    ``run_id`` for ``image_ids`` (``Catalog.add_stored``, or all of the run's):
    from this record on, ``project.predictions.latest_run(kind)`` is ``run_id`` and the
    rows are there. Plain values only, so that it pickles across a process boundary.

    A forwarder that thins progress records (the worker process sends the newest every
    50 ms) must not lose these: it sends :func:`coalesce` of the records it skips and
    the one it sends. A receiver that still misses one sees ``stored`` grow by more than
    the images it was told of, and reads the run's predictions whole.

    Attributes:
        run_id: the run whose predictions grew (finished: status done).
        kind: what the run predicts, a ``RunKind`` value ("classifier", "segdec").
        image_ids: the images whose predictions this commit stored, in priority order.
        stored: the run's predictions stored so far, this batch included.
        total: the images the run predicts in all (a few unreadable ones may never be stored).
        complete: this was the run's last batch: its predictions are all stored.
    """

    run_id: int
    kind: str
    image_ids: tuple[int, ...]
    stored: int
    total: int
    complete: bool = False

    def merged(self, later: StoredPredictions) -> StoredPredictions:
        """This batch and a later one of the same run, as one."""
        if later.run_id != self.run_id:
            raise ValueError(f"batches of runs {self.run_id} and {later.run_id} do not merge")
        return replace(later, image_ids=self.image_ids + later.image_ids)


@dataclass(frozen=True)
class Preview:
    """Pictures of what a training job makes now, for the GUI to show beside the curves
    (the mask proposer's strip: image -> repair -> difference map -> mask, per image).

    Attributes:
        step: the training step the pictures were made at.
        columns: what each column shows ("image", "repair", "difference", "mask").
        image_ids: the project images shown, one row each.
        tiles: per row, per column: uint8 (h, w) gray (0..255), all of a row the same size.
        note: a line on how the pictures were made (the cut the mask used).
    """

    step: int
    columns: tuple[str, ...]
    image_ids: tuple[int, ...]
    tiles: tuple[tuple[np.ndarray, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Progress:
    """One progress record.

    Attributes:
        phase: what runs now, in words ("pretraining", "embedding", "classifier").
        step / total: position within the phase (total 0 when unknown).
        losses / metrics: the latest values, by name, for the live curves.
        eta_s: estimated seconds left: in the phase, or in the whole job when ``overall``
            is set (a job made of stages, :mod:`core.jobs.stages`).
        message: a line for the status area.
        stored: set on the record that follows a commit of predictions the grid may show
            now (:class:`StoredPredictions`); None on every other record.
        unit: what ``step`` counts ("image", "batch", "step", "run"); "" when step /
            total is only a share of the phase (a time budget in thousandths, say): the
            command line then shows a percentage.
        epoch: epochs of the phase done so far (fractional), the curves' x-axis; None
            for a phase without epochs (its curves run against minutes).
        overall: the fraction of the whole job done, 0..1, never decreasing; None when
            the job does not know its parts (then ``step / total`` is all there is).
        stage: the part of the whole job running now, in words ("Defect detector").
        stages: every part of the whole job, in order (``stage`` is one of them).
        preview: fresh pictures of the model's output (:class:`Preview`), now and then.
    """

    phase: str
    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    eta_s: float | None = None
    message: str = ""
    stored: StoredPredictions | None = None
    unit: str = ""
    epoch: float | None = None
    overall: float | None = None
    stage: str = ""
    stages: tuple[str, ...] = ()
    preview: Preview | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


def coalesce(skipped: Progress | None, later: Progress) -> Progress:
    """The record to send in place of ``skipped`` and ``later`` when a forwarder thins
    progress records: ``later``, carrying the stored predictions of both. Send both
    instead when they carry stored predictions of two runs (``skipped.stored.run_id !=
    later.stored.run_id``), which a retrain never yields within seconds."""
    if skipped is None or skipped.stored is None:
        return later
    if later.stored is None:
        return replace(later, stored=skipped.stored)
    return replace(later, stored=skipped.stored.merged(later.stored))


def thin(skipped: object | None, later: object) -> tuple[list[object], object]:
    """A forwarder that keeps only the newest record: the records to send now (a skipped
    record with metrics, which come once per epoch, or with another run's stored
    predictions) and the one to keep in place of both."""
    if not isinstance(later, Progress) or not isinstance(skipped, Progress):
        return [], later
    if skipped.metrics or skipped.preview is not None:  # a curve point or pictures: never lost
        return [skipped], later
    if skipped.stored is not None and later.stored is not None and skipped.stored.run_id != later.stored.run_id:
        return [skipped], later
    return [], coalesce(skipped, later)


def check_cancel(cancel: threading.Event | None) -> None:
    """Raises :class:`JobCancelled` when ``cancel`` is set; call between steps."""
    if cancel is not None and cancel.is_set():
        raise JobCancelled("cancelled by the user")


def drain(job: Generator[Progress, None, R], on_progress: Callable[[Progress], None] | None = None) -> R:
    """Runs a job to its end in this thread, passing every record to ``on_progress``."""
    while True:
        try:
            record = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(record)


class Eta:
    """Seconds left from the fraction done, smoothed over the elapsed time."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def __call__(self, fraction: float) -> float | None:
        if fraction <= 0.0:
            return None
        elapsed = time.perf_counter() - self._started
        return max(0.0, elapsed * (1.0 - fraction) / fraction)
