"""Running a core job generator on a worker thread and forwarding what it yields.

A job is a plain generator in ``core``: it yields progress records, checks a cancel
flag between yields and returns a result. :class:`JobRunner` drains it on a
``QThread`` and forwards progress (throttled), the result or the exception as
signals on the GUI thread. The generator never touches a widget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, QTimer, Signal, Slot

from core.jobs.base import thin

logger = logging.getLogger(__name__)

# What the GUI hands a runner: called with the cancel flag on the worker thread, it
# builds the job (a :data:`core.jobs.base.Job` generator).
StartJob = Callable[[threading.Event], Generator[Any, None, Any]]
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second
# Threads still running, kept alive even if their runner is deleted first: Qt aborts
# the process when a running QThread is destroyed.
_RUNNING: set[QThread] = set()


class _JobThread(QThread):
    """Drains the generator; emits from the worker thread (queued to the runner)."""

    progress_ready = Signal()
    returned = Signal(object)
    raised = Signal(object)

    def __init__(self, job: StartJob, cancel: threading.Event) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel
        self._lock = threading.Lock()
        self._latest: list[Any] = []  # [] or [the newest progress not yet delivered]
        self._posted = False

    def run(self) -> None:
        try:
            generator = self._job(self._cancel)
            while True:
                try:
                    step = next(generator)
                except StopIteration as stop:
                    result = stop.value
                    break
                self._post(step)
        except BaseException as exc:  # noqa: BLE001 - every error goes to the GUI as a signal
            logger.debug("job failed", exc_info=True)
            self.raised.emit(exc)
            return
        self.returned.emit(result)

    def _post(self, step: Any) -> None:
        with self._lock:
            send_now, kept = thin(self._latest[-1] if self._latest else None, step)
            self._latest = [*self._latest[:-1], *send_now, kept]  # a skipped record's stored predictions survive
            if self._posted:
                return
            self._posted = True
        self.progress_ready.emit()

    def take(self) -> list[Any]:
        """The undelivered progress: the newest record, after any that must not be
        merged into it ([] if none); called on the GUI thread."""
        with self._lock:
            latest, self._latest = self._latest, []
            self._posted = False
        return latest


class JobRunner(QObject):
    """Runs ``job(cancel_event)`` on a worker thread.

    The factory is called on the worker thread, so it can open its own ``Project``
    from a folder path. Progress is delivered at most every 50 ms (intermediate
    records are dropped; the last one is always delivered before ``finished``). A
    cancelled job still ends through ``finished`` with what it returned. The owner
    cancels and :meth:`wait`\\ s in its ``closeEvent``.

    Signals:
        progressed(object): a progress record the generator yielded.
        finished(object): the generator's return value.
        failed(object): the exception the job raised.
    """

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, job: StartJob, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._cancel = threading.Event()
        self._thread: _JobThread | None = None
        self._last_delivery = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._deliver)

    def start(self) -> None:
        """Starts the job on a new worker thread.

        Raises:
            RuntimeError: the job is already running.
        """
        if self.is_running():
            raise RuntimeError("this job is already running")
        self._cancel = threading.Event()
        thread = _JobThread(self._job, self._cancel)
        thread.progress_ready.connect(self._on_thread_progress_ready)
        thread.returned.connect(self._on_thread_returned)
        thread.raised.connect(self._on_thread_raised)
        self._thread = thread
        self._last_delivery = 0.0
        _RUNNING.add(thread)
        thread.start()

    def cancel(self) -> None:
        """Asks the job to stop at its next check; it still ends through ``finished``."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        """Whether a started job has not yet delivered its end (``finished`` or ``failed``)."""
        return self._thread is not None

    def wait(self, timeout_ms: int = -1) -> bool:
        """Blocks until the worker thread has ended (``-1``: no limit); returns whether it
        did. The ending signals arrive afterwards through the event loop."""
        thread = self._thread
        if thread is None:
            return True
        deadline = QDeadlineTimer(QDeadlineTimer.ForeverConstant.Forever) if timeout_ms < 0 else QDeadlineTimer(
            timeout_ms)
        return thread.wait(deadline)

    @Slot()
    def _on_thread_progress_ready(self) -> None:
        wait_s = self._last_delivery + PROGRESS_INTERVAL_S - time.monotonic()
        if wait_s > 0:
            if not self._timer.isActive():
                self._timer.start(max(1, int(wait_s * 1000)))
            return
        self._deliver()

    @Slot()
    def _deliver(self) -> None:
        if self._thread is None:
            return
        latest = self._thread.take()
        if latest:
            self._last_delivery = time.monotonic()
        for record in latest:
            self.progressed.emit(record)

    @Slot(object)
    def _on_thread_returned(self, result: object) -> None:
        self._end()
        self.finished.emit(result)

    @Slot(object)
    def _on_thread_raised(self, error: object) -> None:
        self._end()
        self.failed.emit(error)

    def _end(self) -> None:
        """Flushes the last progress and joins the (ending) thread."""
        self._timer.stop()
        self._deliver()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.wait()
            _RUNNING.discard(thread)
            thread.deleteLater()
