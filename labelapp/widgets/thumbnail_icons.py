"""Thumbnails of a few images as icons, read on the GUI thread from the project's cache.

For short lists (a run's false positives, the images worth a mask), where a loader
thread would cost more than it saves: each thumbnail is a small JPEG read by key from
``cache/thumbnails.sqlite`` (the grid's cache, :mod:`core.store.thumbnails`). Images without
a thumbnail get a gray square.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap

from core.store import Project, StoreError
from core.store.thumbnails import ThumbnailCache

logger = logging.getLogger(__name__)


def image_names(project: Project, image_ids: Iterable[int]) -> dict[int, str]:
    """The file name of each image (``#id`` for one the store does not know)."""
    names = {}
    for image_id in image_ids:
        try:
            names[int(image_id)] = Path(project.images.get(int(image_id)).path).name
        except StoreError:
            names[int(image_id)] = f"#{image_id}"
    return names


def thumbnail_icons(project: Project, image_ids: Iterable[int], size: int) -> dict[int, QIcon]:
    """An icon of at most ``size`` x ``size`` for each image, from the thumbnail cache."""
    wanted = [int(i) for i in image_ids]
    icons: dict[int, QIcon] = {}
    try:
        cache = ThumbnailCache(project.cache_dir)
    except (StoreError, OSError) as exc:
        logger.warning("thumbnail cache unreadable: %s", exc)
        return {i: _blank(size) for i in wanted}
    try:
        for image_id in wanted:
            icons[image_id] = _icon(project, cache, image_id, size)
    finally:
        cache.close()
    return icons


def _icon(project: Project, cache: ThumbnailCache, image_id: int, size: int) -> QIcon:
    try:
        jpeg = cache.get(project.images.get(image_id).hash)
    except StoreError as exc:
        logger.debug("no thumbnail for image %s: %s", image_id, exc)
        jpeg = None
    image = QImage.fromData(jpeg) if jpeg else QImage()
    if image.isNull():
        return _blank(size)
    scaled = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return QIcon(QPixmap.fromImage(scaled))


def _blank(size: int) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor("#cccccc"))
    return QIcon(pixmap)
