"""The tool bar's view controls wired to the canvas: brush size, mask overlay on or off,
Fit and 100 %, the display window of high-bit-depth images, and the zoom read-out.

The controls that change what the editor paints with (tool, paint class, overlay
opacity, heat map) go through :class:`~labelapp.editor.editor.ImageEditor` instead.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from labelapp.editor.canvas import Canvas
from labelapp.editor.toolbar import EditorToolBar


class ToolbarWiring(QObject):
    """Connects ``toolbar``'s view controls to ``canvas``, and the canvas's zoom back."""

    def __init__(self, toolbar: EditorToolBar, canvas: Canvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._toolbar, self._canvas = toolbar, canvas
        canvas.view_changed.connect(self._on_canvas_view_changed)
        toolbar.brush_size_changed.connect(self._on_toolbar_brush_size_changed)
        toolbar.overlay_toggled.connect(self._on_toolbar_overlay_toggled)
        toolbar.fit_requested.connect(canvas.fit)
        toolbar.actual_size_requested.connect(canvas.actual_size)
        toolbar.window_changed.connect(self._on_toolbar_window_changed)
        toolbar.auto_window_requested.connect(self._on_toolbar_auto_window_requested)

    @Slot()
    def _on_canvas_view_changed(self) -> None:
        self._toolbar.set_zoom(self._canvas.scale() if self._canvas.document() is not None else None)

    @Slot(int)
    def _on_toolbar_brush_size_changed(self, size: int) -> None:
        self._canvas.set_brush_size(size)

    @Slot(bool)
    def _on_toolbar_overlay_toggled(self, visible: bool) -> None:
        self._canvas.set_overlay_visible(visible)

    @Slot(object)
    def _on_toolbar_window_changed(self, window: tuple[float, float]) -> None:
        doc = self._canvas.document()
        if doc is not None:
            doc.set_window(*window)
            self._canvas.update()

    @Slot()
    def _on_toolbar_auto_window_requested(self) -> None:
        doc = self._canvas.document()
        if doc is not None and doc.high_depth:
            doc.set_window(*doc.auto_window)
            self._toolbar.set_window(doc.value_range, doc.window)
            self._canvas.update()
