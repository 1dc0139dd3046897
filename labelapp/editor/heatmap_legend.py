"""The heat map's legend: a small colour bar under the canvas, right of the defect line.

Shown only while a heat map is drawn. It gives the scale the map is coloured with (the
shared heat scale of :mod:`core.media.heat_colors`, opaque) from 0 (no defect) to 1 (sure),
and marks the run's decision threshold, or says that the detector is not validated
(then no threshold decides anything). It sits beside the image, not on it, so that it
never hides a defect.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from core.media.heat_colors import heat_colors

PAD = 4
BAR_HEIGHT = 10
WIDTH = 210
EDGE = QColor(90, 90, 90)


class HeatmapLegend(QWidget):
    """The colour bar of the heat map, with 0, 1 and the threshold marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmap_legend")
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.85))
        self._metrics = QFontMetrics(self._font)
        self._threshold: float | None = None
        self._note = ""
        colors = heat_colors()
        self._bar = QImage(256, 1, QImage.Format.Format_RGB32)
        for v in range(256):
            r, g, b = (int(c) for c in colors[v])
            self._bar.setPixelColor(v, 0, QColor(r, g, b))
        line = self._metrics.height()
        self.setFixedSize(WIDTH, PAD + line + 3 + BAR_HEIGHT + 1 + line + PAD - 2)
        self.hide()

    # -- state --------------------------------------------------------------------------------
    def set_threshold(self, threshold: float | None, note: str = "") -> None:
        """Marks ``threshold`` on the bar; None: no mark, ``note`` says why ("not validated")."""
        self._threshold = None if threshold is None else min(1.0, max(0.0, float(threshold)))
        self._note = note
        self.setToolTip("Heat-map colours from 0 (no defect) to 1 (sure defect)"
                        + (f"; the image counts as defective from the threshold {threshold:.2f}"
                           if threshold is not None else f"; {note}" if note else ""))
        self.update()

    def threshold(self) -> float | None:
        return self._threshold

    def note(self) -> str:
        return self._note

    def bar_rect(self) -> QRect:
        """Where the colour bar lies, in the legend's coordinates."""
        return QRect(PAD, PAD + self._metrics.height() + 3, self.width() - 2 * PAD, BAR_HEIGHT)

    def threshold_x(self) -> int | None:
        """The pixel column of the threshold mark in the legend's coordinates (None: no mark)."""
        if self._threshold is None:
            return None
        bar = self.bar_rect()
        return bar.left() + round(self._threshold * (bar.width() - 1))

    # -- drawing --------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text, muted = self.palette().color(QPalette.ColorRole.WindowText), QColor("gray")
        painter.setFont(self._font)
        line = self._metrics.height()
        top = QRect(PAD, PAD - 2, self.width() - 2 * PAD, line)
        painter.setPen(text)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "Heat map")
        right = (f"threshold {self._threshold:.2f}" if self._threshold is not None else self._note)
        painter.setPen(muted)
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, right)
        bar = self.bar_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(bar), self._bar, QRectF(self._bar.rect()))
        painter.setPen(QPen(EDGE, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(bar).adjusted(-0.5, -0.5, 0.5, 0.5))
        labels = QRect(PAD, bar.bottom() + 1, bar.width(), line)
        painter.setPen(text)
        painter.drawText(labels, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "0 no defect")
        painter.drawText(labels, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "sure 1")
        x = self.threshold_x()
        if x is not None:
            self._draw_mark(painter, x + 0.5, bar)  # a pixel's centre: a crisp one-pixel line
        painter.end()

    @staticmethod
    def _draw_mark(painter: QPainter, x: float, bar: QRect) -> None:
        """A white line across the bar with a small triangle above it."""
        painter.setPen(QPen(QColor(0, 0, 0, 200), 3))
        painter.drawLine(QPointF(x, bar.top() - 1), QPointF(x, bar.bottom() + 2))
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawLine(QPointF(x, bar.top() - 1), QPointF(x, bar.bottom() + 2))
        painter.setBrush(QColor(255, 255, 255))
        painter.drawPolygon(QPolygonF([QPointF(x - 4, bar.top() - 6), QPointF(x + 4, bar.top() - 6),
                                       QPointF(x, bar.top() - 1)]))
