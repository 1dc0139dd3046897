"""The open project: opening, closing and every label write, with one signal each.

The window, the labeling keys, the map, undo and redo all write labels here; every
listener (grid, counts, stale marks, suggestions, map, worth a mask, the edit history)
connects to :attr:`ProjectSession.labels_changed` once and receives the old and new
class of each image, so one key press refreshes each view once. Mask pixels are saved
by the editor's saver thread (it holds the pixels); a committed mask is announced here
too (:meth:`ProjectSession.mask_committed`), so listeners have one place to listen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.store import Project, default_actor
from labelapp.session.changes import LabelsChanged

logger = logging.getLogger(__name__)


class ProjectSession(QObject):
    """Signals:
        opened(object): the :class:`Project` now open.
        closed(): the project was closed.
        labels_changed(object): a :class:`LabelsChanged`, after its transaction committed.
        mask_saved(object): an image id whose mask the store committed.
    """

    opened = Signal(object)
    closed = Signal()
    labels_changed = Signal(object)
    mask_saved = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._owned = False  # opened here, so closed here

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
            self.opened.emit(project)

    def close(self) -> None:
        project, self._project = self._project, None
        if project is None:
            return
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

    def mask_committed(self, image_id: int) -> None:
        """The editor's saver committed the mask of ``image_id``."""
        self.mask_saved.emit(int(image_id))
