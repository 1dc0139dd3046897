"""The training panel's live curves: one line per loss or metric of the job in progress.

Every loss and metric of a :class:`core.jobs.Progress` becomes a curve named
"<phase>: <name>"; the plot shows those of the phase in progress (metrics that come now
and then, once per epoch or once per run, with dots on their points), with a legend
under it. pyqtgraph is imported when the first point is drawn, not when the window opens.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout

from core.jobs import Progress

CURVE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


class LiveCurves:
    """The plot and its legend, added to ``box`` (a layout of the panel) on first use."""

    def __init__(self, box: QVBoxLayout) -> None:
        self._box = box
        self._plot: Any = None
        self._curves: dict[str, _Curve] = {}
        self._phase: str | None = None  # the phase whose curves the plot shows
        self._records: dict[str, int] = {}  # progress records with curve points, per phase
        self._tick = 0
        self.legend = QLabel(objectName="curve_legend")  # under the plot: a legend inside would hide curves
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.hide()

    def names(self) -> list[str]:
        return sorted(self._curves)

    def values(self, name: str) -> list[float]:
        return list(self._curves[name].ys)

    def shown_names(self) -> list[str]:
        """The curves the plot shows now (those of the phase in progress, or the last one)."""
        return sorted(name for name, curve in self._curves.items() if curve.item is not None)

    def add(self, record: Progress) -> None:
        """The points of one progress record."""
        self._tick += 1
        if record.losses or record.metrics:
            self._show_phase(record.phase)
            self._records[record.phase] = self._records.get(record.phase, 0) + 1
        for name, value in record.losses.items():
            self._add_point(record.phase, name, float(value))
        for name, value in record.metrics.items():
            self._add_point(record.phase, name, float(value), dots=True)

    def _show_phase(self, phase: str) -> None:
        """The plot shows the curves of one phase at a time (the one in progress): the
        detector's losses near 0.5 stay readable after a contrastive loss near 5."""
        if phase == self._phase:
            return
        self._phase = phase
        if self._plot is None:
            return
        for curve in self._curves.values():
            if curve.phase != phase and curve.item is not None:
                self._plot.removeItem(curve.item)
                curve.item = None
        self._plot.setTitle(phase, size="9pt")
        self._show_legend()

    def _add_point(self, phase: str, name: str, value: float, *, dots: bool = False) -> None:
        if not math.isfinite(value):
            return
        key = f"{phase}: {name}"
        curve = self._curves.get(key)
        if curve is None:
            plot = self._ensure_plot()
            color = CURVE_COLORS[sum(c.phase == phase for c in self._curves.values()) % len(CURVE_COLORS)]
            curve = self._curves[key] = _Curve(phase=phase, name=name, color=color, dots=dots, item=plot.plot(
                [], [], pen=color, symbol=None, symbolBrush=color, symbolPen=color, symbolSize=6))
            self._show_legend()
        curve.xs.append(float(self._tick))
        curve.ys.append(value)
        if curve.item is not None:
            curve.item.setData(curve.xs, curve.ys)
            # a metric that comes now and then (once per epoch, once per run) shows its points
            sparse = curve.dots and (len(curve.xs) == 1 or len(curve.xs) < self._records.get(phase, 0))
            if sparse != curve.sparse:
                curve.sparse = sparse
                curve.item.setSymbol("o" if sparse else None)
                self._show_legend()

    def _ensure_plot(self) -> Any:
        if self._plot is None:
            import pyqtgraph

            self._plot = pyqtgraph.PlotWidget(background="w")
            self._plot.showGrid(x=True, y=True, alpha=0.2)
            self._plot.setLabel("bottom", "progress updates")
            if self._phase is not None:
                self._plot.setTitle(self._phase, size="9pt")
            self._box.addWidget(self._plot, 1)
            self._box.addWidget(self.legend)
        return self._plot

    def _show_legend(self) -> None:
        """Names of the shown curves in their colours (dotted: a metric that comes now and then)."""
        entries = [f"<span style='color:{c.color}'>{'●' if c.sparse else '━'}</span>&nbsp;"
                   + html.escape(c.name).replace(" ", "&nbsp;")
                   for c in self._curves.values() if c.item is not None]
        self.legend.setText(" &nbsp; ".join(entries))
        self.legend.setVisible(bool(entries))

    def clear(self) -> None:
        self._tick = 0
        self._phase = None
        self._records = {}
        if self._plot is not None:
            self._plot.clear()
            self._plot.setTitle(None)
        self.legend.hide()
        self._curves = {}


@dataclass
class _Curve:
    """One live curve: its points, and its plot item while its phase is shown."""

    phase: str
    name: str
    color: str
    dots: bool
    item: Any
    sparse: bool = False  # drawn with dots
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
