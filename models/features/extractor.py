"""The classifier's input features, computed by one module from cached pixels.

``FeatureExtractor`` takes the project's cached pixels (``(B, 1, S, S)``, 0-255, the whole
image squashed to ``S x S``) and returns ``[w * e, t]``: ``e`` the L2-normalised embedding
of the contrastive encoder at its input size, ``t`` the texture statistics at the cache
size (``models.features.texture``), ``w`` a block weight fitted once on the project's
images (``block_weight``). The same module runs in the app (on the pixel cache) and
inside an exported model, so both see identical features.

Why both: on X-SDD with 15 epochs of SimCLR on 2 cores, the ArcFace head reached
62 / 62 / 68 % at 5 / 10 / 20 labels per class on the embedding alone, 79 / 82 / 91 % on
the texture statistics alone and 79 / 83 / 91 % on both with the weight below
(benchmarks/fewlabel_bench.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.features.texture import TextureStats

# share of the texture block's spread given to the embedding block (measured on X-SDD:
# 0.1 - 0.3 best; 1 (equal) and above let a weak embedding drown the texture)
EMBEDDING_SHARE = 0.3


def block_weight(embeddings: np.ndarray, texture: np.ndarray, share: float = EMBEDDING_SHARE) -> float:
    """The factor on unit-length embeddings that gives them ``share`` of the texture block's
    mean centred norm (spread), measured over a project's images."""
    def spread(x: np.ndarray) -> float:
        return float(np.linalg.norm(x - x.mean(axis=0), axis=1).mean())

    return share * spread(texture) / max(spread(embeddings), 1e-6)


class FeatureExtractor(nn.Module):
    """``(B, 1, S, S)`` cached pixels (uint8 or float 0-255) -> ``(B, E + T)`` features.

    Args:
        encoder: Any registered encoder (1 input channel), eval mode is set here.
        size: The encoder's input side (the cache side S may be larger).
        mean: Normalisation mean of the encoder input (0-1 scale).
        std: Normalisation std.
        texture: The texture statistics module (S must be a multiple of 64).
        encoder_weight: ``w`` on the unit-length embedding (see ``block_weight``).
    """

    def __init__(self, encoder: nn.Module, *, size: int, mean: float = 0.5, std: float = 0.25,
                 texture: TextureStats | None = None, encoder_weight: float = 1.0) -> None:
        super().__init__()
        self.encoder = encoder.eval()
        self.size = int(size)
        self.mean = float(mean)
        self.std = float(std)
        self.texture = texture if texture is not None else TextureStats()
        self.register_buffer("encoder_weight", torch.tensor(float(encoder_weight)))

    def embed(self, x: Tensor) -> Tensor:
        """``(B, 1, S, S)`` float in [0, 1] -> ``(B, E)`` unit-length embeddings."""
        net_in = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return F.normalize(self.encoder((net_in - self.mean) / self.std), dim=1)

    def parts(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        """(unit embeddings, texture statistics) of ``(B, 1, S, S)`` pixels 0-255."""
        x = pixels.float() / 255.0
        return self.embed(x), self.texture(x)

    def forward(self, pixels: Tensor) -> Tensor:
        embedding, texture = self.parts(pixels)
        return torch.cat([embedding * self.encoder_weight, texture], dim=1)
