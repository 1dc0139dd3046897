"""Figures in words for the GUI's lines and tooltips."""

from __future__ import annotations

import math


def figure(value: object, fmt: str = ".2f") -> str:
    """A metric as ``fmt`` formats it (``0.87``), or "–" when it is missing or not finite."""
    return format(float(value), fmt) if isinstance(value, int | float) and math.isfinite(value) else "–"
