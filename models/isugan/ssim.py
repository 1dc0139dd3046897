"""The structural similarity (SSIM) map of paper 003 (Eqs. 4-7, Eq. 7's typo corrected:
Wang et al. 2004), for the SSIM loss and for finding defects.

Local statistics over a uniform ``window`` x ``window`` neighbourhood (paper 003: 9;
skimage's ``structural_similarity`` uses a uniform window too), population variances,
C1 = (0.01 L)², C2 = (0.03 L)² with L the data range. The map has the input's size: the
images are reflection-padded by half a window (torchmetrics' convention, which
``tests/models/test_isugan.py`` checks it against). scikit-image is not a dependency of
the app; with the same window, ``skimage.metrics.structural_similarity(...,
gaussian_weights=False, use_sample_covariance=False, full=True)`` differs only within
half a window of the border, where it pads differently.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

WINDOW = 9  # paper 003: "Through experimental comparison, we set it to 9"
K1, K2 = 0.01, 0.03


def ssim_map(x: Tensor, y: Tensor, *, window: int = WINDOW, data_range: float = 1.0) -> Tensor:
    """Local SSIM of two image batches.

    Args:
        x, y: ``(B, C, H, W)`` images on the same scale (H, W > window // 2).
        window: side of the uniform window (odd).
        data_range: L, the value range of the images (1 for [0, 1], 2 for [-1, 1]).

    Returns:
        ``(B, C, H, W)`` similarity, 1 where the neighbourhoods agree, down to -1.
    """
    if window % 2 != 1:
        raise ValueError(f"the SSIM window must be odd, not {window}")
    pad = window // 2
    channels = x.shape[1]
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    y = F.pad(y, (pad, pad, pad, pad), mode="reflect")
    kernel = torch.full((channels, 1, window, window), 1.0 / (window * window), dtype=x.dtype, device=x.device)
    stats = F.conv2d(torch.cat([x, y, x * x, y * y, x * y]), kernel, groups=channels).split(x.shape[0])
    mu_x, mu_y, xx, yy, xy = stats
    var_x = (xx - mu_x * mu_x).clamp_min(0.0)
    var_y = (yy - mu_y * mu_y).clamp_min(0.0)
    cov = xy - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def ssim_loss(x: Tensor, y: Tensor, *, window: int = WINDOW, data_range: float = 2.0) -> Tensor:
    """1 - mean SSIM (paper 003's SSIM loss, Eqs. 10-11, for the first epochs); images in [-1, 1]."""
    return 1.0 - ssim_map(x, y, window=window, data_range=data_range).mean()


def difference_map(image: Tensor, repair: Tensor, *, window: int = WINDOW) -> Tensor:
    """Where an image and its repair differ: (1 - SSIM) / 2, in [0, 1] (0 where they agree,
    1 for anti-correlated neighbourhoods; halved rather than clipped, so a poor repair's
    worst places still rank). Images in [0, 1]."""
    return ((1.0 - ssim_map(image, repair, window=window, data_range=1.0)) / 2).clamp(0.0, 1.0)
