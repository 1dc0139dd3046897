"""Running a job in the worker process (:mod:`core.jobs.worker`) with the signals of
:class:`labelapp.jobs.runner.JobRunner`, so that a panel does not know where it runs.

A reader thread waits on the worker's pipe and on its process; what arrives is handed
to the GUI thread through queued signals. Cancel sets the shared flag, which the job
checks between steps; a worker that has not ended the job :data:`CANCEL_GRACE_S`
seconds later is terminated, and the job fails with :class:`core.jobs.base.JobCancelled`
(``worker_stopped``). A worker that dies on its own fails the job with
:class:`core.jobs.worker.WorkerDied`, whose message says how. Either way the owner
recovers the run the worker left (:func:`core.jobs.runs.recover_interrupted_runs`), and
the next job starts a fresh worker.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from core.jobs.base import JobCancelled
from core.jobs.worker import JobCall, WorkerDied, WorkerProcess
from core.store import Project, RunStatus, StoreError

logger = logging.getLogger(__name__)
CANCEL_GRACE_S = 5.0


class WorkerStopped(JobCancelled):
    """A cancelled job whose worker did not stop in time and was terminated."""


class WorkerJobRunner(QObject):
    """Runs a :class:`JobCall` in ``worker``.

    Signals:
        progressed(object): a progress record (the newest, at most every 50 ms).
        finished(object): the job's return value.
        failed(object): the exception the job raised, :class:`WorkerDied` or :class:`WorkerStopped`.
    """

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    _received = Signal(object)  # (kind, payload) from the reader thread

    def __init__(self, call: JobCall, worker: WorkerProcess, parent: QObject | None = None, *,
                 cancel_grace_s: float = CANCEL_GRACE_S) -> None:
        super().__init__(parent)
        self._call = call
        self._worker = worker
        self._reader: threading.Thread | None = None
        self._stopping = False  # terminated for a cancel that was not honoured
        self._running = False
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.setInterval(int(cancel_grace_s * 1000))
        self._grace.timeout.connect(self._on_grace_timeout)
        self._received.connect(self._on_received)

    def start(self) -> None:
        if self._running:
            raise RuntimeError("this job is already running")
        self._worker.submit(self._call)
        self._running, self._stopping = True, False
        self._reader = threading.Thread(target=self._read, name="worker-reader", daemon=True)
        self._reader.start()

    def is_running(self) -> bool:
        return self._running

    def is_cancelled(self) -> bool:
        return self._worker.cancel.is_set()

    def cancel(self) -> None:
        """Asks the job to stop at its next check; terminates the worker if it has not
        ended the job within the grace period."""
        if self._running and not self._worker.cancel.is_set():
            self._worker.cancel.set()
            self._grace.start()

    def stop_now(self) -> None:
        """Terminates the worker at once (the window is closing)."""
        if self._running:
            self._stopping = True
            self._worker.terminate()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Blocks until the reader has seen the job end; returns whether it did."""
        reader = self._reader
        if reader is None:
            return True
        reader.join(None if timeout_ms < 0 else timeout_ms / 1000)
        return not reader.is_alive()

    def _read(self) -> None:
        """The reader thread: every message of the job, then its end."""
        while True:
            try:
                message = self._worker.receive(timeout=0.5)
            except WorkerDied as exc:
                self._received.emit(("died", str(exc)))
                return
            if message is None:
                continue
            self._received.emit(message)
            if message[0] in ("result", "error"):
                return

    @Slot()
    def _on_grace_timeout(self) -> None:
        if self._running:
            logger.warning("the worker did not stop within %.0f s of the cancel: terminating it",
                           self._grace.interval() / 1000)
            self._stopping = True
            self._worker.terminate()

    @Slot(object)
    def _on_received(self, message: object) -> None:
        kind, payload = message  # type: ignore[misc]
        if kind == "progress":
            self.progressed.emit(payload)
            return
        if not self._running:
            return
        self._running = False
        self._grace.stop()
        if kind == "result":
            self.finished.emit(payload)
        elif kind == "error":
            self.failed.emit(payload)
        elif self._stopping:
            self.failed.emit(WorkerStopped(
                "cancelled: the worker did not stop in time and was stopped; nothing was kept"))
        else:
            self.failed.emit(WorkerDied(payload))


def recover_run(project: Project, exc: BaseException) -> str | None:
    """After a worker ended mid-run: its run is marked cancelled (``exc`` a
    :class:`WorkerStopped`: a cancel it did not honour in time) or failed, its partial
    folder and predictions removed. Returns a message when the store refused."""
    from core.jobs.runs import recover_interrupted_runs

    status = RunStatus.CANCELLED if isinstance(exc, WorkerStopped) else RunStatus.FAILED
    try:
        recover_interrupted_runs(project, status=status, reason=str(exc))
    except StoreError as error:
        return f"Cannot mark the interrupted run: {error}"
    return None
