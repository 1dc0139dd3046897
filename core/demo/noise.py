"""Small numeric helpers for the demo generator: smooth noise fields, ramps and blurs.

All spatial frequencies are expressed in cycles per *reference length* ``L = min(H, W)`` so
that a texture rendered at 64 px and at 2048 px looks like the same surface at a different
resolution.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PIL import Image, ImageFilter

logger = logging.getLogger(__name__)

Shape = tuple[int, int]

GRID_OVERSAMPLING = 6.0
"""Coarse-grid samples per reference length per unit of spectral width."""


def reference_length(shape: Shape) -> int:
    """Return the reference length ``L`` (the shorter image side) used for scaling."""
    return min(shape)


def pixel_scale(shape: Shape) -> float:
    """Return the scale factor of an image relative to the nominal 200 px NEU size."""
    return reference_length(shape) / 200.0


def _grid_size(pixels: int, length: float, sigma: float) -> int:
    """Return how many samples along an axis resolve a spectrum of width ``sigma``."""
    return int(min(pixels, max(8, math.ceil(GRID_OVERSAMPLING * sigma * pixels / length))))


def smooth_field(rng: np.random.Generator, shape: Shape, sigma_x: float, sigma_y: float) -> np.ndarray:
    """Return a zero-mean, unit-std Gaussian random field with a Gaussian power spectrum.

    Smooth fields are synthesised on a coarse grid that just resolves their spectrum and
    upsampled bicubically, which keeps large images cheap.

    Args:
        rng: Random generator consumed by this call.
        shape: Output ``(H, W)``.
        sigma_x: Spectral width along x in cycles per reference length. Small values give
            structures that are long along x (rolling streaks).
        sigma_y: Spectral width along y in cycles per reference length.

    Returns:
        float32 array of ``shape``.
    """
    height, width = shape
    length = float(reference_length(shape))
    grid = (_grid_size(height, length, sigma_y), _grid_size(width, length, sigma_x))
    fy = np.fft.fftfreq(grid[0]).astype(np.float32)[:, None] * np.float32(grid[0] * length / height)
    fx = np.fft.rfftfreq(grid[1]).astype(np.float32)[None, :] * np.float32(grid[1] * length / width)
    spectrum = np.exp(-0.5 * ((fx / np.float32(sigma_x)) ** 2 + (fy / np.float32(sigma_y)) ** 2))
    spectrum[0, 0] = 0.0
    half = (grid[0], grid[1] // 2 + 1)
    noise = rng.standard_normal(half, dtype=np.float32) + 1j * rng.standard_normal(half, dtype=np.float32)
    field = normalize(np.fft.irfft2(noise.astype(np.complex64) * spectrum, s=grid).astype(np.float32))
    return upsample(field, shape)


def grain_field(rng: np.random.Generator, shape: Shape, sigma: float) -> np.ndarray:
    """Return unit-std fine grain: white noise on a grid of about ``3 * sigma`` samples per ``L``.

    At the nominal 200 px this is per-pixel noise; larger images get a proportionally
    coarser (upsampled) grain so the surface looks the same at any resolution.
    """
    length = float(reference_length(shape))
    grid = tuple(int(min(n, max(8, math.ceil(3.0 * sigma * n / length)))) for n in shape)
    field = rng.standard_normal(grid, dtype=np.float32)
    return normalize(upsample(field, shape))


def upsample(field: np.ndarray, shape: Shape) -> np.ndarray:
    """Bicubically resize a float32 field to ``shape`` (no-op when it already matches)."""
    if field.shape == shape:
        return field
    image = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32))
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BICUBIC), dtype=np.float32)


def normalize(field: np.ndarray) -> np.ndarray:
    """Return ``field`` shifted to zero mean and scaled to unit standard deviation."""
    field = field - field.mean(dtype=np.float64)
    std = float(field.std(dtype=np.float64))
    if std > 1e-12:
        field = field / std
    return field.astype(np.float32, copy=False)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Return the cubic smoothstep of ``x`` clipped to ``[0, 1]``."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def blur(image: Image.Image, radius: float) -> np.ndarray:
    """Gaussian-blur an 8-bit canvas and return it as float32 in ``[0, 1]``.

    Args:
        image: Pillow ``L`` image, typically a canvas with drawn strokes (255 = full).
        radius: Blur radius in pixels; values <= 0 skip the blur.

    Returns:
        float32 array with values in ``[0, 1]``.
    """
    if radius > 0:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, dtype=np.float32) * np.float32(1.0 / 255.0)


def coordinate_grids(shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Return broadcastable ``(yy, xx)`` pixel-centre coordinate grids as float32."""
    height, width = shape
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    return yy, xx


def soft_ellipse(
    shape: Shape,
    center: tuple[float, float],
    radii: tuple[float, float],
    softness: float,
) -> np.ndarray:
    """Return an axis-aligned elliptical region that is 1 inside and ramps smoothly to 0.

    Args:
        shape: Output ``(H, W)``.
        center: ``(cy, cx)`` in pixels.
        radii: ``(ry, rx)`` semi-axes in pixels.
        softness: Width of the ramp as a fraction of the normalised radius.

    Returns:
        float32 array of ``shape`` in ``[0, 1]``.
    """
    yy, xx = coordinate_grids(shape)
    r = np.sqrt(((yy - center[0]) / radii[0]) ** 2 + ((xx - center[1]) / radii[1]) ** 2)
    return smoothstep((1.0 - r) / max(softness, 1e-3)).astype(np.float32)
