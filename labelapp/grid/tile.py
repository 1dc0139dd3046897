"""What the grid draws for one image (:class:`Tile`), and the classifier's "unsure" cut of a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.catalog import MaskState
from core.store import ImageClass

UNSURE_SHARE = 0.10  # the least sure tenth of a run's predictions get the "?" mark
UNSURE_MIN_PREDICTIONS = 20  # fewer predictions: no "?" (a tenth of a handful means nothing)


@dataclass(frozen=True)
class Tile:
    """Everything the delegate draws for one image."""

    image_id: int
    name: str
    hash: str
    width: int
    height: int
    label: ImageClass | None
    mask: MaskState
    prediction: ImageClass | None
    confidence: float
    defect: float | None = None  # defect probability of the latest defect-detector run
    defect_threshold: float = 0.5  # that run's decision threshold
    suggestion: int = 0  # rank of the image's open suggestion (1 = label first), 0 when none
    defect_validated: bool = False  # the run may call images defective (core.training.trust)
    disagreement: str | None = None  # classifier and detector disagree: which to believe, in words
    overruled: bool = False  # the detector calls it defective, the classifier (the one to believe) OK
    unsure_below: float = 0.0  # confidences below this are the run's least sure tenth (0: no such cut)

    @property
    def detected(self) -> bool:
        """A validated defect detector calls this image defective."""
        return self.defect_validated and self.defect is not None and self.defect >= self.defect_threshold

    @property
    def unsure(self) -> bool:
        """Unlabeled, and the classifier is among the least sure tenth of its run here."""
        return self.label is None and self.prediction is not None and self.confidence < self.unsure_below


def unsure_cut(pred_class: np.ndarray, pred_conf: np.ndarray) -> float:
    """The confidence below which a prediction is among the run's least sure
    :data:`UNSURE_SHARE` (0 when fewer than :data:`UNSURE_MIN_PREDICTIONS` images are predicted)."""
    predicted = pred_conf[pred_class > 0]
    if len(predicted) < UNSURE_MIN_PREDICTIONS:
        return 0.0
    return float(np.quantile(predicted, UNSURE_SHARE))
