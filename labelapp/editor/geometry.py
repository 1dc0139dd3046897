"""Pixel boxes and the view transform between image pixels and widget pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QTransform

MIN_SCALE = 1 / 64
MAX_SCALE = 64.0


@dataclass(frozen=True)
class Box:
    """A half-open pixel rectangle ``[left, right) x [top, bottom)``."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def empty(self) -> bool:
        return self.right <= self.left or self.bottom <= self.top

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def union(self, other: Box) -> Box:
        return Box(min(self.left, other.left), min(self.top, other.top),
                   max(self.right, other.right), max(self.bottom, other.bottom))

    def intersect(self, other: Box) -> Box:
        return Box(max(self.left, other.left), max(self.top, other.top),
                   min(self.right, other.right), min(self.bottom, other.bottom))

    def relative_to(self, outer: Box) -> tuple[slice, slice]:
        """This box's slices inside an array that covers ``outer``."""
        return (slice(self.top - outer.top, self.bottom - outer.top),
                slice(self.left - outer.left, self.right - outer.left))


@dataclass
class ViewTransform:
    """``widget = image * scale + (dx, dy)``; the one place that maps between the two."""

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def to_image(self, point: QPointF) -> tuple[float, float]:
        return (point.x() - self.dx) / self.scale, (point.y() - self.dy) / self.scale

    def to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(x * self.scale + self.dx, y * self.scale + self.dy)

    def widget_rect(self, box: Box, margin: int = 2) -> QRect:
        """The widget pixels that show ``box``, grown by ``margin``."""
        rect = QRectF(box.left * self.scale + self.dx, box.top * self.scale + self.dy,
                      box.width * self.scale, box.height * self.scale)
        return rect.toAlignedRect().adjusted(-margin, -margin, margin, margin)

    def image_box(self, rect: QRect, width: int, height: int, margin: int = 2) -> Box:
        """The image pixels under widget ``rect`` (grown by ``margin`` pixels), clipped."""
        left = math.floor((rect.left() - self.dx) / self.scale) - margin
        top = math.floor((rect.top() - self.dy) / self.scale) - margin
        right = math.ceil((rect.right() + 1 - self.dx) / self.scale) + margin
        bottom = math.ceil((rect.bottom() + 1 - self.dy) / self.scale) + margin
        return Box(left, top, right, bottom).intersect(Box(0, 0, width, height))

    def qtransform(self) -> QTransform:
        return QTransform(self.scale, 0.0, 0.0, self.scale, self.dx, self.dy)

    def fit(self, width: int, height: int, view_width: int, view_height: int, margin: int = 8) -> None:
        """Scales the image to fill the view (small images are enlarged) and centres it."""
        usable_w, usable_h = max(1, view_width - 2 * margin), max(1, view_height - 2 * margin)
        self.scale = max(MIN_SCALE, min(MAX_SCALE, usable_w / width, usable_h / height))
        self.center(width, height, view_width, view_height)

    def center(self, width: int, height: int, view_width: int, view_height: int) -> None:
        self.dx = (view_width - width * self.scale) / 2.0
        self.dy = (view_height - height * self.scale) / 2.0

    def set_scale_about(self, scale: float, anchor: QPointF) -> None:
        """Changes the scale keeping the image point under ``anchor`` where it is."""
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        x, y = self.to_image(anchor)
        self.scale = scale
        self.dx = anchor.x() - x * scale
        self.dy = anchor.y() - y * scale

    def level(self, levels: int) -> int:
        """The mip level to draw from: the smallest one that still has at least one
        pixel per screen pixel (level k is the image reduced 2**k times)."""
        if self.scale >= 0.5 or levels <= 1:
            return 0
        return max(0, min(levels - 1, math.floor(math.log2(1.0 / self.scale))))
