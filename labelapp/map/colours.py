"""The embedding map's colour modes: which colour group each point is in, and the legend.

A mode turns :class:`core.map.points.MapPoints` into a group per point (drawn in group
order, so the groups that matter go last, on top) and one colour and legend entry per
group. Grey is for "nothing to show": unlabeled, no prediction, not suggested.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QColor

from core.map.points import MapPoints
from core.store import ImageClass

MODES = (("Label", "label"), ("Prediction", "prediction"), ("Uncertainty", "uncertainty"),
         ("Suggested", "suggested"))
GREY = QColor(160, 160, 160, 150)
UNCERTAINTY_BINS = 8
UNCERTAINTY_MAP = "viridis"  # sure: dark blue, unsure: yellow (drawn on top)
SUGGESTED_RANKS = ((1, 20, QColor("#d62728")), (21, 100, QColor("#ff7f0e")), (101, None, QColor("#f7c948")))


@dataclass(frozen=True)
class Colouring:
    """groups: (N,) int64 colour index of each point; colors / names / counts: one per group.
    ``scale`` (low end, high end): groups 1.. are steps of one scale, shown as a strip."""

    groups: np.ndarray
    colors: list[QColor]
    names: list[str]
    counts: list[int]
    scale: tuple[str, str] | None = None

    def legend_html(self) -> str:
        """The legend as rich text: a coloured square, the name and the count per group
        (a strip of squares between the two ends for a scale)."""
        entries = list(zip(self.colors, self.names, self.counts, strict=True))
        parts = [_entry(color, name, count) for color, name, count in (entries[:1] if self.scale else entries)
                 if count]
        if self.scale:
            strip = "".join(_square(color) for color, _name, _count in entries[1:])
            known = sum(self.counts[1:])
            parts.append(f"{html.escape(self.scale[0])}&nbsp;{strip}&nbsp;{html.escape(self.scale[1])}"
                         f"&nbsp;<span style='color:#777'>{known:,}</span>")
        return " &nbsp; ".join(parts)


def _square(color: QColor) -> str:
    return f"<span style='color:{color.name()}'>&#9632;</span>"


def _entry(color: QColor, name: str, count: int) -> str:
    name = html.escape(name).replace(" ", "&nbsp;")  # an entry wraps as a whole
    return f"{_square(color)}&nbsp;{name}&nbsp;<span style='color:#777'>{count:,}</span>"


def colour_points(mode: str, points: MapPoints, classes: Sequence[ImageClass]) -> Colouring:
    """The colouring of ``points`` in ``mode`` (one of the values of :data:`MODES`)."""
    if mode == "label":
        return _by_class(points.label, classes, none="unlabeled")
    if mode == "prediction":
        return _by_class(points.predicted, classes, none="no prediction")
    if mode == "uncertainty":
        return _by_uncertainty(points.uncertainty)
    if mode == "suggested":
        return _by_suggestion(points)
    raise ValueError(f"unknown colour mode {mode!r}; expected one of {', '.join(m for _, m in MODES)}")


def _by_class(class_ids: np.ndarray, classes: Sequence[ImageClass], *, none: str) -> Colouring:
    lookup = np.zeros(max([c.id for c in classes] + [int(class_ids.max(initial=0))]) + 1, np.int64)
    for position, cls in enumerate(classes, start=1):
        lookup[cls.id] = position  # class ids the project no longer has stay 0: grey
    groups = lookup[class_ids]
    return _colouring(groups, [GREY, *(QColor(c.color) for c in classes)], [none, *(c.name for c in classes)])


def _by_uncertainty(uncertainty: np.ndarray) -> Colouring:
    import pyqtgraph as pg

    known = ~np.isnan(uncertainty)
    bins = np.clip((np.nan_to_num(uncertainty) * UNCERTAINTY_BINS).astype(np.int64), 0, UNCERTAINTY_BINS - 1)
    groups = np.where(known, bins + 1, 0)
    colormap = pg.colormap.get(UNCERTAINTY_MAP)
    colors = [colormap.map((k + 0.5) / UNCERTAINTY_BINS, mode="qcolor") for k in range(UNCERTAINTY_BINS)]
    step = 1.0 / UNCERTAINTY_BINS
    names = [f"uncertainty {k * step:.2f}–{(k + 1) * step:.2f}" for k in range(UNCERTAINTY_BINS)]
    return _colouring(groups, [GREY, *colors], ["no prediction", *names], scale=("sure", "unsure"))


def _by_suggestion(points: MapPoints) -> Colouring:
    """Open suggestions by rank band, the best band last (on top); everything else grey."""
    suggested = points.suggested()
    groups = np.zeros(len(points.rank), np.int64)
    names = ["not suggested"]
    colors = [GREY]
    for band, (low, high, color) in enumerate(reversed(SUGGESTED_RANKS), start=1):
        inside = suggested & (points.rank >= low) & ((points.rank <= high) if high is not None else True)
        groups[inside] = band
        names.append(f"rank {low}–{high}" if high is not None else f"rank {low}+")
        colors.append(color)
    return _colouring(groups, colors, names)


def _colouring(groups: np.ndarray, colors: list[QColor], names: list[str],
               scale: tuple[str, str] | None = None) -> Colouring:
    counts = np.bincount(groups, minlength=len(colors))[:len(colors)]
    return Colouring(groups=groups, colors=colors, names=names, counts=[int(c) for c in counts], scale=scale)
