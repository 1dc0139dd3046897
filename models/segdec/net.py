"""The segmentation + decision network of paper 002 (after Božič et al. 2021).

Segmentation subnet: 3x3 atrous convolutions (dilation 2, i.e. the receptive field of
the original 5x5 kernels; dilation 7 for the 15x15 one), each followed by FeatureNorm
(per-sample, per-channel normalisation with a learned scale and bias) and ReLU, SE
channel attention after the seven middle convolutions, three 2x2 max-pools; a 1x1
convolution gives the segmentation logits at 1/8 of the input. Decision subnet: the
feature volume and the segmentation logits, three pooled atrous convolutions, global
max and average pooling of its output and of the segmentation logits, one linear layer
to the defect logit.

Gradient-flow adjustment (Božič): the decision loss does not reach the segmentation
subnet (its inputs are detached) when ``stop_gradient`` is set; the caller sets it when
masks teach the segmentation (with no defect masks the features would otherwise learn
nothing about defects).

Widths: ``SegDecConfig.full()`` is the paper's (32, 64, 1024). ``narrow()`` is the
app's CPU default; ``benchmarks/segdec_bench.py`` measures what it gives up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SegDecConfig:
    stem: int = 16  # c1, c2 (paper: 32)
    middle: int = 32  # c3 - c9 (paper: 64)
    features: int = 128  # c10, the volume the decision subnet reads (paper: 1024)
    se_reduction: int = 16  # SE bottleneck ratio (paper: not given; Hu et al.'s 16)
    in_channels: int = 1

    @classmethod
    def full(cls) -> SegDecConfig:
        return cls(stem=32, middle=64, features=1024)

    @classmethod
    def narrow(cls) -> SegDecConfig:
        return cls()

    @classmethod
    def named(cls, width: str) -> SegDecConfig:
        if width not in WIDTHS:
            raise ValueError(f"unknown width {width!r}; choose from {', '.join(WIDTHS)}")
        return getattr(cls, width)()

    def to_dict(self) -> dict:
        return asdict(self)


WIDTHS = ("narrow", "full")
STRIDE = 8  # the segmentation map is 1/8 of the input; input sides must be multiples of it


class FeatureNorm(nn.Module):
    """Božič's FeatureNorm: ``scale * (x - mean) / sqrt(std + eps) + bias`` per sample and channel."""

    def __init__(self, channels: int, eps: float = 1e-3) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)  # 1x1 maps stay finite
        factor = self.scale / torch.sqrt(torch.sqrt(var + 1e-12) + self.eps)  # per sample and channel: one pass over x
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


def _block(cin: int, cout: int, dilation: int = 2, se: int = 0) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                               FeatureNorm(cout), nn.ReLU(inplace=True)]
    if se:
        layers.append(SqueezeExcite(cout, se))
    return nn.Sequential(*layers)


class SegDecNet(nn.Module):
    """``forward(x)`` -> (decision logit (B,), segmentation logits (B, 1, H/8, W/8)).

    ``x`` is (B, C, H, W) in 0..1 with H and W multiples of 8.
    """

    def __init__(self, config: SegDecConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SegDecConfig()
        s, m, f, r = config.stem, config.middle, config.features, config.se_reduction
        self.segmentation = nn.Sequential(
            _block(config.in_channels, s), _block(s, s), nn.MaxPool2d(2),
            _block(s, m, se=r), _block(m, m, se=r), _block(m, m, se=r), nn.MaxPool2d(2),
            *[_block(m, m, se=r) for _ in range(4)], nn.MaxPool2d(2),
            _block(m, f, dilation=7),
        )
        self.seg_head = nn.Conv2d(f, 1, 1, bias=False)
        self.decision = nn.Sequential(
            nn.MaxPool2d(2), _block(f + 1, 8), nn.MaxPool2d(2), _block(8, 16), nn.MaxPool2d(2), _block(16, 32))
        self.fc = nn.Linear(32 + 32 + 1 + 1, 1)
        self.stop_gradient = False
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.xavier_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.segmentation(x - 0.5)
        seg = self.seg_head(features)
        if self.stop_gradient:
            features, seg_in = features.detach(), seg.detach()
        else:
            seg_in = seg
        d = self.decision(torch.cat([features, seg_in], dim=1))
        pooled = torch.cat([d.amax(dim=(2, 3)), d.mean(dim=(2, 3)), seg_in.amax(dim=(2, 3)), seg_in.mean(dim=(2, 3))],
                           dim=1)
        return self.fc(pooled)[:, 0], seg


class SegDecPredictor(nn.Module):
    """What the app exports and predicts with: gray pixels 0-255 (B, 1, S, S) ->
    (defect probability (B,), heat map (B, 1, S/8, S/8) in 0..1)."""

    def __init__(self, net: SegDecNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit, seg = self.net(pixels.float() / 255.0)
        return torch.sigmoid(logit), torch.sigmoid(seg)
