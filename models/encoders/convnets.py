"""The plain ConvNet and the Skip-ConvNet encoders of paper 004.

Paper 004: contrastive self-supervised pretraining (SimCLR / NNCLR) with lightweight
encoders for steel-surface defect classification (NEU). Layer lists follow the authors'
Keras code (as the paper's repository lists them; references in the README's
"Papers" section), with two CPU-driven changes that are documented per class:
``padding=1`` (so any input >= 32 px works) and global average pooling instead of Flatten.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.encoders.registry import Encoder, register_encoder


def _conv(in_ch: int, out_ch: int, *, stride: int = 1, batch_norm: bool = False) -> nn.Sequential:
    """3x3 conv (padding 1) -> optional BatchNorm -> ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@register_encoder("convnet")
class ConvNet(Encoder):
    """Four 3x3 conv layers of ``width`` filters with ReLU, global average pool, dense + ReLU.

    The paper's text says "no pooling"; its code uses stride 2 in each conv. With
    ``stride=1`` (paper text) every layer runs at full resolution: at 64 px that is about
    1.8 GFLOP per image, far too slow for 2 CPU cores, so ``stride=2`` (paper code,
    ``64 px -> 4x4`` final map) is the default. The paper's Flatten + Dense(128) is
    replaced by global average pooling + Dense(128) so any input size works; this drops
    the parameter count from ~6 M to ~0.46 M.

    Args:
        in_channels: Input channels C (1 or 3).
        width: Filters per conv layer (paper: 128).
        stride: Stride of each of the four convs (2 = paper code / CPU default, 1 = paper text).
        feature_dim: Units of the final dense layer, D (paper: 128).
        batch_norm: Add BatchNorm after each conv (paper: none).

    Shapes:
        ``(B, C, H, W) -> (B, feature_dim)``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        width: int = 128,
        stride: int = 2,
        feature_dim: int = 128,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        chans = [in_channels, width, width, width, width]
        self.features = nn.Sequential(
            *(_conv(chans[i], chans[i + 1], stride=stride, batch_norm=batch_norm) for i in range(4))
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Linear(width, feature_dim), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


class _ResidualBlock(nn.Module):
    """Two 3x3 convs (same padding, ReLU) plus the identity: ``x + f(x)``."""

    def __init__(self, width: int, *, batch_norm: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(width, width, batch_norm=batch_norm),
            _conv(width, width, batch_norm=batch_norm),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@register_encoder("skip_convnet")
class SkipConvNet(Encoder):
    """Paper 004's Skip-ConvNet (0.92 M parameters at 3 channels, 0.92 M at 1).

    Layers (authors' code): conv -> conv -> max-pool 3 -> 2 residual blocks of two convs
    -> conv -> global average pool -> Dense(128, ReLU) -> Dropout -> Dense(128, ReLU);
    all convs 3x3 with 128 filters and ReLU, no normalisation.

    CPU change: the first conv has ``stride=2`` by default (paper: 1). Without it the first
    two 128-filter convs run at full resolution and cost ~0.6 GFLOP per 64 px image.

    Args:
        in_channels: Input channels C (1 or 3).
        width: Filters per conv (paper: 128).
        stride: Stride of the first conv (2 = CPU default, 1 = paper).
        feature_dim: Output width D (paper: 128).
        dropout: Dropout between the two dense layers (paper: 0.5; 0 by default because
            dropout in a contrastive encoder only adds noise to the positives).
        batch_norm: Add BatchNorm after each conv (paper: none).

    Shapes:
        ``(B, C, H, W) -> (B, feature_dim)``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        width: int = 128,
        stride: int = 2,
        feature_dim: int = 128,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.features = nn.Sequential(
            _conv(in_channels, width, stride=stride, batch_norm=batch_norm),
            _conv(width, width, batch_norm=batch_norm),
            nn.MaxPool2d(3),
            _ResidualBlock(width, batch_norm=batch_norm),
            _ResidualBlock(width, batch_norm=batch_norm),
            _conv(width, width, batch_norm=batch_norm),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Linear(width, feature_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(feature_dim, feature_dim),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))
