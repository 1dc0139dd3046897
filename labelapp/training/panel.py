"""The training panel: Retrain, one progress bar with the time left, cancel, curves, run history.

It shows what the training controller (:mod:`labelapp.training.controller`, which owns
the job runner) reports: a job started, each :class:`core.jobs.Progress`, the end. A
retrain's records carry the progress of the whole retrain and the part it is in: one
bar for all of it, the part named beside the time left ("Defect detector (3 of 4) —
about 3 min left"), what the part does now in a line below, and the live curves of
:mod:`labelapp.training.curves`; a mask proposer's run also its preview strip (image, repair,
difference, mask: :mod:`labelapp.training.preview_strip`). After the run, the curves stay;
selecting a run in the history shows the curves it saved. The history (every line whole, wrapped where the
panel is narrow) marks stale runs (the controller tells which) and opens a run's details
on double-click: a defect-detector run's with its threshold control. A line above the
history says whether the latest defect detector is validated (no image is called
defective until it is) and what to label; how it trained is in its tooltip (and in the
run's details). A short dock scrolls the panel rather than squeezing it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Collection

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.jobs import Progress
from core.jobs.curves import CurveLog, load_curves
from core.store import Project, Run, RunKind, RunStatus
from labelapp.training.curves import LiveCurves
from labelapp.training.detection_details import DetectionDetailsDialog
from labelapp.training.preview_strip import PreviewStrip
from labelapp.training.run_details import RunDetailsDialog, detector_trust_html, run_summary
from labelapp.training.scroll_content import ScrollContent
from labelapp.training.wording import time_left, when

logger = logging.getLogger(__name__)
STALE_COLOR = "#D55E00"
STALE_MARK = "stale — labels changed since"
RUNNING_STALE = ("Labels changed since this run took its snapshot: its result will be stale. "
                 "Retrain again (Ctrl+R) when it finishes.")
FINISHED_STALE = "Labels changed while this run trained: its result is stale. Retrain (Ctrl+R) to include them."
NO_RUNS = "No training yet: label a few images of two classes, then Retrain (Ctrl+R)."
BAR_STEPS = 1000
DETAIL_STYLE = "color: #555555"
SEGDEC_TIP = ("Also trains the defect detector (seg-dec, paper 002) when OK and defective images are labeled: it "
              "learns from the labels and from the masks there are, and gives every image a defect probability "
              "and a heat map, a validation AP / F1, and the list of images worth a mask. Adds about a minute per "
              "few hundred labels on a laptop.")


class TrainingPanel(QWidget):
    """Signals:
        retrain_requested(): the user pressed Retrain (the controller builds the job).
        cancel_requested(): the user pressed Cancel.
        image_requested(object): an image id clicked in a run's details.
        threshold_changed(object): a defect-detector run (:class:`Run`) whose threshold the user moved.
        progress_shown(object): the panel shows this progress record now.
    """

    retrain_requested = Signal()
    cancel_requested = Signal()
    image_requested = Signal(object)
    threshold_changed = Signal(object)
    progress_shown = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._running = False
        self.retrain_button = QPushButton("Retrain")  # short: the panel fits a narrow dock
        self.retrain_button.setToolTip("Retrain with the current labels (Ctrl+R)")
        self.retrain_button.setObjectName("retrain_button")
        self.retrain_button.clicked.connect(self.retrain_requested)
        self.thorough_box = QCheckBox("Thorough (slower)", objectName="thorough_box")
        # a short text: a check box does not wrap, and a long one made the panel wider than the dock
        self.thorough_box.setToolTip("Also fine-tunes the encoder: trains the encoder itself on the labeled images"
                                     " with the contrastive + ArcFace"
                                     " loss before fitting the classifier. About a minute more per retrain; on"
                                     " X-SDD it helped at 5 labels per class and not at 10 or 20.")
        self.segdec_box = QCheckBox("Defect detector: train it too", objectName="segdec_box")
        self.segdec_box.setToolTip(SEGDEC_TIP)
        # the background pretraining's toggle and line (labelapp/training/background.py fills them)
        self.background_box = QCheckBox("Keep training the encoder while idle", objectName="background_box")
        self.encoder_label = QLabel(objectName="encoder_line")
        self.encoder_label.setWordWrap(True)
        self.encoder_label.setStyleSheet(DETAIL_STYLE)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.phase_label = QLabel(NO_RUNS, objectName="training_phase")  # the part running and the time left
        self.phase_label.setWordWrap(True)
        self.progress = QProgressBar(objectName="training_progress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p %")
        self.detail_label = QLabel(objectName="training_detail")  # what runs now; after the run, its results
        self.detail_label.setWordWrap(True)
        self.detail_label.setStyleSheet(DETAIL_STYLE)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        self.history.setToolTip("Select a run for its curves; double-click it for its metrics and confusion matrix")
        self.history.setWordWrap(True)  # every line whole, wrapped in a narrow panel
        self.history.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.history.setResizeMode(QListView.ResizeMode.Adjust)
        self.history.setUniformItemSizes(False)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.setMinimumHeight(6 * self.history.fontMetrics().height())  # two runs, wrapped, in sight
        self.details_button = QPushButton("Details…", objectName="run_details_button")
        self.details_button.setEnabled(False)
        self.details_dialog: QDialog | None = None
        self._project: Project | None = None
        self._bar = 0
        self._runs: dict[int, Run] = {}
        self._stale: set[int] = set()
        self._plot_box = QVBoxLayout()
        self.curves = LiveCurves(self._plot_box)
        self.legend = self.curves.legend
        self.preview_strip = PreviewStrip()  # a mask proposer's pictures, hidden for other jobs
        self.progress_shown.connect(self.preview_strip.show_record)
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
        # in a scroll area: a short dock scrolls rather than squeezing the plot and the lines into each other
        content = ScrollContent(objectName="training_content")
        scroll = QScrollArea(self, objectName="training_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        layout.addLayout(buttons)
        layout.addWidget(self.thorough_box)
        layout.addWidget(self.segdec_box)
        layout.addWidget(self.background_box)
        layout.addWidget(self.encoder_label)
        layout.addWidget(self.phase_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.stale_label)
        layout.addLayout(self._plot_box, 3)
        layout.addWidget(self.preview_strip)
        layout.addWidget(self.detector_label)
        layout.addLayout(runs_header)
        layout.addWidget(self.history, 2)

    # -- running -------------------------------------------------------------------------------
    def job_started(self, title: str) -> None:
        """A job started: clears the curves, busy progress, Retrain off, Cancel on."""
        self.curves.clear()
        self.preview_strip.clear()
        self._running = True
        self._bar = 0
        self.show_stale_warning(False)
        self.phase_label.setText(title)
        self.detail_label.setText("")
        self.progress.setRange(0, 0)
        self.retrain_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

    def job_cancelling(self) -> None:
        self.phase_label.setText("Cancelling after the current step…")
        self.cancel_button.setEnabled(False)

    def job_ended(self, text: str, details: str = "") -> None:
        """The job finished or failed (``text`` says which; ``details``: its results, below the bar)."""
        self.curves.flush()
        self._running = False
        self.phase_label.setText(text)
        self.detail_label.setText(details)
        self.progress.setRange(0, BAR_STEPS)
        self.progress.setValue(BAR_STEPS)
        self.retrain_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def show_progress(self, record: object) -> None:
        """One progress record of the job: bar, the part running and the time left, what it
        does now, curve points. A retrain's bar is the whole retrain's and never goes back."""
        if not isinstance(record, Progress):
            return
        left = time_left(record.eta_s)
        if record.overall is not None:
            self._bar = max(self._bar, round(BAR_STEPS * record.overall))
            self.progress.setRange(0, BAR_STEPS)
            self.progress.setValue(self._bar)
            count = (f" ({record.stages.index(record.stage) + 1} of {len(record.stages)})"
                     if record.stage in record.stages and len(record.stages) > 1 else "")
            self.phase_label.setText(f"{record.stage}{count}" + (f" — {left}" if left else ""))
            self.phase_label.setToolTip("The retrain runs: " + ", ".join(record.stages) + ".")
            self.detail_label.setText(record.message or record.phase)
        else:
            if record.total:
                self.progress.setRange(0, record.total)
                self.progress.setValue(record.step)
            self.phase_label.setText((record.message or record.phase) + (f" — {left}" if left else ""))
        self.curves.add(record)
        self.progress_shown.emit(record)

    def is_running(self) -> bool:
        return self._running

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        self.cancel_requested.emit()

    def curve_names(self) -> list[str]:
        return self.curves.names()

    def curve_values(self, name: str) -> list[float]:
        return self.curves.values(name)

    def shown_curve_names(self) -> list[str]:
        """The curves the plot shows now (those of the phase in progress, or the last one)."""
        return self.curves.shown_names()

    # -- history ---------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """The window's project: a defect-detector run's details read its validation
        images and move its threshold there. Another project (or none) starts blank."""
        if project is not self._project and not self._running:
            self.curves.clear()
            self.preview_strip.clear()
            self.detail_label.setText("")
            self.phase_label.setText(NO_RUNS)
            self.progress.setRange(0, BAR_STEPS)
            self.progress.setValue(0)
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
        if not self._running and (not runs or self.phase_label.text() == NO_RUNS):
            self.phase_label.setText(NO_RUNS if not runs else self._idle_text(runs))

    def add_runs(self, runs: list[Run]) -> None:
        """Lists ``runs`` (just finished) with the others, at once, without reading the
        store; their stale marks come with the next :meth:`show_history`."""
        merged = {**self._runs, **{run.id: run for run in runs}}
        self.show_history([merged[k] for k in sorted(merged)], self._stale)

    @staticmethod
    def _idle_text(runs: list[Run]) -> str:
        """The line above the bar of a project opened with runs."""
        last = runs[-1]
        stamp = when(last.finished_at or last.started_at)
        return f"{len(runs)} run{'s' if len(runs) > 1 else ''}; the last one, #{last.id}, " + (
            f"finished {stamp}." if last.finished_at else f"started {stamp}.")

    def show_curves(self, log: CurveLog | None, run: Run | None) -> None:
        """Shows the curves ``run`` saved (unless a job runs: its live curves stay)."""
        if self._running or log is None or run is None:
            return
        self.curves.show_log(log, source=f"run #{run.id}, {when(run.finished_at or run.started_at)}")

    def _show_detector(self) -> None:
        """The latest finished defect-detector run's trust, above the history."""
        latest = next((r for r in reversed(self._runs.values())
                       if r.kind is RunKind.SEGDEC and r.status is RunStatus.DONE), None)
        self.detector_label.setVisible(latest is not None)
        if latest is None:
            self.detector_label.setText("")
            return
        from core.training.segdec_results import training_notes

        notes = training_notes(latest)  # how it trained in the tooltip; what to label next in sight
        advice = notes[-1:] if (latest.metrics or {}).get("advice") else []
        self.detector_label.setText(detector_trust_html(latest) + "".join(
            f"<br><span style='color:#555555'>{html.escape(n)}</span>" for n in advice))
        self.detector_label.setToolTip("\n".join(notes))

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
        stamp = when(run.finished_at or run.started_at)
        text = run_summary(run) + (f" · {stamp}" if stamp else "")
        stale = run.id in self._stale
        item.setText(f"{text} · {STALE_MARK}" if stale else text)
        stale_tip = "\nLabels changed since this run took its snapshot: retrain to include them." if stale else ""
        item.setToolTip(f"{text}{stale_tip}\nSelect it for its curves; double-click for the details.")
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
        if current is None or self._running or self._project is None:
            return
        run = self._runs.get(int(current.data(Qt.ItemDataRole.UserRole)))
        if run is not None and run.status is RunStatus.DONE:
            self.show_curves(load_curves(self._project, run), run)  # one small file of the run's folder

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
