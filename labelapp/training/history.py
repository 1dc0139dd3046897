"""Reading a project's run history off the GUI thread.

The history the training panel shows needs the label digest (it reads every label) and
the curves the last run saved: :func:`core.jobs.staleness.read_history` does both on a
connection of its own, on a plain daemon thread; the result comes back to the GUI thread
through :attr:`HistoryLoader.loaded`. Not a ``QThreadPool`` of the loader's own: a loader
collected by Python's garbage collector on the GUI thread while its read ran destroyed
the pool, whose destructor waited for the read, which waited for the GIL the collector
held (a hang seen once in the test suite). Requests do not queue up: one read at a time,
and a request made while one runs starts one more read when it ends (a newer run or
label may have come meanwhile), whose result replaces the first one's. A result for a
project that is no longer open is dropped.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.jobs.staleness import RunHistory, read_history
from core.store import StoreError

logger = logging.getLogger(__name__)


def _read(loader: HistoryLoader, root: Path, generation: int) -> None:
    """The reading thread: the history, or the exception that stopped it, to the GUI thread."""
    try:
        result: object = read_history(root)
    except (StoreError, OSError) as exc:
        result = exc
    except Exception as exc:  # noqa: BLE001 - the GUI shows it
        logger.exception("reading the run history failed")
        result = exc
    try:
        loader._read_ended.emit((generation, root, result))  # queued to the GUI thread
    except RuntimeError:  # the loader is gone (its window closed): nobody waits for the result
        pass


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
        self._thread: threading.Thread | None = None
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
        self._thread = threading.Thread(target=_read, args=(self, self._root, self._generation),
                                        name="run-history", daemon=True)
        self._thread.start()

    def is_busy(self) -> bool:
        return self._reading or self._again

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Blocks until no read runs (the window closes)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_ms / 1000)
        return thread is None or not thread.is_alive()

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
