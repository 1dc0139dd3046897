"""ArcFace: additive angular margin head.

Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR 2019;
used as the "Arc Margin Penalty" block of paper 001 (Thai Tieu Phuong et al., "Improving
Image Representation for Surface Defect Recognition with Small Data", 2024), Eq. 4, with
margin m = 0.5 rad. The paper leaves the scale s open; 30 is the common default with m = 0.5.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EPS = 1e-6


class ArcFaceOutput(NamedTuple):
    """What ``ArcFaceHead`` returns.

    Attributes:
        logits: ``(B, C)`` ``s * cos(theta_j)``, with ``cos(theta_y + m)`` in place of the
            target class when labels are given in training mode.
        cosine: ``(B, C)`` cosine between each feature and each class reference (no margin).
    """

    logits: Tensor
    cosine: Tensor


class ArcFaceHead(nn.Module):
    """L2-normalised class references compared with L2-normalised features.

    The margin is applied only when ``labels`` are given and the module is in training
    mode; in eval mode (and without labels) the logits are the plain ``s * cos(theta)``
    that prediction and temperature scaling use.

    Args:
        in_dim: Feature width D.
        n_classes: Number of classes C.
        scale: s, the norm the features are rescaled to (paper 001: not given; 30).
        margin: m in radians (paper 001: 0.5).
        easy_margin: Apply the margin only where ``cos(theta) > 0`` instead of the ArcFace
            ``th``/``mm`` fallback (``cos(theta) - m * sin(m)`` where ``theta + m > pi``).
    """

    def __init__(
        self, in_dim: int, n_classes: int, *, scale: float = 30.0, margin: float = 0.5, easy_margin: bool = False
    ) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.n_classes = n_classes
        self.scale = float(scale)
        self.margin = float(margin)
        self.easy_margin = easy_margin
        self.weight = nn.Parameter(torch.empty(n_classes, in_dim))
        nn.init.xavier_uniform_(self.weight)
        self._cos_m = math.cos(margin)
        self._sin_m = math.sin(margin)
        self._th = math.cos(math.pi - margin)  # theta + m > pi  <=>  cos(theta) < th
        self._mm = math.sin(math.pi - margin) * margin

    @property
    def references(self) -> Tensor:
        """``(C, D)`` unit-length class references."""
        return F.normalize(self.weight, dim=1)

    def forward(self, features: Tensor, labels: Tensor | None = None) -> ArcFaceOutput:
        """Score ``(B, D)`` features against the class references.

        Args:
            features: ``(B, D)`` features (any norm; normalised here).
            labels: ``(B,)`` int64 class indices in ``[0, C)``; enables the margin in training mode.

        Returns:
            ``ArcFaceOutput`` with ``(B, C)`` logits and cosines.
        """
        cosine = F.linear(F.normalize(features, dim=1), self.references).clamp(-1.0 + _EPS, 1.0 - _EPS)
        if labels is None or not self.training:
            return ArcFaceOutput(logits=self.scale * cosine, cosine=cosine)
        sine = torch.sqrt((1.0 - cosine * cosine).clamp_min(_EPS))
        phi = cosine * self._cos_m - sine * self._sin_m  # cos(theta + m)
        if self.easy_margin:
            phi = torch.where(cosine > 0, phi, cosine)
        else:
            phi = torch.where(cosine > self._th, phi, cosine - self._mm)
        target = F.one_hot(labels, num_classes=self.n_classes).bool()
        logits = self.scale * torch.where(target, phi, cosine)
        return ArcFaceOutput(logits=logits, cosine=cosine)
