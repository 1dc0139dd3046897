"""The fast path of paper 001: projection + ArcFace head trained on cached embeddings.

Paper 001 (Thai Tieu Phuong et al., 2024) trains encoder, projection and ArcFace head
end to end with ``0.75 * L_Con + 0.25 * L_Arc``. Re-encoding images on every retrain is
too slow on a CPU, so this path keeps the encoder's features fixed and trains only a
small MLP projection (to 128-d, L2-normalised) and the ArcFace head. The two augmented
"views" of the 3-view contrastive loss are feature-space augmentations (gaussian noise +
dropout on standardised features); the anchor is the clean feature. Unlabeled features,
when given, enter the contrastive term with their own views as the only positives.

Labelled rows are drawn class-balanced (with replacement), so a class with one or two
labels weighs as much as one with hundreds. Probabilities come from the eval-mode
ArcFace logits divided by a temperature fitted on out-of-fold logits (see
``models.fewshot.calibration``); ``similarity`` is the paper's scoring rule, the mean
cosine to each class's labelled references.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.fewshot.arcface import ArcFaceHead
from models.fewshot.calibration import fit_temperature, heldout_folds, softmax
from models.fewshot.fitting import FitInputs, projection_net
from models.fewshot.losses import ALPHA, BETA, TEMPERATURE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadConfig:
    """Settings of the head path. Values not from paper 001 are marked "ours".

    Attributes:
        hidden_dim: Hidden width of the projection MLP (ours; the paper leaves it open).
        embed_dim: Projection width d (paper 001: 128).
        scale: ArcFace s (not given by the paper; ours 16: beat 30 on X-SDD handcrafted features).
        margin: ArcFace m (paper 001: 0.5).
        alpha: Weight of L_Con (paper 001: 0.75).
        beta: Weight of L_Arc (paper 001: 0.25).
        tau: Contrastive temperature (paper 001: 0.5).
        lr: Adam learning rate (paper 001: 5e-4 end to end; ours 2e-3 for a small head).
        weight_decay: Adam weight decay (ours).
        noise: Std of the gaussian noise of a view, in standardised feature units (ours).
        dropout: Feature dropout of a view (ours).
        batch_labelled: Labelled rows per step, class-balanced (ours).
        batch_unlabeled: Unlabeled rows per step (ours).
        max_steps: Cap on optimiser steps (ours).
        max_folds: Folds for the cross-validated temperature (ours).
        default_temperature: Temperature when nothing can be held out (ours).
        min_temperature: Lower bound of the fitted temperature (ours: 1, never sharper than
            the trained scale s; all-correct held-out folds would otherwise drive T to 0).
        standardize: "global" (ours, default): centre the features and divide by one scale,
            so blocks keep the relative weights they were given (texture statistics +
            weighted embedding: 79 / 83 / 91 % on X-SDD at 5 / 10 / 20 labels per class);
            "per_feature": unit variance per column (67 / 76 / 83 % on the same features:
            near-constant histogram bins get blown up into noise).
    """

    hidden_dim: int = 256
    embed_dim: int = 128
    scale: float = 16.0
    margin: float = 0.5
    alpha: float = ALPHA
    beta: float = BETA
    tau: float = TEMPERATURE
    lr: float = 2e-3
    weight_decay: float = 1e-4
    noise: float = 0.6
    dropout: float = 0.3
    batch_labelled: int = 64
    batch_unlabeled: int = 64
    max_steps: int = 200
    max_folds: int = 3
    default_temperature: float = 3.0
    min_temperature: float = 1.0
    standardize: str = "global"


class Prediction(NamedTuple):
    """Per-image outputs of ``FittedHead.predict`` (numpy arrays).

    Attributes:
        probabilities: ``(N, C)`` temperature-scaled softmax of the ArcFace logits.
        class_index: ``(N,)`` argmax of ``probabilities``.
        confidence: ``(N,)`` top probability.
        margin: ``(N,)`` top minus second probability.
        entropy: ``(N,)`` entropy of ``probabilities`` in nats.
        similarity: ``(N, C)`` mean cosine to each class's labelled references
            (paper 001's scoring rule; -1 for a class without references).
    """

    probabilities: np.ndarray
    class_index: np.ndarray
    confidence: np.ndarray
    margin: np.ndarray
    entropy: np.ndarray
    similarity: np.ndarray


class FittedHead:
    """A trained projection + ArcFace head with its input standardisation and temperature.

    Args:
        projection: ``(N, D) -> (N, embed_dim)`` module.
        head: The ArcFace head over the projection.
        mean: ``(D,)`` feature mean used for standardisation.
        std: ``(D,)`` feature std.
        temperature: Divides the logits before the softmax.
        references: ``(R, embed_dim)`` unit-length projections of the labelled features.
        reference_labels: ``(R,)`` their classes.
        config: The settings it was trained with.
        validation: ``(rows, predicted class index)`` out of fold: each held-out labelled row
            predicted by the head fitted without its fold (the temperature's folds), or None.
        out_of_fold: ``(len(rows), C)`` the temperature-scaled probabilities behind
            ``validation``, row for row (what confident learning reads), or None.
    """

    def __init__(
        self,
        *,
        projection: nn.Module,
        head: ArcFaceHead,
        mean: Tensor,
        std: Tensor,
        temperature: float,
        references: Tensor,
        reference_labels: Tensor,
        config: HeadConfig,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        out_of_fold: np.ndarray | None = None,
    ) -> None:
        self.validation = validation
        self.out_of_fold = out_of_fold
        self.projection = projection.eval()
        self.head = head.eval()
        self.mean = mean
        self.std = std
        self.temperature = float(temperature)
        self.references = references
        self.reference_labels = reference_labels
        self.config = config
        self.fit_inputs: FitInputs | None = None  # set by fit_head, for calibrate_head

    @property
    def n_classes(self) -> int:
        return self.head.n_classes

    @torch.no_grad()
    def embed(self, features: np.ndarray) -> Tensor:
        """``(N, D)`` features -> ``(N, embed_dim)`` unit-length projections."""
        x = (torch.as_tensor(np.asarray(features), dtype=torch.float32) - self.mean) / self.std
        return F.normalize(self.projection(x), dim=1)

    @torch.no_grad()
    def logits(self, features: np.ndarray) -> np.ndarray:
        """``(N, C)`` eval-mode ArcFace logits ``s * cos(theta)`` (before temperature)."""
        return self.head(self.embed(features)).logits.numpy()

    @torch.no_grad()
    def predict(self, features: np.ndarray) -> Prediction:
        """Classify ``(N, D)`` features; see ``Prediction``."""
        z = self.embed(features)
        logits = self.head(z).logits / self.temperature
        probabilities = torch.softmax(logits.double(), dim=1)
        top2 = probabilities.topk(min(2, self.n_classes), dim=1).values
        second = top2[:, 1] if self.n_classes > 1 else torch.zeros_like(top2[:, 0])
        entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(dim=1)
        similarity = torch.full((len(z), self.n_classes), -1.0)
        cos = z @ self.references.T
        for c in range(self.n_classes):
            mine = self.reference_labels == c
            if bool(mine.any()):
                similarity[:, c] = cos[:, mine].mean(dim=1)
        return Prediction(
            probabilities=probabilities.numpy(),
            class_index=probabilities.argmax(dim=1).numpy(),
            confidence=top2[:, 0].numpy(),
            margin=(top2[:, 0] - second).numpy(),
            entropy=entropy.numpy(),
            similarity=similarity.numpy(),
        )

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values only, so ``torch.load(weights_only=True)`` reads it back."""
        return {
            "config": asdict(self.config),
            "in_dim": int(self.mean.numel()),
            "n_classes": self.n_classes,
            "projection": self.projection.state_dict(),
            "head": self.head.state_dict(),
            "mean": self.mean,
            "std": self.std,
            "temperature": self.temperature,
            "references": self.references,
            "reference_labels": self.reference_labels,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> FittedHead:
        """Rebuild a head saved with ``state_dict``."""
        config = HeadConfig(**state["config"])
        projection = projection_net(state["in_dim"], config)
        projection.load_state_dict(state["projection"])
        head = ArcFaceHead(config.embed_dim, state["n_classes"], scale=config.scale, margin=config.margin)
        head.load_state_dict(state["head"])
        return cls(
            projection=projection,
            head=head,
            mean=state["mean"],
            std=state["std"],
            temperature=state["temperature"],
            references=state["references"],
            reference_labels=state["reference_labels"],
            config=config,
        )


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    epochs: int = 100,
    seed: int = 0,
    unlabeled: np.ndarray | None = None,
    cancel: Callable[[], bool] | None = None,
    calibrate: bool = True,
    config: HeadConfig | None = None,
    temperature: float | None = None,
) -> FittedHead:
    """Train the paper-001 head on cached features, then fit its temperature.

    Args:
        features: ``(N, D)`` features of the labelled images.
        labels: ``(N,)`` int class indices in ``[0, n_classes)``.
        n_classes: C; classes without labels get a reference that is only ever a negative.
        epochs: Passes over the labelled + unlabeled rows, in steps of
            ``batch_labelled + batch_unlabeled`` rows (at least 1 step per epoch; capped by
            ``config.max_steps``).
        seed: Seeds initialisation, sampling and views (global RNG state is left untouched).
        unlabeled: Optional ``(M, D)`` features of unlabeled images (contrastive term and
            standardisation statistics).
        cancel: Checked before every step; True raises ``FitCancelled``.
        calibrate: Fit the temperature on out-of-fold logits (k extra fits, see
            ``models.fewshot.calibration``); otherwise use ``config.default_temperature``.
        config: Settings; ``HeadConfig()`` by default.
        temperature: The temperature when not calibrated (None: ``config.default_temperature``).

    Returns:
        The trained ``FittedHead`` (without ``calibrate``: ``calibrate_head`` fits its
        temperature later).
    """
    config = config or HeadConfig()
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or len(features) != len(labels) or len(labels) == 0:
        raise ValueError(f"need (N, D) features and (N,) labels, got {features.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes})")
    everything = features if unlabeled is None else np.concatenate([features, np.asarray(unlabeled, np.float32)])
    mean = torch.as_tensor(everything.mean(axis=0))
    if config.standardize == "per_feature":
        std = torch.as_tensor(everything.std(axis=0)).clamp_min(1e-6)
    else:  # one scale for all: features keep their relative weights (unit mean squared norm)
        spread = float(np.sqrt(((everything - everything.mean(axis=0)) ** 2).sum(axis=1).mean()))
        std = torch.full((everything.shape[1],), max(spread, 1e-6) / np.sqrt(everything.shape[1]), dtype=torch.float32)
    x = (torch.as_tensor(features) - mean) / std
    y = torch.as_tensor(labels)
    pool = None if unlabeled is None else (torch.as_tensor(np.asarray(unlabeled, np.float32)) - mean) / std
    batch = config.batch_labelled + (0 if pool is None else config.batch_unlabeled)
    steps = min(config.max_steps, epochs * max(1, math.ceil(len(everything) / batch)))
    fit = FitInputs(x=x, y=y, pool=pool, n_classes=n_classes, steps=steps, seed=seed, config=config)
    projection, head = fit.train(None, cancel)
    with torch.no_grad():
        references = F.normalize(projection(x), dim=1)
    fitted = FittedHead(
        projection=projection,
        head=head,
        mean=mean,
        std=std,
        temperature=config.default_temperature if temperature is None else temperature,
        references=references,
        reference_labels=y.clone(),
        config=config,
    )
    fitted.fit_inputs = fit
    if calibrate:
        calibrate_head(fitted, cancel=cancel)
    else:
        logger.info("fit_head: %d labels, %d steps, not calibrated, T=%.3f", len(labels), steps, fitted.temperature)
    return fitted


def calibrate_head(fitted: FittedHead, *, cancel: Callable[[], bool] | None = None) -> bool:
    """Fits ``fitted``'s temperature on out-of-fold logits and sets its ``validation`` and
    ``out_of_fold``: one head per fold, trained as ``fitted`` was without that fold's rows
    (k extra fits). Separate from :func:`fit_head` so that a caller can use the head
    (predict with a provisional temperature: the classes do not depend on it) before the
    folds are trained. False when no fold can be held out (the temperature stays)."""
    fit = fitted.fit_inputs
    if fit is None:
        raise ValueError("calibrate_head needs a head fitted in this process (fit_head)")
    labels = fit.y.numpy()
    folds = heldout_folds(labels, max_folds=fit.config.max_folds, seed=fit.seed)
    if not folds:
        return False
    oof_logits = []
    for k, held in enumerate(folds):
        keep = np.setdiff1d(np.arange(len(labels)), held)
        proj, head = fit.train(k, cancel, keep=keep)
        with torch.no_grad():
            oof_logits.append(head(proj(fit.x[held])).logits.numpy())
    logits = np.concatenate(oof_logits)
    rows = np.concatenate(folds)
    fitted.temperature = fit_temperature(logits, labels[rows], min_temperature=fit.config.min_temperature)
    fitted.validation = (rows, logits.argmax(axis=1))
    fitted.out_of_fold = softmax(logits, fitted.temperature).astype(np.float32)
    logger.info("fit_head: %d labels, %d steps, %d folds, T=%.3f", len(labels), fit.steps, len(folds),
                fitted.temperature)
    return True
