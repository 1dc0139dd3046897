"""Proposed masks from difference maps: Otsu's cut, the floor from OK images, small parts
dropped, and masks that line up with images of any shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.demo import plan_classes, render_sample
from core.proposals.masks import (
    cut_level,
    image_score,
    learn_floor,
    min_area,
    otsu_level,
    propose_mask,
    resize_map,
)
from core.proposals.store import mask_at_image_size
from models.isugan import difference_map

SIZE = (96, 160)  # non-square on purpose


def _between_class_variance(values: np.ndarray, level: float) -> float:
    low, high = values[values < level], values[values >= level]
    if not len(low) or not len(high):
        return -1.0
    return len(low) * len(high) * (low.mean() - high.mean()) ** 2


def test_otsu_level_maximises_the_between_class_variance() -> None:
    rng = np.random.default_rng(0)
    values = np.clip(np.r_[rng.normal(0.1, 0.03, 900), rng.normal(0.6, 0.1, 100)], 0, 1)
    level = otsu_level(values)
    assert 0.2 < level < 0.45
    edges = np.linspace(0, 1, 257)[1:-1]
    best = max(edges, key=lambda e: _between_class_variance(values, e))
    assert _between_class_variance(values, level) == pytest.approx(_between_class_variance(values, best))
    assert otsu_level(np.full((5, 5), 0.3)) == 1.0  # nothing to split: nothing proposed


def _difference(image: np.ndarray, repair: np.ndarray) -> np.ndarray:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 255.0)[None, None]

    return difference_map(t(image), t(repair))[0, 0].numpy()


def test_otsu_and_the_floor_propose_nothing_on_ok_images_and_the_defect_on_a_defective_one() -> None:
    """The "repair" of a generated image is its defect-free rendering (the generator
    draws the defect only inside the mask) with a little noise, as a real repair has."""
    rng = np.random.default_rng(0)

    def imperfect(image: np.ndarray) -> np.ndarray:
        return np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)

    classes = plan_classes(40, seed=1, kind="steel", ok_fraction=0.5)
    ok = [i for i, c in enumerate(classes) if c == "ok"]
    share = 0.001
    scores = []
    for i in ok[:10]:
        clean = render_sample(i, seed=1, size=SIZE, class_name="ok", kind="steel").image
        scores.append(image_score(_difference(imperfect(clean), clean), share))
    floor = learn_floor(np.array(scores))
    for i in ok[10:14]:  # OK images the floor never saw
        clean = render_sample(i, seed=1, size=SIZE, class_name="ok", kind="steel").image
        difference = _difference(imperfect(clean), clean)
        assert not propose_mask(difference, cut_level(difference, floor), share).any()
        assert propose_mask(difference, otsu_level(difference), share).any()  # Otsu alone always splits
    index = next(i for i, c in enumerate(classes) if c == "patches")
    sample = render_sample(index, seed=1, size=SIZE, class_name="patches", kind="steel")
    clean = render_sample(index, seed=1, size=SIZE, class_name="ok", kind="steel").image
    difference = _difference(sample.image, imperfect(clean))
    assert image_score(difference, share) > floor
    mask = propose_mask(difference, cut_level(difference, floor), share)
    iou = (mask & sample.mask).sum() / (mask | sample.mask).sum()
    assert iou > 0.4 and (mask & sample.mask).sum() > 0.8 * sample.mask.sum()  # the window-9 SSIM spreads it


def test_small_components_are_dropped() -> None:
    difference = np.zeros((100, 120), np.float32)
    difference[10:12, 10:12] = 0.9  # 4 px: under the 12 px minimum of a 12,000 px image
    difference[50:60, 50:60] = 0.9
    assert min_area(100, 120, 0.001) == 12
    mask = propose_mask(difference, 0.5, 0.001)
    assert mask.sum() == 100 and not mask[10:12, 10:12].any()
    assert image_score(difference, 0.001) == pytest.approx(0.9)


@pytest.mark.parametrize(("height", "width", "scale"), [(90, 170, 0.5), (333, 101, 0.42), (64, 64, 1.0)])
def test_masks_line_up_with_the_image_at_any_shape(height: int, width: int, scale: float) -> None:
    """A defect at a known place of the image, seen at the working scale, is proposed at
    the same place of the image (to within a working pixel)."""
    from core.training.segdec_geometry import working_size

    wh, ww = working_size(height, width, scale)
    truth = np.zeros((height, width), bool)
    top, left = int(0.6 * height), int(0.25 * width)
    truth[top:top + height // 5, left:left + width // 5] = True
    from PIL import Image as PILImage

    small = np.asarray(PILImage.fromarray(truth.astype(np.uint8) * 255).resize((ww, wh), PILImage.Resampling.BILINEAR))
    difference = small.astype(np.float32) / 255.0 * 0.8
    mask = mask_at_image_size(difference, height, width, cut=0.4, share=0.001)
    assert mask.shape == (height, width)
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.8
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - (top + height // 10 - 0.5)) < 1 / scale + 1
    assert abs(cols.mean() - (left + width // 10 - 0.5)) < 1 / scale + 1
    assert resize_map(difference, wh, ww) is not None
