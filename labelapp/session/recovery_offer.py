"""Offering back the masks that could not be saved when the project was last open.

A mask the store could not write (disk full, a read-only masks folder) waits in a
recovery file (:mod:`core.store.recovery`). When a project with such files opens, a
message box says how many and why, and offers to restore them (each saved through the
session's saver like any mask; its recovery file goes once it is saved), to discard
them, or to decide later (they are offered again at the next open). Masks of images
that left the project or whose file changed since are not restored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from core.store import Project, StoreError
from core.store.recovery import MaskRecovery, RecoveredMask
from labelapp.session.mask_saver import SaveRequest
from labelapp.session.project_session import ProjectSession

logger = logging.getLogger(__name__)


class RecoveredMasksOffer(QObject):
    """Signals:
        message(str): what was restored or discarded, for the status bar.
    """

    message = Signal(str)

    def __init__(self, session: ProjectSession, parent: QWidget, *, reload: Callable[[int], None]) -> None:
        super().__init__(parent)
        self._session = session
        self._parent = parent
        self._reload = reload
        self._waiting: set[int] = set()  # restored masks not saved yet
        self.box: QMessageBox | None = None
        self.restore_button: QAbstractButton | None = None
        self.discard_button: QAbstractButton | None = None
        self.pending: list[RecoveredMask] = []
        session.opened.connect(self._on_session_opened)
        session.mask_saved.connect(self._on_session_mask_saved)

    @Slot(object)
    def _on_session_opened(self, project: Project) -> None:
        self._waiting.clear()
        self.pending = MaskRecovery(project.root).pending()
        if not self.pending:
            return
        n = len(self.pending)
        reasons = sorted({item.reason for item in self.pending})
        box = self.box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved masks",
                                     f"{n} mask{'s' if n != 1 else ''} could not be saved when this project was"
                                     " last open; they were kept aside. Restore them into the project now?",
                                     parent=self._parent)
        box.setInformativeText("Why the save failed: " + "; ".join(reasons[:3]))
        box.setDetailedText("\n".join(f"image {item.image_id}: kept {item.at} in {item.file}" for item in self.pending))
        self.restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        self.discard_button = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(self._on_box_button_clicked)
        box.open()

    @Slot(QAbstractButton)
    def _on_box_button_clicked(self, button: QAbstractButton) -> None:
        if button is self.restore_button:
            self.restore()
        elif button is self.discard_button:
            self.discard()

    def restore(self) -> int:
        """Queues every recovered mask that still fits its image for saving; returns how many."""
        project = self._session.project
        if project is None:
            return 0
        queued, skipped = 0, []
        for item in self.pending:
            why = _unfit(project, item)
            if why is not None:
                skipped.append(f"image {item.image_id} ({why})")
                continue
            request = SaveRequest(image_id=item.image_id, version=0, mask=item.mask, actor=item.actor,
                                  source=item.source)
            if self._session.save_mask(request):
                self._waiting.add(item.image_id)
                queued += 1
        self.pending = []
        text = f"Restoring {queued} unsaved mask{'s' if queued != 1 else ''}."
        if skipped:
            text += f" Not restored, kept aside: {', '.join(skipped[:5])}."
        self.message.emit(text)
        return queued

    def discard(self) -> None:
        """Deletes the recovery files offered."""
        project = self._session.project
        if project is None:
            return
        recovery = MaskRecovery(project.root)
        for item in self.pending:
            recovery.discard(item.image_id)
        self.message.emit(f"Discarded {len(self.pending)} unsaved mask(s).")
        self.pending = []

    @Slot(object)
    def _on_session_mask_saved(self, image_id: object) -> None:
        if image_id in self._waiting:
            self._waiting.discard(image_id)  # type: ignore[arg-type]
            self._reload(int(image_id))  # type: ignore[call-overload]


def _unfit(project: Project, item: RecoveredMask) -> str | None:
    """Why a recovered mask no longer fits its image; None when it does."""
    try:
        image = project.images.get(item.image_id)
    except StoreError:
        return "no longer in the project"
    if item.image_hash and image.hash != item.image_hash:
        return "its file changed"
    if item.mask is not None and item.mask.shape != (image.height, image.width):
        return "size differs"
    return None
