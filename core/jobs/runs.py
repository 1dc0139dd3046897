"""The record of a run: a store row from start to end and a folder that appears whole.

While a run trains, its files go to ``runs/<id>.partial/``, which holds a lock for as
long as the training process lives. Finishing renames the folder to ``runs/<id>/`` and
marks the row done in one step the user can rely on: a run is either complete, or
failed / cancelled with nothing left behind. A process killed mid-run leaves a
'running' row and a partial folder whose lock is free; :func:`recover_interrupted_runs`
(called before every new run) marks it failed and removes the folder.

A run may stream its predictions (:class:`~core.store.PredictionState`): it finishes
first (folder in place, status done, ``prediction_state`` 'streaming'), then stores them
in batches while ``runs/<id>.predicting/`` holds the lock and the files still being
written (heat maps); they move into the run folder whole when the streaming ends,
however it ends. The run ends 'complete', or 'partial' when cancelled or failed, keeping
the predictions it stored. A process killed while streaming leaves a 'streaming' run
whose lock is free: :func:`recover_interrupted_runs` marks it partial.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import IO, Any

from core.files import atomic_writer, write_text_atomic
from core.jobs.base import JobCancelled
from core.jobs.snapshot import LabelSnapshot
from core.store import PredictionState, Project, Run, RunStatus, StoreError

logger = logging.getLogger(__name__)
LOCK_NAME = ".lock"
TRAINING_LOCK = ".training.lock"
STREAMING_SUFFIX = ".predicting"


class TrainingBusyError(StoreError):
    """Another process trains on this project right now (one job at a time)."""


class RunRecorder:
    """Context manager around one training run.

    Example::

        with RunRecorder(project, method=RunKind.CLASSIFIER.method(), config=cfg, snapshot=snap, seed=0) as run:
            ...
            run.save_checkpoint(model.state_dict(), config=cfg)
            run.finish(metrics={"accuracy": 0.93})
    """

    def __init__(self, project: Project, *, method: str, config: dict[str, Any], snapshot: LabelSnapshot,
                 seed: int | None) -> None:
        self._project = project
        self._method = method
        self._config = config
        self._snapshot = snapshot
        self._seed = seed
        self._busy: IO | None = None
        self._lock: IO | None = None
        self.run: Run | None = None
        self.checkpoint: str | None = None
        self._finished = False
        self._finished_at = 0.0
        self._streaming = False
        self._stream_lock: IO | None = None

    @property
    def partial_dir(self) -> Path:
        assert self.run is not None
        return self._project.runs_dir / f"{self.run.id}.partial"

    @property
    def final_dir(self) -> Path:
        assert self.run is not None
        return self._project.runs_dir / str(self.run.id)

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` ran (the run is done, its predictions may still stream)."""
        return self._finished

    @property
    def stream_dir(self) -> Path:
        """Where a run that streams its predictions writes files until the streaming ends."""
        assert self.run is not None
        return self._project.runs_dir / f"{self.run.id}{STREAMING_SUFFIX}"

    def __enter__(self) -> RunRecorder:
        self._busy = _try_lock(self._project.runs_dir / TRAINING_LOCK)
        if self._busy is None:
            raise TrainingBusyError("another training job is running on this project; wait for it or cancel it")
        recover_interrupted_runs(self._project)
        self.run = self._project.runs.start(method=self._method, config=self._config,
                                            label_snapshot=self._snapshot.to_json(), seed=self._seed)
        self.partial_dir.mkdir(parents=True)
        self._lock = _try_lock(self.partial_dir / LOCK_NAME)
        write_text_atomic(self.partial_dir / "labels.json", json.dumps(
            {"labels": self._snapshot.labels, "masks": self._snapshot.masks, "classes": self._snapshot.classes}))
        return self

    def save_checkpoint(self, state_dict: dict[str, Any], *, config: dict[str, Any], name: str = "model.pt") -> Path:
        """Writes ``{"state_dict", "config"}`` atomically; load it with :func:`load_checkpoint`."""
        import torch

        path = self.partial_dir / name
        with atomic_writer(path, "wb") as handle:
            torch.save({"state_dict": state_dict, "config": config}, handle)
        self.checkpoint = name
        return path

    def adopt_checkpoint(self, source: Path, *, name: str = "model.pt") -> Path:
        """Takes the finished checkpoint file ``source`` (another run's) as this run's own:
        a hard link where the file system allows it, else a copy; a run that reuses weights."""
        path = self.partial_dir / name
        try:
            os.link(source, path)
        except OSError:
            shutil.copyfile(source, path)
        self.checkpoint = name
        return path

    def write_json(self, name: str, data: Any) -> None:
        write_text_atomic(self.partial_dir / name, json.dumps(data, indent=1, default=float))

    def finish(self, *, metrics: dict[str, Any], streaming: bool = False) -> Run:
        """Moves the folder into place and marks the run done; with ``streaming`` its
        predictions follow (:meth:`end_streaming` when all are stored)."""
        assert self.run is not None
        self.write_json("metrics.json", metrics)
        if streaming:
            self.stream_dir.mkdir()
            self._stream_lock = _try_lock(self.stream_dir / LOCK_NAME)
        _unlock(self._lock)
        self._lock = None
        (self.partial_dir / LOCK_NAME).unlink(missing_ok=True)
        os.replace(self.partial_dir, self.final_dir)
        checkpoint = f"{self.run.id}/{self.checkpoint}" if self.checkpoint else None
        self.run = self._project.runs.finish(self.run.id, status=RunStatus.DONE, metrics=metrics,
                                             checkpoint=checkpoint,
                                             prediction_state=PredictionState.STREAMING if streaming else None)
        self._finished_at = time.monotonic()
        self._finished = True
        self._streaming = streaming
        return self.run

    def publish(self, name: str) -> None:
        """Moves a file the streaming wrote to :attr:`stream_dir` into the run folder."""
        os.replace(self.stream_dir / name, self.final_dir / name)

    def write_final_json(self, name: str, data: Any) -> None:
        """Adds a JSON file to the folder of a run that streams (written whole)."""
        write_text_atomic(self.final_dir / name, json.dumps(data, indent=1, default=float))

    def replace_checkpoint(self, state_dict: dict[str, Any]) -> Path:
        """Rewrites the checkpoint of a run that streams its predictions (whole, with the
        config it was saved with), e.g. with a temperature fitted after the first predictions."""
        import torch

        assert self.run is not None and self._streaming and self.checkpoint is not None
        path = self.final_dir / self.checkpoint
        config = torch.load(path, map_location="cpu", weights_only=True)["config"]
        with atomic_writer(path, "wb") as handle:
            torch.save({"state_dict": state_dict, "config": config}, handle)
        return path

    def update_metrics(self, metrics: dict[str, Any]) -> Run:
        """Replaces the metrics of a run that streams its predictions (store and ``metrics.json``)."""
        assert self.run is not None and self._streaming
        self.write_final_json("metrics.json", metrics)
        self.run = self._project.runs.update_metrics(self.run.id, metrics)
        return self.run

    def end_streaming(self, state: PredictionState = PredictionState.COMPLETE) -> Run:
        """Marks how far the predictions of a streaming run got, and the seconds they took
        (``metrics["prediction_seconds"]``: the next retrain's estimate reads them); removes
        its streaming folder."""
        assert self.run is not None and self._streaming
        seconds = round(time.monotonic() - self._finished_at, 1)
        self.run = self._project.runs.set_prediction_state(
            self.run.id, state, metrics={**self.run.metrics, "prediction_seconds": seconds})
        self._streaming = False
        _unlock(self._stream_lock)
        self._stream_lock = None
        shutil.rmtree(self.stream_dir, ignore_errors=True)
        return self.run

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        try:
            if self._streaming:  # stopped before every prediction was stored: keep what was
                self.end_streaming(PredictionState.PARTIAL)
            if self.run is not None and not self._finished:
                cancelled = exc_type is JobCancelled or exc_type is None
                status = RunStatus.CANCELLED if cancelled else RunStatus.FAILED
                detail = {} if cancelled else {"error": "".join(traceback.format_exception_only(exc_type, exc))}
                with self._project.transaction():
                    self._project.predictions.delete_run(self.run.id)
                    self._project.runs.finish(self.run.id, status=status, metrics=detail)
                _unlock(self._lock)
                shutil.rmtree(self.partial_dir, ignore_errors=True)
        finally:
            _unlock(self._busy)
        return exc_type is JobCancelled  # a cancelled job ends normally


def recover_interrupted_runs(project: Project, *, status: RunStatus = RunStatus.FAILED,
                             reason: str = "interrupted (process ended)") -> list[int]:
    """Marks ``status`` (failed) every 'running' run whose process is gone, removes its
    partial folder and any predictions it had stored; marks partial every run whose
    predictions stopped streaming that way."""
    recovered = _recover_interrupted_streams(project)
    for run in project.runs.list():
        if run.status is not RunStatus.RUNNING:
            continue
        partial = project.runs_dir / f"{run.id}.partial"
        probe = _try_lock(partial / LOCK_NAME) if partial.is_dir() else None
        if partial.is_dir() and probe is None:
            continue  # its process still holds the lock: it is alive
        _unlock(probe)
        project.predictions.delete_run(run.id)
        project.runs.finish(run.id, status=status, metrics={"error": reason})
        shutil.rmtree(partial, ignore_errors=True)
        recovered.append(run.id)
        logger.warning("run %d was interrupted; marked %s", run.id, status.value)
    return recovered


def _recover_interrupted_streams(project: Project) -> list[int]:
    recovered = []
    for run in project.runs.predicting():
        folder = project.runs_dir / f"{run.id}{STREAMING_SUFFIX}"
        probe = _try_lock(folder / LOCK_NAME) if folder.is_dir() else None
        if folder.is_dir() and probe is None:
            continue  # still streaming
        _unlock(probe)
        project.runs.set_prediction_state(run.id, PredictionState.PARTIAL)
        shutil.rmtree(folder, ignore_errors=True)
        recovered.append(run.id)
        logger.warning("run %d stopped storing predictions (process ended); marked partial", run.id)
    return recovered


def load_checkpoint(project: Project, run: Run, name: str | None = None) -> dict[str, Any]:
    """The ``{"state_dict", "config"}`` of a finished run (tensors only: weights_only):
    its main checkpoint, or the file ``name`` it saved besides (``save_checkpoint(name=)``)."""
    import torch

    if name is not None:
        return torch.load(project.runs_dir / str(run.id) / name, map_location="cpu", weights_only=True)
    if run.checkpoint is None:
        raise StoreError(f"run {run.id} has no checkpoint")
    return torch.load(project.runs_dir / run.checkpoint, map_location="cpu", weights_only=True)


def _try_lock(path: Path) -> IO | None:
    """An exclusive lock on ``path`` held through the returned handle; None when another
    process holds it. The OS drops it when the holder dies, however it dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _unlock(handle: IO | None) -> None:
    """Closing the handle releases the lock on every platform."""
    if handle is not None:
        with contextlib.suppress(OSError):
            handle.close()
