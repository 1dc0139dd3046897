"""Handcrafted texture statistics as a torch module (exportable to TorchScript and ONNX).

Contrastive encoders trained for a few minutes on a CPU describe surface texture no
better than simple statistics do (FINDINGS.md: 74-89 % vs 79-86 %), and the two
together beat either. This module computes the statistics with plain tensor ops, so
they travel inside an exported model:

* the image is standardised per image (brightness and contrast do not matter);
* a soft histogram of intensities, and of the residual after removing a 16x16
  low-pass version (local contrast);
* at scales 1, 1/2 and 1/4: a soft histogram of the gradient magnitude relative to its
  mean, and a magnitude-weighted histogram of edge orientations (modulo 180 degrees);
* the 16x16 low-pass thumbnail itself, down-weighted.

Histograms are log-frequencies. Soft (triangular) bins keep the features smooth in the
input. Input: ``(B, 1, S, S)`` float in [0, 1] with ``S`` a multiple of 64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EPS = 1e-4


def _soft_histogram(x: Tensor, low: float, high: float, bins: int, *, weights: Tensor | None = None,
                    circular: bool = False) -> Tensor:
    """``(B, N)`` values -> ``(B, bins)`` frequencies with triangular bins.

    Each value splits between its two nearest bin centres by linear interpolation (one
    ``scatter_add`` per side, O(N) whatever the bin count). Values outside the range
    count in the end bins; ``circular`` wraps the last bin onto the first (angles).
    """
    span = bins if circular else bins - 1
    position = (x - low) * (span / (high - low))
    if not circular:
        position = position.clamp(0.0, float(span))
    left = position.floor()
    frac = position - left
    left_index = left.long()
    right_index = left_index + 1
    if circular:
        left_index = torch.remainder(left_index, bins)
        right_index = torch.remainder(right_index, bins)
    else:
        right_index = right_index.clamp(max=bins - 1)
    w = torch.ones_like(x) if weights is None else weights
    out = torch.zeros(x.shape[0], bins, dtype=x.dtype, device=x.device)
    out = out.scatter_add(1, left_index, w * (1.0 - frac)).scatter_add(1, right_index, w * frac)
    return out / w.sum(dim=1, keepdim=True).clamp_min(1e-6)


class TextureStats(nn.Module):
    """``(B, 1, S, S)`` images in [0, 1] -> ``(B, dim)`` texture statistics.

    Args:
        bins: Bins of the intensity and residual histograms.
        magnitude_bins: Bins of each gradient-magnitude histogram.
        orientations: Directions of each orientation-energy vector.
        scales: Number of scales (1, 1/2, 1/4, ...).
        thumb: Side of the low-pass thumbnail.
        thumb_weight: Factor on the thumbnail values (they are in image-std units).
    """

    def __init__(self, *, bins: int = 32, magnitude_bins: int = 16, orientations: int = 12, scales: int = 3,
                 thumb: int = 16, thumb_weight: float = 0.1) -> None:
        super().__init__()
        self.bins = bins
        self.magnitude_bins = magnitude_bins
        self.orientations = orientations
        self.scales = scales
        self.thumb = thumb
        self.thumb_weight = thumb_weight
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        self.register_buffer("kernel", torch.stack([sobel, sobel.T])[:, None], persistent=False)

    @property
    def dim(self) -> int:
        return 2 * self.bins + self.scales * (self.magnitude_bins + self.orientations) + self.thumb * self.thumb

    def forward(self, images: Tensor) -> Tensor:
        x = images.float()
        b = x.shape[0]
        flat = x.reshape(b, -1)
        mean = flat.mean(dim=1).view(b, 1, 1, 1)
        std = flat.std(dim=1).clamp_min(1e-3).view(b, 1, 1, 1)
        x = (x - mean) / std
        side = x.shape[-1]
        thumb = F.avg_pool2d(x, kernel_size=side // self.thumb)
        low = F.interpolate(thumb, size=(side, side), mode="bilinear", align_corners=False)
        residual = x - low
        residual = residual / residual.reshape(b, -1).std(dim=1).clamp_min(1e-3).view(b, 1, 1, 1)
        parts = [
            _soft_histogram(x.reshape(b, -1), -4.0, 4.0, self.bins),
            _soft_histogram(residual.reshape(b, -1), -5.0, 5.0, self.bins),
        ]
        scaled = x
        for s in range(self.scales):
            if s > 0:
                scaled = F.avg_pool2d(scaled, kernel_size=2)
            parts.extend(self._gradients(scaled))
        histograms = torch.log(torch.cat(parts, dim=1) + _EPS)
        return torch.cat([histograms, thumb.reshape(b, -1) * self.thumb_weight], dim=1)

    def _gradients(self, x: Tensor) -> list[Tensor]:
        b = x.shape[0]
        g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel)
        gx, gy = g[:, 0].reshape(b, -1), g[:, 1].reshape(b, -1)
        magnitude = torch.sqrt(gx * gx + gy * gy + 1e-8)
        relative = magnitude / magnitude.mean(dim=1, keepdim=True).clamp_min(1e-6)
        magnitude_hist = _soft_histogram(torch.log1p(relative), 0.0, 2.5, self.magnitude_bins)
        angle = torch.atan2(gy, gx)  # orientation modulo pi: t and t + pi are the same edge
        orientation = _soft_histogram(angle, -math.pi / 2, math.pi / 2, self.orientations, weights=magnitude,
                                      circular=True)
        return [magnitude_hist, orientation]
