"""Replacing the mask of the image on screen with one made elsewhere (a mask proposal
accepted in the review), as one edit: undo takes it back like a stroke, and the save
records the edit's origin as the mask's source (:meth:`History.mask_source`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labelapp.editor.canvas import Canvas
from labelapp.editor.geometry import Box
from labelapp.editor.history import MaskEdit, Patch
from labelapp.editor.session import EditorSession
from labelapp.editor.undo import UndoRedo


class MaskReplacer:
    """Writes a whole mask into the document on screen through the undo history."""

    def __init__(self, session: EditorSession, canvas: Canvas, undo: UndoRedo, *,
                 stop_autosave: Callable[[], None]) -> None:
        self._session = session
        self._canvas = canvas
        self._undo = undo
        self._stop_autosave = stop_autosave

    def replace(self, image_id: int, mask: np.ndarray, *, origin: str, edited_origin: str, save: bool) -> bool:
        """Makes ``mask`` (uint8 class ids at the image's size) the mask of ``image_id``,
        which must be on screen; its save records ``origin`` (``edited_origin`` once the
        user's own edits follow). ``save``: queue it for the store now, else it saves like
        any edit (about a second later, or when another image is shown). False when the
        image is not on screen or the sizes differ."""
        doc = self._canvas.document()
        if doc is None or doc.image_id != image_id or mask.shape != doc.mask.shape:
            return False
        self._canvas.finish_interaction()
        changed = np.nonzero(doc.mask != mask)
        if len(changed[0]):
            box = Box(int(changed[1].min()), int(changed[0].min()), int(changed[1].max()) + 1,
                      int(changed[0].max()) + 1)
            edit = MaskEdit(box, Patch.of(doc.mask[box.slices]), Patch.of(mask[box.slices]), origin=origin,
                            edited_origin=edited_origin)
            self._canvas.mask_changed(edit.apply(doc.mask, undo=False))
            self._undo.record_mask_edit(doc, edit)
        if save:
            self._stop_autosave()
            self._session.save(doc)
        return True
