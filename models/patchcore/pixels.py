"""Patch descriptors made of the image's own pixels: the nearest-neighbour proposer's
features when the project has no pretrained encoder.

A ShuffleNet with fixed random weights is no substitute for a pretrained one: most of its
channels die or shrink through the layers, and on magnetic-tile its patch distances do not
tell defective images from OK ones (image AUROC 0.45-0.54 at every scale tried). Raw
intensities are a plain, data-independent alternative: each stride-8 cell is described by
windows centred on it at three resolutions (12x12 pixels at the working scale, 8x8 at half
and 8x8 at a quarter: the cell, then 16 and 32 pixels of context), so a defect from a few
pixels to several cells across changes some of them.

The image is first standardised (zero mean, unit deviation over the whole image): the
overall brightness and contrast of a shot are not defects, and lighting varies between
shots. Borders are padded by reflection, so a patch at the edge is compared by its content,
not by the padding. Each resolution's block is divided by the square root of its size, so
the three weigh alike in the distance.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

STRIDE = 8
# (downsampling factor, window side in downsampled pixels): the cell with a 2 px margin,
# then 16 and 32 working pixels around its centre
LEVELS = ((1, 12), (2, 8), (4, 8))


def standardise(x: Tensor) -> Tensor:
    """Each image of ``x`` (B, 1, H, W) shifted and scaled to zero mean, unit deviation."""
    flat = x.flatten(1)
    mean = flat.mean(dim=1).view(-1, 1, 1, 1)
    std = flat.std(dim=1, unbiased=False).clamp_min(1e-3).view(-1, 1, 1, 1)
    return (x - mean) / std


def pad(x: Tensor, top: int, bottom: int, left: int, right: int) -> Tensor:
    """Reflection padding where the image is large enough for it, else replication."""
    mode = "reflect" if max(top, bottom) < x.shape[-2] and max(left, right) < x.shape[-1] else "replicate"
    return F.pad(x, (left, right, top, bottom), mode=mode)


class PixelPatches(nn.Module):
    """Multi-resolution intensity windows, one vector per 8x8 input cell.

    Shapes:
        ``(B, 1, H, W)`` float in [0, 1] -> ``(B, dims, ceil(H / 8), ceil(W / 8))``,
        ``dims`` = 12² + 8² + 8² = 272.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dims = sum(k * k for _, k in LEVELS)
        self.eval()

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        height, width = -(-x.shape[-2] // STRIDE), -(-x.shape[-1] // STRIDE)
        grain = STRIDE * max(f for f, _ in LEVELS)
        x = standardise(x.float())
        # bottom / right up to a multiple of the coarsest pooling, so every level has whole cells
        x = pad(x, 0, -x.shape[-2] % grain, 0, -x.shape[-1] % grain)
        blocks = []
        for factor, window in LEVELS:
            level = F.avg_pool2d(x, factor) if factor > 1 else x
            margin = window // 2 - STRIDE // (2 * factor)  # window centred on the cell's centre
            level = pad(level, margin, margin, margin, margin)
            cells = F.unfold(level, window, stride=STRIDE // factor)
            rows, cols = x.shape[-2] // STRIDE, x.shape[-1] // STRIDE
            cells = cells.view(x.shape[0], window * window, rows, cols)[:, :, :height, :width]
            blocks.append(cells / math.sqrt(window * window))
        return torch.cat(blocks, dim=1)
