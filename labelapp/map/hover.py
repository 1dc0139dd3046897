"""What the map's hover card shows: the hovered image's thumbnail, read from the
project's thumbnail cache on the GUI thread (the last few kept), and a few words about
its label, prediction and suggestion."""

from __future__ import annotations

import html
import logging
from collections import OrderedDict
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from core.map.points import MapPoints
from core.store import ImageClass, Project
from core.store.thumbnails import ThumbnailCache

logger = logging.getLogger(__name__)
THUMBNAIL_PX = 128
THUMBNAILS_KEPT = 128


class HoverThumbnails:
    """The thumbnails of the images hovered last, at most :data:`THUMBNAIL_PX` wide."""

    def __init__(self) -> None:
        self._pixmaps: OrderedDict[int, QPixmap | None] = OrderedDict()
        self._cache: ThumbnailCache | None = None

    def clear(self) -> None:
        """Forgets the thumbnails and closes the cache (the project changed)."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self._pixmaps.clear()

    def get(self, project: Project, image_id: int, content_hash: str) -> QPixmap | None:
        """The thumbnail of ``image_id`` (None when the cache has none)."""
        if image_id in self._pixmaps:
            self._pixmaps.move_to_end(image_id)
            return self._pixmaps[image_id]
        pixmap = None
        try:
            if self._cache is None:
                self._cache = ThumbnailCache(project.cache_dir)
            jpeg = self._cache.get(content_hash)
        except Exception as exc:  # noqa: BLE001 - a broken cache costs the thumbnail, not the map
            logger.debug("no thumbnail for image %s: %s", image_id, exc)
            jpeg = None
        image = QImage.fromData(jpeg) if jpeg else QImage()
        if not image.isNull():
            pixmap = QPixmap.fromImage(image.scaled(THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation))
        self._pixmaps[image_id] = pixmap
        while len(self._pixmaps) > THUMBNAILS_KEPT:
            self._pixmaps.popitem(last=False)
        return pixmap


def describe_point(points: MapPoints, classes: Sequence[ImageClass], index: int) -> str:
    """The label, prediction and open suggestion of point ``index``, as HTML lines."""
    names = {c.id: c.name for c in classes}
    label = int(points.label[index])
    lines = [html.escape(names.get(label, "unlabeled") if label else "unlabeled")]
    predicted = int(points.predicted[index])
    if predicted:
        lines.append(f"predicted {html.escape(names.get(predicted, '?'))} {points.confidence[index]:.0%}")
    if points.rank[index] and not label:
        lines.append(f"suggested #{int(points.rank[index])}")
    return "<br>".join(lines)
