"""Paper 001's total loss: 3-view self-contrastive loss + ArcFace cross-entropy.

Thai Tieu Phuong, Duong Duc Tin, Le Hong Trang, "Improving Image Representation for
Surface Defect Recognition with Small Data", 2024:

* Eq. 2: ``L_Con = 1/(3N) sum_n [l(x_n, x_i) + l(x_n, x_j) + l(x_i, x_j)]`` over an anchor
  ``x_n`` and two augmented views ``x_i``, ``x_j``; ``l`` is SimCLR's NT-Xent (Eq. 1), tau = 0.5.
* Eq. 4: ArcFace cross-entropy on the anchor's 128-d projection, m = 0.5.
* Eq. 5: ``L_Total = alpha * L_Con + beta * L_Arc`` with alpha = 0.75, beta = 0.25.

Choices the paper leaves open (how each pairwise term is normalised, what labels add),
made here: each pairwise term is a symmetric NT-Xent over the pair's 2N embeddings; when
labels are given it becomes the supervised-contrastive form (Khosla et al., NeurIPS
2020), where same-class rows are positives too (rows labelled ``-1``, i.e. unlabeled,
only have their own other view); ArcFace is applied to the labelled anchors only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from models.fewshot.arcface import ArcFaceHead

ALPHA = 0.75
BETA = 0.25
TEMPERATURE = 0.5


class FewShotLoss(NamedTuple):
    """Scalar loss terms.

    Attributes:
        total: ``alpha * contrastive + beta * arcface``.
        contrastive: 3-view self-contrastive loss L_Con.
        arcface: ArcFace cross-entropy L_Arc (0 when no row is labelled).
    """

    total: Tensor
    contrastive: Tensor
    arcface: Tensor


def pair_contrastive_loss(
    z_a: Tensor, z_b: Tensor, labels: Tensor | None = None, *, temperature: float = TEMPERATURE
) -> Tensor:
    """NT-Xent (paper 001 Eq. 1) over the 2B embeddings of one pair of views.

    Args:
        z_a: ``(B, P)`` embeddings of the first views.
        z_b: ``(B, P)`` embeddings of the second views; row k is the positive of ``z_a[k]``.
        labels: Optional ``(B,)`` int64; rows with equal labels ``>= 0`` are positives too
            (supervised-contrastive form). ``None`` gives plain SimCLR NT-Xent.
        temperature: tau (paper 001: 0.5).

    Returns:
        Scalar loss averaged over the 2B anchors.
    """
    batch = z_a.shape[0]
    eye, positive = _pair_masks(batch, labels, z_a.device)
    return _pair_loss(F.normalize(torch.cat([z_a, z_b]), dim=1), eye, positive, temperature)


def _pair_masks(batch: int, labels: Tensor | None, device: torch.device) -> tuple[Tensor, Tensor]:
    """The self mask and the positive mask of one pair's ``2 * batch`` rows (the same for
    every pair of views of one batch, so built once per step)."""
    eye = torch.eye(2 * batch, dtype=torch.bool, device=device)
    index = torch.arange(batch, device=device)
    positive = torch.zeros_like(eye)
    positive[index, index + batch] = True
    positive[index + batch, index] = True
    if labels is not None:
        both = torch.cat([labels, labels])
        same = (both[:, None] == both[None, :]) & (both[:, None] >= 0)
        positive = (positive | same) & ~eye
    return eye, positive


def _pair_loss(z: Tensor, eye: Tensor, positive: Tensor, temperature: float) -> Tensor:
    """NT-Xent over ``z``, the unit-length embeddings of both views stacked."""
    sim = (z @ z.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    log_prob = log_prob.masked_fill(~positive, 0.0)
    return -(log_prob.sum(dim=1) / positive.sum(dim=1)).mean()


def self_contrastive_loss(
    z_n: Tensor, z_i: Tensor, z_j: Tensor, labels: Tensor | None = None, *, temperature: float = TEMPERATURE
) -> Tensor:
    """Paper 001 Eq. 2: the mean of the anchor-view1, anchor-view2 and view1-view2 terms.

    Args:
        z_n: ``(B, P)`` anchor embeddings.
        z_i: ``(B, P)`` embeddings of the first augmented views.
        z_j: ``(B, P)`` embeddings of the second augmented views.
        labels: Optional ``(B,)`` int64, ``-1`` for unlabeled rows (see ``pair_contrastive_loss``).
        temperature: tau (paper 001: 0.5).

    Returns:
        Scalar L_Con.
    """
    eye, positive = _pair_masks(z_n.shape[0], labels, z_n.device)
    n, i, j = (F.normalize(z, dim=1) for z in (z_n, z_i, z_j))
    pairs = ((n, i), (n, j), (i, j))
    return sum(_pair_loss(torch.cat([a, b]), eye, positive, temperature) for a, b in pairs) / 3.0


def fewshot_loss(
    head: ArcFaceHead,
    z_n: Tensor,
    z_i: Tensor,
    z_j: Tensor,
    labels: Tensor,
    *,
    alpha: float = ALPHA,
    beta: float = BETA,
    temperature: float = TEMPERATURE,
) -> FewShotLoss:
    """Paper 001 Eq. 5: ``alpha * L_Con + beta * L_Arc``.

    Args:
        head: The ArcFace head (in training mode for the margin to apply).
        z_n: ``(B, P)`` anchor embeddings (ArcFace is applied to these).
        z_i: ``(B, P)`` first-view embeddings.
        z_j: ``(B, P)`` second-view embeddings.
        labels: ``(B,)`` int64 class indices, ``-1`` for unlabeled rows.
        alpha: Weight of L_Con (paper 001: 0.75).
        beta: Weight of L_Arc (paper 001: 0.25).
        temperature: tau of L_Con (paper 001: 0.5).

    Returns:
        ``FewShotLoss`` of scalars.
    """
    contrastive = self_contrastive_loss(z_n, z_i, z_j, labels, temperature=temperature)
    labelled = labels >= 0
    if bool(labelled.any()):
        out = head(z_n[labelled], labels[labelled])
        arcface = F.cross_entropy(out.logits, labels[labelled])
    else:
        arcface = z_n.new_zeros(())
    return FewShotLoss(total=alpha * contrastive + beta * arcface, contrastive=contrastive, arcface=arcface)
