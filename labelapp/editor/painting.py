"""Drawing the canvas layers: the image from its mip level, the heat map, the mask
overlay, the polygon being drawn and the brush outline. Only the exposed part is drawn."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from labelapp.editor.document import ImageDocument
from labelapp.editor.geometry import Box, ViewTransform

_OUTLINE = ((QColor(0, 0, 0, 170), 3), (QColor(255, 255, 255), 1))  # dark halo, light line
VERTEX_COLOR = QColor(255, 200, 0)


def draw_layers(painter: QPainter, view: ViewTransform, doc: ImageDocument, box: Box, *, overlay: bool,
                heatmap: QImage | None = None) -> None:
    """Draws image pixels ``box`` (then the heat map and the mask over them) in image
    coordinates.

    Image and mask come from the mip level that matches the zoom (the image from its
    finest decoded level if that one is not decoded yet, stretched); the image is
    smoothed when shown smaller than 1:1 or stretched, the mask never (labels stay
    crisp), and not at all where it has no class pixel. ``heatmap`` is stretched over
    the whole image, smoothly (its pixel centres on the centres of the image blocks
    they cover), under the mask.
    """
    painter.save()
    painter.setTransform(view.qtransform())
    painter.setClipRect(QRectF(0, 0, doc.width, doc.height), Qt.ClipOperation.IntersectClip)
    level = view.level(len(doc.levels))
    image_level = max(level, doc.base_level)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.scale < 1.0 or image_level > level)
    _draw_level(painter, doc.level_image(image_level), image_level, box)
    if heatmap is not None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(0, 0, doc.width, doc.height), heatmap, QRectF(heatmap.rect()))
    if overlay and not doc.mask_blank(box):
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        _draw_level(painter, doc.mask_level_image(level), level, box)
    painter.restore()


def _draw_level(painter: QPainter, image: QImage, level: int, box: Box) -> None:
    """Draws the part of mip ``level`` (image reduced 2**level times) that covers ``box``."""
    f = 1 << level
    left, top = box.left // f, box.top // f
    right, bottom = min(image.width(), -(-box.right // f)), min(image.height(), -(-box.bottom // f))
    painter.drawImage(QRectF(left * f, top * f, (right - left) * f, (bottom - top) * f), image,
                      QRectF(left, top, right - left, bottom - top))


def draw_polygon(painter: QPainter, vertices: list[QPointF], hover: QPointF | None) -> None:
    """The open polygon, a rubber band to the mouse, and a dashed closing edge."""
    points = vertices + ([hover] if hover is not None else [])
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    for color, width in _OUTLINE:
        painter.setPen(QPen(color, width))
        painter.drawPolyline(points)
    if len(points) >= 3:
        painter.setPen(QPen(QColor(255, 255, 255, 160), 1, Qt.PenStyle.DashLine))
        painter.drawLine(points[-1], points[0])
    painter.setPen(QPen(QColor(0, 0, 0), 1))
    painter.setBrush(VERTEX_COLOR)
    for point in vertices:
        painter.drawRect(QRectF(point.x() - 3, point.y() - 3, 6, 6))
    painter.restore()


def draw_brush_outline(painter: QPainter, rect: QRectF) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    for color, width in _OUTLINE:
        painter.setPen(QPen(color, width))
        painter.drawEllipse(rect)
    painter.restore()
