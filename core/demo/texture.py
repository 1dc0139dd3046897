"""Steel-like background texture: rolling streaks, grain, mottling and uneven lighting."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.demo.noise import (
    Shape,
    coordinate_grids,
    grain_field,
    normalize,
    reference_length,
    smooth_field,
    smoothstep,
)

logger = logging.getLogger(__name__)

BENIGN_PROBABILITY = 0.2
"""Fraction of backgrounds that carry a harmless streak or band variation."""


@dataclass(frozen=True)
class Background:
    """A rendered background before quantisation.

    Attributes:
        image: float32 ``(H, W)`` intensities on the 0..255 scale (not yet clipped).
        contrast: Texture standard deviation in grey levels; defect amplitudes are
            expressed in multiples of it.
        gain: float32 ``(H, W)`` lighting gain (around 1) that also shades defects.
    """

    image: np.ndarray
    contrast: float
    gain: np.ndarray


def render_background(rng: np.random.Generator, shape: Shape) -> Background:
    """Render one steel surface background.

    The draw order from ``rng`` is fixed, so the same generator state always yields the
    same background regardless of which defect is later painted on top.

    Args:
        rng: Generator dedicated to the background of one sample.
        shape: Output ``(H, W)``.

    Returns:
        The background with its contrast and lighting gain.
    """
    texture = _texture(rng, shape)
    if rng.random() < BENIGN_PROBABILITY:
        texture = texture + _benign_variation(rng, shape)
    gain = _lighting(rng, shape)
    mean = rng.uniform(70.0, 180.0)
    contrast = rng.uniform(5.0, 12.0)
    image = gain * (np.float32(mean) + np.float32(contrast) * texture)
    return Background(image=image.astype(np.float32), contrast=float(contrast), gain=gain)


def _texture(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a unit-std mix of rolling streaks, fine streaks, mottling and grain."""
    streaks = smooth_field(rng, shape, rng.uniform(0.6, 2.5), rng.uniform(12.0, 35.0))
    fine = smooth_field(rng, shape, rng.uniform(2.0, 6.0), rng.uniform(50.0, 100.0))
    mottle_scale = rng.uniform(3.0, 9.0)
    mottle = smooth_field(rng, shape, mottle_scale, mottle_scale * rng.uniform(1.0, 1.8))
    grain_scale = rng.uniform(50.0, 80.0)
    grain = grain_field(rng, shape, grain_scale)
    weights = rng.uniform([0.4, 0.2, 0.2, 0.5], [0.9, 0.5, 0.6, 0.9]).astype(np.float32)
    mix = weights[0] * streaks + weights[1] * fine + weights[2] * mottle + weights[3] * grain
    return normalize(mix)


def _lighting(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a smooth multiplicative lighting field: tilt, vignette and a slow wobble."""
    height, width = shape
    yy, xx = coordinate_grids(shape)
    length = float(reference_length(shape))
    y = (yy - height / 2.0) / length
    x = (xx - width / 2.0) / length
    tilt_y, tilt_x = rng.uniform(-0.25, 0.25, size=2)
    cy, cx = rng.uniform(-0.3, 0.3, size=2)
    vignette = rng.uniform(-0.6, 0.25)
    wobble = smooth_field(rng, shape, 1.2, 1.2) * np.float32(rng.uniform(0.0, 0.06))
    gain = 1.0 + tilt_y * y + tilt_x * x + vignette * ((y - cy) ** 2 + (x - cx) ** 2) + wobble
    return np.clip(gain, 0.45, 1.6).astype(np.float32)


def _benign_variation(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a harmless variation: a soft horizontal band or a few faint full-width streaks."""
    height, _ = shape
    yy, _ = coordinate_grids(shape)
    if rng.random() < 0.5:
        center = rng.uniform(0.1, 0.9) * height
        half = rng.uniform(0.05, 0.25) * height
        band = smoothstep((half - np.abs(yy - center)) / (0.5 * half + 1.0))
        return (band * np.float32(rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.5))).astype(np.float32)
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(int(rng.integers(1, 4))):
        row = rng.uniform(0.0, height)
        thickness = max(0.7, rng.uniform(0.4, 1.5) * reference_length(shape) / 200.0)
        profile = np.exp(-0.5 * ((yy - row) / thickness) ** 2)
        out += profile.astype(np.float32) * np.float32(rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.8))
    return np.broadcast_to(out, shape).astype(np.float32)
