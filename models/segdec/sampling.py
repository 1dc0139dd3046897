"""What the seg-dec net sees in one epoch: which images, whole or cropped, in which batches.

- A defective image known only by its image label is seen whole: the defect could be
  anywhere, and only the whole image is sure to hold it.
- A masked defective image is seen whole half of the time (:data:`MASKED_WHOLE`), else
  as a crop around one of its defects.
- An OK image is seen whole as often as defective images are (so the size of what the
  net sees never tells the label), else as a random crop.

Only whole images teach the decision: it pools over the whole image, and a crop (its
defect large and central) is not what it will see. Crops teach the segmentation, which
is local, at a fraction of the cost on large images.

A batch holds samples of one shape (see :func:`epoch_batches`); an optimiser step
gathers the gradients of as many batches as it takes to see ``batch_size`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.segdec.loss import cell_targets
from models.segdec.net import MIN_STD, STRIDE

if TYPE_CHECKING:
    from models.segdec.train import TrainConfig, TrainData

MASKED_WHOLE = 0.5  # share of masked defective images seen whole (the rest: crops around a defect)


@dataclass(frozen=True)
class Sample:
    index: int
    top: int
    left: int
    height: int
    width: int

    @property
    def whole(self) -> bool:
        return self.top == 0 and self.left == 0


@dataclass(frozen=True)
class Batch:
    pixels: np.ndarray  # (B, H, W) uint8, H and W multiples of 8
    targets: np.ndarray  # (B, H/8, W/8) float32
    weights: np.ndarray  # (B, H/8, W/8) float32
    labels: np.ndarray  # (B,) int64
    has_mask: np.ndarray  # (B,) bool
    decides: np.ndarray  # (B,) bool: whole images, which teach the decision
    stats: np.ndarray  # (B, 2) float32: mean and spread of each sample's whole image (0..1)


def epoch_order(labels: np.ndarray, seen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices for one epoch: every positive and as many negatives, least-seen first
    (``seen`` is updated), shuffled."""
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    take = min(len(negatives), max(len(positives), 1))
    tie = rng.random(len(negatives))
    chosen = negatives[np.lexsort((tie, seen[negatives]))[:take]]
    seen[chosen] += 1
    return rng.permutation(np.concatenate([positives, chosen]))


def plan_samples(data: TrainData, order: np.ndarray, crop: int, rng: np.random.Generator) -> list[Sample]:
    """Where each image of ``order`` is looked at in this epoch."""
    defective = data.labels == 1
    unmasked = float(np.mean(~data.has_mask[defective])) if defective.any() else 1.0
    ok_whole = unmasked + (1.0 - unmasked) * MASKED_WHOLE  # OK images seen whole as often as defective ones
    samples = []
    for index in order.tolist():
        height, width = data.images[index].shape
        mask = data.masks[index]
        fits = crop <= 0 or (height <= crop and width <= crop)
        share = MASKED_WHOLE if data.labels[index] == 1 else ok_whole
        if fits or (data.labels[index] == 1 and mask is None) or rng.random() < share:
            samples.append(Sample(index, 0, 0, height, width))
        else:
            ch, cw = min(crop, height), min(crop, width)
            top, left = _crop_corner(mask, height, width, ch, cw, rng)
            samples.append(Sample(index, top, left, ch, cw))
    return samples


def _crop_corner(mask: np.ndarray | None, height: int, width: int, ch: int, cw: int,
                 rng: np.random.Generator) -> tuple[int, int]:
    """A random crop, or one that holds a random defect pixel of ``mask`` away from its edge."""
    if mask is None or not mask.any():
        return int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
    points = np.argwhere(mask)
    y, x = points[int(rng.integers(len(points)))]
    top = int(y) - int(rng.integers(ch // 8, ch - ch // 8))
    left = int(x) - int(rng.integers(cw // 8, cw - cw // 8))
    return int(np.clip(top, 0, height - ch)), int(np.clip(left, 0, width - cw))


def epoch_batches(data: TrainData, order: np.ndarray, config: TrainConfig, rng: np.random.Generator) -> list[Batch]:
    """The epoch's samples in batches of one shape each, in random order.

    Samples are never padded to each other's size: where sizes differ with the label (as
    they do between the categories of many data sets) the padding would tell the label in
    training and be missing when predicting. Each sample is padded only to a multiple of
    8, as a predicted image is.
    """
    by_shape: dict[tuple[int, int], list[Sample]] = {}
    for sample in plan_samples(data, order, config.crop, rng):
        by_shape.setdefault((_padded(sample.height), _padded(sample.width)), []).append(sample)
    groups: list[list[Sample]] = []
    for (rows, cols), samples in by_shape.items():
        per_batch = max(1, min(config.batch_size, config.batch_pixels // (rows * cols)))
        groups.extend(samples[k:k + per_batch] for k in range(0, len(samples), per_batch))
    return [_collate(data, groups[k], config, rng) for k in rng.permutation(len(groups))]


def _padded(n: int) -> int:
    return n + (-n) % STRIDE


def _collate(data: TrainData, samples: list[Sample], config: TrainConfig, rng: np.random.Generator) -> Batch:
    rows, cols = _padded(samples[0].height), _padded(samples[0].width)
    n = len(samples)
    pixels = np.zeros((n, rows, cols), np.uint8)
    targets = np.zeros((n, rows // STRIDE, cols // STRIDE), np.float32)
    weights = np.zeros((n, rows // STRIDE, cols // STRIDE), np.float32)
    labels = np.zeros(n, np.int64)
    has_mask = np.zeros(n, bool)
    decides = np.zeros(n, bool)
    stats = np.zeros((n, 2), np.float32)
    for k, s in enumerate(samples):
        box = (slice(s.top, s.top + s.height), slice(s.left, s.left + s.width))
        image = np.asarray(data.images[s.index][box])
        mask = data.masks[s.index]
        region = None if mask is None else np.asarray(mask[box])
        if config.flips:
            for axis in (0, 1):
                if rng.random() < 0.5:
                    image = np.flip(image, axis)
                    region = None if region is None else np.flip(region, axis)
        pixels[k] = np.pad(image, ((0, rows - s.height), (0, cols - s.width)), mode="edge")
        targets[k], weights[k] = cell_targets(region, (s.height, s.width), STRIDE, config.distance_p)
        weights[k][targets[k] > 0] *= config.positive_weight
        labels[k] = int(data.labels[s.index]) if region is None else int(bool(region.any()))
        has_mask[k] = bool(data.has_mask[s.index])
        whole = np.asarray(data.images[s.index])
        decides[k] = s.whole and (s.height, s.width) == whole.shape
        stats[k] = whole_image_stats(whole)
    return Batch(pixels=pixels, targets=targets, weights=weights, labels=labels, has_mask=has_mask, decides=decides,
                 stats=stats)


def whole_image_stats(image: np.ndarray) -> tuple[float, float]:
    """Mean and spread (0..1, floored as the net floors them) of a uint8 image."""
    values = image.astype(np.float32) / 255.0
    return float(values.mean()), max(float(values.std()), MIN_STD)
