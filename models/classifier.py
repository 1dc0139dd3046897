"""One module from cached pixels to class probabilities: what the app predicts with and
what an exported model contains.

``ImageClassifier`` = ``FeatureExtractor`` (embedding + texture statistics) followed by
the fitted paper-001 head (standardisation, projection, ArcFace cosines, temperature).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.features import FeatureExtractor
from models.fewshot.head import FittedHead


class ImageClassifier(nn.Module):
    """``(B, 1, S, S)`` pixels 0-255 (uint8 or float) -> ``(B, C)`` class probabilities.

    ``S`` is ``input_size``: the image, gray, squashed to ``S x S`` (see ``core.media.pixel_cache``).
    """

    def __init__(self, features: FeatureExtractor, head: FittedHead, *, input_size: int) -> None:
        super().__init__()
        self.features = features.eval()
        self.projection = head.projection.eval()
        self.arcface = head.head.eval()
        self.input_size = int(input_size)
        self.register_buffer("feature_mean", head.mean.clone())
        self.register_buffer("feature_std", head.std.clone())
        self.register_buffer("temperature", torch.tensor(float(head.temperature)))

    def logits(self, features: Tensor) -> Tensor:
        """Temperature-scaled eval-mode ArcFace logits of ``(B, D)`` features."""
        z = self.projection((features - self.feature_mean) / self.feature_std)
        cosine = F.linear(F.normalize(z, dim=1), F.normalize(self.arcface.weight, dim=1))
        return self.arcface.scale * cosine / self.temperature

    def forward(self, pixels: Tensor) -> Tensor:
        return torch.softmax(self.logits(self.features(pixels)), dim=1)
