"""The segmentation + decision network of paper 002 (after Božič et al. 2021).

Segmentation subnet: 3x3 atrous convolutions (dilation 2, i.e. the receptive field of
the original 5x5 kernels; dilation 7 for the 15x15 one), each followed by a
normalisation and ReLU, three 2x2 max-pools; a 1x1 convolution gives the segmentation
logits at 1/8 of the input. Decision subnet: the feature volume and the segmentation
logits, three pooled atrous convolutions, global max and average pooling of its output
and of the segmentation logits, one linear layer to the defect logit.

The app's default is *local*: BatchNorm (a fixed per-channel affine at inference) and no
squeeze-excitation, so every output cell of the segmentation subnet depends only on the
pixels within :data:`RECEPTIVE_RADIUS` of it. That is what lets one net train on crops,
predict whole images of any size, and go through large images in tiles with the same
result (:mod:`models.segdec.infer`). Paper 002's SE attention and Božič's per-image
FeatureNorm both pool over the whole image; they stay available (``attention="se"``,
``norm="feature"``) for whole-image use and comparison.

Gradient-flow adjustment (Božič): the decision loss does not reach the segmentation
subnet when ``stop_gradient`` is set (paper 002's mixed mode).

Widths: ``SegDecConfig.full()`` is the paper's (32, 64, 1024). ``narrow()`` is the
app's CPU default; ``benchmarks/segdec_bench.py`` measures what it gives up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

WIDTHS = ("narrow", "full")
NORMS = ("batch", "channel", "feature")
ATTENTIONS = ("none", "se")
STRIDE = 8  # the segmentation map is 1/8 of the input; inputs are padded to multiples of it
# Input pixels that can reach one segmentation cell (half-width, rounded up to the stride):
# 2 + 2 at full size, 3 x 2 x 2 at 1/2, 4 x 2 x 4 at 1/4, 7 x 8 at 1/8, plus the pools' 7.
RECEPTIVE_RADIUS = 112


@dataclass(frozen=True)
class SegDecConfig:
    stem: int = 16  # c1, c2 (paper: 32)
    middle: int = 32  # c3 - c9 (paper: 64)
    features: int = 128  # c10, the volume the decision subnet reads (paper: 1024)
    se_reduction: int = 16  # SE bottleneck ratio (paper: not given; Hu et al.'s 16)
    in_channels: int = 1
    norm: str = "batch"  # "feature": Božič's per-image FeatureNorm
    attention: str = "none"  # "se": paper 002's squeeze-excitation after c3 - c9

    @classmethod
    def full(cls, **changes) -> SegDecConfig:
        return cls(stem=32, middle=64, features=1024, **changes)

    @classmethod
    def narrow(cls, **changes) -> SegDecConfig:
        return cls(**changes)

    @classmethod
    def named(cls, width: str, **changes) -> SegDecConfig:
        if width not in WIDTHS:
            raise ValueError(f"unknown width {width!r}; choose from {', '.join(WIDTHS)}")
        return getattr(cls, width)(**changes)

    @classmethod
    def from_dict(cls, data: dict) -> SegDecConfig:
        """A stored config; one written before ``norm`` / ``attention`` existed was the
        paper's layout (FeatureNorm and SE)."""
        data = dict(data)
        data.setdefault("norm", "feature")
        data.setdefault("attention", "se")
        return cls(**data)

    @property
    def local(self) -> bool:
        """Whether each output cell sees only its neighbourhood (crops and tiles give the
        whole image's answer)."""
        return self.norm in ("batch", "channel") and self.attention == "none"

    def to_dict(self) -> dict:
        return asdict(self)


MIN_STD = 0.01  # spread floor in 0..1 units (2.5 gray levels): a flat image is not blown up to noise


def image_stats(x: torch.Tensor) -> torch.Tensor:
    """(B, 2) mean and spread (floored at :data:`MIN_STD`) of each image of ``x`` (B, C, H, W)."""
    std, mean = torch.std_mean(x.flatten(1), dim=1, correction=0)
    return torch.stack([mean, std.clamp_min(MIN_STD)], dim=1)


class SegDecOutput(NamedTuple):
    decision: torch.Tensor  # (B,) defect logits
    segmentation: torch.Tensor  # (B, 1, H/8, W/8) segmentation logits


class FeatureNorm(nn.Module):
    """Božič's FeatureNorm: ``scale * (x - mean) / sqrt(std + eps) + bias`` per sample and channel."""

    def __init__(self, channels: int, eps: float = 1e-3) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)  # 1x1 maps stay finite
        factor = self.scale / torch.sqrt(torch.sqrt(var + 1e-12) + self.eps)
        return torch.addcmul(self.bias - mean * factor, x, factor)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels),
                                nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class ChannelNorm(nn.Module):
    """Layer normalisation across the channels of each position (a learned scale and bias
    per channel): local like BatchNorm, but independent of the batch and of the map's size."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "channel":
        return ChannelNorm(channels)
    return nn.BatchNorm2d(channels) if kind == "batch" else FeatureNorm(channels)


def _block(cin: int, cout: int, norm: str, dilation: int = 2, se: int = 0) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                               _norm(norm, cout), nn.ReLU(inplace=True)]
    if se:
        layers.append(SqueezeExcite(cout, se))
    return nn.Sequential(*layers)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, ceil_mode=True)  # any size of segmentation map, no cell dropped


class SegDecNet(nn.Module):
    """``forward(x)`` -> :class:`SegDecOutput`; ``x`` is (B, C, H, W) in 0..1 with H and W
    multiples of 8."""

    def __init__(self, config: SegDecConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SegDecConfig()
        if config.norm not in NORMS:
            raise ValueError(f"unknown norm {config.norm!r}; choose from {', '.join(NORMS)}")
        if config.attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {config.attention!r}; choose from {', '.join(ATTENTIONS)}")
        s, m, f, n = config.stem, config.middle, config.features, config.norm
        r = config.se_reduction if config.attention == "se" else 0
        # the decision reads maps of a few cells (1 x 1 from a small image): batch statistics of
        # them are noise (and undefined for one image), so it normalises across channels instead
        dn = "channel" if n == "batch" else n
        self.segmentation = nn.Sequential(
            _block(config.in_channels, s, n), _block(s, s, n), nn.MaxPool2d(2),
            _block(s, m, n, se=r), _block(m, m, n, se=r), _block(m, m, n, se=r), nn.MaxPool2d(2),
            *[_block(m, m, n, se=r) for _ in range(4)], nn.MaxPool2d(2),
            _block(m, f, n, dilation=7),
        )
        self.seg_head = nn.Conv2d(f, 1, 1, bias=False)
        self.decision = nn.Sequential(
            _pool(), _block(f + 1, 8, dn), _pool(), _block(8, 16, dn), _pool(), _block(16, 32, dn))
        self.fc = nn.Linear(32 + 32 + 1 + 1, 1)
        self.stop_gradient = False
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def standardise(self, x: torch.Tensor, stats: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` in 0..1 standardised by each image's own mean and spread (``stats`` (B, 2),
        of the whole image when ``x`` is a crop or a tile of it; None: of ``x`` itself), so
        lighting and exposure, which vary from part to part, never reach the features."""
        if stats is None:
            stats = image_stats(x)
        return (x - stats[:, 0, None, None, None]) / stats[:, 1, None, None, None]

    def segment(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, F, H/8, W/8), segmentation logits (B, 1, H/8, W/8)) of standardised ``x``."""
        features = self.segmentation(x)
        return features, self.seg_head(features)

    def decide(self, features: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """Defect logits (B,) from the segmentation subnet's outputs."""
        if self.stop_gradient:
            features, seg = features.detach(), seg.detach()
        d = self.decision(torch.cat([features, seg], dim=1))
        pooled = [d.amax(dim=(2, 3)), d.mean(dim=(2, 3)), seg.amax(dim=(2, 3)), seg.mean(dim=(2, 3))]
        return self.fc(torch.cat(pooled, dim=1))[:, 0]

    def forward(self, x: torch.Tensor, stats: torch.Tensor | None = None) -> SegDecOutput:
        """Whole images (or crops) ``x`` (B, C, H, W) in 0..1."""
        x = self.standardise(x, stats)
        features, seg = self.segment(x)
        return SegDecOutput(self.decide(features, seg), seg)


class SegDecPredictor(nn.Module):
    """What the app exports: gray pixels 0-255 (B, 1, H, W) of any size at the detector's
    working scale -> (defect probability (B,), heat map (B, 1, ceil(H/8), ceil(W/8)) in 0..1).

    Pads the bottom and right edges to a multiple of 8 by repeating the last row and
    column, as the app does before it predicts.
    """

    def __init__(self, net: SegDecNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = pixels.float() / 255.0
        stats = image_stats(x)  # of the image itself, before the padding
        height, width = x.shape[-2], x.shape[-1]
        pad_h, pad_w = (-height) % STRIDE, (-width) % STRIDE
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        logit, seg = self.net(x, stats)
        return torch.sigmoid(logit), torch.sigmoid(seg)
