"""Paints one grid tile: thumbnail, file name, label chip, mask badge, prediction chip,
defect badge, suggestion badge.

```
+--------------------------+
|   [⚠ 87%         [M] ]   |  the gray placeholder has the image's aspect until the
|   [   thumbnail      ]   |  thumbnail arrives; [M] filled: mask with defect pixels,
|   [★3                ]   |  outlined: an empty mask ("no defect here"); label chip
|   cam1_0…001.png         |
|   [■ crazing]    (87 %)  |  in the class colour; prediction: outline in the
+--------------------------+  predicted class colour and its confidence
```

[⚠ 87%] (red): a validated defect detector calls the image defective, its probability
at or above the run's threshold; below it, or while the detector is not validated
(:mod:`core.training.trust`), the probability is only in the tooltip. Gray instead of
red: the classifier, the model to believe here, calls the image OK (the tooltip says why).
[★3] (blue): an unlabeled image the suggestions queue names, with its rank.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from core.catalog import MaskState
from labelapp.grid.model import GridModel, Tile

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
        self._paint_mask_badge(painter, thumb, tile.mask)
        if tile.detected:
            self._paint_defect_badge(painter, thumb, tile.defect, overruled=tile.overruled)
        if tile.suggestion:
            self._paint_suggestion_badge(painter, thumb, tile.suggestion)
        self._paint_name(painter, option, rect, tile.name)
        self._paint_chips(painter, option, rect, tile)
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

    def _paint_mask_badge(self, painter: QPainter, thumb: QRect, mask: MaskState) -> None:
        if mask == MaskState.NONE:
            return
        metrics = QFontMetrics(self._badge_font)
        text = "M" if mask == MaskState.PIXELS else "∅"
        width = max(metrics.horizontalAdvance("M"), metrics.horizontalAdvance(text)) + 8
        badge = QRectF(thumb.right() - width - 3, thumb.top() + 4, width, metrics.height() + 1)
        painter.setFont(self._badge_font)
        if mask == MaskState.PIXELS:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BADGE_EDGE)
            painter.drawRoundedRect(badge, 3, 3)
            painter.setPen(QColor("#000000"))
        else:
            painter.setPen(QPen(BADGE_EDGE, 1.5, Qt.PenStyle.DashLine))
            painter.setBrush(BADGE_FILL)
            painter.drawRoundedRect(badge, 3, 3)
            painter.setPen(BADGE_EDGE)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_defect_badge(self, painter: QPainter, thumb: QRect, probability: float, *, overruled: bool) -> None:
        """A red "⚠ 87%" at the top left: the defect detector calls the image defective
        (gray: the classifier, believed over it here, says OK)."""
        text = f"\u26a0 {probability:.0%}"
        painter.setFont(self._small)
        badge = QRectF(thumb.left() + 3, thumb.top() + 4, self._small_metrics.horizontalAdvance(text) + 8,
                       self._small_metrics.height() + 2)
        painter.setPen(QPen(BADGE_EDGE, 1))
        painter.setBrush(OVERRULED_FILL if overruled else DEFECT_FILL)
        painter.drawRoundedRect(badge, 3, 3)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_suggestion_badge(self, painter: QPainter, thumb: QRect, rank: int) -> None:
        """A blue "★3" at the bottom left: the image is suggested, with its rank."""
        text = f"\u2605{rank}"
        painter.setFont(self._small)
        height = self._small_metrics.height() + 2
        badge = QRectF(thumb.left() + 3, thumb.bottom() - height - 3, self._small_metrics.horizontalAdvance(text) + 8,
                       height)
        painter.setPen(QPen(BADGE_EDGE, 1))
        painter.setBrush(SUGGESTION_FILL)
        painter.drawRoundedRect(badge, 3, 3)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_name(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, name: str) -> None:
        top = rect.top() + PAD + THUMB + GAP
        line = QRect(rect.left() + PAD, top, rect.width() - 2 * PAD, self._metrics.height())
        painter.setFont(self._font)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        text = self._metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, line.width())
        painter.drawText(line, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_chips(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, tile: Tile) -> None:
        """The label chip at the left and the prediction chip at the right edge of the
        thumbnail column."""
        top = rect.top() + PAD + THUMB + GAP + self._metrics.height() + GAP
        row = QRect(rect.left() + (rect.width() - THUMB) // 2, top, THUMB, self.chip_height)
        painter.setFont(self._small)
        right = row.right()
        if tile.prediction is not None:
            right -= self._paint_prediction_chip(painter, option, row, tile) + 4
        if tile.label is not None:
            self._paint_label_chip(painter, QRect(row.left(), row.top(), right - row.left() + 1, row.height()),
                                   tile.label.name, tile.label.shortcut, QColor(tile.label.color))

    def _paint_prediction_chip(self, painter: QPainter, option: QStyleOptionViewItem, row: QRect,
                               tile: Tile) -> int:
        """An outline in the predicted class's colour, a dot of it, and the confidence;
        returns the chip's width."""
        text = f"{tile.confidence:.0%}"
        dot = row.height() - 10
        width = self._small_metrics.horizontalAdvance(text) + dot + 14
        chip = QRectF(row.right() - width + 1, row.top(), width, row.height()).adjusted(0.75, 0.75, -0.75, -0.75)
        color = QColor(tile.prediction.color)
        painter.setPen(QPen(color, 1.5))
        painter.setBrush(option.palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(chip, RADIUS, RADIUS)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(QRectF(chip.left() + 5, chip.center().y() - dot / 2, dot, dot))
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        painter.drawText(chip.adjusted(dot + 6, 0, -2, 0), Qt.AlignmentFlag.AlignCenter, text)
        return width

    def _paint_label_chip(self, painter: QPainter, space: QRect, name: str, key: str | None,
                          color: QColor) -> None:
        """A filled chip with the class name (its key when the name does not fit)."""
        room = space.width() - 12
        text = name
        if self._small_metrics.horizontalAdvance(name) > room:
            text = key if key else self._small_metrics.elidedText(name, Qt.TextElideMode.ElideRight, room)
        width = min(space.width(), self._small_metrics.horizontalAdvance(text) + 12)
        chip = QRectF(space.left(), space.top(), width, space.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(chip, RADIUS, RADIUS)
        painter.setPen(text_color_on(color))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
