"""Repairing whole images of any size and the difference map between image and repair."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from models.isugan.net import STRIDE, Generator
from models.isugan.ssim import WINDOW, difference_map


class Repair(NamedTuple):
    """What the repair generator makes of one image (all at the image's size).

    Attributes:
        repair: uint8 (h, w), the image as the generator would have it defect-free.
        difference: float32 (h, w) in [0, 1], 1 - SSIM of image and repair (0: alike).
    """

    repair: np.ndarray
    difference: np.ndarray


@torch.no_grad()
def repair_image(generator: Generator, image: np.ndarray, *, device: str = "cpu", window: int = WINDOW) -> Repair:
    """Runs the repair generator on one uint8 (h, w) image: padded (mirrored) to multiples
    of :data:`STRIDE` and at least ``2 * STRIDE`` a side, cropped back after, so the
    repair lines up pixel for pixel."""
    height, width = image.shape
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)[None, None].to(device)
    pad_h, pad_w = max(2 * STRIDE, height + -height % STRIDE) - height, max(2 * STRIDE, width + -width % STRIDE) - width
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    y = generator(x)[..., :height, :width]
    x = x[..., :height, :width]
    difference = difference_map((x + 1) / 2, (y + 1) / 2, window=window)
    repair = ((y + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return Repair(repair=repair[0, 0].cpu().numpy(), difference=difference[0, 0].float().cpu().numpy())
