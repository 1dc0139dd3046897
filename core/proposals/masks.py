"""From a difference map to a proposed mask and an image score (paper 003's SSIM + Otsu
segmentation, with the rules it leaves out).

A difference map is float32 in [0, 1], 0 where an image and its repair agree (ISU-GAN:
1 - SSIM) or where a patch looks like the OK images (the nearest-neighbour proposer).
Paper 003 thresholds it with Otsu's method and stops there; but Otsu always splits a
histogram, so an OK image would get a mask too. Three rules close the gap (the brief,
part B5 / B8):

* **cut** = max(Otsu's level of the image, the **floor**), and only pixels above the cut
  are proposed: the floor is an absolute level learned from OK images (:func:`learn_floor`),
  so an OK image proposes nothing;
* components smaller than :attr:`ProposalRule.min_area_share` of the image (at least
  :data:`MIN_AREA_PX` pixels) are dropped;
* the image **score** (:func:`image_score`) is the level that the strongest
  ``min_area`` pixels of the map reach (its k-th largest value): an image whose score is
  at or below the cut has no component big enough to propose. The image-level decision
  compares the score with a threshold chosen on labeled images (best F1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MIN_AREA_PX = 9  # a component smaller than this is never proposed (a 3x3 blob)
BINS = 256


@dataclass(frozen=True)
class ProposalRule:
    """How a run turns difference maps into masks; stored with the run.

    Attributes:
        floor: the lowest difference that may be proposed (learned from OK images).
        min_area_share: the smallest component proposed, as a share of the image's pixels.
        score_threshold: images scoring at or above it are called defective.
    """

    floor: float
    min_area_share: float = 0.001
    score_threshold: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ProposalRule:
        return cls(**{k: data[k] for k in ("floor", "min_area_share", "score_threshold") if k in data})


def min_area(height: int, width: int, share: float) -> int:
    """The smallest component kept in an image of ``height`` x ``width`` pixels."""
    return max(MIN_AREA_PX, int(round(share * height * width)))


def otsu_level(difference: np.ndarray, bins: int = BINS) -> float:
    """Otsu's threshold of the values of ``difference`` (in [0, 1]): the level between two
    histogram bins that maximises the between-class variance; 1 for a constant map."""
    values = np.clip(np.asarray(difference, dtype=np.float64).ravel(), 0.0, 1.0)
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    between[(weight_low == 0) | (weight_high == 0)] = -1.0
    k = int(np.argmax(between))
    return float(edges[k + 1]) if between[k] > 0 else 1.0


def image_score(difference: np.ndarray, share: float) -> float:
    """The difference level reached by the strongest :func:`min_area` pixels of the map."""
    flat = np.asarray(difference, dtype=np.float32).ravel()
    k = min(flat.size, min_area(*np.shape(difference), share))
    return float(np.partition(flat, flat.size - k)[flat.size - k])


def cut_level(difference: np.ndarray, floor: float) -> float:
    """Where this image's proposal cuts: Otsu's level of the map, never below the floor."""
    return max(otsu_level(difference), float(floor))


def propose_mask(difference: np.ndarray, cut: float, share: float) -> np.ndarray:
    """bool mask of the components of ``difference > cut`` (8-connected) of at least
    :func:`min_area` pixels."""
    from scipy import ndimage

    above = np.asarray(difference) > cut
    if not above.any():
        return above
    labeled, count = ndimage.label(above, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labeled.ravel(), minlength=count + 1)
    keep = sizes >= min_area(*above.shape, share)
    keep[0] = False
    return keep[labeled]


def learn_floor(ok_scores: np.ndarray, quantile: float = 0.98) -> float:
    """The floor from the scores of OK images: their ``quantile``. An image scoring at or
    below it has fewer than :func:`min_area` pixels above it, so it proposes nothing: at
    most one OK image in fifty (the default) proposes a mask."""
    scores = np.asarray(ok_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("learning the floor needs OK images")
    return float(np.quantile(scores, quantile))


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """A float map stretched to ``height`` x ``width`` (pixel centres on pixel centres,
    bilinear): how a map at the working scale lines up with the image."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape == (height, width):
        return values
    from PIL import Image as PILImage

    image = PILImage.fromarray(values)  # float32: mode "F"
    return np.asarray(image.resize((width, height), PILImage.Resampling.BILINEAR), dtype=np.float32)
