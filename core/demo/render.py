"""Deterministic rendering of single demo samples and the class plan of a data set.

The steel kind is rendered here; the cracks and textured kinds have their own modules
(``core.demo.cracks``, ``core.demo.textured``) and are dispatched to by ``render_sample``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.demo.cracks import render_cracks_sample
from core.demo.defects import DEFECT_RENDERERS
from core.demo.kinds import OK_CLASS, STEEL, demo_kind
from core.demo.noise import Shape
from core.demo.texture import render_background
from core.demo.textured import render_textured_sample

logger = logging.getLogger(__name__)

DEFECT_CLASSES: tuple[str, ...] = STEEL.defect_classes
"""The defect classes of the steel kind (the default kind)."""

ALL_CLASSES: tuple[str, ...] = STEEL.classes
"""Every class of the steel kind, ``OK_CLASS`` first."""

MASK_THRESHOLD = 0.15
"""A pixel belongs to the mask where the defect's change exceeds this fraction of its peak."""

MIN_SIZE = 32
_BACKGROUND_STREAM = 0
_DEFECT_STREAM = 1
_PLAN_STREAM = 0x504C414E


@dataclass(frozen=True)
class DemoSample:
    """One rendered demo image with its ground truth.

    Attributes:
        index: Index of the sample inside its data set.
        class_name: One of the classes of ``kind``.
        image: uint8 ``(H, W)`` grey-level image.
        mask: bool ``(H, W)``; True exactly where the defect changed the surface.
        kind: The kind of part, one of ``KINDS``.
    """

    index: int
    class_name: str
    image: np.ndarray
    mask: np.ndarray
    kind: str = STEEL.name


def parse_size(size: int | tuple[int, int]) -> Shape:
    """Return ``(height, width)`` for an int (square) or a ``(height, width)`` tuple.

    Raises:
        ValueError: If a side is smaller than ``MIN_SIZE`` pixels.
    """
    shape = (int(size), int(size)) if isinstance(size, int | np.integer) else (int(size[0]), int(size[1]))
    if min(shape) < MIN_SIZE:
        raise ValueError(f"image sides must be at least {MIN_SIZE} px, got {shape}")
    return shape


def render_sample(
    index: int,
    *,
    seed: int,
    size: int | tuple[int, int] | None = None,
    class_name: str,
    kind: str = STEEL.name,
) -> DemoSample:
    """Render sample ``index`` of the data set ``seed`` as class ``class_name``.

    The background depends only on ``(seed, index, size, kind)``; the defect is drawn
    from a separate random stream and changes pixels only inside the mask. Rendering the
    same sample with ``class_name=OK_CLASS`` therefore gives exactly the defect-free
    background, and the result is byte-identical in any process or order.

    Args:
        index: Non-negative sample index.
        seed: Non-negative data set seed.
        size: Square side in pixels, or ``(height, width)``; None takes the kind's
            default. For ``cracks`` this is the nominal size: each image's height differs
            from it by up to 1.6 % (``core.demo.cracks.strip_shape``).
        class_name: One of the classes of ``kind``.
        kind: One of ``KINDS``.

    Returns:
        The rendered sample.

    Raises:
        ValueError: For an unknown kind or class, a negative index or seed, or a too
            small size.
    """
    spec = demo_kind(kind)
    if class_name not in spec.classes:
        raise ValueError(f"unknown {kind} demo class {class_name!r}; expected one of {spec.classes}")
    if index < 0 or seed < 0:
        raise ValueError("index and seed must be non-negative")
    shape = parse_size(spec.default_size if size is None else size)
    if kind == "cracks":
        pixels, mask = render_cracks_sample(seed, index, shape, defective=class_name != OK_CLASS)
    elif kind == "textured":
        pixels, mask = render_textured_sample(seed, index, shape, None if class_name == OK_CLASS else class_name)
    else:
        pixels, mask = _render_steel(index, seed, shape, class_name)
    return DemoSample(index=index, class_name=class_name, image=pixels, mask=mask, kind=kind)


def _render_steel(index: int, seed: int, shape: Shape, class_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Render one steel sample: a rolled-steel background and one NEU-style defect."""
    background = render_background(np.random.default_rng([seed, index, _BACKGROUND_STREAM]), shape)
    image = background.image
    mask = np.zeros(shape, dtype=bool)
    if class_name != OK_CLASS:
        rng = np.random.default_rng([seed, index, _DEFECT_STREAM])
        delta, mask = _threshold_defect(DEFECT_RENDERERS[class_name](rng, shape))
        image = image + delta * np.float32(background.contrast) * background.gain
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), mask


def _threshold_defect(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft-threshold a signed defect field at ``MASK_THRESHOLD`` of its peak.

    Values below the threshold become exactly zero and the rest are shifted down and
    rescaled so the field stays continuous and keeps its peak. The mask is the support of
    the result, so the defect changes no pixel outside it.
    """
    magnitude = np.abs(field)
    peak = float(magnitude.max()) if field.size else 0.0
    if peak <= 0.0:
        return np.zeros_like(field), np.zeros(field.shape, dtype=bool)
    cut = MASK_THRESHOLD * peak
    mask = magnitude > cut
    shrunk = np.where(mask, (magnitude - cut) * np.float32(peak / (peak - cut)), 0.0)
    return (np.sign(field) * shrunk).astype(np.float32), mask


def plan_classes(
    n_images: int, *, seed: int, ok_fraction: float | None = None, kind: str = STEEL.name
) -> list[str]:
    """Return the class of each index of a data set, deterministically shuffled by ``seed``.

    ``round(n_images * ok_fraction)`` images are OK; the rest are spread over the defect
    classes of ``kind`` so that their counts differ by at most one. ``ok_fraction`` None
    takes the kind's default (0.3 for steel, 0.87 for cracks, 0.88 for textured).

    Raises:
        ValueError: If ``n_images`` is negative, ``ok_fraction`` is outside ``[0, 1]`` or
            the kind is unknown.
    """
    spec = demo_kind(kind)
    ok_fraction = spec.default_ok_fraction if ok_fraction is None else ok_fraction
    if n_images < 0:
        raise ValueError("n_images must be non-negative")
    if not 0.0 <= ok_fraction <= 1.0:
        raise ValueError("ok_fraction must be within [0, 1]")
    rng = np.random.default_rng([seed, _PLAN_STREAM])
    n_ok = int(round(n_images * ok_fraction))
    n_defect = n_images - n_ok
    base, extra = divmod(n_defect, len(spec.defect_classes))
    lucky = set(rng.permutation(len(spec.defect_classes))[:extra].tolist())
    classes = [OK_CLASS] * n_ok
    for position, name in enumerate(spec.defect_classes):
        classes.extend([name] * (base + (1 if position in lucky else 0)))
    order = rng.permutation(n_images)
    return [classes[i] for i in order]
