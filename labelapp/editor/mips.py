"""Mip levels: the image and its mask at 1/2, 1/4, ... of their size, so that a large
image seen whole is drawn from a level near screen resolution.

Image levels average 2x2 blocks. Mask levels keep the largest class id of each block,
so that a one-pixel scratch stays visible when the image is seen whole; after an edit
only the levels' pixels above the edited box are recomputed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from labelapp.editor.geometry import Box, ViewTransform

LEVEL_ABOVE = 1024
"""Levels are added while the last one is larger than this on its longer side."""


def level_count(height: int, width: int) -> int:
    count, side = 1, max(height, width)
    while side > LEVEL_ABOVE:
        side = (side + 1) // 2
        count += 1
    return count


def image_levels(pixels: np.ndarray, *, first: int = 0, count: int | None = None) -> tuple[np.ndarray | None, ...]:
    """The image and its halvings (2x2 box filter; odd sizes round up).

    ``pixels`` is level ``first`` of an image with ``count`` levels (default: as many as
    ``pixels``' size calls for); the levels below ``first`` are None (not decoded).
    """
    count = level_count(*pixels.shape[:2]) if count is None else count
    levels: list[np.ndarray | None] = [None] * first + [pixels]
    for _ in range(count - first - 1):
        levels.append(_halve_image(levels[-1]))
    return tuple(levels)


def fitted_level(width: int, height: int, view_width: int, view_height: int) -> int:
    """The mip level that a view of ``view_width`` x ``view_height`` fitted to the image draws from."""
    view = ViewTransform()
    view.fit(width, height, view_width, view_height)
    return view.level(level_count(height, width))


def fitted_reduction(width: int, height: int, view_width: int, view_height: int) -> int:
    """By how much (1, 2, 4 or 8) an image may be decoded smaller and still fill the
    view fitted: 2 ** the mip level that the fitted view draws from."""
    return 1 << min(3, fitted_level(width, height, view_width, view_height))


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


def mask_levels(mask: np.ndarray, *, empty: bool = False) -> tuple[np.ndarray, ...]:
    """The halvings of ``mask`` (level 1 on), as many as the image has; ``empty``: the
    mask is known to be all background (its levels are zeros, nothing is read)."""
    height, width = mask.shape
    levels = [mask]
    for _ in range(level_count(height, width) - 1):
        height, width = (height + 1) // 2, (width + 1) // 2
        empty = empty or not levels[-1].any()  # most images have no mask yet: skip the pooling
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
