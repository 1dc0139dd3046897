"""A ranked list of images: one row per image, best first, with its thumbnail, its name
and the reason it is listed; double-click or Enter asks for the image.

The suggestions panel (images worth labeling next), the worth-a-mask panel (defective
images worth a mask) and the proposals dock (mask proposals to review) each show one.
Thumbnails are read on the GUI thread from the project's cache
(:mod:`labelapp.widgets.thumbnail_icons`), so the panels list a few hundred rows at most,
and the list keeps each image's icon and name once read.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QWidget

from core.store import Project
from labelapp.widgets.thumbnail_icons import image_names, thumbnail_icons

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
        self.itemActivated.connect(self._on_item_activated)

    # -- thumbnails and names --------------------------------------------------------------------
    def read_thumbnails(self, project: Project, image_ids: Iterable[int]) -> None:
        """Reads the icons and names of the images not read yet."""
        missing = [i for i in image_ids if i not in self._icons]
        if missing:
            self._icons.update(thumbnail_icons(project, missing, ICON))
            self._names.update(image_names(project, missing))

    def forget_thumbnails(self) -> None:
        """Forgets the icons and names read (another project, or a list read afresh)."""
        self._icons, self._names = {}, {}

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
