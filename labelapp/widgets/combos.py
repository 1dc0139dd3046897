"""Combo boxes that never cut their text.

A combo box in a layout that runs short of room is squeezed to its minimum size, which
(with ``AdjustToContents``) can be narrower than the entry it shows: "Prediction (" for
"Prediction disagrees with label". :func:`keep_text_whole` makes the minimum width that
of the current entry (updated whenever it changes), so the layout takes the room from
the stretchable widgets beside it, and widens the popup list to its widest entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox

DEFERRED = "labelapp_fit_deferred"  # a combo's property while it is rebuilt


def text_width(combo: QComboBox, position: int) -> int:
    """The width the text (and icon) of entry ``position`` needs."""
    metrics = combo.fontMetrics()
    width = metrics.horizontalAdvance(combo.itemText(position))
    if not combo.itemIcon(position).isNull():
        width += combo.iconSize().width() + 4
    return width


def needed_width(combo: QComboBox, content: int) -> int:
    """The combo box's width for ``content`` pixels of text and icon (frame, margins and arrow added)."""
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    size = QSize(content, combo.fontMetrics().height())
    return combo.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, option, size, combo).width()


def fit_current(combo: QComboBox) -> None:
    """Minimum width: the current entry whole; popup: every entry whole (nothing while
    :func:`rebuilding` it)."""
    if combo.property(DEFERRED):
        return
    position = combo.currentIndex()
    combo.setMinimumWidth(needed_width(combo, text_width(combo, position)) if position >= 0 else 0)
    widest = max((text_width(combo, i) for i in range(combo.count())), default=0)
    scroll_bar = combo.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
    combo.view().setMinimumWidth(widest + scroll_bar + 16)


@contextmanager
def rebuilding(combo: QComboBox) -> Iterator[QComboBox]:
    """Fits ``combo`` once when its entries have all been replaced, not once per entry
    added (each fit measures every entry: 40 entries took 10 ms)."""
    combo.setProperty(DEFERRED, True)
    try:
        yield combo
    finally:
        combo.setProperty(DEFERRED, False)
        fit_current(combo)


def keep_text_whole(combo: QComboBox) -> QComboBox:
    """Keeps :func:`fit_current` true as the entries and the choice change; returns ``combo``."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.currentIndexChanged.connect(lambda _position: fit_current(combo))
    combo.model().rowsInserted.connect(lambda *_args: fit_current(combo))
    combo.model().rowsRemoved.connect(lambda *_args: fit_current(combo))
    fit_current(combo)
    return combo
