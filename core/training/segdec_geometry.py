"""The scale at which the defect detector looks at a project's images.

The detector never squashes an image: each is scaled by one factor per project (its
aspect ratio kept) and padded to a multiple of 8. The factor is chosen from what the
project holds:

- from the image sizes and the time a retrain has: an epoch shows every defective
  training image and as many OK ones, so a typical (median) image may have
  :data:`EPOCH_PIXELS` / (2 x defective labels) pixels, which lets a retrain see each of
  them about twenty times within its budget on a 2-core CPU (never more than
  :data:`MAX_PIXELS`, never above the native size);
- once masks exist, from the masked defects: the smallest of them (the 10th percentile
  over masked images of each image's largest defect) must stay :data:`MIN_LONG_PX`
  pixels long and :data:`MIN_WIDTH_PX` across, so a crack a few pixels wide does not
  vanish; this may raise the scale by up to :data:`MAX_RAISE` (native at most).

Scales come from a ladder of powers of 2^(1/4), so a few new labels seldom move them;
a retrain continues the last detector's weights across small changes of scale. The
constants were chosen with ``benchmarks/segdec_bench.py`` (magnetic-tile, generated
cracks and textures; see the module's docstring there).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

EPOCH_PIXELS = 6_000_000  # working pixels of one epoch (about 6 s of training on 2 cores)
MIN_DEFECTIVE = 16  # below this many defective labels the budget is shared as if there were this many
MAX_PIXELS = 1_300_000  # a typical image's working pixels at most
MIN_LONG_PX = 6.0  # working pixels along the smallest masked defect (3/4 of a heat-map cell) ...
MIN_WIDTH_PX = 2.0  # ... and across it
MAX_RAISE = 2.0  # masked defects may raise the scale by this factor at most
STRIDE = 8  # input pixels per heat-map cell (models.segdec.STRIDE; models is not imported here)
LADDER = tuple(2.0 ** (-k / 4) for k in range(0, 33))  # 1, 0.84, 0.71, 0.59, 0.5, ... 1/256


@dataclass(frozen=True)
class DefectExtent:
    """The largest defect of one mask: its short and long side in image pixels."""

    short: float
    long: float


@dataclass(frozen=True)
class Geometry:
    """Working scale and why; ``working_size`` of any image follows from it."""

    scale: float
    typical: tuple[int, int]  # (height, width) of the median image
    from_sizes: float  # the scale the image sizes alone give
    from_masks: float | None  # the scale the masked defects ask for (None: no masks)
    smallest_defect: DefectExtent | None
    chosen_by: str  # "sizes", "masks", "user"

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        return working_size(height, width, self.scale)

    def describe(self) -> str:
        """One line for the user: the scale, what it makes of a typical image, why."""
        h, w = self.typical
        wh, ww = self.working_size(h, w)
        cell = STRIDE / self.scale
        text = (f"detector works at {_percent(self.scale)} of the image size ({w}x{h} px -> {ww}x{wh} px,"
                f" one heat-map cell per {cell:.0f}x{cell:.0f} image px)")
        if self.chosen_by == "user":
            return text + "; scale set by hand"
        if self.chosen_by == "masks" and self.smallest_defect is not None:
            d = self.smallest_defect
            return (text + f"; raised from {_percent(self.from_sizes)} so that the smallest masked defects"
                           f" ({d.short:.0f}x{d.long:.0f} px) stay {d.short * self.scale:.1f} px wide and"
                           f" {d.long * self.scale:.0f} px long")
        if self.scale >= 1:
            return text + "; the native size"
        return text + "; chosen from the image sizes and the number of defective labels, to train on each several times"

    def to_dict(self) -> dict:
        return {"scale": self.scale, "typical": list(self.typical), "from_sizes": self.from_sizes,
                "from_masks": self.from_masks, "chosen_by": self.chosen_by,
                "smallest_defect": None if self.smallest_defect is None else
                [self.smallest_defect.short, self.smallest_defect.long], "description": self.describe()}


def working_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(h, w) of an image at ``scale``: rounded, never below 8 px a side."""
    return max(STRIDE, int(round(height * scale))), max(STRIDE, int(round(width * scale)))


def choose_geometry(sizes: np.ndarray, defects: Iterable[DefectExtent] = (), *, defective: int = 0,
                    scale: float | None = None) -> Geometry:
    """The working scale for images of ``sizes`` ((n, 2) height, width) with ``defective``
    defective labels whose masked images' largest defects are ``defects``; ``scale``
    forces one (the user's).

    The masked defects raise the scale in proportion to the share of defective labels
    that have a mask (in the exponent: all masked, the full raise; a few, almost none):
    a detector taught mostly by image labels learns best where the images are small
    (fewer places to look for the defect, more epochs), one taught by masks where the
    masked defects are large enough to draw.
    """
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    if len(sizes) == 0:
        raise ValueError("no images to choose the detector's scale from")
    typical = tuple(int(v) for v in np.median(sizes, axis=0).round())
    area = float(typical[0] * typical[1])
    pixels = min(MAX_PIXELS, EPOCH_PIXELS / (2 * max(defective, MIN_DEFECTIVE)))
    from_sizes = _step_down(math.sqrt(pixels / area))
    defects = list(defects)
    smallest, from_masks = None, None
    if defects:
        shorts = np.array([d.short for d in defects])
        longs = np.array([d.long for d in defects])
        smallest = DefectExtent(short=float(np.percentile(shorts, 10)), long=float(np.percentile(longs, 10)))
        from_masks = _step_up(max(MIN_LONG_PX / max(smallest.long, 1.0), MIN_WIDTH_PX / max(smallest.short, 1.0)))
    if scale is not None:
        if not 0 < scale <= 4:
            raise ValueError(f"the detector's scale must be in (0, 4], not {scale}")
        return Geometry(float(scale), typical, from_sizes, from_masks, smallest, "user")
    if from_masks is not None and from_masks > from_sizes:
        share = min(1.0, len(defects) / max(defective, len(defects), 1))
        wanted = from_sizes * (min(from_masks, from_sizes * MAX_RAISE) / from_sizes) ** share
        raised = min(_step_down(wanted * (1 + 1e-6)), 1.0)
        if raised > from_sizes:
            return Geometry(raised, typical, from_sizes, from_masks, smallest, "masks")
    return Geometry(from_sizes, typical, from_sizes, from_masks, smallest, "sizes")


def largest_defect(mask: np.ndarray) -> DefectExtent | None:
    """Short and long side (image px) of the largest connected defect of ``mask`` (bool or
    class ids); None when it has no defect pixels."""
    from scipy import ndimage

    binary = np.asarray(mask) > 0
    if not binary.any():
        return None
    labeled, count = ndimage.label(binary, structure=np.ones((3, 3)))
    sizes = ndimage.sum_labels(binary, labeled, index=np.arange(1, count + 1))
    biggest = int(np.argmax(sizes)) + 1
    rows, cols = ndimage.find_objects(labeled)[biggest - 1]
    height, width = rows.stop - rows.start, cols.stop - cols.start
    area = float(sizes[biggest - 1])
    long = float(max(height, width, math.hypot(height, width) if area < 0.3 * height * width else 0))
    short = max(1.0, min(float(min(height, width)), area / max(long, 1.0)))  # a diagonal crack is thin
    return DefectExtent(short=short, long=long)


def _step_down(value: float) -> float:
    """The largest ladder scale at or below ``value`` (1 at most)."""
    for s in LADDER:
        if s <= value * (1 + 1e-9):
            return s
    return LADDER[-1]


def _step_up(value: float) -> float:
    """The smallest ladder scale at or above ``value`` (1 at most)."""
    for s in reversed(LADDER):
        if s >= value * (1 - 1e-9):
            return s
    return LADDER[0]


def _percent(scale: float) -> str:
    return f"{100 * scale:.0f} %"
