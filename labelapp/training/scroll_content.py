"""The training panel's content in its scroll area: it asks for the height its wrapped
lines need at the width it has, so a short dock scrolls instead of overlapping parts."""

from __future__ import annotations

from PySide6.QtWidgets import QLayout, QVBoxLayout, QWidget


class ScrollContent(QWidget):
    """The panel's content in its scroll area: as tall as the area when that is enough,
    else as tall as it must be, wrapped lines whole (the scroll area asks for its height
    for the width it has: Qt's own answer uses the preferred heights, and scrolls early)."""

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        layout = self.layout()
        return super().heightForWidth(width) if layout is None else min_height_for_width(layout, width)


def min_height_for_width(layout: QLayout, width: int) -> int:
    """The least height ``layout`` needs at ``width``: wrapped labels at their height for that
    width (Qt's minimum size counts one line of them), every other item at its minimum."""
    margins = layout.contentsMargins()
    inner = width - margins.left() - margins.right()
    heights = []
    for k in range(layout.count()):
        item = layout.itemAt(k)
        if item.isEmpty():  # a hidden widget
            continue
        nested = item.layout()
        if isinstance(nested, QVBoxLayout):
            heights.append(min_height_for_width(nested, inner))
        elif item.hasHeightForWidth():
            heights.append(max(item.minimumSize().height(), item.heightForWidth(inner)))
        else:
            heights.append(item.minimumSize().height())
    return margins.top() + margins.bottom() + sum(heights) + layout.spacing() * max(0, len(heights) - 1)
