"""Building blocks of the ISU-GAN generator (paper 003): squeeze-excitation, involution,
CycleGAN residual blocks.

Squeeze-excitation: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (paper 003,
Eqs. 1-2: global average pool, two 1x1 convolutions of c/α and c filters, ReLU between,
sigmoid at the end; α is not given, Hu et al.'s 16 is used). Involution: Li et al.,
"Involution: Inverting the Inheritance of Convolution for Visual Recognition", CVPR 2021
(paper 003, Eq. 3): a k x k kernel generated per pixel from that pixel's features,
shared by the channels of a group; k, the reduction r and the group width are not given
in paper 003, Li et al.'s defaults (7, 4, 16 channels per group) are used.
"""

from __future__ import annotations

from torch import Tensor, nn


class SqueezeExcitation(nn.Module):
    """Rescales each channel by a gate computed from the whole map's channel means.

    Args:
        channels: C.
        reduction: α, the bottleneck ratio (hidden width max(8, C // α)).

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )
        # the channel means after InstanceNorm + ReLU are nearly equal, so a hidden unit's
        # input is about the sum of its weights: a positive bias keeps the units alive at
        # the start (with zero biases all of them start dead one time in 2^hidden)
        nn.init.constant_(self.gate[1].bias, 0.5)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


class Involution(nn.Module):
    """Involution with stride 1: every pixel's k x k neighbourhood is weighted by a kernel
    generated from that pixel (1x1 conv C -> C/r, norm + ReLU, 1x1 conv -> G·k·k), one
    kernel per group of ``group_channels`` channels.

    Li et al. normalise with BatchNorm; here the kernel generator uses InstanceNorm like
    every other layer of the generator, since a batch of one to a few crops (paper 003
    trains with batch 1) gives BatchNorm unreliable running statistics.

    Args:
        channels: C (a multiple of ``group_channels``, or fewer channels than it: one group).
        kernel_size: k (odd).
        reduction: r.
        group_channels: channels that share one generated kernel.

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, kernel_size: int = 7, reduction: int = 4, group_channels: int = 16) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"the involution kernel size must be odd, not {kernel_size}")
        group_channels = min(group_channels, channels)
        if channels % group_channels:
            raise ValueError(f"{channels} channels do not split into groups of {group_channels}")
        self.kernel_size = kernel_size
        self.groups = channels // group_channels
        hidden = max(4, channels // reduction)
        self.reduce = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.InstanceNorm2d(hidden, affine=True),
                                    nn.ReLU(inplace=True))
        self.span = nn.Conv2d(hidden, self.groups * kernel_size * kernel_size, 1)
        self.unfold = nn.Unfold(kernel_size, padding=(kernel_size - 1) // 2)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        k2 = self.kernel_size * self.kernel_size
        kernel = self.span(self.reduce(x)).view(b, self.groups, 1, k2, h, w)
        patches = self.unfold(x).view(b, self.groups, c // self.groups, k2, h, w)
        return (kernel * patches).sum(dim=3).view(b, c, h, w)


class ResidualBlock(nn.Module):
    """CycleGAN's residual block: two reflection-padded 3x3 convolutions with
    InstanceNorm, ReLU between, added to the input.

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def conv_norm_relu(inp: int, out: int, *, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (reflection padding), InstanceNorm, ReLU."""
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(inp, out, 3, stride=stride), nn.InstanceNorm2d(out),
                         nn.ReLU(inplace=True))


def up_norm_relu(inp: int, out: int) -> nn.Sequential:
    """4x4 transposed convolution, stride 2 (doubles H and W), InstanceNorm, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(inp, out, 4, stride=2, padding=1), nn.InstanceNorm2d(out),
                         nn.ReLU(inplace=True))


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """CycleGAN's initialisation: convolution weights N(0, std), biases 0, norm scales N(1, std).

    The squeeze-excitation gates keep their own initialisation (:class:`SqueezeExcitation`):
    with N(0, 0.02) weights and zero biases their hidden ReLUs may all start dead, and a
    dead gate never learns."""
    gates = {id(m) for se in module.modules() if isinstance(se, SqueezeExcitation) for m in se.gate.modules()}
    for m in module.modules():
        if id(m) in gates:
            continue
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d | nn.BatchNorm2d) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


__all__ = ["Involution", "ResidualBlock", "SqueezeExcitation", "conv_norm_relu", "init_normal", "up_norm_relu"]
