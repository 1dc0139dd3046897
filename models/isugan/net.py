"""The ISU-GAN generator and the PatchGAN discriminator (paper 003), and the plain
CycleGAN generator it is compared with.

Generator (paper 003, Fig. 2; the gaps filled as in the brief, part B2): three stride-2
3x3 convolutions (ngf, 2ngf, 4ngf channels, InstanceNorm + ReLU) take the input to 1/8;
in the middle SE -> involution -> residual blocks -> involution -> SE; two skip
connections carry the SE-rescaled encoder maps of 4ngf channels (1/8) and ngf channels
(1/2) to the decoder maps of the same width, concatenated and brought back to that width
by a 3x3 convolution; three 4x4 transposed convolutions return to the input size, the
last without InstanceNorm (the paper's ★), then tanh. With ``se``, ``involution`` and
``skips`` all off it is CycleGAN's ResNet generator with paper 003's down-sampling
(the "Default (CycleGAN)" row of paper 003's ablation, Table 3).

Discriminator: the 70x70 PatchGAN (Isola et al.; paper 003's "Markov discriminator"):
4x4 convolutions ndf (no norm), 2ndf, 4ndf (stride 2), 8ndf (stride 1), then one output
channel; InstanceNorm and LeakyReLU 0.2 between. Its output is one score per
overlapping 70x70 patch.

Inputs are gray images in [-1, 1] whose sides are multiples of :data:`STRIDE`
(:func:`models.isugan.infer.repair_image` pads any image to that).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from models.isugan.blocks import (
    Involution,
    ResidualBlock,
    SqueezeExcitation,
    conv_norm_relu,
    init_normal,
    up_norm_relu,
)

STRIDE = 8  # the generator halves the input three times: sides must be multiples of 8
RESIDUAL_LIMIT = 0.999  # a residual generator's input is kept inside (-1, 1) before atanh
ARCHITECTURES = ("isugan", "cyclegan")


@dataclass(frozen=True)
class GanConfig:
    """Widths and modules of the generator and discriminator.

    Attributes:
        ngf / ndf: base widths of the generator / discriminator (paper 003: 64 assumed).
        residual_blocks: residual blocks in the middle (paper 003: 9).
        se / involution / skips: paper 003's three additions; all off is plain CycleGAN.
        residual: the generator changes its input rather than drawing the image anew:
            ``tanh(atanh(x) + out)``, so an untrained generator returns its input and
            training only has to learn where to change it (not in paper 003; the
            app's CPU presets, which train far shorter than paper 003, use it).
    """

    ngf: int = 16
    ndf: int = 16
    residual_blocks: int = 6
    se: bool = True
    involution: bool = True
    skips: bool = True
    residual: bool = False  # the output is the input plus a learned change (not in paper 003)
    se_reduction: int = 16
    involution_kernel: int = 7
    involution_reduction: int = 4
    involution_group: int = 16
    in_channels: int = 1

    @classmethod
    def named(cls, architecture: str, **changes) -> GanConfig:
        """``"isugan"`` (SE, involution, skips) or ``"cyclegan"`` (none of them)."""
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)}")
        plain = architecture == "cyclegan"
        return cls(**{"se": not plain, "involution": not plain, "skips": not plain, **changes})

    @property
    def architecture(self) -> str:
        if self.se and self.involution and self.skips:
            return "isugan"
        if not (self.se or self.involution or self.skips):
            return "cyclegan"
        return "partial"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GanConfig:
        return cls(**data)


class Generator(nn.Module):
    """Image-to-image generator: ISU-GAN's (``config.se/involution/skips``) or CycleGAN's.

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)`` in [-1, 1]; H and W multiples of :data:`STRIDE`.
    """

    def __init__(self, config: GanConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GanConfig()
        c1, c2, c3 = config.ngf, 2 * config.ngf, 4 * config.ngf
        self.down1 = conv_norm_relu(config.in_channels, c1, stride=2)
        self.down2 = conv_norm_relu(c1, c2, stride=2)
        self.down3 = conv_norm_relu(c2, c3, stride=2)

        def se(channels: int) -> nn.Module:
            return SqueezeExcitation(channels, config.se_reduction) if config.se else nn.Identity()

        def involution() -> nn.Module:
            if not config.involution:
                return nn.Identity()
            return Involution(c3, config.involution_kernel, config.involution_reduction, config.involution_group)

        blocks = [ResidualBlock(c3) for _ in range(config.residual_blocks)]
        self.middle = nn.Sequential(se(c3), involution(), *blocks, involution(), se(c3))
        if config.skips:
            self.skip_deep, self.skip_shallow = se(c3), se(c1)
            self.merge_deep = conv_norm_relu(2 * c3, c3)
            self.merge_shallow = conv_norm_relu(2 * c1, c1)
        self.up1 = up_norm_relu(c3, c2)
        self.up2 = up_norm_relu(c2, c1)
        self.out = nn.ConvTranspose2d(c1, config.in_channels, 4, stride=2, padding=1)  # ★: no norm
        init_normal(self)
        if config.residual:  # the change starts at zero: an untrained generator returns its input
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % STRIDE or x.shape[-2] % STRIDE:
            raise ValueError(f"the generator takes sides that are multiples of {STRIDE}, not {tuple(x.shape[-2:])}")
        e1 = self.down1(x)
        e3 = self.down3(self.down2(e1))
        m = self.middle(e3)
        if self.config.skips:
            m = self.merge_deep(torch.cat([m, self.skip_deep(e3)], dim=1))
        d = self.up2(self.up1(m))
        if self.config.skips:
            d = self.merge_shallow(torch.cat([d, self.skip_shallow(e1)], dim=1))
        if self.config.residual:
            return torch.tanh(torch.atanh(x.clamp(-RESIDUAL_LIMIT, RESIDUAL_LIMIT)) + self.out(d))
        return torch.tanh(self.out(d))


class Discriminator(nn.Module):
    """70x70 PatchGAN: one real/fake score (a least-squares target, no sigmoid) per patch.

    Shapes:
        ``(B, C, H, W) -> (B, 1, H / 8 - 2, W / 8 - 2)`` for H, W multiples of 8 (at least 24).
    """

    def __init__(self, config: GanConfig | None = None) -> None:
        super().__init__()
        config = config or GanConfig()
        d = config.ndf

        def block(inp: int, out: int, stride: int, norm: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(inp, out, 4, stride=stride, padding=1)]
            if norm:
                layers.append(nn.InstanceNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.body = nn.Sequential(
            *block(config.in_channels, d, 2, norm=False), *block(d, 2 * d, 2), *block(2 * d, 4 * d, 2),
            *block(4 * d, 8 * d, 1), nn.Conv2d(8 * d, 1, 4, stride=1, padding=1))
        init_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
