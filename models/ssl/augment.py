"""Two-view augmentation for contrastive pretraining on grayscale surface images.

Everything runs as batched torch ops: one ``affine_grid`` / ``grid_sample`` per batch does
the random resized crop, the flips and the 90-degree rotations; brightness, contrast and
blur are per-image factors broadcast over channels, so a gray image (equal channels) stays
gray. No hue or saturation jitter. Crop scale (0.3, 1) and brightness follow SimCLR
(Chen et al., ICML 2020) as adapted by paper 004 (crop, flip, brightness; blur optional).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

ImageBatch = Tensor | Sequence[Tensor] | Sequence[Image.Image]


def to_float_images(images: ImageBatch) -> list[Tensor] | Tensor:
    """uint8 / float images -> float in [0, 1]: one ``(B, C, H, W)`` tensor when all sizes agree.

    Accepts a ``(B, C, H, W)`` or ``(C, H, W)`` tensor, or a sequence of ``(C, H, W)`` /
    ``(H, W)`` tensors or PIL images. Returns a list of ``(1, C, H, W)`` tensors when sizes differ.
    """
    if isinstance(images, Tensor):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        return _scale(batch)
    items = []
    for image in images:
        t = torch.from_numpy(np.array(image)) if isinstance(image, Image.Image) else image
        if t.dim() == 2:
            t = t.unsqueeze(0)
        elif isinstance(image, Image.Image):
            t = t.permute(2, 0, 1)  # PIL gives H, W, C
        items.append(_scale(t.unsqueeze(0)))
    if len({tuple(t.shape) for t in items}) == 1:
        return torch.cat(items)
    return items


def _scale(batch: Tensor) -> Tensor:
    return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()


def _normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    channels = x.shape[1]
    m = torch.as_tensor(mean, dtype=x.dtype).expand(channels) if len(mean) == 1 else torch.as_tensor(mean)
    s = torch.as_tensor(std, dtype=x.dtype).expand(channels) if len(std) == 1 else torch.as_tensor(std)
    return (x - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1)


def _shrink(x: Tensor, max_side: int) -> Tensor:
    """Antialiased down-scale so the short side is at most ``max_side`` (limits bilinear aliasing)."""
    short = min(x.shape[-2:])
    if short <= max_side:
        return x
    factor = max_side / short
    size = (max(1, round(x.shape[-2] * factor)), max(1, round(x.shape[-1] * factor)))
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def prepare_images(
    images: ImageBatch, *, size: int, mean: Sequence[float] = (0.5,), std: Sequence[float] = (0.25,)
) -> Tensor:
    """The deterministic eval-time transform: resize to ``size x size`` and normalise.

    Returns:
        ``(B, C, size, size)`` float tensor.
    """
    batch = to_float_images(images)
    parts = batch if isinstance(batch, list) else [batch]
    out = [F.interpolate(p, size=(size, size), mode="bilinear", antialias=True, align_corners=False) for p in parts]
    return _normalize(torch.cat(out), mean, std)


@dataclass(frozen=True)
class TwoViewAugment:
    """Random two-view transform: ``augment(images) -> (view_a, view_b)``, each ``(B, C, size, size)``.

    Args:
        size: Output side in pixels.
        scale: Range of the crop's area as a fraction of the image (RandomResizedCrop).
        ratio: Range of the crop's aspect ratio.
        hflip: Probability of a horizontal flip; ``vflip`` likewise.
        rot90: Apply a random multiple of 90 degrees.
        brightness: Multiply by U(1 - b, 1 + b).
        contrast: Scale the deviation from the image mean by U(1 - c, 1 + c).
        blur_prob: Probability of a Gaussian blur with sigma U(*blur_sigma) (0 disables it).
        mean, std: Per-channel normalisation after augmentation (one value: all channels).
    """

    size: int = 64
    scale: tuple[float, float] = (0.3, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    vflip: float = 0.5
    rot90: bool = True
    brightness: float = 0.4
    contrast: float = 0.4
    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 1.5)
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)

    def __call__(self, images: ImageBatch, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        batch = to_float_images(images)
        parts = batch if isinstance(batch, list) else [batch]
        parts = [_shrink(p, 2 * self.size) for p in parts]
        return (
            torch.cat([self.view(p, generator) for p in parts]),
            torch.cat([self.view(p, generator) for p in parts]),
        )

    def view(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One random view of a float batch ``(B, C, H, W)`` in [0, 1] -> ``(B, C, size, size)``."""
        b, _, h, w = x.shape
        theta = self._random_affine(b, h, w, generator)
        grid = F.affine_grid(theta, [b, x.shape[1], self.size, self.size], align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        out = self._jitter(out, generator)
        if self.blur_prob > 0:
            out = self._blur(out, generator)
        return _normalize(out, self.mean, self.std)

    def _random_affine(self, b: int, h: int, w: int, gen: torch.Generator | None) -> Tensor:
        u = torch.rand(b, 6, generator=gen)
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        log_r = math.log(self.ratio[0]) + (math.log(self.ratio[1]) - math.log(self.ratio[0])) * u[:, 1]
        r = torch.exp(log_r)
        # crop width / height as fractions of the image width / height
        sw = torch.sqrt(area * r * h / w).clamp(max=1.0)
        sh = torch.sqrt(area / r * w / h).clamp(max=1.0)
        cx = (2 * u[:, 2] - 1) * (1 - sw)
        cy = (2 * u[:, 3] - 1) * (1 - sh)
        flip_x = torch.where(u[:, 4] < self.hflip, -1.0, 1.0)
        flip_y = torch.where(u[:, 5] < self.vflip, -1.0, 1.0)
        k = torch.randint(0, 4, (b,), generator=gen) if self.rot90 else torch.zeros(b, dtype=torch.long)
        cos = torch.tensor([1.0, 0.0, -1.0, 0.0])[k]
        sin = torch.tensor([0.0, 1.0, 0.0, -1.0])[k]
        # input = diag(sw, sh) @ R @ diag(flip) @ output + (cx, cy)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = sw * cos * flip_x
        theta[:, 0, 1] = -sw * sin * flip_y
        theta[:, 1, 0] = sh * sin * flip_x
        theta[:, 1, 1] = sh * cos * flip_y
        theta[:, 0, 2] = cx
        theta[:, 1, 2] = cy
        return theta

    def _jitter(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        b = x.shape[0]
        u = torch.rand(b, 2, 1, 1, 1, generator=gen)
        bright = 1 + self.brightness * (2 * u[:, 0] - 1)
        contr = 1 + self.contrast * (2 * u[:, 1] - 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * contr + mean).mul_(bright).clamp_(0.0, 1.0)

    def _blur(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        b, c, h, w = x.shape
        u = torch.rand(b, 2, generator=gen)
        sigma = self.blur_sigma[0] + (self.blur_sigma[1] - self.blur_sigma[0]) * u[:, 0]
        radius = max(1, math.ceil(2 * self.blur_sigma[1]))
        offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)
        kernel = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma[:, None] ** 2))
        kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, K)
        flat = x.reshape(1, b * c, h, w)
        flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
        flat = F.conv2d(flat, kernel.view(b * c, 1, 1, -1), groups=b * c)
        flat = F.conv2d(flat, kernel.view(b * c, 1, -1, 1), groups=b * c)
        blurred = flat.view(b, c, h, w)
        apply = (u[:, 1] < self.blur_prob).view(b, 1, 1, 1)
        return torch.where(apply, blurred, x)
