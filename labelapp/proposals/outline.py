"""The outline of a proposed mask: the pixel edges between proposed and not proposed
pixels, in image coordinates, as lines the painter draws with the editor's view transform.

Edges lie on pixel borders (a pixel ``(row, col)`` spans ``[col, col + 1) x [row, row + 1)``),
so the outline lines up with the mask overlay at every zoom and for any image shape;
collinear edges are merged into one line, so a blob costs a few lines per row it spans.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF


def outline_segments(mask: np.ndarray) -> np.ndarray:
    """(n, 4) float64 ``x1, y1, x2, y2`` of the merged border lines of ``mask`` (bool (H, W))."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return np.zeros((0, 4))
    top, left = rows[0], cols[0]  # only the proposal's bounding box is scanned
    padded = np.pad(mask[top:rows[-1] + 1, left:cols[-1] + 1], 1)
    vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # (H, W + 1): an edge at x = c along row r
    horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # (H + 1, W): an edge at y = r along column c
    x, y0, y1 = _runs(vertical.T)  # per x, runs of rows
    y, x0, x1 = _runs(horizontal)  # per y, runs of columns
    lines = np.concatenate([np.stack([x, y0, x, y1], axis=1), np.stack([x0, y, x1, y], axis=1)]).astype(np.float64)
    return lines + np.array([left, top, left, top], dtype=np.float64)


def _runs(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, start, end) of every run of True along the rows of ``edges``."""
    steps = np.diff(np.pad(edges, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    starts, ends = np.argwhere(steps == 1), np.argwhere(steps == -1)  # row-major: they pair up
    return starts[:, 0], starts[:, 1], ends[:, 1]


def outline_lines(mask: np.ndarray) -> list[QLineF]:
    """The outline of ``mask`` as lines in image coordinates."""
    return [QLineF(*row) for row in outline_segments(mask).tolist()]
