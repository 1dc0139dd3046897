"""Tile positions of the grid as plain arithmetic, in content coordinates.

Row ``r`` of the model sits in grid row ``r // columns`` and column ``r % columns``;
every cell has the same size. Nothing here walks the rows, so every answer costs the
same for 100 images as for 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect, QSize


@dataclass(frozen=True)
class TileGrid:
    """A grid of ``columns`` cells of ``cell`` size, filled row by row."""

    columns: int
    cell: QSize

    @classmethod
    def fit(cls, width: int, min_cell: QSize) -> TileGrid:
        """As many columns as fit in ``width``, cells widened to fill it."""
        columns = max(1, width // min_cell.width())
        return cls(columns, QSize(max(min_cell.width(), width // columns), min_cell.height()))

    def grid_rows(self, count: int) -> int:
        return -(-count // self.columns)

    def height(self, count: int) -> int:
        return self.grid_rows(count) * self.cell.height()

    def rect(self, row: int) -> QRect:
        grid_row, column = divmod(row, self.columns)
        return QRect(column * self.cell.width(), grid_row * self.cell.height(), self.cell.width(), self.cell.height())

    def row_at(self, point: QPoint, count: int, *, clamp: bool = False) -> int:
        """The row whose cell holds ``point``; -1 for none, or with ``clamp`` the
        nearest row in reading order (-1 only when there are no rows)."""
        column = point.x() // self.cell.width()
        grid_row = point.y() // self.cell.height()
        if clamp:
            column = min(max(column, 0), self.columns - 1)
            return min(max(0, grid_row) * self.columns + column, count - 1) if count else -1
        if not 0 <= column < self.columns or grid_row < 0:
            return -1
        row = grid_row * self.columns + column
        return row if row < count else -1

    def rows_in(self, rect: QRect, count: int) -> list[int]:
        """The rows whose cells intersect ``rect``, in order."""
        return [row for first, last in self.ranges_in(rect, count) for row in range(first, last + 1)]

    def ranges_in(self, rect: QRect, count: int) -> list[tuple[int, int]]:
        """The rows whose cells intersect ``rect`` as (first, last) ranges, one per grid
        row, or one in all when ``rect`` spans every column."""
        first_column = max(0, rect.left() // self.cell.width())
        last_column = min(self.columns - 1, rect.right() // self.cell.width())
        first_row, last_row = max(0, rect.top() // self.cell.height()), rect.bottom() // self.cell.height()
        if first_column > last_column or count == 0:
            return []
        if first_column == 0 and last_column == self.columns - 1:
            start, end = first_row * self.columns, min(count - 1, (last_row + 1) * self.columns - 1)
            return [(start, end)] if start <= end else []
        ranges = []
        for grid_row in range(first_row, last_row + 1):
            start = grid_row * self.columns + first_column
            if start >= count:
                break
            ranges.append((start, min(count - 1, grid_row * self.columns + last_column)))
        return ranges

    def visible_rows(self, top: int, height: int, count: int) -> tuple[int, int]:
        """The first and last row at least partly inside ``top .. top + height``;
        (-1, -1) when there are no rows."""
        if count == 0:
            return -1, -1
        first = (top // self.cell.height()) * self.columns
        last = min(count - 1, ((top + max(1, height) - 1) // self.cell.height() + 1) * self.columns - 1)
        return min(first, count - 1), last

    def row_below(self, row: int, count: int) -> int:
        """The tile under ``row``; the last tile when the grid row below is shorter."""
        if row + self.columns < count:
            return row + self.columns
        return count - 1 if (count - 1) // self.columns > row // self.columns else row

    def row_above(self, row: int) -> int:
        return row - self.columns if row >= self.columns else row
