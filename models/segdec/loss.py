"""Losses and the balance between them for mixed supervision (paper 002, Božič et al.).

Per image, γ is 1 where its pixels are known (a mask, or an OK image: an empty mask) and
0 for defective images with an image label only, so the segmentation term never sees a
guess for them. Two ways of combining the terms:

- ``"joint"`` (the app's default): ``L = δ · L_dec + w · γ · L_seg`` with constant
  weights, the decision loss reaching the features too. Masks add to what the image
  labels teach from the first step on; nothing waits for a schedule to turn.
- ``"mixed"`` (paper 002): ``L = θ · γ · L_seg + (1 − θ) · δ · L_dec`` with θ decaying
  per epoch, θ_n = (1 − β)^n (its Eq. 4 read as a per-epoch multiplicative decay: the
  paper does not say per step or per epoch), Božič's linear 1 − n / N, or constant. With ``beta=None`` β is derived
  from the number of epochs so that θ ends at 0.42, where the paper's own (β, epochs)
  pairs end (0.40 - 0.45). Paper 002 runs it with Božič's gradient-flow stop.
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
        return max(0.0, 1.0 - epoch / max(1, epochs))
    if schedule == "constant":  # Božič without dynamic balancing (his setting with no pixel labels)
        return 0.5
    raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")


def segmentation_loss(seg_logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                      kind: str = "bce") -> torch.Tensor:
    """Per-image segmentation loss (B,): weighted BCE on the logits (Božič), or MSE of the
    sigmoid against the target (paper 002), averaged over the cells of non-zero weight."""
    if kind == "bce":
        pixel = F.binary_cross_entropy_with_logits(seg_logits, target, reduction="none")
    elif kind == "mse":
        pixel = (torch.sigmoid(seg_logits) - target) ** 2
    else:
        raise ValueError(f"unknown segmentation loss {kind!r}; choose from {', '.join(SEG_LOSSES)}")
    cells = (weight > 0).flatten(1).sum(dim=1).clamp_min(1)
    return (pixel * weight).flatten(1).sum(dim=1) / cells


def mixed_loss(decision_logits: torch.Tensor, seg_logits: torch.Tensor, label: torch.Tensor,
               target: torch.Tensor, weight: torch.Tensor, has_mask: torch.Tensor, theta_value: float | None,
               delta: float = 1.0, seg_kind: str = "bce", seg_weight: float = 1.0,
               decides: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The batch loss and its parts.

    Args:
        decision_logits: (B,); label: (B,) 1 = defective.
        seg_logits, target, weight: (B, 1, h, w); target and weight are ignored where
            ``has_mask`` (B,) is False (γ = 0); weight 0 marks cells outside the image.
        theta_value: paper 002's balance θ; None combines the terms jointly
            (``delta`` · decision + ``seg_weight`` · segmentation).
        decides: (B,) bool, optional: the images whose decision is taught (whole images;
            crops teach only the segmentation).
    """
    dec = F.binary_cross_entropy_with_logits(decision_logits, label.float(), reduction="none")
    if decides is not None:
        dec = dec * decides.to(dec.dtype)
    known = has_mask[:, None, None, None]
    # whatever stands in an unmasked image's target never enters the graph (not even as NaN * 0)
    target = torch.where(known, target, torch.zeros_like(target))
    weight = torch.where(known, weight, torch.zeros_like(weight))
    seg = segmentation_loss(seg_logits, target, weight, seg_kind)
    gamma = has_mask.to(seg.dtype)
    if theta_value is None:
        total = (delta * dec + seg_weight * gamma * seg).mean()
    else:
        total = (theta_value * gamma * seg + (1.0 - theta_value) * delta * dec).mean()
    masked = int(has_mask.sum())
    deciding = int(decides.sum()) if decides is not None else len(dec)
    return total, {"decision loss": float(dec.detach().sum() / deciding) if deciding else float("nan"),
                   "segmentation loss": float(seg.detach().sum() / masked) if masked else float("nan")}


def cell_targets(mask: np.ndarray | None, shape: tuple[int, int], stride: int = 8, p: float = 0.0,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(target, weight), both float32 (ceil(h/8), ceil(w/8)), of a binary mask of an image
    region of ``shape`` (h, w) (None: no defect pixels).

    A cell is a defect cell when any of its pixels is (a one-pixel blowhole or a crack
    one pixel wide must not vanish at 1/8). With ``p`` > 0 the weights follow Božič's
    distance transform: 1 on background; inside a defect (d / d_max)^p of the distance
    to the nearest background cell, so the uncertain border of a coarse mask counts
    little and its core fully.
    """
    height, width = shape
    cells_h, cells_w = -(-height // stride), -(-width // stride)
    weight = np.ones((cells_h, cells_w), np.float32)
    if mask is None or not mask.any():
        return np.zeros((cells_h, cells_w), np.float32), weight
    grid = np.zeros((cells_h * stride, cells_w * stride), bool)
    grid[:height, :width] = mask[:height, :width]
    binary = grid.reshape(cells_h, stride, cells_w, stride).any(axis=(1, 3))
    if p > 0:
        from scipy.ndimage import distance_transform_edt

        distance = distance_transform_edt(binary)
        weight[binary] = (distance[binary] / distance.max()) ** p
    return binary.astype(np.float32), weight


def mask_targets(mask: np.ndarray | None, size: int, stride: int = 8, p: float = 2.0,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cell_targets` of a square ``size`` x ``size`` mask with Božič's weights."""
    return cell_targets(mask, (size, size), stride, p)
