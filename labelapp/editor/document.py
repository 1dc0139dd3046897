"""One decoded image as the editor holds it on the GUI thread.

The document owns the mask (uint8 class ids) that the tools edit in place; an Indexed8
``QImage`` shares the mask's memory, so the overlay needs no conversion: its colour
table turns class ids into colours at the overlay opacity. Image and mask are kept as
mip levels (see :mod:`mips`); high-bit-depth levels are windowed to 8 bits lazily, per
level, when drawn. A JPEG decoded at the fitted view's scale has no levels under
``base_level`` until :meth:`ImageDocument.set_levels` brings the full resolution; the
mask is always at full resolution, so edits, heat map and mask stay in image pixels.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from core.media.imaging import apply_window
from core.store import ImageClass
from labelapp.editor.geometry import Box
from labelapp.editor.loader import LoadedImage, fast_draw_image, wrap_image
from labelapp.editor.mips import mask_levels, update_mask_levels

UNKNOWN_CLASS_COLOR = QColor(128, 128, 128)


def overlay_color_table(classes: list[ImageClass], opacity: float) -> list[int]:
    """256 ARGB entries: transparent background, each class's colour at ``opacity``."""
    alpha = max(0, min(255, round(opacity * 255)))
    table = [QColor(UNKNOWN_CLASS_COLOR.red(), UNKNOWN_CLASS_COLOR.green(), UNKNOWN_CLASS_COLOR.blue(),
                    alpha).rgba()] * 256
    table[0] = QColor(0, 0, 0, 0).rgba()
    for cls in classes:
        if 0 < cls.id < 256:
            color = QColor(cls.color)
            color.setAlpha(alpha)
            table[cls.id] = color.rgba()
    return table


_OWN_FORMAT = QImage.Format.Format_RGB32  # a level image with pixels of its own (fast_draw_image)


def _wrap_mask(mask: np.ndarray) -> QImage:
    height, width = mask.shape
    return QImage(mask.data, width, height, width, QImage.Format.Format_Indexed8)


class ImageDocument:
    """An image, its mask, and whether the mask needs saving.

    ``version`` counts mask changes; the mask is dirty while ``saved_version`` lags it.
    """

    def __init__(self, loaded: LoadedImage) -> None:
        self.image_id = loaded.image_id
        self.levels = loaded.levels
        self.high_depth = loaded.high_depth
        self.auto_window = loaded.auto_window
        self.value_range = loaded.value_range
        self.window = loaded.auto_window
        self.base_level = loaded.base_level
        self.height, self.width = loaded.height, loaded.width
        self.mask = loaded.mask
        self.had_mask = loaded.has_mask
        self.mask_levels = (loaded.mask_levels if len(loaded.mask_levels) == len(self.levels) - 1
                            else mask_levels(self.mask))
        self._mask_images = [_wrap_mask(m) for m in (self.mask, *self.mask_levels)]
        self.version = 0
        self.saved_version = 0
        self.saving_version: int | None = None
        self._display: list[np.ndarray | None] = [None] * len(self.levels)
        self._images: list[QImage | None] = list(loaded.drawable) or [None] * len(self.levels)

    @property
    def dirty(self) -> bool:
        return self.version != self.saved_version

    @property
    def pinned(self) -> bool:
        """Whether the cache must keep this document (unsaved or saving mask)."""
        return self.dirty or self.saving_version is not None

    @property
    def nbytes(self) -> int:
        display = sum(a.nbytes for a in self._display if a is not None) if self.high_depth else 0
        display += sum(i.sizeInBytes() for i in self._images if i is not None and i.format() == _OWN_FORMAT)
        masks = self.mask.nbytes + sum(m.nbytes for m in self.mask_levels)
        return sum(a.nbytes for a in self.levels if a is not None) + masks + display

    @property
    def mask_image(self) -> QImage:
        """The full-size mask as an Indexed8 image sharing the mask's memory."""
        return self._mask_images[0]

    def mask_level_image(self, level: int) -> QImage:
        return self._mask_images[level]

    def mask_blank(self, box: Box) -> bool:
        """Whether the mask has no class pixel inside ``box`` (read from its coarsest
        level, at most 1024 pixels a side: a fraction of a millisecond). Most images have
        no mask: their overlay need not be drawn."""
        levels = (self.mask, *self.mask_levels)
        f, coarse = 1 << (len(levels) - 1), levels[-1]
        return not coarse[box.top // f:-(-box.bottom // f), box.left // f:-(-box.right // f)].any()

    def mask_changed(self, box: Box) -> None:
        """Call after writing into ``mask`` inside ``box``: updates the mask levels."""
        update_mask_levels(self.mask, self.mask_levels, box)

    def level_image(self, level: int) -> QImage:
        """The 8-bit image of mip ``level`` (windowed for high bit depths); at least
        ``base_level``."""
        image = self._images[level]
        if image is None:
            pixels = self.levels[level]
            if self.high_depth:
                pixels = apply_window(pixels, *self.window)
            image = fast_draw_image(pixels)
            if image is None:
                self._display[level] = np.ascontiguousarray(pixels)  # the QImage borrows this memory
                image = wrap_image(self._display[level])
            self._images[level] = image
        return image

    def set_levels(self, loaded: LoadedImage) -> None:
        """Takes the image levels of a fuller decode of the same image (its mask is not
        used: this document's mask may have been edited since)."""
        if (loaded.height, loaded.width) != (self.height, self.width) or len(loaded.levels) != len(self.levels):
            raise ValueError(f"image {self.image_id} changed size on disk; reload it")
        self.levels = loaded.levels
        self.base_level = loaded.base_level
        self._display = [None] * len(self.levels)
        self._images = list(loaded.drawable) or [None] * len(self.levels)

    def set_window(self, low: float, high: float) -> None:
        """Sets the display window of a high-bit-depth image (levels redrawn lazily)."""
        if not self.high_depth or (low, high) == self.window:
            return
        self.window = (low, high)
        self._display = [None] * len(self.levels)
        self._images = [None] * len(self.levels)

    def set_colors(self, table: list[int]) -> None:
        for image in self._mask_images:
            image.setColorTable(table)

    def mark_edited(self) -> None:
        self.version += 1
