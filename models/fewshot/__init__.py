"""Few-label classification after paper 001: 3-view self-contrastive loss + ArcFace margin.

Thai Tieu Phuong, Duong Duc Tin, Le Hong Trang, "Improving Image Representation for
Surface Defect Recognition with Small Data", 2024. ``fit_head`` is the fast path on
cached embeddings; ``calibration`` turns its logits into calibrated probabilities.
"""

from models.fewshot.arcface import ArcFaceHead, ArcFaceOutput
from models.fewshot.calibration import ece, fit_temperature, heldout_folds, softmax
from models.fewshot.fitting import FitCancelled
from models.fewshot.head import FittedHead, HeadConfig, Prediction, fit_head
from models.fewshot.losses import FewShotLoss, fewshot_loss, pair_contrastive_loss, self_contrastive_loss

__all__ = [
    "ArcFaceHead",
    "ArcFaceOutput",
    "FewShotLoss",
    "FitCancelled",
    "FittedHead",
    "HeadConfig",
    "Prediction",
    "ece",
    "fewshot_loss",
    "fit_head",
    "fit_temperature",
    "heldout_folds",
    "pair_contrastive_loss",
    "self_contrastive_loss",
    "softmax",
]
