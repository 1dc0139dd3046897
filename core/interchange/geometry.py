"""Masks as the shapes other tools store: connected components, polygons, RLE.

Coordinates follow COCO: pixel (row r, column c) covers the square x in [c, c+1],
y in [r, r+1], so a polygon's vertices lie on pixel corners. The polygons traced here
run along the pixel edges of a region, and :func:`rasterize` (pycocotools' polygon
rasteriser, which fills the pixels whose centre lies inside) turns them back into the
same pixels: a round trip through polygons is exact for a region without holes.

A region is 4-connected (pixels that share an edge); the background around it is
8-connected, so a background pocket that touches the outside at a corner is not a hole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as coco_mask
from scipy import ndimage

Polygon = list[tuple[float, float]]  # (x, y) vertices, closed implicitly
_FOUR = ndimage.generate_binary_structure(2, 1)
_EIGHT = ndimage.generate_binary_structure(2, 2)
# directions as (dx, dy) in image coordinates (y down); index order is clockwise on screen
_DIRS = ((1, 0), (0, 1), (-1, 0), (0, -1))


@dataclass(frozen=True)
class Component:
    """One connected region of one class: its pixels within its box (``crop``, bool), the
    pixel count, the COCO box ``[x, y, width, height]`` and the mask's (height, width).
    Everything is computed within the box: a mask may hold thousands of small regions."""

    class_id: int
    crop: np.ndarray
    area: int
    bbox: tuple[int, int, int, int]
    shape: tuple[int, int]

    @property
    def pixels(self) -> np.ndarray:
        """The region as bool pixels of the whole mask."""
        full = np.zeros(self.shape, dtype=bool)
        x, y, w, h = self.bbox
        full[y:y + h, x:x + w] = self.crop
        return full

    @property
    def has_holes(self) -> bool:
        # background on the box's border touches the outside: the crop is enough
        return bool((ndimage.binary_fill_holes(self.crop, structure=_EIGHT) != self.crop).any())

    def outline(self) -> tuple[list[Polygon], list[Polygon]]:
        """(outer polygons, hole polygons) in the mask's coordinates (see :func:`trace`)."""
        x0, y0 = self.bbox[:2]
        outer, holes = trace(self.crop)
        return ([[(x + x0, y + y0) for x, y in p] for p in outer], [[(x + x0, y + y0) for x, y in p] for p in holes])

    def rle(self) -> dict:
        """The region as compressed COCO RLE of the whole mask, ``{"size": [h, w], "counts": str}``:
        the runs are found from the region's own pixels, pycocotools compresses them."""
        height, width = self.shape
        rows, cols = np.nonzero(self.crop)
        index = np.sort((cols + self.bbox[0]).astype(np.int64) * height + rows + self.bbox[1])  # column-major
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        starts = index[np.r_[0, breaks]]
        ends = index[np.r_[breaks - 1, index.size - 1]] + 1
        gaps = starts - np.r_[0, ends[:-1]]
        counts = np.column_stack([gaps, ends - starts]).ravel().tolist()
        if ends[-1] < height * width:
            counts.append(height * width - int(ends[-1]))  # the background after the last run
        rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def components(mask: np.ndarray) -> Iterator[Component]:
    """The connected regions of every class in ``mask`` (uint8 class ids, 0 background),
    larger boxes first, so that a region comes before those in its holes (drawn in this
    order, later regions over earlier ones, they give the mask back)."""
    found = []
    shape = (int(mask.shape[0]), int(mask.shape[1]))
    for class_id in (int(v) for v in np.unique(mask) if v != 0):
        labeled, _ = ndimage.label(mask == class_id, structure=_FOUR)
        for index, box in enumerate(ndimage.find_objects(labeled), start=1):
            if box is None:
                continue
            crop = labeled[box] == index
            rows, cols = box
            bbox = (cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
            found.append(Component(class_id, crop, int(crop.sum()), bbox, shape))
    found.sort(key=lambda c: -c.bbox[2] * c.bbox[3])  # stable: by class, then top left, among equals
    yield from found


def trace(pixels: np.ndarray) -> tuple[list[Polygon], list[Polygon]]:
    """The boundary of a region along pixel edges: (outer polygons, hole polygons).

    Each polygon keeps only its corners. Outer polygons run clockwise on screen (y down),
    holes anticlockwise; pycocotools fills the union of the outer ones."""
    edges = _boundary_edges(np.asarray(pixels, dtype=bool))
    outer: list[Polygon] = []
    holes: list[Polygon] = []
    for loop in _loops(edges):
        polygon = _corners(loop)
        (outer if _signed_area(polygon) > 0 else holes).append(polygon)
    return outer, holes


def _boundary_edges(pixels: np.ndarray) -> dict[tuple[int, int, int], tuple[int, int]]:
    """(start x, start y, direction) -> end vertex for each pixel edge between the region
    and the background, oriented with the region on the walker's right."""
    padded = np.pad(pixels, 1)
    inner = padded[1:-1, 1:-1]
    edges: dict[tuple[int, int, int], tuple[int, int]] = {}
    # (neighbour offset (dr, dc), start corner (dx, dy) from the pixel's top left, direction)
    sides = (((-1, 0), (0, 0), 0), ((0, 1), (1, 0), 1), ((1, 0), (1, 1), 2), ((0, -1), (0, 1), 3))
    for (dr, dc), (sx, sy), direction in sides:
        neighbour = padded[1 + dr:padded.shape[0] - 1 + dr, 1 + dc:padded.shape[1] - 1 + dc]
        rows, cols = np.nonzero(inner & ~neighbour)
        dx, dy = _DIRS[direction]
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            x, y = c + sx, r + sy
            edges[(x, y, direction)] = (x + dx, y + dy)
    return edges


def _loops(edges: dict[tuple[int, int, int], tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    """Closed loops of vertices. Where two loops meet at a corner the walk turns right,
    towards the region, so regions that touch only at a corner stay apart."""
    used: set[tuple[int, int, int]] = set()
    for start in edges:
        if start in used:
            continue
        loop = []
        edge = start
        while edge not in used:
            used.add(edge)
            loop.append((edge[0], edge[1]))
            x, y = edges[edge]
            direction = edge[2]
            for turn in (1, 0, 3):  # right, straight on, left
                candidate = (x, y, (direction + turn) % 4)
                if candidate in edges:
                    edge = candidate
                    break
        yield loop


def _corners(loop: Sequence[tuple[int, int]]) -> Polygon:
    """The loop without the vertices where it goes straight on."""
    n = len(loop)
    kept = []
    for i, (x, y) in enumerate(loop):
        px, py = loop[i - 1]
        nx, ny = loop[(i + 1) % n]
        if (x - px) * (ny - y) - (y - py) * (nx - x) != 0:
            kept.append((float(x), float(y)))
    return kept


def _signed_area(polygon: Polygon) -> float:
    """The shoelace area, positive for clockwise on screen (y down)."""
    xs = np.array([p[0] for p in polygon])
    ys = np.array([p[1] for p in polygon])
    return float(0.5 * (np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))


def rasterize(polygons: Sequence[Polygon], height: int, width: int) -> np.ndarray:
    """The pixels (bool, ``height`` x ``width``) whose centre lies inside any of the
    polygons, by pycocotools.

    Raises:
        ValueError: a point lies more than a pixel outside the image (pycocotools would
            walk every pixel of the way out there).
    """
    for polygon in polygons:
        for x, y in polygon:
            if not (-1 <= x <= width + 1 and -1 <= y <= height + 1):
                raise ValueError(f"the point ({x:g}, {y:g}) lies outside the {width}x{height} image")
    flat = [[float(v) for point in polygon for v in point] for polygon in polygons if len(polygon) >= 3]
    if not flat:
        return np.zeros((height, width), dtype=bool)
    rles = coco_mask.frPyObjects(flat, height, width)
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


def decode_rle(rle: dict, height: int, width: int) -> np.ndarray:
    """A COCO RLE (compressed: ``counts`` a string; uncompressed: a list) as bool pixels.

    Raises:
        ValueError: the RLE is not of this size or cannot be decoded.
    """
    size = rle.get("size")
    counts = rle.get("counts")
    if not isinstance(size, list | tuple) or list(size) != [height, width]:
        raise ValueError(f"its RLE size {size!r} is not the image's {height}x{width} (height, width)")
    if isinstance(counts, list):
        if not all(isinstance(v, int) and v >= 0 for v in counts) or sum(counts) != height * width:
            raise ValueError("its uncompressed RLE counts do not add up to the image's pixels")
        compressed = coco_mask.frPyObjects(dict(rle), height, width)
    elif isinstance(counts, str):
        if sum(_string_counts(counts)) != height * width:  # pycocotools would write past the mask
            raise ValueError("its RLE counts do not add up to the image's pixels")
        compressed = {"size": [height, width], "counts": counts.encode("ascii")}
    else:
        raise ValueError("its RLE has no counts")
    decoded = coco_mask.decode(compressed)
    return decoded.astype(bool)


def _string_counts(text: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (the format of pycocotools'
    ``rleToString``), read only to check them before pycocotools decodes the string.

    Raises:
        ValueError: a character out of range, a number cut short, or a negative run.
    """
    counts: list[int] = []
    value = shift = 0
    for char in text:
        code = ord(char) - 48
        if not 0 <= code < 64:
            raise ValueError(f"its RLE counts hold {char!r}, not a COCO RLE character")
        value |= (code & 0x1F) << (5 * shift)
        shift += 1
        if code & 0x20:
            continue
        if code & 0x10:
            value -= 1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise ValueError("its RLE counts hold a negative run")
        counts.append(value)
        value = shift = 0
    if shift:
        raise ValueError("its RLE counts end in the middle of a number")
    return counts


def polygon_points(values: object) -> Polygon:
    """A flat ``[x1, y1, x2, y2, ...]`` list as a polygon.

    Raises:
        ValueError: not an even list of at least 6 finite numbers.
    """
    if not isinstance(values, list | tuple) or len(values) < 6 or len(values) % 2:
        raise ValueError("a polygon needs at least 3 points as [x1, y1, x2, y2, ...]")
    numbers = [_number(v) for v in values]
    return list(zip(numbers[0::2], numbers[1::2], strict=True))


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"{value!r} is not a coordinate")
    return float(value)
