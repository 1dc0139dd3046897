"""How much of an image to decode for the canvas, and when: the fitted view's scale
first, every pixel once the view zooms in past that; prefetches after the paint of the
image shown.

Requests carry the canvas's size (:attr:`EditorSession.view_size`), so that a large
JPEG is decoded at the scale the fitted view draws (see :func:`mips.fitted_reduction`);
no quality is lost on screen. When zooming, panning to a finer level or a larger window
needs pixels that were not decoded, :meth:`EditorSession.load_full` reads them and the
canvas repaints when they arrive. Mask and heat map are in image pixels throughout.
Prefetch requests made while an image already decoded is shown wait for its paint
(:meth:`EditorSession.release_prefetch`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QWidget

from labelapp.editor.canvas import Canvas
from labelapp.editor.document import ImageDocument
from labelapp.editor.session import EditorSession


class ResolutionFollower(QObject):
    """Keeps the decoded resolution of the image shown up with the canvas's zoom, and
    lets prefetching start once the image shown is painted."""

    def __init__(self, session: EditorSession, canvas: Canvas, editor: QWidget) -> None:
        super().__init__(editor)
        self._session, self._canvas, self._editor = session, canvas, editor
        session.view_size = self.view_size
        session.levels_loaded.connect(self._on_session_levels_loaded)
        canvas.view_changed.connect(self._on_canvas_view_changed)
        canvas.painted.connect(session.release_prefetch)

    def view_size(self) -> tuple[int, int] | None:
        """The canvas's (width, height); None before the editor is shown (its size is
        not laid out yet: decode every pixel)."""
        return (self._canvas.width(), self._canvas.height()) if self._editor.isVisible() else None

    @Slot(object)
    def _on_session_levels_loaded(self, doc: ImageDocument) -> None:
        if self._canvas.document() is doc:
            self._canvas.update()

    @Slot()
    def _on_canvas_view_changed(self) -> None:
        doc = self._canvas.document()
        if doc is not None and doc.base_level > 0 and self._canvas.view().level(len(doc.levels)) < doc.base_level:
            self._session.load_full(doc.image_id)
