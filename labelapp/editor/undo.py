"""Undo and redo for the image on screen: mask patches and label changes.

Each image has its own history for the whole session (see :mod:`history`). Undoing
a mask edit writes its "before" patch into the document on screen (which then saves
like any edit); undoing a label change writes the old label through the project session
(:class:`labelapp.session.project_session.ProjectSession`), as every label write goes. A label
change joined to the mask edit that caused it (painting labeled the image) is undone
together with it, label first, and redone together, mask first: one Ctrl+Z takes the
image back to unlabeled and unpainted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.store import StoreError
from labelapp.editor.canvas import Canvas
from labelapp.editor.document import ImageDocument
from labelapp.editor.history import Command, History, LabelChange, MaskEdit
from labelapp.editor.session import EditorSession
from labelapp.session.changes import LabelsChanged
from labelapp.session.project_session import ProjectSession

logger = logging.getLogger(__name__)


class UndoRedo:
    """Applies history commands; reports through the editor's callbacks."""

    def __init__(self, session: EditorSession, canvas: Canvas, labels: ProjectSession, *,
                 mask_changed: Callable[[], None], message: Callable[[str], None]) -> None:
        self._session = session
        self._canvas = canvas
        self._labels = labels
        self._mask_changed = mask_changed
        self._message = message

    def record_mask_edit(self, doc: ImageDocument, edit: MaskEdit) -> None:
        history = self._session.histories.get(doc.image_id)
        if history.base_had_mask is None:
            history.base_had_mask = doc.had_mask
        history.push(edit)
        doc.mark_edited()
        self._mask_changed()

    def record_labels(self, change: LabelsChanged) -> None:
        """Records each label change of a write (not an undo or redo itself); a joined change
        came with the mask edit just recorded (painting labeled the image), and one undo
        reverts both."""
        if change.undoable:
            for image_id in change.changed_ids:
                self.record_label_change(image_id, change.old[image_id], change.new[image_id], joined=change.joined)

    def record_label_change(self, image_id: int, old_class_id: int | None, new_class_id: int | None, *,
                            joined: bool = False) -> None:
        if old_class_id != new_class_id:
            history = self._session.histories.get(image_id)
            joined = joined and isinstance(history.peek_undo(), MaskEdit)
            history.push(LabelChange(image_id, old_class_id, new_class_id, joined=joined))

    def step(self, image_id: int, *, undo: bool) -> bool:
        """Undoes (or redoes) the newest command of ``image_id``, with the command joined to
        it; False if there is none or it could not be applied (the message says why)."""
        history = self._session.histories.find(image_id)
        command = None if history is None else (history.peek_undo() if undo else history.peek_redo())
        if command is None:
            return False
        pair = self._joined(history, command, undo=undo)
        if pair and not self._on_screen(image_id):  # both or neither
            return False
        if not self._step_one(image_id, history, command, undo=undo):
            return False
        if pair:
            self._step_one(image_id, history, history.peek_undo() if undo else history.peek_redo(), undo=undo)
        return True

    @staticmethod
    def _joined(history: History, command: Command, *, undo: bool) -> bool:
        """Whether ``command`` (the next to undo or redo) goes with the one after it."""
        if undo:
            below = history.undo_stack[-2] if len(history.undo_stack) > 1 else None
            return isinstance(command, LabelChange) and command.joined and isinstance(below, MaskEdit)
        above = history.redo_stack[-2] if len(history.redo_stack) > 1 else None
        return isinstance(command, MaskEdit) and isinstance(above, LabelChange) and above.joined

    def _step_one(self, image_id: int, history: History, command: Command, *, undo: bool) -> bool:
        if isinstance(command, LabelChange):
            target = command.old_class_id if undo else command.new_class_id
            done = self._write_label(command.image_id, target, "gui undo" if undo else "gui redo")
        else:
            done = self._apply_mask_edit(image_id, command, undo=undo)
        if done:
            (history.commit_undo if undo else history.commit_redo)()
        return done

    def _write_label(self, image_id: int, class_id: int | None, source: str) -> bool:
        try:
            change = self._labels.write_labels([(image_id, class_id)], source=source)
        except StoreError as exc:
            self._message(f"Label not restored: {exc}")
            return False
        return change is not None

    def _on_screen(self, image_id: int) -> bool:
        doc = self._canvas.document()
        if doc is None or doc.image_id != image_id:
            self._message("The image is still loading; try again in a moment.")
            return False
        return True

    def _apply_mask_edit(self, image_id: int, edit: MaskEdit, *, undo: bool) -> bool:
        if not self._on_screen(image_id):
            return False
        doc = self._canvas.document()
        if edit.box.right > doc.mask.shape[1] or edit.box.bottom > doc.mask.shape[0]:
            self._message("This edit no longer fits the image (its file changed); it cannot be undone.")
            return False
        self._canvas.mask_changed(edit.apply(doc.mask, undo=undo))
        doc.mark_edited()
        self._mask_changed()
        return True
