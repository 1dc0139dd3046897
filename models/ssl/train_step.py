"""One epoch of contrastive pretraining as a generator of per-step statistics.

The caller (a job in ``core``) drives the generator, forwards each ``StepStats`` as
progress and stops between steps by making ``cancel()`` return True.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.ssl.simclr import SSLOutput

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepStats:
    """Statistics of one optimisation step.

    Attributes:
        step: 1-based step index within the epoch.
        loss: Contrastive loss of the step.
        accuracy: Fraction of first views whose most similar second view (cosine, among
            the batch) is their own positive.
        images_per_s: Source images (each seen as two views) per second, batch loading and
            augmentation included.
        batch_size: Source images in the step.
    """

    step: int
    loss: float
    accuracy: float
    images_per_s: float
    batch_size: int


@torch.no_grad()
def contrastive_accuracy(z_a: Tensor, z_b: Tensor) -> float:
    """Top-1 accuracy of finding ``z_b[i]`` as the nearest of all ``z_b`` to ``z_a[i]``; ``(B, P)`` each."""
    sim = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T
    target = torch.arange(z_a.shape[0], device=z_a.device)
    return (sim.argmax(dim=1) == target).float().mean().item()


def ssl_epoch(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    cancel: Callable[[], bool] | None = None,
    channels_last: bool = True,
) -> Iterator[StepStats]:
    """Train ``model`` (a ``SimCLR`` or ``NNCLR``) for one pass over ``batches``.

    Args:
        model: Returns an ``SSLOutput`` from ``model(view_a, view_b)``.
        batches: Pairs of ``(B, C, H, W)`` views (e.g. ``augment(images)`` per loader batch).
            Pick B so that one step takes well under 0.5 s if progress must be smooth.
        optimizer: Optimiser over ``model``'s parameters.
        cancel: Checked before each step; when it returns True the epoch stops.
        channels_last: Run model and inputs in ``torch.channels_last`` (1.3-1.9x for conv
            nets on CPU). The model's parameters are converted in place once, before the
            first step, so create the optimiser state after or keep the setting fixed.

    Yields:
        One ``StepStats`` per step.
    """
    model.train()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    iterator = iter(batches)
    step = 0
    t_prev = time.perf_counter()
    while cancel is None or not cancel():
        try:
            view_a, view_b = next(iterator)
        except StopIteration:
            return
        view_a = view_a.contiguous(memory_format=memory_format)
        view_b = view_b.contiguous(memory_format=memory_format)
        out: SSLOutput = model(view_a, view_b)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        step += 1
        now = time.perf_counter()
        batch_size = view_a.shape[0]
        stats = StepStats(
            step=step,
            loss=out.loss.item(),
            accuracy=contrastive_accuracy(out.z_a, out.z_b),
            images_per_s=batch_size / max(now - t_prev, 1e-9),
            batch_size=batch_size,
        )
        t_prev = now
        yield stats
    logger.info("ssl_epoch cancelled after %d steps", step)
