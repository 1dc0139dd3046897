"""Scrolling the grid from top to bottom, for ``benchmarks/gui_bench_grid.py``."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from labelapp.grid.view import GridView


def scroll_to_end(view: GridView) -> dict:
    """Scrolls ``view`` from the top to the bottom a page at a time, processing events
    (and so painting) after each step.

    Returns:
        ``seconds`` in all, ``frames`` (paint events of the viewport, thumbnail
        repaints included), ``rows`` (grid rows), ``steps``, and ``mean_ms`` /
        ``max_ms`` of one step (scroll, events, paint).
    """
    bar = view.verticalScrollBar()
    bar.setValue(0)
    QApplication.processEvents()
    counter = _PaintCounter(view.viewport())
    steps: list[float] = []
    started = time.perf_counter()
    while bar.value() < bar.maximum():
        step = time.perf_counter()
        bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep()))
        QApplication.processEvents()
        steps.append(time.perf_counter() - step)
    seconds = time.perf_counter() - started
    counter.remove()
    return {"seconds": seconds, "frames": counter.count, "rows": view.grid_rows(), "steps": len(steps),
            "mean_ms": 1000 * float(np.mean(steps)) if steps else 0.0, "max_ms": 1000 * max(steps, default=0.0)}


class _PaintCounter(QObject):
    """Counts the paint events of a widget."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        self._widget = widget
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False

    def remove(self) -> None:
        self._widget.removeEventFilter(self)
        self.deleteLater()
