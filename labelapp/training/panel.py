"""The training panel: Retrain, progress with ETA, cancel, live curves, run history.

It runs any core job (a generator of :class:`core.jobs.Progress`) through
:class:`labelapp.jobs.runner.JobRunner`; the job never touches a widget. pyqtgraph is
imported when the first curve is drawn, not when the window opens. Every loss and
metric of a Progress becomes a curve named "<phase>: <name>"; the plot shows those of
the phase in progress (metrics that come now and then, once per epoch or once per run,
with dots on their points). The history
marks stale runs (the controller tells which) and opens a run's details on
double-click: a defect-detector run's with its threshold control. A line above the
history says whether the latest defect detector is validated (no image is called
defective until it is) and what to label.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
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
from core.store import Project, Run, RunKind, RunStatus
from labelapp.jobs.runner import Job, JobRunner
from labelapp.training.detection_details import DetectionDetailsDialog
from labelapp.training.run_details import RunDetailsDialog, detector_trust_html, run_summary

logger = logging.getLogger(__name__)
CURVE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
STALE_COLOR = "#D55E00"
STALE_MARK = "stale — labels changed since"
RUNNING_STALE = ("Labels changed since this run took its snapshot: its result will be stale. "
                 "Retrain again (Ctrl+R) when it finishes.")
FINISHED_STALE = "Labels changed while this run trained: its result is stale. Retrain (Ctrl+R) to include them."
SEGDEC_TIP = ("Also trains the defect detector (seg-dec, paper 002) when OK and defective images are labeled: it "
              "learns from the labels and from the masks there are, and gives every image a defect probability "
              "and a heat map, a validation AP / F1, and the list of images worth a mask. Adds about a minute per "
              "few hundred labels on a laptop.")


class TrainingPanel(QWidget):
    """Signals:
        retrain_requested(): the user pressed Retrain (the window builds the job).
        run_finished(object): the job's result.
        run_failed(object): the exception the job raised.
        image_requested(object): an image id clicked in a run's details.
        threshold_changed(object): a defect-detector run (:class:`Run`) whose threshold the user moved.
    """

    retrain_requested = Signal()
    run_finished = Signal(object)
    run_failed = Signal(object)
    image_requested = Signal(object)
    threshold_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner: JobRunner | None = None
        self._plot: Any = None
        self._curves: dict[str, _Curve] = {}
        self._phase: str | None = None  # the phase whose curves the plot shows
        self._records: dict[str, int] = {}  # progress records with curve points, per phase
        self._tick = 0
        self.retrain_button = QPushButton("Retrain with current labels")
        self.retrain_button.setObjectName("retrain_button")
        self.retrain_button.clicked.connect(self.retrain_requested)
        self.thorough_box = QCheckBox("Thorough: also fine-tune the encoder (slower)", objectName="thorough_box")
        self.thorough_box.setToolTip("Trains the encoder itself on the labeled images with the contrastive + ArcFace"
                                     " loss before fitting the classifier. About a minute more per retrain; on"
                                     " X-SDD it helped at 5 labels per class and not at 10 or 20.")
        self.segdec_box = QCheckBox("Defect detector: train it too", objectName="segdec_box")
        self.segdec_box.setToolTip(SEGDEC_TIP)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.phase_label = QLabel("No training yet.")
        self.phase_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.eta_label = QLabel("")
        self.stale_label = QLabel(objectName="stale_warning")
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet(f"color: {STALE_COLOR}")
        self.stale_label.hide()
        self.detector_label = QLabel(objectName="detector_trust")
        self.detector_label.setTextFormat(Qt.TextFormat.RichText)
        self.detector_label.setWordWrap(True)
        self.detector_label.hide()
        self.history = QListWidget()
        self.history.setObjectName("run_history")
        self.history.setToolTip("Double-click a run for its metrics and confusion matrix")
        self.details_button = QPushButton("Details…", objectName="run_details_button")
        self.details_button.setEnabled(False)
        self.details_dialog: QDialog | None = None
        self._project: Project | None = None
        self._runs: dict[int, Run] = {}
        self._stale: set[int] = set()
        self._plot_box = QVBoxLayout()
        self.legend = QLabel(objectName="curve_legend")  # under the plot: a legend inside would hide curves
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.hide()
        self._layout()
        self.history.itemActivated.connect(self._on_history_item_activated)
        self.history.currentItemChanged.connect(self._on_history_current_item_changed)
        self.details_button.clicked.connect(self._on_details_button_clicked)

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.retrain_button, 1)
        buttons.addWidget(self.cancel_button)
        runs_header = QHBoxLayout()
        runs_header.addWidget(QLabel("Runs"), 1)
        runs_header.addWidget(self.details_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.thorough_box)
        layout.addWidget(self.segdec_box)
        layout.addWidget(self.phase_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta_label)
        layout.addWidget(self.stale_label)
        layout.addLayout(self._plot_box, 2)
        layout.addWidget(self.detector_label)
        layout.addLayout(runs_header)
        layout.addWidget(self.history, 1)

    # -- running -------------------------------------------------------------------------------
    def start(self, job: Job, *, title: str) -> None:
        """Runs ``job`` (called with a cancel event on the worker thread)."""
        if self.is_running():
            raise RuntimeError("a training job is already running")
        self._clear_curves()
        self.show_stale_warning(False)
        from labelapp.jobs.warmup import start_warmup

        start_warmup()  # pyqtgraph (the curves) and torch load off the GUI thread if not yet done
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
        return list(self._curves[name].ys)

    def shown_curve_names(self) -> list[str]:
        """The curves the plot shows now (those of the phase in progress, or the last one)."""
        return sorted(name for name, curve in self._curves.items() if curve.item is not None)

    # -- history ---------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """The window's project: a defect-detector run's details read its validation
        images and move its threshold there."""
        self._project = project
        if project is None and self.details_dialog is not None:
            self.details_dialog.close()

    def show_history(self, runs: list[Run], stale: Collection[int] = ()) -> None:
        """Lists ``runs``, newest first; those in ``stale`` are marked stale."""
        self.history.clear()
        self._runs = {run.id: run for run in runs}
        self._stale = set(stale)
        for run in reversed(runs):
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            self.history.addItem(item)
            self._show_item(item)
        self._show_detector()

    def _show_detector(self) -> None:
        """The latest finished defect-detector run's trust, above the history."""
        latest = next((r for r in reversed(self._runs.values())
                       if r.kind is RunKind.SEGDEC and r.status is RunStatus.DONE), None)
        self.detector_label.setVisible(latest is not None)
        if latest is None:
            self.detector_label.setText("")
            return
        from core.training.segdec_results import training_notes

        notes = "".join(f"<br><span style='color:#555555'>{html.escape(n)}</span>" for n in training_notes(latest))
        self.detector_label.setText(detector_trust_html(latest) + notes)

    def mark_stale(self, stale: Collection[int]) -> None:
        """Marks the runs in ``stale`` stale and the others not (keeps the selection)."""
        stale = set(stale) & set(self._runs)
        if stale == self._stale:
            return
        self._stale = stale
        for row in range(self.history.count()):
            self._show_item(self.history.item(row))

    def stale_ids(self) -> set[int]:
        return set(self._stale)

    def runs(self) -> list[Run]:
        """The runs the history shows, oldest first."""
        return list(self._runs.values())

    def show_stale_warning(self, stale: bool) -> None:
        """Says that labels changed since the run in progress (or the one that just
        finished) took its snapshot, and suggests retraining; False hides it."""
        self.stale_label.setText(RUNNING_STALE if self.is_running() else FINISHED_STALE)
        self.stale_label.setVisible(stale)

    def show_run_details(self, run_id: int) -> QDialog:
        """Opens the details of run ``run_id`` (one dialog at a time, non-modal)."""
        if self.details_dialog is not None:
            self.details_dialog.close()
            self.details_dialog.deleteLater()
        run, stale = self._runs[run_id], run_id in self._stale
        if run.kind is RunKind.SEGDEC and run.status is RunStatus.DONE and self._project is not None:
            dialog: QDialog = DetectionDetailsDialog(self._project, run, stale=stale, parent=self)
            dialog.image_requested.connect(self.image_requested)
            dialog.threshold_changed.connect(self._on_details_threshold_changed)
        else:
            dialog = RunDetailsDialog(run, stale=stale, parent=self)
        self.details_dialog = dialog
        dialog.show()
        return dialog

    def _show_item(self, item: QListWidgetItem) -> None:
        run = self._runs[int(item.data(Qt.ItemDataRole.UserRole))]
        text = run_summary(run)
        stale = run.id in self._stale
        item.setText(f"{text} · {STALE_MARK}" if stale else text)
        stale_tip = "\nLabels changed since this run took its snapshot: retrain to include them." if stale else ""
        item.setToolTip(f"{text}{stale_tip}\nDouble-click for the details.")
        if stale:
            item.setForeground(QColor(STALE_COLOR))
        elif run.status is not RunStatus.DONE:
            item.setForeground(Qt.GlobalColor.gray)
        else:
            item.setData(Qt.ItemDataRole.ForegroundRole, None)

    # -- slots ---------------------------------------------------------------------------------
    @Slot(QListWidgetItem)
    def _on_history_item_activated(self, item: QListWidgetItem) -> None:
        self.show_run_details(int(item.data(Qt.ItemDataRole.UserRole)))

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_history_current_item_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        self.details_button.setEnabled(current is not None)

    @Slot()
    def _on_details_button_clicked(self) -> None:
        item = self.history.currentItem()
        if item is not None:
            self.show_run_details(int(item.data(Qt.ItemDataRole.UserRole)))

    @Slot(object)
    def _on_details_threshold_changed(self, run: object) -> None:
        if isinstance(run, Run) and run.id in self._runs:
            self._runs[run.id] = run
            for row in range(self.history.count()):
                item = self.history.item(row)
                if int(item.data(Qt.ItemDataRole.UserRole)) == run.id:
                    self._show_item(item)
            self._show_detector()
        self.threshold_changed.emit(run)

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
        if record.losses or record.metrics:
            self._show_phase(record.phase)
            self._records[record.phase] = self._records.get(record.phase, 0) + 1
        for name, value in record.losses.items():
            self._add_point(record.phase, name, float(value))
        for name, value in record.metrics.items():
            self._add_point(record.phase, name, float(value), dots=True)

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
            self._plot_box.addWidget(self._plot, 1)
            self._plot_box.addWidget(self.legend)
        return self._plot

    def _show_legend(self) -> None:
        """Names of the shown curves in their colours (dotted: a metric that comes now and then)."""
        entries = [f"<span style='color:{c.color}'>{'●' if c.sparse else '━'}</span>&nbsp;"
                   + html.escape(c.name).replace(" ", "&nbsp;")
                   for c in self._curves.values() if c.item is not None]
        self.legend.setText(" &nbsp; ".join(entries))
        self.legend.setVisible(bool(entries))

    def _clear_curves(self) -> None:
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
