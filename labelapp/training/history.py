"""Reading a project's run history off the GUI thread.

The history the training panel shows needs the label digest (it reads every label) and
the curves the last run saved: :func:`core.jobs.staleness.read_history` does both on a
connection of its own, on one thread of a private pool; the result comes back to the GUI
thread through :attr:`HistoryLoader.loaded`. Requests do not queue up: one read at a time,
and a request made while one runs starts one more read when it ends (a newer run or
label may have come meanwhile), whose result replaces the first one's. A result for a
project that is no longer open is dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from core.jobs.staleness import RunHistory, read_history
from core.store import StoreError

logger = logging.getLogger(__name__)


class _Read(QRunnable):
    def __init__(self, loader: HistoryLoader, root: Path, generation: int) -> None:
        super().__init__()
        self._loader, self._root, self._generation = loader, root, generation

    def run(self) -> None:
        try:
            result: object = read_history(self._root)
        except (StoreError, OSError) as exc:
            result = exc
        except Exception as exc:  # noqa: BLE001 - the GUI shows it; the pool thread must not die
            logger.exception("reading the run history failed")
            result = exc
        self._loader._read_ended.emit((self._generation, self._root, result))  # queued to the GUI thread


class HistoryLoader(QObject):
    """Signals:
        loaded(object): the :class:`RunHistory` of the open project.
        failed(object): the exception that stopped the read.
    """

    loaded = Signal(object)
    failed = Signal(object)
    _read_ended = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._root: Path | None = None
        self._generation = 0
        self._reading = False
        self._again = False
        self._read_ended.connect(self._on_read_ended)

    def set_root(self, root: Path | None) -> None:
        """The open project's folder (None: none); drops what is read of another one."""
        self._root = root
        self._generation += 1
        self._again = False

    def request(self) -> None:
        """Reads the history of the open project (once more after the read in progress)."""
        if self._root is None:
            return
        if self._reading:
            self._again = True
            return
        self._reading = True
        self._pool.start(_Read(self, self._root, self._generation))

    def is_busy(self) -> bool:
        return self._reading or self._again

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Blocks until no read runs (the window closes)."""
        return self._pool.waitForDone(timeout_ms)

    @Slot(object)
    def _on_read_ended(self, payload: object) -> None:
        generation, root, result = payload  # type: ignore[misc]
        self._reading = False
        if self._again and self._root is not None:  # a newer read follows: it shows, not this one
            self._again = False
            self.request()
            return
        if generation != self._generation or root != self._root:
            return
        if isinstance(result, RunHistory):
            self.loaded.emit(result)
        else:
            self.failed.emit(result)
