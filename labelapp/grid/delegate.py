"""Paints one grid tile: thumbnail, file name, and the marks of :mod:`labelapp.grid.marks`.

```
+--------------------------+
|   [⚠ defect       [M] ]  |  the gray placeholder has the image's aspect until the
|   [   thumbnail       ]  |  thumbnail arrives; top left: the defect detector's call,
|   [★3              ?  ]  |  top right: the mask, bottom left: the suggestion rank,
|   cam1_0…001.png         |  bottom right: the classifier is unsure; then the label
|   [■ crazing] [≠ patches]|  chip (filled) or the predicted class (dashed outline) and
+--------------------------+  "≠ class" where the classifier disagrees with the label
```

:meth:`TileDelegate.paint_mark` draws one mark into a given rectangle, so the legend
above the grid shows exactly what the tiles show.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from labelapp.grid.marks import Mark, tile_marks
from labelapp.grid.model import GridModel
from labelapp.grid.tile import Tile

THUMB = 160  # the cache's thumbnails are 160 px on the longer side
PAD = 6
GAP = 3
RADIUS = 5.0
PLACEHOLDER = QColor("#8f8f8f")
BADGE_FILL = QColor(20, 20, 20, 200)
BADGE_EDGE = QColor(255, 255, 255, 235)
DEFECT_FILL = QColor(200, 40, 25, 230)
OVERRULED_FILL = QColor(110, 110, 110, 220)  # the detector's call, outvoted by the classifier
SUGGESTION_FILL = QColor(42, 125, 225, 230)  # the editor's "Suggested #3" colour
UNSURE_FILL = QColor(245, 175, 0, 240)
NEAR_FILL = QColor(255, 255, 255, 235)
BADGE_PLACES = ("top_left", "top_right", "bottom_left", "bottom_right")
_WHITE, _BLACK, _NO_PEN = QColor("#ffffff"), QColor("#000000"), QPen(Qt.PenStyle.NoPen)
BADGE_COLORS = {  # kind -> fill, outline, text
    "defect": (DEFECT_FILL, QPen(BADGE_EDGE, 1), _WHITE),
    "defect_near": (NEAR_FILL, QPen(DEFECT_FILL, 1.5), DEFECT_FILL.darker(120)),
    "overruled": (OVERRULED_FILL, QPen(BADGE_EDGE, 1), _WHITE),
    "mask": (BADGE_EDGE, _NO_PEN, _BLACK),
    "empty_mask": (BADGE_FILL, QPen(BADGE_EDGE, 1.5, Qt.PenStyle.DashLine), BADGE_EDGE),
    "suggested": (SUGGESTION_FILL, QPen(BADGE_EDGE, 1), _WHITE),
    "unsure": (UNSURE_FILL, QPen(BADGE_EDGE, 1), _BLACK),
}
BOLD_KINDS = frozenset({"mask", "empty_mask", "unsure"})  # one-letter badges, in the bold font


def text_color_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background``."""
    luminance = 0.299 * background.redF() + 0.587 * background.greenF() + 0.114 * background.blueF()
    return QColor("#000000") if luminance > 0.55 else QColor("#ffffff")


class TileDelegate(QStyledItemDelegate):
    """Draws the tiles of a :class:`GridModel`; ``cell`` is the size of one grid cell."""

    def __init__(self, model: GridModel, font: QFont, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._font = QFont(font)
        self._small = QFont(font)
        self._small.setPointSizeF(max(6.5, font.pointSizeF() * 0.85))
        self._badge_font = QFont(self._font)
        self._badge_font.setBold(True)
        self._metrics = QFontMetrics(self._font)
        self._small_metrics = QFontMetrics(self._small)
        self._badge_metrics = QFontMetrics(self._badge_font)
        self._advances: dict[tuple[bool, str], int] = {}  # (bold, text) -> width: few distinct texts
        self.chip_height = self._small_metrics.height() + 4
        self.min_cell = QSize(THUMB + 2 * PAD + 4, PAD + THUMB + GAP + self._metrics.height() + GAP
                              + self.chip_height + PAD)
        self.cell = QSize(self.min_cell)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.cell)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        row = index.row()
        if not 0 <= row < self._model.rowCount():
            return
        tile = self._model.tile(row)
        pixmap = self._model.pixmaps.get(tile.hash)
        rect = QRect(option.rect.topLeft(), self.cell)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_frame(painter, option, rect)
        thumb = self._paint_thumbnail(painter, rect, tile, pixmap)
        marks = tile_marks(tile)
        for mark in marks:
            if mark.place in BADGE_PLACES:
                self.paint_mark(painter, self._badge_rect(thumb, mark), mark, option.palette)
        self._paint_name(painter, option, rect, tile.name)
        self._paint_chips(painter, option, rect, marks)
        painter.restore()

    # -- parts ----------------------------------------------------------------------------------
    def _paint_frame(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect) -> None:
        """Selection fill, hover tint, and a strong outline on the current tile."""
        palette = option.palette
        box = QRectF(rect).adjusted(2, 2, -2, -2)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            fill = QColor(highlight)
            fill.setAlpha(90)
            painter.setPen(QPen(highlight, 1.5))
            painter.setBrush(fill)
            painter.drawRoundedRect(box, RADIUS, RADIUS)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            hover = QColor(highlight)
            hover.setAlpha(30)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(hover)
            painter.drawRoundedRect(box, RADIUS, RADIUS)
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(highlight.darker(130) if selected else highlight, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.adjusted(1, 1, -1, -1), RADIUS, RADIUS)

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, tile: Tile, pixmap: QPixmap | None) -> QRect:
        """The thumbnail (or the placeholder of the same aspect) fitted into its square;
        returns where it went."""
        size = pixmap.size() if pixmap is not None else QSize(max(1, tile.width), max(1, tile.height))
        size = size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio).expandedTo(QSize(1, 1))
        left = rect.left() + (rect.width() - size.width()) // 2
        top = rect.top() + PAD + (THUMB - size.height()) // 2
        target = QRect(left, top, size.width(), size.height())
        if pixmap is None:
            painter.fillRect(target, PLACEHOLDER)
        elif pixmap.size() == target.size():
            painter.drawPixmap(target.topLeft(), pixmap)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        if tile.label is not None:  # a class-coloured bar under the image, for scanning a page
            painter.fillRect(QRect(target.left(), target.bottom() - 3, target.width(), 4), QColor(tile.label.color))
        return target

    # -- marks -----------------------------------------------------------------------------------
    def mark_size(self, mark: Mark) -> QSize:
        """The size :meth:`paint_mark` draws ``mark`` at, its whole text shown."""
        bold = mark.kind in BOLD_KINDS
        advance = self._advance(bold, mark.text)
        if mark.place in ("chip", "chip_right"):
            dot = self.chip_height - 10 if mark.kind == "prediction" else 0
            return QSize(advance + 12 + (dot + 4 if dot else 0), self.chip_height)
        height = (self._badge_metrics if bold else self._small_metrics).height() + (1 if bold else 2)
        return QSize(max(advance + 8, height), height)

    def _advance(self, bold: bool, text: str) -> int:
        """The width of ``text`` in the bold badge font or the small one (cached)."""
        width = self._advances.get((bold, text))
        if width is None:
            if len(self._advances) > 4096:
                self._advances.clear()
            metrics = self._badge_metrics if bold else self._small_metrics
            width = self._advances[(bold, text)] = metrics.horizontalAdvance(text)
        return width

    def _badge_rect(self, thumb: QRect, mark: Mark) -> QRectF:
        size = self.mark_size(mark)
        left = thumb.left() + 3 if mark.place.endswith("left") else thumb.right() - size.width() - 3
        top = thumb.top() + 4 if mark.place.startswith("top") else thumb.bottom() - size.height() - 3
        return QRectF(left, top, size.width(), size.height())

    def paint_mark(self, painter: QPainter, box: QRectF, mark: Mark, palette: QPalette) -> None:
        """Draws ``mark`` into ``box`` (its text elided to fit; a label chip falls back to its
        class key)."""
        bold = mark.kind in BOLD_KINDS
        painter.setFont(self._badge_font if bold else self._small)
        fill, edge, ink = self._mark_colors(mark, palette)
        radius = box.height() / 2 if mark.kind == "unsure" else 3.0 if mark.place in BADGE_PLACES else RADIUS
        painter.setPen(edge)
        painter.setBrush(fill)
        painter.drawRoundedRect(box.adjusted(0.75, 0.75, -0.75, -0.75) if edge.style() != Qt.PenStyle.NoPen else box,
                                radius, radius)
        text_box = box.adjusted(2, 0, -2, 0)
        if mark.kind == "prediction":
            dot = box.height() - 10
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(mark.color))
            painter.drawEllipse(QRectF(box.left() + 6, box.center().y() - dot / 2, dot, dot))
            text_box = box.adjusted(dot + 8, 0, -4, 0)
        text = mark.text
        room = int(text_box.width()) - 4
        if self._advance(bold, text) > room:
            metrics = self._badge_metrics if bold else self._small_metrics
            text = mark.short if mark.short and mark.kind == "label" else metrics.elidedText(
                text, Qt.TextElideMode.ElideRight, room)
        painter.setPen(ink)
        painter.drawText(text_box, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _mark_colors(mark: Mark, palette: QPalette) -> tuple[QColor, QPen, QColor]:
        """Fill, outline and text colour of ``mark``."""
        kind = mark.kind
        if kind in BADGE_COLORS:
            return BADGE_COLORS[kind]
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        color = QColor(mark.color or "#888888")
        if kind == "label":
            return color, _NO_PEN, text_color_on(color)
        if kind == "prediction":
            return base, QPen(color, 1.5, Qt.PenStyle.DashLine), text
        return base, QPen(color, 1.5), text  # disagree

    def _paint_name(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, name: str) -> None:
        top = rect.top() + PAD + THUMB + GAP
        line = QRect(rect.left() + PAD, top, rect.width() - 2 * PAD, self._metrics.height())
        painter.setFont(self._font)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        text = self._metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, line.width())
        painter.drawText(line, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_chips(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, marks: list[Mark]) -> None:
        """The label chip (or the predicted class of an unlabeled image) at the left and
        the disagreeing prediction at the right edge of the thumbnail column."""
        top = rect.top() + PAD + THUMB + GAP + self._metrics.height() + GAP
        row = QRect(rect.left() + (rect.width() - THUMB) // 2, top, THUMB, self.chip_height)
        left = next((m for m in marks if m.place == "chip"), None)
        right = next((m for m in marks if m.place == "chip_right"), None)
        end = row.right() + 1
        if right is not None:
            width = min(self.mark_size(right).width(), row.width() // 2 if left is not None else row.width())
            end -= width
            self.paint_mark(painter, QRectF(end, row.top(), width, row.height()), right, option.palette)
            end -= 4
        if left is not None:
            width = min(self.mark_size(left).width(), end - row.left())
            if left.kind == "label" and self.mark_size(left).width() > width and left.short:
                width = min(width, self._advance(False, left.short) + 12)
            self.paint_mark(painter, QRectF(row.left(), row.top(), width, row.height()), left, option.palette)
