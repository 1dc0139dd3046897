"""The training panel: Retrain, progress with ETA, cancel, live curves, run history.

It runs any core job (a generator of :class:`core.jobs.Progress`) through
:class:`labelapp.jobs.JobRunner`; the job never touches a widget. pyqtgraph is
imported when the first curve is drawn, not when the window opens.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.jobs import Progress
from core.store import Run, RunStatus
from labelapp.jobs import Job, JobRunner

logger = logging.getLogger(__name__)
CURVE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


class TrainingPanel(QWidget):
    """Signals:
        retrain_requested(): the user pressed Retrain (the window builds the job).
        run_finished(object): the job's result.
        run_failed(object): the exception the job raised.
    """

    retrain_requested = Signal()
    run_finished = Signal(object)
    run_failed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner: JobRunner | None = None
        self._plot: Any = None
        self._curves: dict[str, tuple[list[float], list[float], Any]] = {}
        self._tick = 0
        self.retrain_button = QPushButton("Retrain with current labels")
        self.retrain_button.setObjectName("retrain_button")
        self.retrain_button.clicked.connect(self.retrain_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.phase_label = QLabel("No training yet.")
        self.phase_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.eta_label = QLabel("")
        self.history = QListWidget()
        self.history.setObjectName("run_history")
        self._plot_box = QVBoxLayout()
        buttons = QHBoxLayout()
        buttons.addWidget(self.retrain_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.phase_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta_label)
        layout.addLayout(self._plot_box, 2)
        layout.addWidget(QLabel("Runs"))
        layout.addWidget(self.history, 1)

    # -- running -------------------------------------------------------------------------------
    def start(self, job: Job, *, title: str) -> None:
        """Runs ``job`` (called with a cancel event on the worker thread)."""
        if self.is_running():
            raise RuntimeError("a training job is already running")
        self._clear_curves()
        self.phase_label.setText(title)
        self.progress.setRange(0, 0)
        self.eta_label.setText("")
        runner = JobRunner(job, self)
        runner.progressed.connect(self._on_runner_progressed)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        self._runner = runner
        self.retrain_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        runner.start()

    def is_running(self) -> bool:
        return self._runner is not None and self._runner.is_running()

    @Slot()
    def cancel(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self.phase_label.setText("Cancelling after the current step…")
            self.cancel_button.setEnabled(False)

    def shutdown(self) -> None:
        """Cancels a running job and waits for its thread (closeEvent)."""
        if self._runner is not None:
            self._runner.cancel()
            self._runner.wait()

    def curve_names(self) -> list[str]:
        return sorted(self._curves)

    def curve_values(self, name: str) -> list[float]:
        return list(self._curves[name][1])

    # -- history ---------------------------------------------------------------------------------
    def show_history(self, runs: list[Run]) -> None:
        self.history.clear()
        for run in reversed(runs):
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in run.metrics.items() if isinstance(v, float))
            text = f"#{run.id} {run.method} · {run.status.value}" + (f" · {metrics}" if metrics else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            if run.status is not RunStatus.DONE:
                item.setForeground(Qt.GlobalColor.gray)
            self.history.addItem(item)

    # -- slots ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_runner_progressed(self, record: object) -> None:
        if not isinstance(record, Progress):
            return
        if record.total:
            self.progress.setRange(0, record.total)
            self.progress.setValue(record.step)
        self.phase_label.setText(record.message or record.phase)
        if record.eta_s is not None:
            minutes, seconds = divmod(int(record.eta_s), 60)
            self.eta_label.setText(f"about {minutes}:{seconds:02d} left")
        self._tick += 1
        for name, value in {**record.losses, **record.metrics}.items():
            self._add_point(f"{record.phase}: {name}", float(value))

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        self._end("Finished.")
        self.run_finished.emit(result)

    @Slot(object)
    def _on_runner_failed(self, exc: object) -> None:
        self._end(f"Failed: {exc}")
        self.run_failed.emit(exc)

    def _end(self, text: str) -> None:
        self.phase_label.setText(text)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.eta_label.setText("")
        self.retrain_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._runner = None

    # -- curves ----------------------------------------------------------------------------------
    def _add_point(self, name: str, value: float) -> None:
        if name not in self._curves:
            plot = self._ensure_plot()
            color = CURVE_COLORS[len(self._curves) % len(CURVE_COLORS)]
            item = plot.plot([], [], pen=color, name=name)
            self._curves[name] = ([], [], item)
        xs, ys, item = self._curves[name]
        xs.append(float(self._tick))
        ys.append(value)
        item.setData(xs, ys)

    def _ensure_plot(self) -> Any:
        if self._plot is None:
            import pyqtgraph

            self._plot = pyqtgraph.PlotWidget(background="w")
            self._plot.addLegend(offset=(-10, 10))
            self._plot.showGrid(x=True, y=True, alpha=0.2)
            self._plot.setLabel("bottom", "progress updates")
            self._plot_box.addWidget(self._plot)
        return self._plot

    def _clear_curves(self) -> None:
        self._tick = 0
        if self._plot is not None:
            self._plot.clear()
            self._plot.addLegend(offset=(-10, 10))
        self._curves = {}
