"""A ranked list of images: one row per image, best first, with its thumbnail, its name
and the reason it is listed; double-click or Enter asks for the image.

The suggestions panel (images worth labeling next), the worth-a-mask panel (defective
images worth a mask) and the proposals dock (mask proposals to review) each show one.
Names are read in one query when rows are added; thumbnails are read and decoded on the list's own loader thread
(:class:`~labelapp.widgets.thumbnail_loader.ThumbnailLoader`, as the grid does) and set
on their rows as they arrive, so a list filled after a retrain costs the GUI thread a
few milliseconds. The list keeps each image's icon and name once read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QWidget

from core.store import Project, StoreError
from labelapp.widgets.thumbnail_loader import LoadedThumbnail, ThumbnailLoader, ThumbnailRequest

logger = logging.getLogger(__name__)

ICON = 48


def summary_label(object_name: str) -> QLabel:
    """The rich-text line above a ranked list that says what it lists."""
    label = QLabel(objectName=object_name)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    return label


class RankedImageList(QListWidget):
    """The rows of a ranked list; each row holds its image id.

    Signals:
        image_activated(object): the image id of a row double-clicked or entered.
    """

    image_activated = Signal(object)

    def __init__(self, object_name: str, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setIconSize(QSize(ICON, ICON))
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setToolTip(tooltip)
        self._icons: dict[int, QIcon] = {}
        self._names: dict[int, str] = {}
        self._loader: ThumbnailLoader | None = None  # started with the first thumbnails asked for
        self._cache_dir: Path | None = None
        self._pending: list[ThumbnailRequest] = []  # asked for, not arrived (the loader's queue)
        blank = QPixmap(ICON, ICON)
        blank.fill(QColor("#cccccc"))
        self._blank = QIcon(blank)
        self.itemActivated.connect(self._on_item_activated)

    # -- thumbnails and names --------------------------------------------------------------------
    def read_thumbnails(self, project: Project, image_ids: Iterable[int]) -> None:
        """Reads the names of the images not read yet (one query) and asks the loader
        thread for their thumbnails; each arrives on its row (a gray square until then)."""
        missing = [int(i) for i in image_ids if int(i) not in self._icons]
        if not missing:
            return
        try:
            images = project.images.get_many(missing)
        except StoreError as exc:
            logger.warning("cannot read the listed images: %s", exc)
            images = {}
        for image_id in missing:
            image = images.get(image_id)
            self._names[image_id] = Path(image.path).name if image is not None else f"#{image_id}"
            self._icons[image_id] = self._blank
        requests = [ThumbnailRequest(image_id, images[image_id].hash) for image_id in missing if image_id in images]
        if requests:
            loader = self._loader_for(project.cache_dir)
            with_pending = [*self._pending, *requests]
            self._pending = with_pending
            loader.request(with_pending)

    def _loader_for(self, cache_dir: Path) -> ThumbnailLoader:
        if self._loader is None:
            self._loader = ThumbnailLoader(self)
            self._loader.thumbnails_loaded.connect(self._on_thumbnails_loaded)
        if cache_dir != self._cache_dir:
            self._cache_dir = cache_dir
            self._pending = []
            self._loader.set_cache_dir(cache_dir)
        if not self._loader.isRunning():
            self._loader.start()
        return self._loader

    def forget_thumbnails(self) -> None:
        """Forgets the icons and names read (another project, or a list read afresh)."""
        self._icons, self._names, self._pending = {}, {}, []

    def shutdown(self) -> None:
        """Stops the loader thread (the window is closing); final."""
        if self._loader is not None:
            self._loader.shutdown()

    def loading_count(self) -> int:
        """Thumbnails asked for and not on their rows yet."""
        return len(self._pending)

    @Slot(object)
    def _on_thumbnails_loaded(self, batch: list[LoadedThumbnail]) -> None:
        arrived = {t.image_id for t in batch}
        self._pending = [r for r in self._pending if r.image_id not in arrived]
        rows = {self._image_id(self.item(row)): self.item(row) for row in range(self.count())}
        for thumbnail in batch:
            if thumbnail.image.isNull():
                continue
            scaled = thumbnail.image.scaled(ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation)
            icon = QIcon(QPixmap.fromImage(scaled))
            self._icons[thumbnail.image_id] = icon
            item = rows.get(thumbnail.image_id)
            if item is not None:
                item.setIcon(icon)

    def name(self, image_id: int) -> str:
        """The image's file name (``#id`` until it is read)."""
        return self._names.get(image_id, f"#{image_id}")

    # -- rows ------------------------------------------------------------------------------------
    def add_image(self, image_id: int, text: str, tooltip: str) -> None:
        """Appends a row for ``image_id`` with its thumbnail (none until it is read)."""
        item = QListWidgetItem(self._icons.get(image_id, QIcon()), text)
        item.setData(Qt.ItemDataRole.UserRole, image_id)
        item.setToolTip(tooltip)
        self.addItem(item)

    def listed_ids(self) -> list[int]:
        """The image ids of the rows, in order."""
        return [self._image_id(self.item(row)) for row in range(self.count())]

    def current_image_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else self._image_id(item)

    def select_image(self, image_id: int) -> bool:
        """Makes ``image_id``'s row current and scrolls to it; False when it is not listed."""
        ids = self.listed_ids()
        if image_id not in ids:
            return False
        row = ids.index(image_id)
        self.setCurrentRow(row)
        self.scrollToItem(self.item(row))
        return True

    def remove_images(self, image_ids: Iterable[int]) -> None:
        """Takes the rows of ``image_ids`` out of the list."""
        drop = set(image_ids)
        for row in reversed(range(self.count())):
            if self._image_id(self.item(row)) in drop:
                self.takeItem(row)

    @staticmethod
    def _image_id(item: QListWidgetItem) -> int:
        return int(item.data(Qt.ItemDataRole.UserRole))

    @Slot(QListWidgetItem)
    def _on_item_activated(self, item: QListWidgetItem) -> None:
        self.image_activated.emit(self._image_id(item))
