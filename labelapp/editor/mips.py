"""Mip levels: the image and its mask at 1/2, 1/4, ... of their size, so that a large
image seen whole is drawn from a level near screen resolution.

Image levels average 2x2 blocks. Mask levels keep the largest class id of each block,
so that a one-pixel scratch stays visible when the image is seen whole; after an edit
only the levels' pixels above the edited box are recomputed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from labelapp.editor.geometry import Box

LEVEL_ABOVE = 1024
"""Levels are added while the last one is larger than this on its longer side."""


def level_count(height: int, width: int) -> int:
    count, side = 1, max(height, width)
    while side > LEVEL_ABOVE:
        side = (side + 1) // 2
        count += 1
    return count


def image_levels(pixels: np.ndarray) -> tuple[np.ndarray, ...]:
    """The image and its halvings (2x2 box filter; odd sizes round up)."""
    levels = [pixels]
    for _ in range(level_count(*pixels.shape[:2]) - 1):
        levels.append(_halve_image(levels[-1]))
    return tuple(levels)


def _halve_image(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return np.asarray(PILImage.fromarray(array).reduce(2))
    height, width = array.shape[:2]
    padded = np.pad(array, ((0, height % 2), (0, width % 2)), mode="edge")
    wide = padded.astype(np.uint32 if array.dtype == np.uint16 else np.float32)
    total = wide[0::2, 0::2] + wide[1::2, 0::2] + wide[0::2, 1::2] + wide[1::2, 1::2]
    return (total // 4).astype(np.uint16) if array.dtype == np.uint16 else total / 4


def halve_mask(mask: np.ndarray) -> np.ndarray:
    """The largest class id of each 2x2 block (odd sizes round up)."""
    height, width = mask.shape
    if height % 2 or width % 2:
        mask = np.pad(mask, ((0, height % 2), (0, width % 2)))
    return np.maximum(np.maximum(mask[0::2, 0::2], mask[1::2, 0::2]), np.maximum(mask[0::2, 1::2], mask[1::2, 1::2]))


def mask_levels(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """The halvings of ``mask`` (level 1 on), as many as the image has."""
    height, width = mask.shape
    levels = [mask]
    for _ in range(level_count(height, width) - 1):
        height, width = (height + 1) // 2, (width + 1) // 2
        empty = not levels[-1].any()  # most images have no mask yet: skip the pooling
        levels.append(np.zeros((height, width), np.uint8) if empty else halve_mask(levels[-1]))
    return tuple(levels[1:])


def update_mask_levels(mask: np.ndarray, levels: tuple[np.ndarray, ...], box: Box) -> None:
    """Recomputes the pixels of ``levels`` over ``box`` (level-0 pixels) after an edit."""
    source = mask
    for level in levels:
        box = Box(box.left // 2, box.top // 2, -(-box.right // 2), -(-box.bottom // 2))
        box = box.intersect(Box(0, 0, level.shape[1], level.shape[0]))
        if box.empty:
            return
        block = source[2 * box.top:2 * box.bottom, 2 * box.left:2 * box.right]
        level[box.slices] = halve_mask(block)[:box.height, :box.width]
        source = level
