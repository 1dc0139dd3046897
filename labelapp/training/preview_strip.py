"""The mask proposer's preview strip in the training panel: for a few labeled images, the
image, its repair, the difference map and the proposed mask, side by side.

It shows the newest :class:`core.jobs.base.Preview` a job's progress carries (a GAN
proposer sends one every ``preview_every_s`` seconds and one at the end of training) and
stays hidden for every other job: the panel clears it when a job starts, so it appears
only once a run sends pictures, and keeps the last ones after the run.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from core.jobs.base import Preview, Progress

TILE = 64  # pixels along a tile's long side on screen (four fit a narrow dock)
COLUMN_WORDS = {"image": ("Image", "The image at the proposer's working scale"),
                "repair": ("Repair", "The image as the repair network thinks it looks without defects"),
                "difference": ("Difference", "Where the image and its repair differ (1 - SSIM): brighter, more"),
                "mask": ("Mask", "The proposal: the difference above Otsu's cut, never below the level of OK images")}
NOTE_STYLE = "color: #555555"


def gray_pixmap(tile: np.ndarray, side: int = TILE) -> QPixmap:
    """A uint8 (h, w) gray array as a pixmap at most ``side`` pixels along its long side."""
    tile = np.ascontiguousarray(tile, dtype=np.uint8)
    height, width = tile.shape
    image = QImage(tile.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    pixmap = QPixmap.fromImage(image)
    return pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class PreviewStrip(QWidget):
    """Rows of image -> repair -> difference -> mask; hidden until a preview arrives."""

    def __init__(self, parent: QWidget | None = None, *, objectName: str = "preview_strip") -> None:  # noqa: N803
        super().__init__(parent)
        self.setObjectName(objectName)
        self.title = QLabel(objectName="preview_title")
        self.title.setWordWrap(True)
        self.note = QLabel(objectName="preview_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(NOTE_STYLE)
        self._grid = QGridLayout()
        self._grid.setSpacing(3)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.title)
        layout.addLayout(self._grid)
        layout.addWidget(self.note)
        self._tiles: list[QLabel] = []
        self.preview: Preview | None = None
        self.hide()

    def clear(self) -> None:
        """No pictures (a job started, or another project): hidden."""
        while self._grid.count():
            widget = self._grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self._tiles = []
        self.preview = None
        self.hide()

    def show_record(self, record: object) -> None:
        """Shows the pictures a progress record carries (records without any change nothing)."""
        if isinstance(record, Progress) and record.preview is not None:
            self.show_preview(record.preview)

    def show_preview(self, preview: Preview) -> None:
        """Replaces the pictures with ``preview``'s: a header row, then one row per image."""
        self.clear()
        self.preview = preview
        for column, name in enumerate(preview.columns):
            text, tip = COLUMN_WORDS.get(name, (name.capitalize(), ""))
            header = QLabel(text)
            header.setToolTip(tip)
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._grid.addWidget(header, 0, column)
        for row, (image_id, tiles) in enumerate(zip(preview.image_ids, preview.tiles, strict=True), start=1):
            for column, tile in enumerate(tiles):
                label = QLabel()
                label.setPixmap(gray_pixmap(tile))
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                name = preview.columns[column] if column < len(preview.columns) else ""
                label.setToolTip(f"Image #{image_id}: {COLUMN_WORDS.get(name, (name, ''))[0].lower()}")
                self._grid.addWidget(label, row, column)
                self._tiles.append(label)
        self.title.setText(f"What the proposer makes now (step {preview.step:,}):")
        self.note.setText(preview.note)
        self.note.setVisible(bool(preview.note))
        self.show()

    def tile_count(self) -> int:
        """The pictures shown (rows times columns)."""
        return len(self._tiles)

    def row_pixmaps(self, row: int) -> list[QPixmap]:
        """The pictures of one image, left to right."""
        columns = len(self.preview.columns) if self.preview is not None else 0
        return [label.pixmap() for label in self._tiles[row * columns:(row + 1) * columns]]
