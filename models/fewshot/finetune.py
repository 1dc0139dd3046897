"""The thorough path of paper 001: fine-tune the pretrained encoder on the labeled images.

Encoder + projection MLP + ArcFace head are trained end to end with
``alpha * L_Con + beta * L_Arc`` (Eq. 5) on three views of every labelled image: the
anchor (the clean, resized image; ArcFace acts on it) and two random augmentations
(crops, flips, 90-degree turns, brightness/contrast). Batches are class-balanced. The
encoder's BatchNorm statistics stay frozen (eval mode): with a few dozen labels, batch
statistics of 3 x 32 images would drag them away from what the whole project taught
the encoder in pretraining. Returns the fine-tuned encoder; the projection and head
are discarded, and the fast head path is refitted on the new embeddings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.fewshot.arcface import ArcFaceHead
from models.fewshot.losses import ALPHA, BETA, TEMPERATURE, FewShotLoss, fewshot_loss
from models.ssl.augment import TwoViewAugment, prepare_images


class FinetuneCancelled(RuntimeError):
    """``finetune_encoder`` stopped because ``cancel()`` returned True."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of the fine-tune path (paper 001 values marked; the rest ours).

    Attributes:
        steps: Optimiser steps (ours: measured on 2 cores, about 0.2 s per step at 96 px).
        batch: Labelled images per step, class-balanced; each enters as three views.
        lr: Adam learning rate of the projection and head (paper 001: 5e-4).
        encoder_lr: Learning rate of the pretrained encoder (ours: 10x lower, keep what
            pretraining learned).
        embed_dim: Projection width (paper 001: 128).
        scale: ArcFace s (ours, as the head path).
        margin: ArcFace m (paper 001: 0.5).
        alpha: Weight of L_Con (paper 001: 0.75).
        beta: Weight of L_Arc (paper 001: 0.25).
        tau: Contrastive temperature (paper 001: 0.5).
    """

    steps: int = 120
    batch: int = 32
    lr: float = 5e-4
    encoder_lr: float = 5e-5
    embed_dim: int = 128
    scale: float = 16.0
    margin: float = 0.5
    alpha: float = ALPHA
    beta: float = BETA
    tau: float = TEMPERATURE


def _feature_dim(encoder: nn.Module, size: int) -> int:
    with torch.no_grad():
        was = encoder.training
        encoder.eval()
        device = next(encoder.parameters()).device
        dim = encoder(torch.zeros(1, 1, size, size, device=device)).shape[1]
        encoder.train(was)
    return int(dim)


def _freeze_batchnorm(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def finetune_steps(
    encoder: nn.Module,
    pixels: Tensor,
    labels: Tensor,
    *,
    size: int,
    n_classes: int,
    config: FinetuneConfig | None = None,
    seed: int = 0,
    cancel: Callable[[], bool] | None = None,
    device: torch.device | str = "cpu",
) -> Iterator[FewShotLoss]:
    """Fine-tune ``encoder`` in place; yields the loss of every step.

    Args:
        encoder: The pretrained encoder (1 input channel).
        pixels: ``(N, 1, S, S)`` uint8 labelled images (the pixel cache).
        labels: ``(N,)`` int64 class indices in ``[0, n_classes)``.
        size: The encoder's input side.
        n_classes: C.
        config: Settings; ``FinetuneConfig()`` by default.
        seed: Seeds the projection, head, sampling and augmentations.
        cancel: Checked before every step; True raises ``FinetuneCancelled``.
        device: Where the encoder (moved there in place), projection and head train. The
            sampling and augmentations stay on the CPU (one CPU generator), so a seed
            shows the same images on every device.
    """
    config = config or FinetuneConfig()
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        projection = nn.Sequential(nn.Linear(_feature_dim(encoder, size), 256), nn.ReLU(inplace=True),
                                   nn.Linear(256, config.embed_dim))
        head = ArcFaceHead(config.embed_dim, n_classes, scale=config.scale, margin=config.margin)
    encoder.to(device)
    projection.to(device)
    head.to(device)
    optimizer = torch.optim.Adam([
        {"params": encoder.parameters(), "lr": config.encoder_lr},
        {"params": [*projection.parameters(), *head.parameters()], "lr": config.lr},
    ])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.steps))
    augment = TwoViewAugment(size=size)
    by_class = [torch.nonzero(labels == c).flatten() for c in range(n_classes) if bool((labels == c).any())]
    per_class = max(1, math.ceil(config.batch / len(by_class)))
    encoder.train()
    _freeze_batchnorm(encoder)
    projection.train()
    head.train()
    try:
        for _ in range(config.steps):
            if cancel is not None and cancel():
                raise FinetuneCancelled("fine-tuning cancelled")
            rows = torch.cat([r[torch.randint(len(r), (per_class,), generator=generator)] for r in by_class])
            batch = pixels[rows]
            view_i, view_j = augment(batch, generator)
            anchor = prepare_images(batch, size=size)
            z = projection(encoder(torch.cat([anchor, view_i, view_j]).to(device)))
            z_n, z_i, z_j = z.chunk(3)
            loss = fewshot_loss(head, z_n, z_i, z_j, labels[rows].to(device), alpha=config.alpha, beta=config.beta,
                                temperature=config.tau)
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            optimizer.step()
            schedule.step()
            yield FewShotLoss(total=loss.total.detach(), contrastive=loss.contrastive.detach(),
                              arcface=loss.arcface.detach())
    finally:
        encoder.eval()


def finetune_encoder(encoder: nn.Module, pixels: Tensor, labels: Tensor, **kwargs) -> nn.Module:
    """Runs ``finetune_steps`` to the end; returns the encoder (in eval mode)."""
    for _ in finetune_steps(encoder, pixels, labels, **kwargs):
        pass
    return encoder


__all__ = ["FinetuneCancelled", "FinetuneConfig", "finetune_encoder", "finetune_steps"]
