"""SimCLR: contrastive pretraining of an encoder with the NT-Xent loss.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
ICML 2020; used with lightweight encoders by paper 004 (temperature 0.1 in its code,
projection Dense(128, ReLU) -> Dense(128)). Heads and loss come from lightly.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from torch import Tensor, nn

from models.encoders import Encoder


class SSLOutput(NamedTuple):
    """What a contrastive model returns for a pair of views.

    Attributes:
        loss: Scalar contrastive loss.
        z_a: ``(B, P)`` projections of the first views.
        z_b: ``(B, P)`` projections of the second views (row i is the positive of ``z_a[i]``).
    """

    loss: Tensor
    z_a: Tensor
    z_b: Tensor


@torch.no_grad()
def embed_images(encoder: Encoder, images: Tensor, *, batch_size: int = 256) -> Tensor:
    """L2-normalised encoder features in eval mode; the encoder's train/eval mode is restored.

    Args:
        encoder: Any registered encoder.
        images: ``(N, C, H, W)`` float, already normalised (see ``models.ssl.augment.prepare_images``).
        batch_size: Images per forward pass.

    Returns:
        ``(N, D)`` unit-length features.
    """
    was_training = encoder.training
    encoder.eval()
    try:
        feats = [encoder(chunk) for chunk in images.split(batch_size)]
    finally:
        encoder.train(was_training)
    return F.normalize(torch.cat(feats), dim=1)


class SimCLR(nn.Module):
    """Encoder + SimCLR projection head + NT-Xent loss.

    Both views go through the encoder as one ``(2B, C, H, W)`` batch (one BatchNorm
    statistic over all views, as in SimCLR's global BN).

    Args:
        encoder: The network being pretrained; its ``feature_dim`` sets the head input.
        projection_dim: Width P of the projections (paper 004: 128).
        hidden_dim: Hidden width of the head (default: ``encoder.feature_dim``).
        temperature: NT-Xent temperature (paper 004's code: 0.1).
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection_head = SimCLRProjectionHead(
            input_dim=encoder.feature_dim,
            hidden_dim=hidden_dim or encoder.feature_dim,
            output_dim=projection_dim,
        )
        self.criterion = NTXentLoss(temperature=temperature)

    def forward(self, view_a: Tensor, view_b: Tensor) -> SSLOutput:
        """Loss for two ``(B, C, H, W)`` batches of views; row i of each shows the same image."""
        z = self.projection_head(self.encoder(torch.cat([view_a, view_b])))
        z_a, z_b = z.chunk(2)
        return SSLOutput(loss=self.criterion(z_a, z_b), z_a=z_a, z_b=z_b)

    def embed(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> ``(N, D)`` L2-normalised encoder features (eval mode, no grad)."""
        return embed_images(self.encoder, images)
