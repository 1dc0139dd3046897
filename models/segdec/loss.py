"""Losses and the balance between them for mixed supervision (paper 002, Božič et al.).

``L = θ · γ · L_seg + (1 − θ) · δ · L_dec`` per image, where γ is 1 for images whose
pixels are known (a mask, or an OK image: an empty mask) and 0 for defective images with
an image label only, so the segmentation term never sees a guess for them.

θ follows paper 002's decay θ_n = (1 − β)^n per epoch (its Eq. 4 read as a per-epoch
multiplicative decay; see brief A8), Božič's linear 1 − n / N, or constant (Božič's
runs without pixel labels switch the balancing off). With ``beta=None`` β
is derived from the number of epochs so that θ ends at 0.42, where the paper's own
(β, epochs) pairs end (0.40 - 0.45): runs shorter than the paper's keep its shape.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

SCHEDULES = ("decay", "linear", "constant")
SEG_LOSSES = ("bce", "mse")
THETA_END = 0.42


def decay_beta(epochs: int, end: float = THETA_END) -> float:
    """β with (1 − β)^epochs = ``end``."""
    return 1.0 - end ** (1.0 / max(1, epochs))


def theta(epoch: int, epochs: int, schedule: str = "decay", beta: float | None = None) -> float:
    """Weight of the segmentation term in ``epoch`` (0-based) of ``epochs``."""
    if schedule == "decay":
        b = decay_beta(epochs) if beta is None else beta
        return float((1.0 - b) ** epoch)
    if schedule == "linear":
        return 1.0 - epoch / max(1, epochs)
    if schedule == "constant":  # Božič without dynamic balancing (his setting with no pixel labels)
        return 0.5
    raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")


def segmentation_loss(seg_logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                      kind: str = "bce") -> torch.Tensor:
    """Per-image segmentation loss (B,): distance-weighted BCE on the logits (Božič), or
    MSE of the sigmoid against the target (paper 002), averaged over pixels."""
    if kind == "bce":
        pixel = F.binary_cross_entropy_with_logits(seg_logits, target, reduction="none")
    elif kind == "mse":
        pixel = (torch.sigmoid(seg_logits) - target) ** 2
    else:
        raise ValueError(f"unknown segmentation loss {kind!r}; choose from {', '.join(SEG_LOSSES)}")
    return (pixel * weight).flatten(1).mean(dim=1)


def mixed_loss(decision_logits: torch.Tensor, seg_logits: torch.Tensor, label: torch.Tensor,
               target: torch.Tensor, weight: torch.Tensor, has_mask: torch.Tensor, theta_value: float,
               delta: float = 1.0, seg_kind: str = "bce") -> tuple[torch.Tensor, dict[str, float]]:
    """The batch loss and its parts.

    Args:
        decision_logits: (B,); label: (B,) 1 = defective.
        seg_logits, target, weight: (B, 1, h, w); target and weight are ignored where
            ``has_mask`` (B,) is False (γ = 0).
    """
    dec = F.binary_cross_entropy_with_logits(decision_logits, label.float(), reduction="none")
    known = has_mask[:, None, None, None]
    # whatever stands in an unmasked image's target never enters the graph (not even as NaN * 0)
    target = torch.where(known, target, torch.zeros_like(target))
    weight = torch.where(known, weight, torch.zeros_like(weight))
    seg = segmentation_loss(seg_logits, target, weight, seg_kind)
    gamma = has_mask.float()
    total = (theta_value * gamma * seg + (1.0 - theta_value) * delta * dec).mean()
    masked = int(has_mask.sum())
    return total, {"decision loss": float(dec.detach().mean()),
                   "segmentation loss": float(seg.detach().sum() / masked) if masked else float("nan")}


def mask_targets(mask: np.ndarray | None, size: int, stride: int = 8, p: float = 2.0,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(target, weight), both float32 (size/stride, size/stride), of a binary mask already
    at ``size`` x ``size`` (None: no defect pixels).

    A cell is a defect cell when any of its pixels is (a one-pixel blowhole must not
    vanish at 1/8). Weights follow Božič's distance transform: 1 on background; inside a
    defect (d / d_max)^p of the distance to the nearest background cell, so the uncertain
    border of a coarse mask counts little and its core fully.
    """
    cells = size // stride
    if mask is None or not mask.any():
        return np.zeros((cells, cells), np.float32), np.ones((cells, cells), np.float32)
    binary = mask[:cells * stride, :cells * stride].reshape(cells, stride, cells, stride).any(axis=(1, 3))
    from scipy.ndimage import distance_transform_edt

    distance = distance_transform_edt(binary)
    weight = np.ones((cells, cells), np.float32)
    weight[binary] = (distance[binary] / distance.max()) ** p
    return binary.astype(np.float32), weight
