"""Mask painting tools as plain numpy operations: brush segments, polygons, flood fill.

Coordinates are image pixels as floats: pixel ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``.
Each tool computes a *selection* (a box and a boolean array over it); :func:`paint`
writes it into the mask after the :class:`EditRecorder` has kept what it overwrites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from labelapp.editor.geometry import Box
from labelapp.editor.history import MaskEdit, Patch

BRUSH_SIZES: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512)
"""Brush diameters in image pixels: a geometric series (ratio about sqrt 2) from 1 to 512."""
TILE = 64


Selection = tuple[Box, np.ndarray]


def step_brush_size(size: int, step: int) -> int:
    """The brush size ``step`` places along :data:`BRUSH_SIZES` from ``size``."""
    index = min(range(len(BRUSH_SIZES)), key=lambda i: abs(BRUSH_SIZES[i] - size))
    return BRUSH_SIZES[max(0, min(len(BRUSH_SIZES) - 1, index + step))]


def pixel_center(x: float, y: float) -> tuple[float, float]:
    """The centre of the pixel that contains image point ``(x, y)``."""
    return math.floor(x) + 0.5, math.floor(y) + 0.5


def capsule_selection(p0: tuple[float, float], p1: tuple[float, float], diameter: float,
                      shape: tuple[int, ...]) -> Selection | None:
    """Pixels whose centres lie within ``diameter / 2`` of the segment between the centres
    of the pixels under ``p0`` and ``p1``: a round brush dragged from one to the other."""
    (ax, ay), (bx, by) = pixel_center(*p0), pixel_center(*p1)
    radius = max(diameter / 2.0, 0.5)
    box = Box(math.floor(min(ax, bx) - radius), math.floor(min(ay, by) - radius),
              math.ceil(max(ax, bx) + radius), math.ceil(max(ay, by) + radius))
    box = box.intersect(Box(0, 0, shape[1], shape[0]))
    if box.empty:
        return None
    xs = np.arange(box.left, box.right, dtype=np.float32)[None, :] + 0.5 - ax
    ys = np.arange(box.top, box.bottom, dtype=np.float32)[:, None] + 0.5 - ay
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 > 0:
        t = np.clip((xs * dx + ys * dy) / length2, 0.0, 1.0)
        xs, ys = xs - t * dx, ys - t * dy
    selected = xs * xs + ys * ys <= radius * radius + 1e-6
    return box, selected


def polygon_selection(points: Sequence[tuple[float, float]], shape: tuple[int, ...]) -> Selection | None:
    """Pixels inside the polygon (and on its outline), rasterised by Pillow."""
    if len(points) < 3:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    box = Box(math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)) + 1, math.ceil(max(ys)) + 1)
    box = box.intersect(Box(0, 0, shape[1], shape[0]))
    if box.empty:
        return None
    canvas = PILImage.new("L", (box.width, box.height), 0)
    # Pillow's integer coordinates are pixel centres; ours are pixel corners.
    vertices = [(x - box.left - 0.5, y - box.top - 0.5) for x, y in points]
    ImageDraw.Draw(canvas).polygon(vertices, fill=1, outline=1)
    selected = np.asarray(canvas, dtype=bool)
    return (box, selected) if selected.any() else None


def flood_selection(mask: np.ndarray, x: int, y: int) -> Selection | None:
    """The 4-connected region of pixels equal to ``mask[y, x]`` that contains ``(x, y)``
    (scipy's C connected-component labelling, not a Python search)."""
    height, width = mask.shape
    if not (0 <= x < width and 0 <= y < height):
        return None
    same = mask == mask[y, x]
    from scipy import ndimage  # imported on first use: 0.4 s off the window's start-up

    labels, _count = ndimage.label(same, output=np.int32)
    region = labels == labels[y, x]
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    box = Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return box, region[box.slices]


class EditRecorder:
    """Keeps the pixels an edit overwrites, tile by tile, so that a stroke of any length
    becomes one :class:`MaskEdit` over its bounding box without copying the whole mask."""

    def __init__(self, mask: np.ndarray) -> None:
        self._mask = mask
        self._tiles: dict[tuple[int, int], np.ndarray] = {}
        self._box: Box | None = None

    @property
    def box(self) -> Box | None:
        return self._box

    def touch(self, box: Box) -> None:
        """Call before writing into ``box``."""
        self._box = box if self._box is None else self._box.union(box)
        for ty in range(box.top // TILE, (box.bottom - 1) // TILE + 1):
            for tx in range(box.left // TILE, (box.right - 1) // TILE + 1):
                if (ty, tx) not in self._tiles:
                    self._tiles[ty, tx] = self._mask[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE].copy()

    def finish(self) -> MaskEdit | None:
        """The edit (cropped to the pixels that changed), or None when nothing changed."""
        if self._box is None:
            return None
        box = self._box
        after = self._mask[box.slices].copy()
        before = after.copy()
        for (ty, tx), tile in self._tiles.items():
            tile_box = Box(tx * TILE, ty * TILE, tx * TILE + tile.shape[1], ty * TILE + tile.shape[0])
            part = tile_box.intersect(box)
            if not part.empty:
                before[part.relative_to(box)] = tile[part.relative_to(tile_box)]
        changed = before != after
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(changed.any(axis=0))
        crop = Box(box.left + int(cols[0]), box.top + int(rows[0]),
                   box.left + int(cols[-1]) + 1, box.top + int(rows[-1]) + 1)
        inner = crop.relative_to(box)
        return MaskEdit(box=crop, before=Patch.of(before[inner]), after=Patch.of(after[inner]))


def paint(mask: np.ndarray, selection: Selection, value: int, recorder: EditRecorder) -> Box:
    """Writes ``value`` into the selected pixels; returns the selection's box."""
    box, selected = selection
    recorder.touch(box)
    mask[box.slices][selected] = value
    return box


class Stroke:
    """A brush or eraser stroke in progress: each new point paints the segment from the
    previous one, so fast mouse moves leave no gaps."""

    def __init__(self, mask: np.ndarray, *, value: int, diameter: int, start: tuple[float, float]) -> None:
        self._mask = mask
        self._value = value
        self._diameter = diameter
        self._last = start
        self._recorder = EditRecorder(mask)

    def extend(self, point: tuple[float, float]) -> Box | None:
        """Paints up to ``point``; returns the box written (None: outside the image)."""
        selection = capsule_selection(self._last, point, self._diameter, self._mask.shape)
        self._last = point
        return None if selection is None else paint(self._mask, selection, self._value, self._recorder)

    def finish(self) -> MaskEdit | None:
        return self._recorder.finish()


def fill_polygon(mask: np.ndarray, points: Sequence[tuple[float, float]], value: int) -> MaskEdit | None:
    """Fills the polygon with ``value``; the edit, or None when nothing changed."""
    selection = polygon_selection(points, mask.shape)
    if selection is None:
        return None
    recorder = EditRecorder(mask)
    paint(mask, selection, value, recorder)
    return recorder.finish()


def flood_fill(mask: np.ndarray, point: tuple[float, float], value: int) -> MaskEdit | None:
    """Fills the connected region under ``point`` with ``value``."""
    x, y = math.floor(point[0]), math.floor(point[1])
    if not (0 <= x < mask.shape[1] and 0 <= y < mask.shape[0]) or mask[y, x] == value:
        return None
    selection = flood_selection(mask, x, y)
    if selection is None:
        return None
    recorder = EditRecorder(mask)
    paint(mask, selection, value, recorder)
    return recorder.finish()
