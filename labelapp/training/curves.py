"""The training panel's curves: one line per loss or metric of the job in progress, or of a
finished run.

The points come from a :class:`core.jobs.curves.CurveLog` (the panel's own, fed with the
progress records, or the log a run saved, :meth:`LiveCurves.show_log`). A curve's key is
"<phase>: <name>" as the job names it; the plot and its legend use plain words
(:mod:`labelapp.training.wording`) with the paper's term in the legend's tooltip. The
plot shows one phase at a time (the one in progress, or the last one), against epochs,
or minutes for a phase without epochs: the losses on the left axis, the scores (metrics,
0 to 1) on the right one, so that a loss near 5 does not flatten an accuracy near 0.1.
Metrics that come now and then (once per epoch, once per run) are drawn with dots.
pyqtgraph is imported when the first point is drawn, not when the window opens.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout

from core.jobs import Progress
from core.jobs.curves import CurveLog
from labelapp.training.wording import AXIS_TIPS, AXIS_WORDS, curve_words, phase_title

CURVE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
PLOT_HEIGHT, PLOT_MIN_HEIGHT = 200, 140  # px: what the plot asks for, and the least it takes
REDRAW_MS = 250
"""New points are drawn at most this often: each redraw moves the axes, and pyqtgraph
lays out their ticks in Python (25-30 ms of the GUI thread per paint)."""


class LiveCurves:
    """The plot and its legend, added to ``box`` (a layout of the panel) on first use."""

    def __init__(self, box: QVBoxLayout) -> None:
        self._box = box
        self._plot: Any = None
        self._scores: Any = None  # the view of the right axis, where the metrics are drawn
        self._log = CurveLog()
        self._items: dict[tuple[str, str], Any] = {}  # plot items of the shown phase's curves
        self._dotted: dict[tuple[str, str], bool] = {}
        self._colors: dict[tuple[str, str], str] = {}
        self._phase: str | None = None  # the phase whose curves the plot shows
        self._source = ""  # what the curves are of, for the title ("" while a job runs)
        self.legend = QLabel(objectName="curve_legend")  # under the plot: a legend inside would hide curves
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.hide()
        self._dirty: set[tuple[str, str]] = set()  # curves with points not drawn yet
        self._redraw = QTimer(self.legend, singleShot=True, interval=REDRAW_MS)
        self._redraw.timeout.connect(self._draw_dirty)

    def names(self) -> list[str]:
        return sorted(f"{phase}: {name}" for phase, name in self._log.curves)

    def values(self, name: str) -> list[float]:
        phase, _, curve = name.partition(": ")
        return list(self._log.curves[phase, curve].ys)

    def xs(self, name: str) -> list[float]:
        phase, _, curve = name.partition(": ")
        return list(self._log.curves[phase, curve].xs)

    def shown_names(self) -> list[str]:
        """The curves the plot shows now (those of the phase in progress, or the last one)."""
        return sorted(f"{phase}: {name}" for phase, name in self._items)

    def phase(self) -> str | None:
        return self._phase

    def axis_label(self) -> str:
        """The words under the x-axis of the phase shown."""
        return AXIS_WORDS[self._log.unit(self._phase)] if self._phase is not None else ""

    def title(self) -> str:
        if self._phase is None:
            return ""
        return phase_title(self._phase) + (f" · {self._source}" if self._source else "")

    def add(self, record: Progress) -> None:
        """The points of one progress record."""
        points = self._log.add(record)
        if not points:
            return
        if record.phase != self._phase or self._plot is None:
            self._show_phase(record.phase)
            return
        for key in {(point.phase, point.name) for point in points}:
            if key in self._items:
                self._dirty.add(key)
            else:  # a new curve shows at once, in the legend too
                self._draw(key)
        if self._dirty and not self._redraw.isActive():
            self._redraw.start()

    def flush(self) -> None:
        """Draws the points not drawn yet now (the job ended)."""
        self._redraw.stop()
        self._draw_dirty()

    def _draw_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            if key[0] == self._phase and key in self._log.curves:
                self._draw(key)

    def show_log(self, log: CurveLog, source: str = "") -> None:
        """Shows the curves of a finished run (``source`` says which, in the title): its last phase."""
        self.clear()
        self._log, self._source = log, source
        phases = log.phases()
        if phases:
            self._show_phase(phases[-1])

    def clear(self) -> None:
        self._log = CurveLog()
        self._source = ""
        self._phase = None
        self._dirty.clear()
        self._items, self._dotted, self._colors = {}, {}, {}
        if self._plot is not None:
            self._plot.clear()
            self._scores.clear()
            self._plot.setTitle(None)
        self.legend.hide()

    def _show_phase(self, phase: str) -> None:
        """The plot shows the curves of one phase at a time: the detector's losses near 0.5
        stay readable after a contrastive loss near 5."""
        self._phase = phase
        self._dirty.clear()
        plot = self._ensure_plot()
        for key, item in self._items.items():
            (self._scores if self._log.curves[key].metric else plot).removeItem(item)
        self._items, self._dotted, self._colors = {}, {}, {}
        plot.setTitle(html.escape(self.title()), size="9pt")
        plot.setLabel("bottom", self.axis_label())
        plot.getAxis("bottom").setToolTip(AXIS_TIPS.get(self._log.unit(phase), ""))
        for key in [k for k in self._log.curves if k[0] == phase]:
            self._draw(key)

    def _draw(self, key: tuple[str, str]) -> None:
        curve = self._log.curves[key]
        item = self._items.get(key)
        if item is None:
            import pyqtgraph

            color = CURVE_COLORS[len(self._items) % len(CURVE_COLORS)]
            item = self._items[key] = pyqtgraph.PlotDataItem([], [], pen=color, symbol=None, symbolBrush=color,
                                                             symbolPen=color, symbolSize=6)
            (self._scores if curve.metric else self._plot).addItem(item)
            self._colors[key] = color
            self._dotted[key] = False
            self._show_legend()
        item.setData(curve.xs, curve.ys)
        dotted = self._log.dotted(curve)
        if dotted != self._dotted[key]:
            self._dotted[key] = dotted
            item.setSymbol("o" if dotted else None)
            self._show_legend()

    def _ensure_plot(self) -> Any:
        if self._plot is None:
            import pyqtgraph

            class Plot(pyqtgraph.PlotWidget):
                """A plot that asks for a dock's share of height, not pyqtgraph's 640 x 480."""

                def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
                    return QSize(300, PLOT_HEIGHT)

            self._plot = Plot(background="w")
            self._plot.showGrid(x=True, y=True, alpha=0.2)
            self._plot.setMinimumHeight(PLOT_MIN_HEIGHT)
            for side in ("bottom", "left", "right"):  # "0.5 epochs", not "500 (x0.001)"
                self._plot.getAxis(side).enableAutoSIPrefix(False)
            self._add_scores_axis(pyqtgraph)
            self._box.addWidget(self._plot, 1)
            self._box.addWidget(self.legend)
        return self._plot

    def _add_scores_axis(self, pyqtgraph: Any) -> None:
        """A second view on the right axis, 0 to 1, sharing the x-axis: the metrics go there."""
        item = self._plot.getPlotItem()
        item.setLabel("left", "losses")
        item.showAxis("right")
        item.setLabel("right", "scores")
        self._scores = pyqtgraph.ViewBox(enableMouse=False)
        item.scene().addItem(self._scores)
        item.getAxis("right").linkToView(self._scores)
        self._scores.setXLink(item)
        self._scores.setYRange(0.0, 1.0, padding=0.02)
        self._scores.disableAutoRange(axis=pyqtgraph.ViewBox.YAxis)

        def fit() -> None:
            self._scores.setGeometry(item.vb.sceneBoundingRect())
            self._scores.linkedViewChanged(item.vb, self._scores.XAxis)

        item.vb.sigResized.connect(fit)

    def on_scores_axis(self, name: str) -> bool:
        """Whether the curve ``name`` ("<phase>: <name>") is drawn against the right axis."""
        phase, _, curve = name.partition(": ")
        return self._log.curves[phase, curve].metric

    def _show_legend(self) -> None:
        """Plain names of the shown curves in their colours (dotted: a metric that comes now
        and then); the tooltip gives each one's term in the papers and what it means."""
        entries, tips = [], []
        for key in self._items:
            plain, tip = curve_words(key[1])
            mark = "●" if self._dotted.get(key) else "━"
            entries.append(f"<span style='color:{self._colors[key]}'>{mark}</span>&nbsp;"
                           + html.escape(plain).replace(" ", "&nbsp;"))
            tips.append(f"{plain}: {tip}" if tip else plain)
        self.legend.setText(" &nbsp; ".join(entries))
        self.legend.setToolTip("\n".join(tips))
        self.legend.setVisible(bool(entries))

