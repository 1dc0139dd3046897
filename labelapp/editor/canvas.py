"""The canvas: draws the image, the heat map and the mask overlay, zooms, pans, and runs the tools.

It starts with the pan tool, so a click to focus or to look never paints; the tool the
user picks stays for the session, whatever image is shown.

Painting touches only the exposed region: the widget rectangle Qt asks for is mapped to
the image pixels under it, and only those are drawn (from the mip level that matches
the zoom) and overlaid (the Indexed8 mask, nearest neighbour). A brush stroke therefore
repaints a small rectangle whatever the size of the image.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from labelapp.editor.document import ImageDocument
from labelapp.editor.geometry import Box, ViewTransform
from labelapp.editor.heatmap import HeatmapLayer
from labelapp.editor.history import MaskEdit
from labelapp.editor.painting import draw_brush_outline, draw_layers, draw_polygon
from labelapp.editor.tools import Stroke, fill_polygon, flood_fill, pixel_center

logger = logging.getLogger(__name__)

TOOLS = ("brush", "eraser", "polygon", "fill", "pan")
DEFAULT_TOOL = "pan"  # a plain click looks, it does not paint
BACKGROUND = QColor(48, 48, 48)
TEXT_COLOR = QColor(210, 210, 210)
WHEEL_STEP = 1.25
POLYGON_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Backspace)
_CURSORS = {"brush": Qt.CursorShape.CrossCursor, "eraser": Qt.CursorShape.CrossCursor,
            "polygon": Qt.CursorShape.CrossCursor, "fill": Qt.CursorShape.PointingHandCursor,
            "pan": Qt.CursorShape.OpenHandCursor}


class Canvas(QWidget):
    """Shows one :class:`ImageDocument`; edits its mask in place with the current tool."""

    mask_edited = Signal(object)  # MaskEdit: one finished stroke, polygon or fill
    view_changed = Signal()  # zoom or position changed
    heatmap_changed = Signal()  # whether a heat map is drawn may have changed (see heatmap_shown)
    painted = Signal()  # a paint ended
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(160, 120)
        self._doc: ImageDocument | None = None
        self._text = ""
        self._view = ViewTransform()
        self._fitted = True
        self._tool = DEFAULT_TOOL
        self._paint_value: int | None = None
        self._brush = 16
        self._overlay_visible = True
        self._heatmap: HeatmapLayer | None = None
        self._heatmap_visible = False
        self._pan_from: QPointF | None = None
        self._stroke: Stroke | None = None
        self._polygon: list[tuple[float, float]] = []
        self._hover: QPointF | None = None
        self._space = False
        self.paint_count = 0  # paints done, for benchmarks and tests
        self.setCursor(_CURSORS[self._tool])

    # -- state --------------------------------------------------------------------------------
    def document(self) -> ImageDocument | None:
        return self._doc

    def set_document(self, doc: ImageDocument | None, *, text: str = "") -> None:
        """Shows ``doc`` fitted to the view, or ``text`` on an empty canvas; drops the
        heat map (it belongs to the previous image)."""
        self.finish_interaction()
        self._doc, self._text = doc, text
        self._heatmap = None
        self.heatmap_changed.emit()
        if doc is not None:
            self.fit()
        self.update()

    def set_tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; expected one of {TOOLS}")
        if name != self._tool:
            self.finish_interaction()
            self._tool = name
            self.setCursor(_CURSORS[name])
            self.update()

    def tool(self) -> str:
        return self._tool

    def set_paint_value(self, value: int | None) -> None:
        self._paint_value = value

    def set_brush_size(self, size: int) -> None:
        self._brush = size
        self._update_cursor(self._hover, self._hover)

    def brush_size(self) -> int:
        return self._brush

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = visible
        self.update()

    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_heatmap(self, layer: HeatmapLayer | None) -> None:
        """The heat map of the document's image (None: none), drawn while switched on."""
        self._heatmap = layer
        self.heatmap_changed.emit()
        if self._heatmap_visible:
            self.update()

    def heatmap(self) -> HeatmapLayer | None:
        return self._heatmap

    def set_heatmap_visible(self, visible: bool) -> None:
        self._heatmap_visible = visible
        self.heatmap_changed.emit()
        self.update()

    def heatmap_visible(self) -> bool:
        return self._heatmap_visible

    def heatmap_shown(self) -> bool:
        """Whether a heat map is drawn now (switched on, and the image has one)."""
        return self._heatmap_visible and self._heatmap is not None and self._doc is not None

    def is_stroking(self) -> bool:
        return self._stroke is not None

    def finish_interaction(self) -> None:
        """Ends a stroke in progress (kept as an edit) and drops an unfinished polygon."""
        self._end_stroke()
        if self._polygon:
            self._polygon = []
            self.update()

    def mask_changed(self, box: Box) -> None:
        """Call after the document's mask changed inside ``box``: updates its mip levels
        and repaints the widget area that shows the box."""
        if self._doc is not None:
            self._doc.mask_changed(box)
        self.update(self._view.widget_rect(box))

    # -- view ---------------------------------------------------------------------------------
    def scale(self) -> float:
        return self._view.scale

    def view(self) -> ViewTransform:
        return self._view

    def fit(self) -> None:
        if self._doc is not None:
            self._view.fit(self._doc.width, self._doc.height, self.width(), self.height())
            self._fitted = True
            self._view_changed()

    def actual_size(self) -> None:
        if self._doc is not None:
            self._view.set_scale_about(1.0, self._anchor())
            self._fitted = False
            self._view_changed()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        if self._doc is not None:
            self._view.set_scale_about(self._view.scale * factor, anchor or self._anchor())
            self._fitted = False
            self._view_changed()

    def _anchor(self) -> QPointF:
        inside = self._hover is not None and self.rect().contains(self._hover.toPoint())
        return QPointF(self._hover) if inside else QPointF(self.width() / 2, self.height() / 2)

    def _view_changed(self) -> None:
        self.update()
        self.view_changed.emit()

    # -- painting -----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = event.rect()
        painter.fillRect(rect, BACKGROUND)
        doc = self._doc
        if doc is None:
            if self._text:
                painter.setPen(TEXT_COLOR)
                painter.drawText(self.rect().adjusted(24, 24, -24, -24),
                                 Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
        else:
            box = self._view.image_box(rect, doc.width, doc.height)
            if not box.empty:
                heat = self._heatmap.image if self.heatmap_shown() else None
                draw_layers(painter, self._view, doc, box, overlay=self._overlay_visible, heatmap=heat)
            if self._polygon:
                draw_polygon(painter, [self._view.to_widget(x, y) for x, y in self._polygon], self._hover)
            outline = self._cursor_rect(self._hover, margin=0)
            if outline is not None:
                draw_brush_outline(painter, outline)
        painter.end()
        self.paint_count += 1
        self.painted.emit()

    def _cursor_rect(self, pos: QPointF | None, margin: int = 3) -> QRectF | None:
        """The brush outline at widget ``pos``: the brush's size at the current zoom."""
        if pos is None or self._doc is None or self._tool not in ("brush", "eraser") or self._panning_mode():
            return None
        cx, cy = pixel_center(*self._view.to_image(pos))
        center = self._view.to_widget(cx, cy)
        radius = max(self._brush * self._view.scale / 2.0, 2.0) + margin
        return QRectF(center.x() - radius, center.y() - radius, 2 * radius, 2 * radius)

    def _update_cursor(self, old: QPointF | None, new: QPointF | None) -> None:
        for pos in (old, new):
            rect = self._cursor_rect(pos)
            if rect is not None:
                self.update(rect.toAlignedRect())

    # -- mouse and keys -----------------------------------------------------------------------
    def _panning_mode(self) -> bool:
        return self._tool == "pan" or self._space or self._pan_from is not None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button, pos = event.button(), event.position()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton) or (
                button == Qt.MouseButton.LeftButton and self._panning_mode()):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.LeftButton and self._doc is not None:
            point = self._view.to_image(pos)
            if self._tool in ("brush", "eraser"):
                self._begin_stroke(point)
            elif self._tool == "polygon":
                self._polygon.append(point)
                self.update()
            elif self._tool == "fill":
                self._fill(point)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        old, self._hover = self._hover, QPointF(pos)
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self._view.dx += delta.x()
            self._view.dy += delta.y()
            self._fitted = False
            self._view_changed()
            return
        if self._stroke is not None:
            self._continue_stroke(self._view.to_image(pos))
        if self._polygon:
            self.update()
        self._update_cursor(old, self._hover)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.buttons() == Qt.MouseButton.NoButton:
            self._pan_from = None
            self.setCursor(_CURSORS[self._tool])
        elif event.button() == Qt.MouseButton.LeftButton:
            self._end_stroke()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._tool == "polygon" and event.button() == Qt.MouseButton.LeftButton and self._polygon:
            point = self._view.to_image(event.position())
            last = self._view.to_widget(*self._polygon[-1])
            if (last - event.position()).manhattanLength() > 2:  # no press came before this event
                self._polygon.append(point)
            self._close_polygon()
        else:
            self.mousePressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps and self._doc is not None:
            self.zoom_by(WHEEL_STEP ** steps, event.position())
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        old, self._hover = self._hover, None
        self._update_cursor(old, None)
        if self._polygon:
            self.update()
        super().leaveEvent(event)

    def event(self, event: QEvent) -> bool:
        # While a polygon is drawn its keys must reach keyPressEvent, not a shortcut.
        if event.type() == QEvent.Type.ShortcutOverride and self._polygon and event.key() in POLYGON_KEYS:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if self._polygon and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._close_polygon()
        elif self._polygon and key == Qt.Key.Key_Escape:
            self._polygon = []
            self.update()
        elif self._polygon and key == Qt.Key.Key_Backspace:
            self._polygon.pop()
            self.update()
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.update()
        else:
            super().keyPressEvent(event)  # ignored: goes on to the window

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setCursor(_CURSORS[self._tool])
            self.update()
        else:
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QEvent) -> None:
        self._space = False
        super().focusOutEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._fitted:
            self.fit()
        super().resizeEvent(event)

    # -- tools --------------------------------------------------------------------------------
    def _value(self) -> int | None:
        if self._tool == "eraser":
            return 0
        if self._paint_value is None:
            self.message.emit("Choose a defect class to paint with first.")
        return self._paint_value

    def _begin_stroke(self, point: tuple[float, float]) -> None:
        value = self._value()
        if value is not None and self._doc is not None:
            self._stroke = Stroke(self._doc.mask, value=value, diameter=self._brush, start=point)
            self._continue_stroke(point)

    def _continue_stroke(self, point: tuple[float, float]) -> None:
        box = self._stroke.extend(point)
        if box is not None:
            self.mask_changed(box)

    def _end_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None:
            self._emit_edit(stroke.finish(), painted=True)

    def _close_polygon(self) -> None:
        points, self._polygon = self._polygon, []
        value = self._value()
        if value is not None and self._doc is not None:
            self._emit_edit(fill_polygon(self._doc.mask, points, value))
        self.update()

    def _fill(self, point: tuple[float, float]) -> None:
        value = self._value()
        if value is not None and self._doc is not None:
            self._emit_edit(flood_fill(self._doc.mask, point, value))

    def _emit_edit(self, edit: MaskEdit | None, *, painted: bool = False) -> None:
        """Reports a finished edit; ``painted``: its pixels were shown as they were drawn."""
        if edit is not None:
            if not painted:
                self.mask_changed(edit.box)
            self.mask_edited.emit(edit)
