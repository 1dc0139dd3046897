"""The open project: opening, closing and every label write, with one signal each.

The window, the labeling keys, the map, undo and redo all write labels here; every
listener (grid, counts, stale marks, suggestions, map, worth a mask, the edit history)
connects to :attr:`ProjectSession.labels_changed` once and receives the old and new
class of each image, so one key press refreshes each view once. Masks are written here
too: the editor hands over a copy of the pixels (:meth:`ProjectSession.save_mask`), the
session's saver thread (:mod:`labelapp.session.mask_saver`) commits them, and each
committed mask is announced once (``mask_saved``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.store import Project, default_actor
from labelapp.session.changes import LabelsChanged
from labelapp.session.mask_saver import MaskSaver, SaveRequest, SaveResult

logger = logging.getLogger(__name__)


class ProjectSession(QObject):
    """Signals:
        opened(object): the :class:`Project` now open.
        closed(): the project was closed.
        labels_changed(object): a :class:`LabelsChanged`, after its transaction committed.
        mask_saved(object): an image id whose mask the store committed.
        masks_written(object): the :class:`SaveResult` list of a batch of mask writes,
            failures included (the editor marks its documents saved or still dirty).
    """

    opened = Signal(object)
    closed = Signal()
    labels_changed = Signal(object)
    mask_saved = Signal(object)
    masks_written = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._owned = False  # opened here, so closed here
        self._saver: MaskSaver | None = None

    @property
    def project(self) -> Project | None:
        return self._project

    def open(self, path: Path | str) -> Project:
        """Opens the project in ``path`` (raises StoreError / OSError, keeping the one
        open) and closes the previous one."""
        project = Project.open(Path(path))
        self.adopt(project, owned=True)
        return project

    def adopt(self, project: Project | None, *, owned: bool = False) -> None:
        """Works on ``project`` opened elsewhere (``owned``: close it with the session)."""
        if project is self._project:
            return
        self.close()
        if project is not None:
            self._project, self._owned = project, owned
            self._saver = MaskSaver(project.root)
            self._saver.results_ready.connect(self._on_saver_results_ready)
            self.opened.emit(project)

    def close(self) -> None:
        """Commits the masks still waiting, then closes the project."""
        project, self._project = self._project, None
        if project is None:
            return
        saver, self._saver = self._saver, None
        if saver is not None:
            saver.stop()  # writes what is pending first
            self._announce(saver.take_results())
            saver.deleteLater()
        if self._owned:
            project.close()
        self.closed.emit()

    def write_labels(self, assignments: Sequence[tuple[int, int | None]], *, source: str = "gui",
                     joined: bool = False) -> LabelsChanged | None:
        """Writes each (image id, class id or None) in one transaction and announces it;
        None without a project. Raises StoreError, having written nothing."""
        project = self._project
        if project is None or not assignments:
            return None
        ids = tuple(int(i) for i, _ in assignments)
        before = {i: None if (label := project.labels.get(i)) is None else label.class_id for i in ids}
        project.labels.apply(list(assignments), actor=default_actor(), source=source)
        change = LabelsChanged(image_ids=ids, old=before,
                               new={int(i): c for i, c in assignments}, source=source, joined=joined)
        self.labels_changed.emit(change)
        return change

    # -- masks ------------------------------------------------------------------------------
    def save_mask(self, request: SaveRequest) -> bool:
        """Queues a mask write (the saver thread merges waiting writes of one image);
        False without a project."""
        if self._saver is None:
            return False
        self._saver.submit(request)
        return True

    def flush_masks(self) -> None:
        """Returns once every queued mask is committed (or failed), announced."""
        if self._saver is not None:
            self._saver.wait_idle()
            self._on_saver_results_ready()

    @Slot()
    def _on_saver_results_ready(self) -> None:
        if self._saver is not None:
            self._announce(self._saver.take_results())

    def _announce(self, results: list[SaveResult]) -> None:
        if not results:
            return
        self.masks_written.emit(results)
        for result in results:
            if result.error is None:
                self.mask_saved.emit(result.image_id)
