"""Training the paper-001 head: the projection MLP and the loop that fits it with its
ArcFace head on class-balanced batches of feature views (:func:`train`), and what a fit
was given (:class:`FitInputs`), so that the calibration folds train the same way."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from models.fewshot.arcface import ArcFaceHead
from models.fewshot.losses import fewshot_loss

if TYPE_CHECKING:
    from models.fewshot.head import HeadConfig


class FitCancelled(RuntimeError):
    """``fit_head`` stopped because ``cancel()`` returned True."""


def projection_net(in_dim: int, config: HeadConfig) -> nn.Module:
    return nn.Sequential(
        nn.Linear(in_dim, config.hidden_dim), nn.ReLU(inplace=True), nn.Linear(config.hidden_dim, config.embed_dim)
    )


def _balanced_batch(by_class: list[Tensor], size: int, generator: torch.Generator) -> Tensor:
    """Row indices, ``ceil(size / n_present)`` per class present, drawn with replacement."""
    per_class = max(1, math.ceil(size / len(by_class)))
    picks = [rows[torch.randint(len(rows), (per_class,), generator=generator)] for rows in by_class]
    return torch.cat(picks)


def _view(x: Tensor, config: HeadConfig, generator: torch.Generator) -> Tensor:
    noisy = x + config.noise * torch.randn(x.shape, generator=generator)
    keep = torch.rand(x.shape, generator=generator) >= config.dropout
    return noisy * keep / (1.0 - config.dropout)


def train(
    x: Tensor,
    y: Tensor,
    pool: Tensor | None,
    *,
    n_classes: int,
    steps: int,
    config: HeadConfig,
    generator: torch.Generator,
    cancel: Callable[[], bool] | None,
) -> tuple[nn.Module, ArcFaceHead]:
    """Train projection + head on standardised labelled ``x``/``y`` and unlabeled ``pool``."""
    projection = projection_net(x.shape[1], config)
    head = ArcFaceHead(config.embed_dim, n_classes, scale=config.scale, margin=config.margin)
    params = [*projection.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    by_class = [torch.nonzero(y == c).flatten() for c in range(n_classes) if bool((y == c).any())]
    projection.train()
    head.train()
    for _ in range(steps):
        if cancel is not None and cancel():
            raise FitCancelled("fit_head cancelled")
        rows = _balanced_batch(by_class, config.batch_labelled, generator)
        anchor, labels = x[rows], y[rows]
        if pool is not None and len(pool) > 0:
            extra = pool[torch.randint(len(pool), (config.batch_unlabeled,), generator=generator)]
            anchor = torch.cat([anchor, extra])
            labels = torch.cat([labels, torch.full((len(extra),), -1, dtype=torch.int64)])
        views = torch.cat([anchor, _view(anchor, config, generator), _view(anchor, config, generator)])
        z_n, z_i, z_j = projection(views).split(len(anchor))  # one pass for the three views
        loss = fewshot_loss(head, z_n, z_i, z_j, labels, alpha=config.alpha, beta=config.beta, temperature=config.tau)
        optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        optimizer.step()
        schedule.step()
    return projection.eval(), head.eval()


@dataclass(frozen=True)
class FitInputs:
    """What :func:`fit_head` trained on, kept so that :func:`calibrate_head` can train the
    fold heads the same way (standardised tensors; not saved with the head)."""

    x: Tensor
    y: Tensor
    pool: Tensor | None
    n_classes: int
    steps: int
    seed: int
    config: HeadConfig

    def train(self, fold: int | None, cancel: Callable[[], bool] | None, *,
              keep: np.ndarray | None = None) -> tuple[nn.Module, ArcFaceHead]:
        """The head on every row (``fold`` None) or on the rows ``keep`` (fold ``fold``), each
        fit seeded on its own so that the order of the fits does not change any of them."""
        offset = 0 if fold is None else 1 + fold
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1009 + offset)
            generator = torch.Generator().manual_seed(self.seed * 1009 + offset)
            x, y = (self.x, self.y) if keep is None else (self.x[keep], self.y[keep])
            return train(x, y, self.pool, n_classes=self.n_classes, steps=self.steps, config=self.config,
                          generator=generator, cancel=cancel)
