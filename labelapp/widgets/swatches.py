"""Class colour swatches: the small coloured squares beside a class name in combos,
menus and tables.

Three looks, by ``border``: ``"rounded"`` (a rounded square outlined a shade darker:
the grid's filter and the map's "Label as" menu), ``"outline"`` (a square with a thin
dark outline, visible on any background: the project summary) and ``"none"`` (a plain
filled square: the editor's paint class and the Label menu).
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

Border = Literal["rounded", "outline", "none"]


def color_pixmap(color: str, size: int = 12, *, border: Border = "rounded") -> QPixmap:
    """A ``size`` x ``size`` square of ``color`` with the given ``border``."""
    pixmap = QPixmap(size, size)
    if border == "none":
        pixmap.fill(QColor(color))
        return pixmap
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setBrush(QColor(color))
    if border == "rounded":
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(color).darker(140))
        painter.drawRoundedRect(0, 0, size - 1, size - 1, 3, 3)
    else:
        painter.setPen(QColor(0, 0, 0, 110))
        painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return pixmap


def color_icon(color: str, size: int = 12, *, border: Border = "rounded") -> QIcon:
    """:func:`color_pixmap` as an icon, for class entries."""
    return QIcon(color_pixmap(color, size, border=border))
