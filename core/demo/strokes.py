"""Thin strokes for the demo generator: bent paths and their exact-support line fields.

A stroke is a polyline with a half width and a weight per segment. Its field is a soft
cross-section profile of the distance to the nearest segment that reaches exactly zero
at ``half width + edge / 2``, so the field's support is a precise mask of the stroke.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from core.demo.noise import Shape, smoothstep

logger = logging.getLogger(__name__)


def bent_path(
    rng: np.random.Generator,
    center: tuple[float, float],
    angle: float,
    length: float,
    *,
    bend: float,
    kinks: int,
    wobble: float = 0.04,
) -> np.ndarray:
    """Return the ``(N, 2)`` ``(y, x)`` vertices of a gently curved or kinked path.

    Args:
        rng: Random generator consumed by this call.
        center: ``(y, x)`` of the path's midpoint in pixels.
        angle: Mean heading in radians (0 runs along +x, pi/2 along +y).
        length: Path length in pixels.
        bend: Total change of heading from start to end in radians (a smooth curve).
        kinks: Number of sudden heading changes of 0.2-0.6 rad at random places.
        wobble: Standard deviation in radians of the random heading change per step.
    """
    steps = int(min(48, max(6, math.ceil(length / 3.0))))
    t = (np.arange(steps) + 0.5) / steps
    heading = angle + bend * (t - 0.5) + np.cumsum(rng.normal(0.0, wobble, size=steps))
    for where, turn in zip(rng.uniform(0.2, 0.8, size=kinks), rng.uniform(0.2, 0.6, size=kinks), strict=True):
        heading += np.where(t > where, turn * rng.choice([-1.0, 1.0]), 0.0)
    step = length / steps
    moves = np.stack([np.sin(heading), np.cos(heading)], axis=1) * step
    points = np.concatenate([np.zeros((1, 2)), np.cumsum(moves, axis=0)])
    return points - points[len(points) // 2] + np.asarray(center)


def stroke_field(
    shape: Shape,
    points: np.ndarray,
    half_widths: np.ndarray,
    weights: np.ndarray,
    edge: float,
) -> np.ndarray:
    """Return the float32 ``shape`` field of a stroke along ``points``.

    Each pixel takes the profile of its nearest segment: ``weight`` where the distance is
    below ``half_width - edge / 2``, falling smoothly to exactly 0 at ``half_width +
    edge / 2`` and beyond. Parts of the path outside the image are cut off.

    Args:
        shape: Output ``(H, W)``.
        points: ``(N, 2)`` path vertices ``(y, x)`` in pixels.
        half_widths: ``(N - 1,)`` half width of each segment in pixels.
        weights: ``(N - 1,)`` positive peak value of each segment.
        edge: Width of the soft border in pixels.
    """
    height, width = shape
    out = np.zeros(shape, dtype=np.float32)
    reach = float(np.max(half_widths)) + edge
    y0, x0 = (int(max(0, math.floor(v - reach))) for v in points.min(axis=0))
    y1 = int(min(height, math.ceil(points[:, 0].max() + reach) + 1))
    x1 = int(min(width, math.ceil(points[:, 1].max() + reach) + 1))
    if y0 >= y1 or x0 >= x1:
        return out
    distance = np.full((y1 - y0, x1 - x0), np.inf, dtype=np.float32)
    nearest = np.zeros(distance.shape, dtype=np.int32)
    for index in range(len(points) - 1):
        _closer_to_segment(distance, nearest, points[index] - (y0, x0), points[index + 1] - (y0, x0), index, reach)
    half = half_widths.astype(np.float32)[nearest]
    profile = smoothstep((half + np.float32(edge / 2.0) - distance) / np.float32(edge))
    out[y0:y1, x0:x1] = profile * weights.astype(np.float32)[nearest]
    return out


def _closer_to_segment(
    distance: np.ndarray, nearest: np.ndarray, start: np.ndarray, end: np.ndarray, index: int, reach: float
) -> None:
    """Lower ``distance`` (and set ``nearest`` to ``index``) where segment ``index`` is closer."""
    height, width = distance.shape
    low = np.floor(np.minimum(start, end) - reach).astype(int)
    high = np.ceil(np.maximum(start, end) + reach).astype(int) + 1
    ya, xa = max(0, low[0]), max(0, low[1])
    yb, xb = min(height, high[0]), min(width, high[1])
    if ya >= yb or xa >= xb:
        return
    yy = np.arange(ya, yb, dtype=np.float32)[:, None] - np.float32(start[0])
    xx = np.arange(xa, xb, dtype=np.float32)[None, :] - np.float32(start[1])
    dy, dx = np.float32(end[0] - start[0]), np.float32(end[1] - start[1])
    span = max(float(dy * dy + dx * dx), 1e-6)
    t = np.clip((yy * dy + xx * dx) / np.float32(span), 0.0, 1.0)
    here = np.sqrt((yy - t * dy) ** 2 + (xx - t * dx) ** 2)
    window = distance[ya:yb, xa:xb]
    closer = here < window
    window[closer] = here[closer]
    nearest[ya:yb, xa:xb][closer] = index
