"""torchvision ResNet-18 as an encoder: random init, 1- or 3-channel stem, no fc.

ResNet: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.encoders.registry import Encoder, register_encoder


@register_encoder("resnet18")
class ResNet18Encoder(Encoder):
    """ResNet-18 trunk with global average pooling; ``feature_dim = 512``.

    Args:
        in_channels: Input channels C (1 or 3); the first conv is rebuilt for it.
        small_input: Replace the 7x7/s2 conv + 3x3/s2 max-pool stem with a 3x3/s1 conv
            (the CIFAR variant) for inputs <= 96 px, so that a 64 px image ends on an 8x8
            map instead of 2x2. It costs ~16x the compute of the standard stem.

    Shapes:
        ``(B, C, H, W) -> (B, 512)``.
    """

    def __init__(self, *, in_channels: int = 1, small_input: bool = False) -> None:
        super().__init__()
        # `models/__init__` (already imported as our parent package) armed the torchvision hook.
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        if small_input:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        else:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.fc = nn.Identity()
        self.net = net
        self.feature_dim = 512

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(self.net(x), 1)
