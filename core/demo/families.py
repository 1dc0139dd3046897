"""Texture families of the ``textured`` kind: grain, fibres, blotches and weave.

Every data set (seed) fixes one preset per family (orientation, feature size, a shape
parameter), so that the images of one family in one data set are alike, as in a DAGM
class; each image jitters its preset a little. Sizes are nominal pixels at a 512 px
shorter side and scale with the image.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from core.demo.noise import Shape, coordinate_grids, normalize, smooth_field, smoothstep

logger = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = ("grain", "fibres", "blotches", "weave")

NOMINAL = 512.0
"""Shorter side at which the preset feature sizes hold."""

_PRESET_STREAM = 0x54455854
_FEATURE_TO_SIGMA = 0.55
"""Spectral width (cycles per pixel) times feature size (pixels) of a Gaussian-spectrum field."""


@dataclass(frozen=True)
class Texture:
    """The parameters of one texture.

    Attributes:
        family: One of ``FAMILIES``.
        angle: Main orientation in radians (fibres, weave; unused by grain and blotches).
        period: Typical feature size in nominal pixels (grain or blotch diameter, fibre
            thickness, weave block side).
        detail: Family-specific shape parameter in ``[0, 1]`` (share of slow mottling,
            sharpness of blotches, ...).
    """

    family: str
    angle: float
    period: float
    detail: float


def family_preset(seed: int, family: str) -> Texture:
    """Return the preset of ``family`` in the data set ``seed``."""
    rng = np.random.default_rng([seed, _PRESET_STREAM, FAMILIES.index(family)])
    angle = rng.uniform(0.0, math.pi)
    period = {"grain": (3.0, 6.0), "fibres": (3.0, 6.0), "blotches": (10.0, 20.0), "weave": (10.0, 18.0)}[family]
    return Texture(family=family, angle=angle, period=rng.uniform(*period), detail=rng.uniform(0.0, 1.0))


def jitter(rng: np.random.Generator, texture: Texture) -> Texture:
    """Return ``texture`` with its orientation and size varied a little (one image's copy)."""
    return replace(
        texture,
        angle=texture.angle + rng.normal(0.0, math.radians(4.0)),
        period=texture.period * rng.uniform(0.93, 1.07),
    )


def render_texture(rng: np.random.Generator, shape: Shape, texture: Texture, scale: float) -> np.ndarray:
    """Return a zero-mean, unit-std texture field of ``shape``.

    Args:
        rng: Random generator consumed by this call.
        shape: Output ``(H, W)``.
        texture: What to render.
        scale: Image size relative to the nominal 512 px.
    """
    period = max(1.0, texture.period * scale)
    if texture.family == "grain":
        return _grain(rng, shape, period, texture.detail)
    if texture.family == "fibres":
        return _fibres(rng, shape, period, texture.angle, texture.detail)
    if texture.family == "blotches":
        return _blotches(rng, shape, period, texture.detail)
    if texture.family == "weave":
        return _weave(rng, shape, period, texture.angle, texture.detail)
    raise ValueError(f"unknown texture family {texture.family!r}; expected one of {FAMILIES}")


def spectral_field(
    rng: np.random.Generator, shape: Shape, size: tuple[float, float], angle: float = 0.0
) -> np.ndarray:
    """Return a unit-std Gaussian field with a rotated Gaussian spectrum, at full resolution.

    Args:
        rng: Random generator consumed by this call.
        shape: Output ``(H, W)``.
        size: Typical feature size in pixels ``(along, across)``: along the direction
            ``angle`` and across it. A large ``along`` gives structures long in that
            direction.
        angle: Direction in radians (0 is the x axis).
    """
    height, width = shape
    fy = np.fft.fftfreq(height).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(width).astype(np.float32)[None, :]
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    along = (fx * cos + fy * sin) * np.float32(size[0] / _FEATURE_TO_SIGMA)
    across = (fy * cos - fx * sin) * np.float32(size[1] / _FEATURE_TO_SIGMA)
    spectrum = np.exp(-0.5 * (along**2 + across**2))
    spectrum[0, 0] = 0.0
    half = spectrum.shape
    noise = rng.standard_normal(half, dtype=np.float32) + 1j * rng.standard_normal(half, dtype=np.float32)
    return normalize(np.fft.irfft2(noise.astype(np.complex64) * spectrum, s=shape).astype(np.float32))


def _mottle(rng: np.random.Generator, shape: Shape, size: float) -> np.ndarray:
    """Return slow isotropic mottling with structures about ``size`` pixels across."""
    sigma = _FEATURE_TO_SIGMA * min(shape) / size
    return smooth_field(rng, shape, sigma, sigma)


def _grain(rng: np.random.Generator, shape: Shape, period: float, detail: float) -> np.ndarray:
    """Fine isotropic grains of about ``period`` pixels over mid-scale and slow mottling."""
    grains = spectral_field(rng, shape, (period, period))
    middle = _mottle(rng, shape, 6.0 * period)
    slow = _mottle(rng, shape, 150.0 * min(shape) / NOMINAL)
    return normalize(grains + np.float32(0.3) * middle + np.float32(0.3 + 0.4 * detail) * slow)


def _fibres(rng: np.random.Generator, shape: Shape, period: float, angle: float, detail: float) -> np.ndarray:
    """Brushed fibres along ``angle``: ``period`` pixels thick, 8-20 times as long."""
    stretch = 8.0 + 12.0 * detail
    fibres = spectral_field(rng, shape, (stretch * period, period), angle)
    grains = spectral_field(rng, shape, (1.5, 1.5))
    slow = _mottle(rng, shape, 150.0 * min(shape) / NOMINAL)
    return normalize(fibres + np.float32(0.3) * grains + np.float32(0.4) * slow)


def _blotches(rng: np.random.Generator, shape: Shape, period: float, detail: float) -> np.ndarray:
    """Soft-edged light and dark blotches about ``period`` pixels across, with fine grain."""
    base = spectral_field(rng, shape, (period, period))
    sharp = np.float32(1.0 + 1.5 * detail)
    blotches = np.tanh(sharp * base) / np.tanh(sharp)
    grains = spectral_field(rng, shape, (2.0, 2.0))
    slow = _mottle(rng, shape, 150.0 * min(shape) / NOMINAL)
    return normalize(blotches + np.float32(0.4) * grains + np.float32(0.3) * slow)


def _weave(rng: np.random.Generator, shape: Shape, period: float, angle: float, detail: float) -> np.ndarray:
    """A basket weave: blocks of ``period`` pixels with threads alternating in direction."""
    yy, xx = coordinate_grids(shape)
    warp = smooth_field(rng, shape, 3.0, 3.0) * np.float32(0.2 * period)
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    u = (xx * cos + yy * sin + warp) * np.float32(math.pi / period)
    v = (yy * cos - xx * sin + np.roll(warp, shape[0] // 3, axis=0)) * np.float32(math.pi / period)
    checker = smoothstep(0.5 + 2.0 * np.sin(u) * np.sin(v))
    threads = np.float32(2.0 + 2.0 * round(detail))
    across = np.cos(threads * v) * np.abs(np.sin(u))
    along = np.cos(threads * u) * np.abs(np.sin(v))
    weave = checker * across + (1.0 - checker) * along
    grains = spectral_field(rng, shape, (1.5, 1.5))
    slow = _mottle(rng, shape, 150.0 * min(shape) / NOMINAL)
    return normalize(weave + np.float32(0.35) * grains + np.float32(0.4) * slow)
