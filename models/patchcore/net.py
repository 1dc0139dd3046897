"""Patch features of an image at stride 8, and the nearest-neighbour distance map."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from models.encoders.shufflenet import ShuffleNetEncoder

STRIDE = 8
PROJECTED = 128  # feature width after the random projection
MEAN, STD = 0.5, 0.25  # the encoder's input normalisation (core.training.pretrain)


class PatchFeatures(nn.Module):
    """Mid-level features of a ShuffleNet encoder, one vector per 8x8 input cell.

    Args:
        encoder: a (pretrained) :class:`ShuffleNetEncoder`; None builds one with fixed
            random weights from ``seed``.
        projected: output width (a fixed Gaussian random projection of the 696 channels).

    Shapes:
        ``(B, 1, H, W)`` float in [0, 1] -> ``(B, projected, ceil(H / 8), ceil(W / 8))``.
    """

    def __init__(self, encoder: ShuffleNetEncoder | None = None, *, projected: int = PROJECTED, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        if encoder is None:
            torch.manual_seed(seed)
            encoder = ShuffleNetEncoder(in_channels=1)
        self.stem, self.stage1, self.stage2 = encoder.stem, encoder.stages[0], encoder.stages[1]
        width = self._width()
        projection = torch.randn(projected, width, generator=generator) / np.sqrt(projected)
        self.register_buffer("projection", projection)
        self.eval()
        self.requires_grad_(False)

    def _width(self) -> int:
        with torch.no_grad():
            return int(sum(f.shape[1] for f in self._maps(torch.zeros(1, 1, 32, 32))))

    def _maps(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a = self.stage1(self.stem((x - MEAN) / STD))
        return a, self.stage2(a)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        height, width = -(-x.shape[-2] // STRIDE), -(-x.shape[-1] // STRIDE)
        a, b = self._maps(x)
        a = F.avg_pool2d(a, 3, stride=1, padding=1, count_include_pad=False)
        b = F.avg_pool2d(b, 3, stride=1, padding=1, count_include_pad=False)
        a = F.interpolate(a, size=(height, width), mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=(height, width), mode="bilinear", align_corners=False)
        features = torch.cat([a, b], dim=1)
        return torch.einsum("pc,bchw->bphw", self.projection, features)


def distance_map(cells: np.ndarray, height: int, width: int, *, sigma: float = 4.0) -> np.ndarray:
    """A per-cell distance map (h, w) stretched to ``height`` x ``width`` (cell centres on
    the centres of their 8x8 blocks) and smoothed with a Gaussian of ``sigma`` pixels."""
    from PIL import Image as PILImage
    from scipy import ndimage

    cells = np.asarray(cells, dtype=np.float32)
    covered_h, covered_w = cells.shape[0] * STRIDE, cells.shape[1] * STRIDE
    image = PILImage.fromarray(cells)
    stretched = np.asarray(image.resize((covered_w, covered_h), PILImage.Resampling.BILINEAR), dtype=np.float32)
    stretched = stretched[:height, :width]
    return ndimage.gaussian_filter(stretched, sigma=sigma, mode="nearest") if sigma > 0 else stretched
