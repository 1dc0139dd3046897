"""Saving masks off the GUI thread.

The GUI thread hands over an immutable :class:`SaveRequest` (its own copy of the mask);
one saver thread opens its own :class:`Project` from the folder and writes the masks
one at a time (the store writes the PNG atomically, then one transaction). Requests for
the same image that are still waiting are merged: only the newest is written. Results
wait in a list that the GUI thread drains, on the ``results_ready`` signal or in
:meth:`MaskSaver.wait_idle` (used by ``flush``).

A mask the store cannot write (disk full, a read-only or missing masks folder) is kept
in a recovery file (:class:`core.store.recovery.MaskRecovery`) and its result says where;
the next successful save of that image removes the file, and what is left is offered
back when the project is next opened.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.store import Project, StoreError
from core.store.recovery import MaskRecovery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveRequest:
    """A mask to commit; ``mask`` None removes the image's mask."""

    image_id: int
    version: int
    mask: np.ndarray | None
    actor: str
    source: str


@dataclass(frozen=True)
class SaveResult:
    image_id: int
    version: int
    error: str | None = None
    removed: bool = False  # the mask was removed (request.mask None)
    recovery_file: Path | None = None  # where a mask that could not be saved is kept


class MaskSaver(QObject):
    """One thread that writes masks into the project at ``root``."""

    results_ready = Signal()

    def __init__(self, root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = root
        self.recovery = MaskRecovery(root)
        self._pending: OrderedDict[int, SaveRequest] = OrderedDict()
        self._results: list[SaveResult] = []
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mask-saver", daemon=True)
        self._thread.start()

    @property
    def root(self) -> Path:
        return self._root

    def submit(self, request: SaveRequest) -> None:
        with self._cond:
            self._pending.pop(request.image_id, None)
            self._pending[request.image_id] = request
            self._cond.notify_all()

    def take_results(self) -> list[SaveResult]:
        with self._cond:
            results, self._results = self._results, []
        return results

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Blocks until every submitted request is committed or failed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout=timeout)

    def stop(self) -> None:
        """Writes what is pending, then ends the thread (waits for it)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        project: Project | None = None
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._pending or self._stopping)
                    if not self._pending:
                        return
                    _, request = self._pending.popitem(last=False)
                    self._busy = True
                if project is None:
                    project, result = self._open(request)
                if project is not None:
                    result = self._save(project, request)
                with self._cond:
                    self._results.append(result)
                    self._busy = False
                    self._cond.notify_all()
                self.results_ready.emit()
        finally:
            if project is not None:
                project.close()

    def _open(self, request: SaveRequest) -> tuple[Project | None, SaveResult]:
        try:
            return Project.open(self._root), SaveResult(request.image_id, request.version)
        except (StoreError, OSError) as exc:
            logger.warning("mask saver cannot open %s: %s", self._root, exc)
            error = f"cannot open the project: {exc}"
            kept = self.recovery.keep(request.image_id, "", request.mask, source=request.source,
                                      actor=request.actor, reason=error)
            return None, SaveResult(request.image_id, request.version, error, recovery_file=kept)

    def _save(self, project: Project, request: SaveRequest) -> SaveResult:
        try:
            project.masks.save(request.image_id, request.mask, actor=request.actor, source=request.source)
        except (StoreError, OSError, ValueError) as exc:
            logger.warning("mask of image %s not saved: %s", request.image_id, exc)
            return self._failed(project, request, str(exc))
        except Exception as exc:  # the thread must survive and the GUI must hear of it
            logger.exception("mask of image %s not saved", request.image_id)
            return self._failed(project, request, f"{type(exc).__name__}: {exc}")
        self.recovery.discard(request.image_id)
        return SaveResult(request.image_id, request.version, removed=request.mask is None)

    def _failed(self, project: Project, request: SaveRequest, error: str) -> SaveResult:
        """The result of a failed save, its mask kept in a recovery file first."""
        try:
            image_hash = project.images.get(request.image_id).hash
        except (StoreError, OSError) as exc:
            logger.warning("image %s unknown while keeping its mask: %s", request.image_id, exc)
            return SaveResult(request.image_id, request.version, error)
        kept = self.recovery.keep(request.image_id, image_hash, request.mask, source=request.source,
                                  actor=request.actor, reason=error)
        return SaveResult(request.image_id, request.version, error, recovery_file=kept)
