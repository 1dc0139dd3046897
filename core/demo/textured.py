"""The ``textured`` kind: large textured surfaces with small, faint defects (DAGM-like).

Each image shows one texture family (``core.demo.families``) under gentle uneven
lighting. A defective image carries one small defect, 15-70 nominal pixels across, whose
contrast is of the order of the texture's own variation:

* ``spot``: a soft, ragged blob a little lighter or darker than its surroundings;
* ``scratch``: a short, faint, thin line;
* ``texture_change``: a patch where the texture turns or changes its feature size.

The defect stays inside its mask; sizes are nominal pixels at a 512 px shorter side.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from core.demo.families import FAMILIES, Texture, family_preset, jitter, render_texture
from core.demo.noise import Shape, coordinate_grids, smooth_field, smoothstep
from core.demo.strokes import bent_path, stroke_field

logger = logging.getLogger(__name__)

NOMINAL_SIZE = 512.0

SPOT_SIZE = (30.0, 90.0)
"""Spot diameter in nominal pixels (log-uniform)."""

SPOT_CONTRAST = (2.5, 4.0)
"""Mean change over a spot's mask in multiples of the texture's variation at the spot's scale."""

SPOT_CONTRAST_LIMITS = (1.0, 3.0)
"""Bounds of a spot's mean change in texture standard deviations."""

SCRATCH_LENGTH = (40.0, 120.0)
SCRATCH_WIDTH = (1.5, 3.0)
SCRATCH_CONTRAST = (1.5, 2.5)

CHANGE_SIZE = (40.0, 100.0)
"""Diameter of a texture change in nominal pixels."""

_BACKGROUND_STREAM = 5
_DEFECT_STREAM = 6


@dataclass(frozen=True)
class Surface:
    """A rendered textured surface before quantisation.

    Attributes:
        image: float32 ``(H, W)`` intensities on the 0..255 scale (not yet clipped).
        texture: The unit-std texture field the image was made from.
        params: The texture's parameters.
        contrast: Texture standard deviation in grey levels.
        gain: float32 ``(H, W)`` lighting gain.
    """

    image: np.ndarray
    texture: np.ndarray
    params: Texture
    contrast: float
    gain: np.ndarray


def render_textured_sample(
    seed: int, index: int, shape: Shape, class_name: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Render sample ``index`` of the data set ``seed``; ``class_name`` None renders OK.

    Returns:
        The uint8 image and the bool mask of ``shape``.
    """
    surface = render_surface(seed, np.random.default_rng([seed, index, _BACKGROUND_STREAM]), shape)
    image = surface.image
    mask = np.zeros(shape, dtype=bool)
    if class_name is not None:
        rng = np.random.default_rng([seed, index, _DEFECT_STREAM])
        delta = DEFECT_RENDERERS[class_name](rng, surface)
        mask = delta != 0.0
        image = image + delta * np.float32(surface.contrast) * surface.gain
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), mask


def render_surface(seed: int, rng: np.random.Generator, shape: Shape) -> Surface:
    """Render one textured surface of a family drawn from ``rng``, preset by ``seed``."""
    family = FAMILIES[int(rng.integers(0, len(FAMILIES)))]
    params = jitter(rng, family_preset(seed, family))
    texture = render_texture(rng, shape, params, _scale(shape))
    gain = _lighting(rng, shape)
    mean = rng.uniform(80.0, 170.0)
    contrast = rng.uniform(10.0, 22.0)
    image = gain * (np.float32(mean) + np.float32(contrast) * texture)
    return Surface(image=image.astype(np.float32), texture=texture, params=params, contrast=float(contrast), gain=gain)


def _scale(shape: Shape) -> float:
    """Return the image size relative to the nominal 512 px."""
    return min(shape) / NOMINAL_SIZE


def _lighting(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a gentle lighting gain: a tilt, a vignette and a slow wobble."""
    height, width = shape
    yy, xx = coordinate_grids(shape)
    length = np.float32(min(shape))
    y = (yy - np.float32(height / 2.0)) / length
    x = (xx - np.float32(width / 2.0)) / length
    tilt_y, tilt_x = rng.uniform(-0.15, 0.15, size=2)
    vignette = np.float32(rng.uniform(-0.3, 0.1))
    wobble = smooth_field(rng, shape, 1.5, 1.5) * np.float32(rng.uniform(0.0, 0.05))
    gain = 1.0 + np.float32(tilt_y) * y + np.float32(tilt_x) * x + vignette * (x * x + y * y) + wobble
    return np.clip(gain, 0.6, 1.4).astype(np.float32)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """Draw a value log-uniformly from ``[low, high]``."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _box(shape: Shape, center: tuple[float, float], reach: float) -> tuple[slice, slice]:
    """Return the slices of the square of half side ``reach`` around ``center``, clipped."""
    height, width = shape
    y0, x0 = max(0, int(center[0] - reach)), max(0, int(center[1] - reach))
    y1, x1 = min(height, int(center[0] + reach) + 2), min(width, int(center[1] + reach) + 2)
    return slice(y0, y1), slice(x0, x1)


def _ellipse_radius(
    rng: np.random.Generator, shape: Shape, box: tuple[slice, slice], center: tuple[float, float], diameter: float
) -> np.ndarray:
    """Return the normalised radius (1 on the border) of a rotated, ragged ellipse over ``box``."""
    yy = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] - np.float32(center[0])
    xx = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] - np.float32(center[1])
    angle = rng.uniform(0.0, math.pi)
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    semi = (diameter / 2.0, diameter / 2.0 * rng.uniform(0.55, 1.0))
    along = (xx * cos + yy * sin) / np.float32(semi[0])
    across = (yy * cos - xx * sin) / np.float32(semi[1])
    rough = smooth_field(rng, (yy.shape[0], xx.shape[1]), 2.5, 2.5) * np.float32(rng.uniform(0.05, 0.2))
    return np.sqrt(along**2 + across**2) * (1.0 + rough)


def _place(shape: Shape, rng: np.random.Generator, margin: float) -> tuple[float, float]:
    """Return a defect centre at least ``margin`` pixels inside the image where possible."""
    height, width = shape
    my, mx = min(margin, height / 2.0 - 1.0), min(margin, width / 2.0 - 1.0)
    return rng.uniform(my, height - my), rng.uniform(mx, width - mx)


def render_spot(rng: np.random.Generator, surface: Surface) -> np.ndarray:
    """Return a soft ragged blob as a signed field in texture standard deviations.

    Its contrast is a multiple of the texture's own variation at the spot's scale, so a
    spot is as findable among large blotches as on fine grain.
    """
    shape = surface.image.shape
    diameter = max(3.0, _log_uniform(rng, *SPOT_SIZE) * _scale(shape))
    center = _place(shape, rng, diameter)
    box = _box(shape, center, diameter * 0.8 + 2.0)
    radius = _ellipse_radius(rng, shape, box, center, diameter)
    profile = smoothstep((1.0 - radius) / np.float32(rng.uniform(0.4, 0.8)))
    variation = _variation_at(surface.texture, center, diameter)
    contrast = float(np.clip(_log_uniform(rng, *SPOT_CONTRAST) * variation, *SPOT_CONTRAST_LIMITS))
    return _scaled(shape, box, profile, contrast * rng.choice([-1.0, 1.0]))


def _variation_at(texture: np.ndarray, center: tuple[float, float], diameter: float) -> float:
    """Return the texture's standard deviation at the scale of ``diameter`` around ``center``.

    The texture near ``center`` is averaged over blocks of half the diameter; the spread of
    the block means is how much the surface itself varies at that scale.
    """
    block = max(1, round(diameter / 2.0))
    crop = texture[_box(texture.shape, center, 2.0 * diameter)]
    rows, cols = crop.shape[0] // block, crop.shape[1] // block
    if rows * cols < 4:
        return float(crop.std())
    means = crop[: rows * block, : cols * block].reshape(rows, block, cols, block).mean(axis=(1, 3))
    return float(means.std())


def render_scratch(rng: np.random.Generator, surface: Surface) -> np.ndarray:
    """Return a short, faint, thin line as a signed field in texture standard deviations."""
    shape = surface.image.shape
    scale = _scale(shape)
    length = _log_uniform(rng, *SCRATCH_LENGTH) * scale
    center = _place(shape, rng, length / 2.0)
    points = bent_path(rng, center, rng.uniform(0.0, math.pi), length, bend=rng.uniform(-0.4, 0.4), kinks=0)
    segments = len(points) - 1
    t = (np.arange(segments) + 0.5) / segments
    taper = np.minimum(1.0, 0.3 + 3.0 * np.minimum(t, 1.0 - t))
    half = max(0.35, 0.5 * rng.uniform(*SCRATCH_WIDTH) * scale)
    field = stroke_field(shape, points, np.full(segments, half), taper, edge=max(0.8, scale))
    support = field > 0.0
    contrast = rng.uniform(*SCRATCH_CONTRAST) * rng.choice([-1.0, 1.0])
    return field * np.float32(contrast / max(float(field[support].mean()), 1e-6)) if support.any() else field


def render_texture_change(rng: np.random.Generator, surface: Surface) -> np.ndarray:
    """Return a patch where the texture turns or changes its size, in standard deviations.

    Inside a soft ellipse, at least 2.5 texture features across, the surface's texture is
    blended towards another texture of the same family: fibres turned by 30-90 degrees
    (three patches in five), or features 0.35-0.55 or 1.8-2.5 times as large (blotches
    0.25-0.4 times: larger ones would not fit in the patch). A turned weave hardly shows,
    as it looks much the same turned by 90 degrees, so the weave changes its size.
    """
    shape = surface.image.shape
    params = surface.params
    # A patch a couple of texture features across at least, or the change cannot show.
    diameter = max(4.0, _log_uniform(rng, *CHANGE_SIZE) * _scale(shape), 2.5 * params.period * _scale(shape))
    center = _place(shape, rng, diameter / 2.0)
    box = _box(shape, center, diameter * 0.6 + 2.0)
    radius = _ellipse_radius(rng, shape, box, center, diameter)
    window = smoothstep((1.0 - radius) / np.float32(rng.uniform(0.1, 0.3))) * np.float32(rng.uniform(0.85, 1.0))
    if params.family == "fibres" and rng.random() < 0.6:
        turn = math.radians(rng.uniform(30.0, 90.0)) * rng.choice([-1.0, 1.0])
        changed = replace(params, angle=params.angle + turn)
    elif params.family == "blotches":
        changed = replace(params, period=params.period * rng.uniform(0.25, 0.4))
    else:
        factor = rng.uniform(0.35, 0.55) if rng.random() < 0.5 else rng.uniform(1.8, 2.5)
        changed = replace(params, period=params.period * factor)
    # The other texture is rendered whole so that long structures (fibres) look right.
    other = render_texture(rng, shape, changed, _scale(shape))
    out = np.zeros(shape, dtype=np.float32)
    out[box] = window * (other[box] - surface.texture[box])
    return out


def _scaled(shape: Shape, box: tuple[slice, slice], profile: np.ndarray, contrast: float) -> np.ndarray:
    """Place ``profile`` at ``box`` in a zero field, scaled so its mean over its support is ``contrast``."""
    out = np.zeros(shape, dtype=np.float32)
    support = profile > 0.0
    if support.any():
        out[box] = profile * np.float32(contrast / float(profile[support].mean()))
    return out


DEFECT_RENDERERS = {
    "spot": render_spot,
    "scratch": render_scratch,
    "texture_change": render_texture_change,
}
"""Renderer of every defect class of the textured kind, keyed by class name."""
