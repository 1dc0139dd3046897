"""The legend of the grid's tile marks: a popup under the "?" button above the grid.

Each kind of mark (:data:`labelapp.grid.marks.KINDS`) is drawn by the grid's own
delegate, so the sample is exactly what a tile shows, beside where it sits and what it
means.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, QRectF, Qt, Slot
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QToolButton, QWidget

from labelapp.grid.delegate import TileDelegate
from labelapp.grid.marks import KINDS, Mark

SAMPLE_COLOR = "#e69f00"  # a class colour for the chip samples
PLACES = {"top_left": "Top left", "top_right": "Top right", "bottom_left": "Bottom left",
          "bottom_right": "Bottom right", "chip": "Under the name", "chip_right": "Under the name, right"}
FOOTER = "Hover over a tile to read its marks in words. A mark shows only what helps decide whether to look."


def mark_pixmap(delegate: TileDelegate, mark: Mark, palette, ratio: float = 1.0) -> QPixmap:
    """``mark`` as the tiles draw it, on a transparent pixmap."""
    size = delegate.mark_size(mark)
    pixmap = QPixmap(int(size.width() * ratio) + 1, int(size.height() * ratio) + 1)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    delegate.paint_mark(painter, QRectF(0, 0, size.width(), size.height()), mark, palette)
    painter.end()
    return pixmap


class TileLegend(QFrame):
    """Every kind of mark, drawn, with its place on the tile and its meaning."""

    def __init__(self, delegate: TileDelegate, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("tile_legend")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QGridLayout(self)
        layout.setHorizontalSpacing(10)
        title = QLabel("<b>Marks on the tiles</b>")
        layout.addWidget(title, 0, 0, 1, 3)
        self.rows: dict[str, str] = {}  # kind -> the meaning shown
        ratio = self.devicePixelRatioF()
        for row, kind in enumerate(KINDS.values(), start=1):
            sample = QLabel()
            sample.setPixmap(mark_pixmap(delegate, Mark(kind.key, kind.sample, color=SAMPLE_COLOR),
                                         self.palette(), ratio))
            place = QLabel(PLACES[kind.place])
            place.setStyleSheet("color: gray;")
            meaning = QLabel(kind.meaning)
            meaning.setWordWrap(True)
            meaning.setMinimumWidth(380)
            layout.addWidget(sample, row, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            layout.addWidget(place, row, 1)
            layout.addWidget(meaning, row, 2)
            self.rows[kind.key] = kind.meaning
        footer = QLabel(FOOTER)
        footer.setWordWrap(True)
        layout.addWidget(footer, len(KINDS) + 1, 0, 1, 3)

    def show_under(self, anchor: QWidget) -> None:
        """Opens below ``anchor``'s right edge, inside the screen."""
        self.adjustSize()
        corner = anchor.mapToGlobal(QPoint(anchor.width(), anchor.height()))
        left = corner.x() - self.width()
        screen = anchor.screen().availableGeometry() if anchor.screen() is not None else None
        if screen is not None:
            left = max(screen.left(), min(left, screen.right() - self.width()))
        self.move(left, corner.y())
        self.show()


class LegendButton(QObject):
    """Opens a :class:`TileLegend` under ``button`` on each click; :attr:`legend` is the last one."""

    def __init__(self, button: QToolButton, delegate: TileDelegate) -> None:
        super().__init__(button)
        self._button = button
        self._delegate = delegate
        self.legend: TileLegend | None = None
        button.clicked.connect(self._on_button_clicked)

    @Slot()
    def _on_button_clicked(self) -> None:
        if self.legend is None:
            self.legend = TileLegend(self._delegate, self._button)
        self.legend.show_under(self._button)
