"""Renderers for the six NEU-style defect types.

Every renderer takes a generator and an image shape and returns a signed float32 field in
multiples of the background texture's standard deviation: negative values darken, positive
values brighten. The caller turns the field into pixels and a mask.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from core.demo.noise import (
    Shape,
    blur,
    coordinate_grids,
    pixel_scale,
    reference_length,
    smooth_field,
    smoothstep,
    soft_ellipse,
)

logger = logging.getLogger(__name__)

DefectRenderer = Callable[[np.random.Generator, Shape], np.ndarray]


FAINT_PROBABILITY = 0.1
"""Fraction of defects rendered barely above the texture noise."""


def _amplitude(rng: np.random.Generator, typical: float, dark_probability: float) -> float:
    """Draw a signed amplitude (in texture standard deviations) around ``typical``.

    Most defects are log-uniform in ``[0.6, 1.6] * typical``; ``FAINT_PROBABILITY`` of them
    are faint, ``[0.2, 0.45] * typical``, so that a few-label classifier cannot be perfect.
    """
    if rng.random() < FAINT_PROBABILITY:
        magnitude = typical * rng.uniform(0.2, 0.45)
    else:
        magnitude = typical * math.exp(rng.uniform(math.log(0.6), math.log(1.6)))
    return -magnitude if rng.random() < dark_probability else magnitude


def _random_region(rng: np.random.Generator, shape: Shape, full_probability: float) -> np.ndarray:
    """Return a large soft region (ellipse or whole image) where a spread defect lives."""
    if rng.random() < full_probability:
        return np.ones(shape, dtype=np.float32)
    height, width = shape
    length = reference_length(shape)
    center = (rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width)
    radii = (rng.uniform(0.3, 0.8) * length, rng.uniform(0.3, 0.9) * length)
    return soft_ellipse(shape, center, radii, rng.uniform(0.3, 0.6))


def _worley_edges(
    rng: np.random.Generator, shape: Shape, cell: tuple[float, float], warp: np.ndarray
) -> np.ndarray:
    """Return the distance ``F2 - F1`` (about pixels) of a jittered-grid Voronoi diagram.

    Small values mark the cell borders, i.e. a polygon mesh. ``cell`` is ``(height, width)``
    of the grid cells (wider cells give a mesh stretched along x); ``warp`` (shape
    ``(2, H, W)``) displaces the lookup coordinates so that the borders become jagged.
    """
    height, width = shape
    grid_h, grid_w = int(height / cell[0]) + 4, int(width / cell[1]) + 4
    seeds = rng.uniform(0.1, 0.9, size=(2, grid_h, grid_w)).astype(np.float32)
    yy, xx = coordinate_grids(shape)
    py = (yy + warp[0]) / np.float32(cell[0]) + 1.5
    px = (xx + warp[1]) / np.float32(cell[1]) + 1.5
    iy = np.clip(np.floor(py), 1, grid_h - 2)
    ix = np.clip(np.floor(px), 1, grid_w - 2)
    frac_y, frac_x = py - iy, px - ix
    base = (iy * grid_w + ix).astype(np.int32)
    flat_y, flat_x = seeds[0].ravel(), seeds[1].ravel()
    first = np.full(shape, np.inf, dtype=np.float32)
    second = np.full(shape, np.inf, dtype=np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            index = base + np.int32(dy * grid_w + dx)
            dist_y = frac_y - np.take(flat_y, index) - np.float32(dy)
            dist_x = frac_x - np.take(flat_x, index) - np.float32(dx)
            dist = dist_y * dist_y + dist_x * dist_x
            np.minimum(second, np.maximum(first, dist), out=second)
            np.minimum(first, dist, out=first)
    return (np.sqrt(second) - np.sqrt(first)) * np.float32(math.sqrt(cell[0] * cell[1]))


def render_crazing(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Fine, mostly dark, interconnected cracks forming a polygon mesh over a large region."""
    scale = pixel_scale(shape)
    cell = max(4.0, rng.uniform(9.0, 22.0) * scale)
    length = reference_length(shape)
    coarse = length / cell
    wobble = smooth_field(rng, shape, 0.7 * coarse, 0.7 * coarse) * np.float32(rng.uniform(0.1, 0.25) * cell)
    wobble += smooth_field(rng, shape, 2.0 * coarse, 2.0 * coarse) * np.float32(0.04 * cell)
    # One field displaces both axes; a half-image roll decorrelates the x displacement.
    warp = np.stack([wobble, np.roll(wobble, (shape[0] // 2, shape[1] // 3), axis=(0, 1))])
    edges = _worley_edges(rng, shape, (cell, cell * rng.uniform(1.0, 1.8)), warp)
    width = max(0.55, rng.uniform(0.45, 0.9) * scale)
    cracks = np.exp(-((edges / np.float32(2.0 * width)) ** 2))
    strength = smoothstep(smooth_field(rng, shape, 1.5 * coarse, 1.5 * coarse) + rng.uniform(0.4, 1.2))
    region = _random_region(rng, shape, full_probability=0.6)
    amplitude = _amplitude(rng, 10.0, dark_probability=0.85)
    return (cracks * strength * region * np.float32(amplitude)).astype(np.float32)


def render_rolled_in_scale(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Many small flakes, elongated along the rolling direction, spread over a band."""
    field = smooth_field(rng, shape, rng.uniform(4.0, 9.0), rng.uniform(12.0, 25.0))
    threshold = rng.uniform(0.8, 1.5)
    softness = np.float32(rng.uniform(0.3, 0.7))
    dark = smoothstep((field - threshold) / softness)
    bright = smoothstep((-field - threshold - rng.uniform(0.0, 0.6)) / softness)
    flakes = dark - bright * np.float32(rng.uniform(0.0, 1.0))
    grain = smooth_field(rng, shape, 60.0, 60.0)
    flakes *= 0.75 + 0.25 * grain
    region = _band_region(rng, shape)
    amplitude = _amplitude(rng, 10.0, dark_probability=0.7)
    return (flakes * region * np.float32(amplitude)).astype(np.float32)


def _band_region(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Return a soft horizontal band (or, sometimes, the whole image)."""
    if rng.random() < 0.4:
        return np.ones(shape, dtype=np.float32)
    height, _ = shape
    yy, _ = coordinate_grids(shape)
    center = rng.uniform(0.2, 0.8) * height
    half = rng.uniform(0.2, 0.45) * height
    band = smoothstep((half - np.abs(yy - center)) / (0.4 * half))
    return np.broadcast_to(band, shape).astype(np.float32)


def render_patches(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Large irregular soft-edged blobs of different brightness (thresholded smooth noise)."""
    sigma = rng.uniform(1.8, 4.5)
    field = smooth_field(rng, shape, sigma, sigma * rng.uniform(0.8, 1.6))
    threshold = min(rng.uniform(0.2, 1.3), float(field.max()) - 0.4)
    blobs = smoothstep((field - threshold) / rng.uniform(0.25, 0.6))
    detail = smooth_field(rng, shape, 25.0, 25.0)
    blobs *= 0.8 + 0.2 * detail
    amplitude = _amplitude(rng, 6.0, dark_probability=0.75)
    return (blobs * np.float32(amplitude)).astype(np.float32)


def render_pitted_surface(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Clusters of many small, mostly dark, irregular pits."""
    height, width = shape
    scale = pixel_scale(shape)
    count = int(rng.integers(60, 300))
    center = np.array([rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width])
    spread = rng.uniform(0.12, 0.4, size=2) * reference_length(shape)
    points = center + rng.standard_normal((count, 2)) * spread
    points = np.clip(points, 0.0, [height - 1.0, width - 1.0])
    radii = np.maximum(0.5, rng.uniform(0.5, 2.0, size=(count, 2)) * scale)
    depth = rng.uniform(100.0, 255.0, size=count)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for (py, px), (ry, rx), value in zip(points, radii, depth, strict=True):
        draw.ellipse((px - rx, py - ry, px + rx, py + ry), fill=int(value))
    pits = blur(canvas, max(0.5, 0.6 * scale))
    haze = soft_ellipse(shape, (center[0], center[1]), (2.0 * spread[0], 2.0 * spread[1]), 1.0)
    pits = np.maximum(pits / max(float(pits.max()), 1e-6), haze * np.float32(rng.uniform(0.0, 0.3)))
    amplitude = _amplitude(rng, 11.0, dark_probability=0.9)
    return (pits * np.float32(amplitude)).astype(np.float32)


def render_inclusion(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Two to six ragged, elongated spots in a loose chain along the rolling direction."""
    height, width = shape
    scale = pixel_scale(shape)
    rough = smooth_field(rng, shape, 30.0, 30.0)
    out = np.zeros(shape, dtype=np.float32)
    count = int(rng.integers(2, 7))
    row = rng.uniform(0.1, 0.9) * height
    for _ in range(count):
        center_y = float(np.clip(row + rng.normal(0.0, 0.08) * height, 0.0, height - 1.0))
        center = (center_y, rng.uniform(0.1, 0.9) * width)
        semi = (max(1.2, rng.uniform(2.0, 6.0) * scale), max(3.0, rng.uniform(10.0, 50.0) * scale))
        angle = rng.normal(0.0, math.radians(8.0))
        _add_ragged_spot(out, rough, center, semi, angle, rng.uniform(0.5, 1.0))
    amplitude = _amplitude(rng, 11.0, dark_probability=0.8)
    return out * np.float32(amplitude / max(float(out.max()), 1e-6))


def _add_ragged_spot(
    out: np.ndarray,
    rough: np.ndarray,
    center: tuple[float, float],
    semi: tuple[float, float],
    angle: float,
    weight: float,
) -> None:
    """Add one rotated elliptical spot with noisy (ragged) borders into ``out`` in place."""
    height, width = out.shape
    reach = semi[1] * 1.5 + 2.0
    y0, y1 = max(0, int(center[0] - reach)), min(height, int(center[0] + reach) + 1)
    x0, x1 = max(0, int(center[1] - reach)), min(width, int(center[1] + reach) + 1)
    if y0 >= y1 or x0 >= x1:
        return
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(center[0])
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(center[1])
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    along = (xx * cos + yy * sin) / np.float32(semi[1])
    across = (-xx * sin + yy * cos) / np.float32(semi[0])
    radius = np.sqrt(along**2 + across**2)
    spot = smoothstep((1.0 + 0.35 * rough[y0:y1, x0:x1] - radius) / 0.5)
    spot *= 0.6 + 0.4 * np.exp(-(radius**2))
    out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], spot * np.float32(weight))


def render_scratches(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """One to three long thin lines, straight or gently curved, at any angle."""
    height, width = shape
    scale = pixel_scale(shape)
    length = reference_length(shape)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    base_angle = rng.uniform(0.0, math.pi)
    parallel = rng.random() < 0.5
    for _ in range(int(rng.choice([1, 1, 2, 2, 3, 4]))):
        angle = base_angle + (rng.normal(0.0, 0.05) if parallel else rng.uniform(0.0, math.pi))
        center = (rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width)
        span = rng.uniform(0.4, 1.3) * length
        line_width = max(1, round(rng.uniform(1.0, 2.8) * scale))
        _draw_curve(draw, rng, center, angle, span, line_width)
    lines = blur(canvas, max(0.45, 0.5 * scale))
    amplitude = _amplitude(rng, 11.0, dark_probability=0.5)
    return lines * np.float32(amplitude / max(float(lines.max()), 1e-6))


def _draw_curve(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    center: tuple[float, float],
    angle: float,
    span: float,
    line_width: int,
) -> None:
    """Draw a quadratic Bezier scratch whose intensity fades towards both ends."""
    direction = np.array([math.sin(angle), math.cos(angle)])
    normal = np.array([direction[1], -direction[0]])
    start = np.asarray(center) - direction * span / 2.0
    end = np.asarray(center) + direction * span / 2.0
    control = np.asarray(center) + normal * rng.uniform(-0.15, 0.15) * span
    t = np.linspace(0.0, 1.0, 25)[:, None]
    points = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
    peak = rng.uniform(160.0, 255.0)
    for i in range(len(points) - 1):
        mid = (i + 0.5) / (len(points) - 1)
        value = peak * min(1.0, 4.0 * min(mid, 1.0 - mid) + 0.25)
        (y0, x0), (y1, x1) = points[i], points[i + 1]
        draw.line((x0, y0, x1, y1), fill=int(value), width=line_width)


DEFECT_RENDERERS: dict[str, DefectRenderer] = {
    "crazing": render_crazing,
    "inclusion": render_inclusion,
    "patches": render_patches,
    "pitted_surface": render_pitted_surface,
    "rolled-in_scale": render_rolled_in_scale,
    "scratches": render_scratches,
}
"""Renderer for every defect class, keyed by class name."""
