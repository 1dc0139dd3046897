"""The ``cracks`` kind: long machined parts photographed in a strip, a few with one crack.

The look follows the Kolektor surface-defect set: a 500 px wide, about 1250 px tall metal
surface with machining marks along the long axis, uneven lighting across the curved
part, slow brightness bands, grain, sometimes a dark part edge and harmless marks (a
faint broad band, a blurry wide smudge, a full-length groove). A defective image carries
one thin crack of moderate to low contrast, often across the part.

Feature sizes are given for the nominal 500 px width and scale with the shorter side.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from core.demo.noise import Shape, coordinate_grids, grain_field, normalize, smooth_field, smoothstep
from core.demo.strokes import bent_path, stroke_field

logger = logging.getLogger(__name__)

NOMINAL_WIDTH = 500.0
"""Shorter side at which the feature sizes below hold."""

HEIGHT_JITTER = 0.016
"""Each image's height differs from the nominal by up to this fraction (20 px of 1250)."""

BENIGN_PROBABILITY = 0.45
"""Fraction of surfaces with one or two harmless marks (OK and defective alike)."""

CRACK_WIDTH = (2.0, 5.0)
"""Core width of a crack in nominal pixels; the mask adds about one pixel of soft edge."""

CRACK_LENGTH = (40.0, 300.0)
"""Crack length in nominal pixels."""

CRACK_CONTRAST = (2.0, 4.5)
"""Mean change over the crack's mask, in texture standard deviations (log-uniform)."""

_SHAPE_STREAM = 2
_BACKGROUND_STREAM = 3
_DEFECT_STREAM = 4


@dataclass(frozen=True)
class Strip:
    """A rendered strip surface before quantisation.

    Attributes:
        image: float32 ``(H, W)`` intensities on the 0..255 scale (not yet clipped).
        contrast: Standard deviation of the fine texture in grey levels; the crack's
            contrast is a multiple of it.
        gain: float32 ``(H, W)`` lighting gain that also shades the crack.
    """

    image: np.ndarray
    contrast: float
    gain: np.ndarray


def strip_shape(seed: int, index: int, size: Shape) -> Shape:
    """Return the ``(H, W)`` of sample ``index``: the nominal height varied by ``HEIGHT_JITTER``."""
    rng = np.random.default_rng([seed, index, _SHAPE_STREAM])
    height = int(round(size[0] * (1.0 + rng.uniform(-HEIGHT_JITTER, HEIGHT_JITTER))))
    return height, size[1]


def render_cracks_sample(seed: int, index: int, size: Shape, defective: bool) -> tuple[np.ndarray, np.ndarray]:
    """Render sample ``index`` of the data set ``seed`` with nominal ``size``.

    Returns:
        The uint8 image and the bool mask, both of shape ``strip_shape(seed, index, size)``.
    """
    shape = strip_shape(seed, index, size)
    strip = render_strip(np.random.default_rng([seed, index, _BACKGROUND_STREAM]), shape)
    image = strip.image
    mask = np.zeros(shape, dtype=bool)
    if defective:
        crack = render_crack(np.random.default_rng([seed, index, _DEFECT_STREAM]), shape)
        mask = crack != 0.0
        image = image + crack * np.float32(strip.contrast) * strip.gain
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), mask


def render_strip(rng: np.random.Generator, shape: Shape) -> Strip:
    """Render one machined strip surface; the draw order from ``rng`` is fixed."""
    texture = _machined_texture(rng, shape)
    slow = smooth_field(rng, shape, 0.3, rng.uniform(1.5, 4.0)) * np.float32(rng.uniform(0.4, 1.3))
    if rng.random() < BENIGN_PROBABILITY:
        slow = slow + _benign_marks(rng, shape)
    gain = _lighting(rng, shape)
    mean = rng.uniform(90.0, 170.0)
    contrast = rng.uniform(6.0, 12.0)
    image = gain * (np.float32(mean) + np.float32(contrast) * (texture + slow))
    return Strip(image=image.astype(np.float32), contrast=float(contrast), gain=gain)


def _scale(shape: Shape) -> float:
    """Return the size of the image relative to the nominal 500 px width."""
    return min(shape) / NOMINAL_WIDTH


def _machined_texture(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a unit-std mix of machining marks along y, fine streaks, mottling and grain."""
    marks = smooth_field(rng, shape, rng.uniform(30.0, 80.0), rng.uniform(0.4, 1.5))
    fine = smooth_field(rng, shape, rng.uniform(120.0, 200.0), rng.uniform(3.0, 8.0))
    mottle = smooth_field(rng, shape, rng.uniform(4.0, 10.0), rng.uniform(2.0, 6.0))
    grain = grain_field(rng, shape, rng.uniform(110.0, 160.0))
    weights = rng.uniform([0.5, 0.2, 0.2, 0.4], [1.0, 0.5, 0.5, 0.8]).astype(np.float32)
    return normalize(weights[0] * marks + weights[1] * fine + weights[2] * mottle + weights[3] * grain)


def _lighting(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return the lighting gain: fall-off across the curved part, a tilt, a wobble, dark edges."""
    height, width = shape
    yy, xx = coordinate_grids(shape)
    across = (xx - np.float32(width * rng.uniform(0.4, 0.6))) / np.float32(width / 2.0)
    along = (yy - np.float32(height / 2.0)) / np.float32(height)
    gain = 1.0 - np.float32(rng.uniform(0.1, 0.4)) * across**2 + np.float32(rng.uniform(-0.15, 0.15)) * along
    gain = gain + smooth_field(rng, shape, 1.0, 2.0) * np.float32(rng.uniform(0.0, 0.05))
    if rng.random() < 0.5:
        scale = _scale(shape)
        left, right = rng.uniform(0.0, 40.0, size=2) * scale
        soft = np.float32(max(1.0, 3.0 * scale))
        inside = smoothstep((xx - np.float32(left)) / soft) * smoothstep((width - 1 - xx - np.float32(right)) / soft)
        gain = gain * (1.0 - np.float32(rng.uniform(0.3, 0.6)) * (1.0 - inside))
    return np.clip(gain, 0.3, 1.5).astype(np.float32)


def _benign_marks(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return one or two harmless marks in texture standard deviations."""
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(int(rng.integers(1, 3))):
        choice = int(rng.integers(0, 3))
        sign = np.float32(rng.choice([-1.0, 1.0]))
        if choice == 0:
            out += _broad_band(rng, shape) * sign * np.float32(rng.uniform(0.6, 1.5))
        elif choice == 1:
            out += _blurry_mark(rng, shape) * sign * np.float32(rng.uniform(1.0, 2.0))
        else:
            out += _groove(rng, shape) * sign * np.float32(rng.uniform(0.8, 1.6))
    return out


def _broad_band(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a soft band across the part, slightly tilted, 16-60 nominal px wide."""
    height, width = shape
    yy, xx = coordinate_grids(shape)
    row = rng.uniform(0.05, 0.95) * height
    tilt = math.tan(rng.normal(0.0, math.radians(4.0)))
    half = rng.uniform(8.0, 30.0) * _scale(shape)
    offset = np.abs(yy - np.float32(row) - np.float32(tilt) * (xx - np.float32(width / 2.0)))
    return smoothstep((np.float32(half) - offset) / np.float32(0.6 * half + 1.0))


def _blurry_mark(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a wide, very soft elongated smudge (a Gaussian ellipse at any angle)."""
    height, width = shape
    scale = _scale(shape)
    yy, xx = coordinate_grids(shape)
    cy, cx = rng.uniform(0.05, 0.95) * height, rng.uniform(0.1, 0.9) * width
    angle = rng.normal(0.0, 0.4) if rng.random() < 0.6 else rng.uniform(0.0, math.pi)
    length, thick = rng.uniform(30.0, 120.0) * scale, rng.uniform(5.0, 14.0) * scale
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    along = ((xx - np.float32(cx)) * cos + (yy - np.float32(cy)) * sin) / np.float32(length)
    across = (-(xx - np.float32(cx)) * sin + (yy - np.float32(cy)) * cos) / np.float32(thick)
    return np.exp(-0.5 * (along**2 + across**2)).astype(np.float32)


def _groove(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a thin groove along the whole part (along the machining marks)."""
    _, width = shape
    _, xx = coordinate_grids(shape)
    column = rng.uniform(0.05, 0.95) * width
    thick = max(0.7, rng.uniform(0.8, 1.8) * _scale(shape))
    profile = np.exp(-0.5 * ((xx - np.float32(column)) / np.float32(thick)) ** 2)
    return np.broadcast_to(profile, shape).astype(np.float32)


def render_crack(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return one crack as a signed field in texture standard deviations, zero off the crack.

    Most cracks run across the part (within about 15 degrees of the x axis), the rest at
    any angle; they are straight, gently curved or kinked, dark in four cases of five,
    narrower and fainter towards their tips.
    """
    height, width = shape
    scale = _scale(shape)
    length = math.exp(rng.uniform(math.log(CRACK_LENGTH[0]), math.log(CRACK_LENGTH[1]))) * scale
    angle = rng.normal(0.0, math.radians(15.0)) if rng.random() < 0.65 else rng.uniform(0.0, math.pi)
    center = (rng.uniform(0.05, 0.95) * height, rng.uniform(0.15, 0.85) * width)
    kinks = int(rng.choice([0, 0, 1, 2]))
    points = bent_path(rng, center, angle, length, bend=rng.uniform(-0.5, 0.5), kinks=kinks)
    segments = len(points) - 1
    t = (np.arange(segments) + 0.5) / segments
    taper = np.minimum(1.0, 0.35 + 3.0 * np.minimum(t, 1.0 - t))
    core = rng.uniform(*CRACK_WIDTH) * scale
    half_widths = np.maximum(0.35, 0.5 * core * (0.6 + 0.4 * taper) * rng.uniform(0.85, 1.15, size=segments))
    weights = taper * rng.uniform(0.75, 1.0, size=segments)
    field = stroke_field(shape, points, half_widths, weights, edge=max(0.8, 1.2 * scale))
    support = field > 0.0
    if not support.any():
        return field
    contrast = math.exp(rng.uniform(math.log(CRACK_CONTRAST[0]), math.log(CRACK_CONTRAST[1])))
    sign = -1.0 if rng.random() < 0.8 else 1.0
    return field * np.float32(sign * contrast / float(field[support].mean()))
