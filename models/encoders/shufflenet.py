"""Paper 004's customised three-stage ShuffleNet-v2 encoder (~0.4 M parameters).

Stage 1: 3x3 conv (24 filters, stride 2) + 3x3 max-pool stride 2; stages 2 and 3: one
down-sampling unit and one basic unit each (channel split, 1x1 -> 3x3 depthwise -> 1x1,
concatenation, channel shuffle), then 1x1 conv to 128, global max pool, Dense(128, ReLU).
ShuffleNet-v2: Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", ECCV 2018. Units are torchvision's (with BatchNorm / ReLU inside,
which the paper-004 code omits).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.encoders.registry import Encoder, register_encoder


def _shuffle_unit(inp: int, oup: int, stride: int) -> nn.Module:
    # `models/__init__` (already imported as our parent package) armed the torchvision hook.
    from torchvision.models.shufflenetv2 import InvertedResidual

    return InvertedResidual(inp, oup, stride)


@register_encoder("shufflenet")
class ShuffleNetEncoder(Encoder):
    """Three-stage ShuffleNet-v2 (paper 004, Fig. 8); total stride 16.

    Args:
        in_channels: Input channels C (1 or 3).
        stem_channels: Filters of the stage-1 conv (paper: 24).
        stage_channels: Output channels of stages 2 and 3 (paper: 232, 464).
        units_per_stage: Units per stage, the first one down-sampling (paper: 2).
        feature_dim: Output width D (paper: 128).

    Shapes:
        ``(B, C, H, W) -> (B, feature_dim)``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        stem_channels: int = 24,
        stage_channels: tuple[int, int] = (232, 464),
        units_per_stage: int = 2,
        feature_dim: int = 128,
    ) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages: list[nn.Module] = []
        inp = stem_channels
        for oup in stage_channels:
            units = [_shuffle_unit(inp, oup, 2)] + [_shuffle_unit(oup, oup, 1) for _ in range(units_per_stage - 1)]
            stages.append(nn.Sequential(*units))
            inp = oup
        self.stages = nn.Sequential(*stages)
        self.conv_last = nn.Sequential(nn.Conv2d(inp, feature_dim, 1), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_last(self.stages(self.stem(x)))
        return self.head(torch.flatten(self.pool(x), 1))
