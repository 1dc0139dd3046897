"""A virtualized, read-only Qt list model over the images of a project.

``rowCount`` comes from one ``COUNT(*)``; image rows are fetched a page at a time when
the view first asks for a row of that page, and thumbnails are decoded from the
project's thumbnail cache only for the tiles the view paints. Decoded tiles live in a
small LRU, so scrolling back is free and memory stays bounded for 100,000 images.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import PurePosixPath
from typing import Generic, TypeVar

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

from core.store import Image, ImageClass, Label, Project
from core.thumbnails import ThumbnailCache

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

TILE_SIZE = 160  # the cache's thumbnails are 160 px on the longer side
LABEL_BORDER = 4  # px of class colour around a labeled thumbnail
PAGE_SIZE = 256  # image rows fetched per query
MAX_PAGES = 64  # image pages kept (16,384 rows)
MAX_PIXMAPS = 3000  # decoded tiles kept
PLACEHOLDER_COLOR = QColor("#9a9a9a")
UNLABELED_FRAME_COLOR = QColor("#c8c8c8")

AnyIndex = QModelIndex | QPersistentModelIndex


class LruCache(Generic[K, V]):
    """A bounded mapping that drops the least recently used entry when full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class ImageListModel(QAbstractListModel):
    """One row per image of the project, in import order (image id)."""

    ImageIdRole = Qt.ItemDataRole.UserRole + 1
    ClassNameRole = Qt.ItemDataRole.UserRole + 2
    ClassColorRole = Qt.ItemDataRole.UserRole + 3

    def __init__(self, parent: QObject | None = None, *, tile_size: int = TILE_SIZE,
                 max_pixmaps: int = MAX_PIXMAPS) -> None:
        super().__init__(parent)
        self.tile_size = tile_size
        self._project: Project | None = None
        self._thumbnails: ThumbnailCache | None = None
        self._count = 0
        self._pages: LruCache[int, list[Image]] = LruCache(MAX_PAGES)
        self._pixmaps: LruCache[tuple[str, str | None], QPixmap] = LruCache(max_pixmaps)
        self._labels: dict[int, Label] = {}
        self._classes: dict[int, ImageClass] = {}

    # -- project -----------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Shows the images of ``project`` (None: no rows). The model does not own the
        project; it opens (and closes) its own connection to the thumbnail cache."""
        self.beginResetModel()
        self._close_thumbnails()
        self._project = project
        if project is not None:
            self._thumbnails = ThumbnailCache(project.cache_dir)
        self._load()
        self.endResetModel()

    def reload(self) -> None:
        """Reads count, labels and classes again (after the store changed)."""
        self.beginResetModel()
        self._load()
        self.endResetModel()

    def close(self) -> None:
        self.set_project(None)

    def _load(self) -> None:
        self._pages.clear()
        self._pixmaps.clear()
        if self._project is None:
            self._count, self._labels, self._classes = 0, {}, {}
            return
        self._count = self._project.images.count()
        self._labels = self._project.labels.all()
        self._classes = {c.id: c for c in self._project.classes.list()}

    def _close_thumbnails(self) -> None:
        if self._thumbnails is not None:
            self._thumbnails.close()
            self._thumbnails = None

    # -- rows ----------------------------------------------------------------------------
    def image_at(self, row: int) -> Image | None:
        """The image shown in ``row``, fetched with its page on first use."""
        if self._project is None or not 0 <= row < self._count:
            return None
        page_index, offset = divmod(row, PAGE_SIZE)
        page = self._pages.get(page_index)
        if page is None:
            page = self._project.images.list(limit=PAGE_SIZE, offset=page_index * PAGE_SIZE)
            self._pages.put(page_index, page)
        return page[offset] if offset < len(page) else None

    def class_of(self, image: Image) -> ImageClass | None:
        label = self._labels.get(image.id)
        return None if label is None else self._classes.get(label.class_id)

    # -- QAbstractListModel ----------------------------------------------------------------
    def rowCount(self, parent: AnyIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else self._count

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        image = self.image_at(index.row()) if index.isValid() else None
        if image is None:
            return None
        cls = self.class_of(image)
        if role == Qt.ItemDataRole.DisplayRole:
            return PurePosixPath(image.path).name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._tile(image, cls)
        if role == Qt.ItemDataRole.ToolTipRole:
            label = cls.name if cls is not None else "unlabeled"
            return f"{image.path}\n{image.width} × {image.height} {image.mode}\n{label}"
        if role == self.ImageIdRole:
            return image.id
        if role == self.ClassNameRole:
            return None if cls is None else cls.name
        if role == self.ClassColorRole:
            return None if cls is None else QColor(cls.color)
        return None

    # -- tiles -------------------------------------------------------------------------------
    def _tile(self, image: Image, cls: ImageClass | None) -> QPixmap:
        color = None if cls is None else cls.color
        key = (image.hash, color)
        tile = self._pixmaps.get(key)
        if tile is None:
            tile = self._render_tile(image, color)
            self._pixmaps.put(key, tile)
        return tile

    def _render_tile(self, image: Image, color: str | None) -> QPixmap:
        """The thumbnail (or a gray placeholder of the image's aspect) centred on a
        square transparent tile, framed in the class colour when labeled."""
        # Decoded on the GUI thread for this first window; the next issue moves loading
        # to a worker thread that hands finished QImages back to the model.
        thumbnail = QPixmap()
        jpeg = self._thumbnails.get(image.hash) if self._thumbnails is not None else None
        if jpeg is not None and not thumbnail.loadFromData(jpeg, "JPEG"):
            logger.warning("undecodable thumbnail for image %d (%s)", image.id, image.path)
        source = thumbnail.size() if not thumbnail.isNull() else QSize(image.width, image.height)
        inner = self.tile_size - 2 * LABEL_BORDER
        size = source.expandedTo(QSize(1, 1)).scaled(inner, inner, Qt.AspectRatioMode.KeepAspectRatio)
        size = size.expandedTo(QSize(1, 1))
        target = QRect((self.tile_size - size.width()) // 2, (self.tile_size - size.height()) // 2,
                       size.width(), size.height())
        tile = QPixmap(self.tile_size, self.tile_size)
        tile.fill(Qt.GlobalColor.transparent)
        painter = QPainter(tile)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if thumbnail.isNull():
            painter.fillRect(target, PLACEHOLDER_COLOR)
        else:
            painter.drawPixmap(target, thumbnail)
        frame = QColor(color) if color is not None else UNLABELED_FRAME_COLOR
        width = LABEL_BORDER if color is not None else 1
        pen = QPen(frame, width)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        half = width / 2
        painter.drawRect(target.toRectF().adjusted(-half, -half, half, half))
        painter.end()
        return tile
