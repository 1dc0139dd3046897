"""Figures in words for the GUI's lines and tooltips."""

from __future__ import annotations

import math


def figure(value: object, fmt: str = ".2f") -> str:
    """A metric as ``fmt`` formats it (``0.87``), or "–" when it is missing or not finite."""
    return format(float(value), fmt) if isinstance(value, int | float) and math.isfinite(value) else "–"


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """"1 file", "2 files", "1,200 images"."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"
