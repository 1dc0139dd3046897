"""Small numeric helpers for the demo generator: smooth noise fields, ramps and blurs.

All spatial frequencies are expressed in cycles per *reference length* ``L = min(H, W)`` so
that a texture rendered at 64 px and at 2048 px looks like the same surface at a different
resolution.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image, ImageFilter

logger = logging.getLogger(__name__)

Shape = tuple[int, int]


def reference_length(shape: Shape) -> int:
    """Return the reference length ``L`` (the shorter image side) used for scaling."""
    return min(shape)


def pixel_scale(shape: Shape) -> float:
    """Return the scale factor of an image relative to the nominal 200 px NEU size."""
    return reference_length(shape) / 200.0


def smooth_field(rng: np.random.Generator, shape: Shape, sigma_x: float, sigma_y: float) -> np.ndarray:
    """Return a zero-mean, unit-std Gaussian random field with a Gaussian power spectrum.

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
    fy = np.fft.fftfreq(height).astype(np.float32)[:, None] * length
    fx = np.fft.rfftfreq(width).astype(np.float32)[None, :] * length
    spectrum = np.exp(-0.5 * ((fx / sigma_x) ** 2 + (fy / sigma_y) ** 2)).astype(np.float32)
    spectrum[0, 0] = 0.0
    half = (height, width // 2 + 1)
    noise = rng.standard_normal(half, dtype=np.float32) + 1j * rng.standard_normal(half, dtype=np.float32)
    field = np.fft.irfft2(noise.astype(np.complex64) * spectrum, s=shape).astype(np.float32)
    return normalize(field)


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
