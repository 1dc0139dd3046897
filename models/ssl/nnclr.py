"""NNCLR: contrastive learning with nearest-neighbour positives from a support queue.

Dwibedi et al., "With a Little Help from My Friends: Nearest-Neighbor Contrastive
Learning of Visual Representations", ICCV 2021; paper 004 uses a queue of 10,000 for a
simple ConvNet and temperature 0.1. Heads, queue and loss come from lightly.
"""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import NNCLRPredictionHead, NNCLRProjectionHead, NNMemoryBankModule
from torch import Tensor, nn

from models.encoders import Encoder
from models.ssl.simclr import SSLOutput, embed_images

PAPER_QUEUE_SIZE = 10_000


def queue_size_for(n_images: int, *, minimum: int = 256) -> int:
    """Queue length for a project of ``n_images``: the paper's 10,000, fewer for small projects.

    A queue longer than the image pool only holds stale copies (and, at start, random vectors).
    """
    return max(minimum, min(PAPER_QUEUE_SIZE, n_images))


class NNCLR(nn.Module):
    """Encoder + NNCLR projection / prediction heads + nearest-neighbour queue + NT-Xent.

    ``loss = (NTXent(NN(z_a), p_b) + NTXent(NN(z_b), p_a)) / 2`` where ``NN`` looks up the
    closest projection in the queue; the queue is updated FIFO with ``z_b`` in training mode.

    Args:
        encoder: The network being pretrained.
        projection_dim: Width P of projections and predictions (paper 004: 128).
        hidden_dim: Hidden width of the projection head (default: ``encoder.feature_dim``).
        prediction_hidden_dim: Hidden width of the prediction head (default: ``4 * projection_dim``).
        queue_size: Support-set length (paper: 10,000; see ``queue_size_for``).
        temperature: NT-Xent temperature (paper 004's code: 0.1).
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        prediction_hidden_dim: int | None = None,
        queue_size: int = PAPER_QUEUE_SIZE,
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection_head = NNCLRProjectionHead(
            input_dim=encoder.feature_dim,
            hidden_dim=hidden_dim or encoder.feature_dim,
            output_dim=projection_dim,
        )
        self.prediction_head = NNCLRPredictionHead(
            input_dim=projection_dim,
            hidden_dim=prediction_hidden_dim or 4 * projection_dim,
            output_dim=projection_dim,
        )
        self.memory_bank = NNMemoryBankModule(size=(queue_size, projection_dim))
        self.criterion = NTXentLoss(temperature=temperature)

    def forward(self, view_a: Tensor, view_b: Tensor) -> SSLOutput:
        """Loss for two ``(B, C, H, W)`` batches of views; ``z_a``, ``z_b`` are the projections."""
        z = self.projection_head(self.encoder(torch.cat([view_a, view_b])))
        p = self.prediction_head(z)
        z_a, z_b = z.chunk(2)
        p_a, p_b = p.chunk(2)
        nn_a = self.memory_bank(z_a.detach(), update=False)
        nn_b = self.memory_bank(z_b.detach(), update=self.training)
        loss = 0.5 * (self.criterion(nn_a, p_b) + self.criterion(nn_b, p_a))
        return SSLOutput(loss=loss, z_a=z_a, z_b=z_b)

    def embed(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> ``(N, D)`` L2-normalised encoder features (eval mode, no grad)."""
        return embed_images(self.encoder, images)
