"""Export Model…: choose a model (the classifier, or the defect detector when one was trained),
its run, a format and a folder; the export runs off the GUI thread.

The export is ``core.export.model.export_job`` in a worker process of the dialog's own
(:mod:`core.jobs.worker`: torch never loads in the window's process, and a crash there
is a message here); it opens its own ``Project`` from the folder path, checks the
exported model against the app's before writing anything, and the dialog shows what it
yields, then what was written or why not. Before that, under the choices, it says which
classes the chosen run's model knows and names each project class it left out (a class
without labels when the run trained), so an export never drops a class silently.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.export.classes import ModelClasses, model_classes
from core.jobs.worker import JobCall, WorkerProcess
from core.store import Project, Run, RunKind
from labelapp.jobs.process_runner import WorkerJobRunner
from labelapp.widgets.errors import error_text

logger = logging.getLogger(__name__)
FORMATS = {"torchscript": "TorchScript (model.pt)", "onnx": "ONNX (model.onnx)"}
MODELS = {"classifier": "Classifier (class probabilities)",
          "detector": "Defect detector (defect probability and heat map)"}
ERROR_STYLE = "color: #C5221F;"
LEFT_OUT_COLOR = "#B06000"


def model_of(run: Run) -> str:
    return "detector" if run.kind is RunKind.SEGDEC else "classifier"


def run_text(run: Run) -> str:
    """"Run #4 · 7 classes · 28 labels · accuracy 54 % · 2026-11-21 22:45", or for a
    detector "Run #6 · 40 labels · AP 0.91 · validated · 2026-11-21 22:50"."""
    parts = [f"Run #{run.id}"]
    validation = run.metrics.get("validation") or {}
    if run.metrics.get("classes"):
        parts.append(f"{run.metrics['classes']} classes")
    if run.label_snapshot.get("labeled") is not None:
        parts.append(f"{run.label_snapshot['labeled']} labels")
    if validation.get("accuracy") is not None:
        parts.append(f"accuracy {validation['accuracy']:.0%}")
    if model_of(run) == "detector":
        from core.training.trust import detector_trust

        if validation.get("ap") is not None:
            parts.append(f"AP {validation['ap']:.2f}")
        parts.append(detector_trust(run).short)
    if run.finished_at:
        parts.append(run.finished_at[:16].replace("T", " "))
    return " · ".join(parts)


class ExportModelDialog(QDialog):
    """Exports one of ``runs`` (newest first: classifier runs and defect-detector runs; the
    model of the first, and its first run, are chosen) when Export is clicked.

    Signals:
        export_finished(object): the ``ExportResult``.
        export_failed(object): the exception (a refused parity check, a missing package, ...).
    """

    export_finished = Signal(object)
    export_failed = Signal(object)

    def __init__(self, project_root: Path, runs: list[Run], exports_dir: Path, parent: QWidget | None = None, *,
                 classes: dict[int, ModelClasses] | None = None) -> None:
        super().__init__(parent)
        self._classes = classes or {}  # run id -> the classes its model knows and leaves out
        self.setWindowTitle("Export Model")
        self.setMinimumWidth(560)
        self._project_root = Path(project_root)
        self._exports_dir = Path(exports_dir)
        self._folder_edited = False
        self._runner: WorkerJobRunner | None = None
        self._worker = WorkerProcess()  # started by the first export, ended with the dialog
        self.finished.connect(self._worker.close)
        self.result: Any = None
        self.error: BaseException | None = None
        self._build(runs)
        self._update_default_folder()
        self._show_classes()

    def _build(self, runs: list[Run]) -> None:
        from core.export.exported import missing_packages

        self._runs = {model: [r for r in runs if model_of(r) == model] for model in MODELS}
        self.model_combo = QComboBox()
        first = model_of(runs[0]) if runs else "classifier"
        for model in sorted((m for m in MODELS if self._runs[m]), key=lambda m: m != first):
            self.model_combo.addItem(MODELS[model], model)
        self.run_combo = QComboBox()
        self._fill_runs()
        self.format_combo = QComboBox()
        for fmt, text in FORMATS.items():
            self.format_combo.addItem(text, fmt)
            missing = missing_packages(fmt, to_export=True)
            if missing:
                model = self.format_combo.model()
                assert isinstance(model, QStandardItemModel)
                row = model.item(self.format_combo.count() - 1)
                row.setEnabled(False)
                row.setToolTip(f"needs {', '.join(missing)}: pip install 'labelapp[export]'")
        self.folder_edit = QLineEdit()
        self.folder_edit.textEdited.connect(self._on_folder_edit_text_edited)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Model:", self.model_combo)
        form.addRow("Run:", self.run_combo)
        form.addRow("Format:", self.format_combo)
        form.addRow("Folder:", folder_row)
        self.classes_label = QLabel(objectName="export_classes")
        self.classes_label.setWordWrap(True)
        self.classes_label.setTextFormat(Qt.TextFormat.RichText)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 4)
        self.progress_bar.hide()
        self.status_label = QLabel("The exported model is checked against the app's on project images before it"
                                   " is written.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setMinimumHeight(4 * self.status_label.fontMetrics().lineSpacing())  # room for the outcome
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        self.model_combo.currentIndexChanged.connect(self._on_model_combo_changed)
        self.run_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.format_combo.currentIndexChanged.connect(self._on_choice_changed)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.classes_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    # -- choices -------------------------------------------------------------------------------
    def model(self) -> str:
        return str(self.model_combo.currentData())

    def run_id(self) -> int:
        return int(self.run_combo.currentData())

    def format(self) -> str:
        return str(self.format_combo.currentData())

    def folder(self) -> Path:
        return Path(self.folder_edit.text().strip()).expanduser()

    def _update_default_folder(self) -> None:
        if not self._folder_edited and self.run_combo.count():
            self.folder_edit.setText(str(self._exports_dir / f"model-run{self.run_id()}-{self.format()}"))

    def _fill_runs(self) -> None:
        self.run_combo.blockSignals(True)  # one folder update when the list is complete
        self.run_combo.clear()
        for run in self._runs.get(self.model(), []):
            self.run_combo.addItem(run_text(run), run.id)
        self.run_combo.blockSignals(False)

    def _show_classes(self) -> None:
        """What the chosen run's model knows, and the classes it left out (in colour)."""
        known = self._classes.get(self.run_id()) if self.run_combo.count() else None
        if known is None:
            self.classes_label.setText("")
            return
        text = html.escape(known.sentence())
        if known.left_out:
            text += f'<br><span style="color:{LEFT_OUT_COLOR};">\u26a0 {html.escape(known.left_out_sentence())}</span>'
        self.classes_label.setText(text)

    @Slot(int)
    def _on_model_combo_changed(self, _index: int) -> None:
        self._fill_runs()
        self._update_default_folder()
        self._show_classes()

    @Slot(int)
    def _on_choice_changed(self, _index: int) -> None:
        self._update_default_folder()
        self._show_classes()

    @Slot(str)
    def _on_folder_edit_text_edited(self, _text: str) -> None:
        self._folder_edited = True

    @Slot()
    def _on_browse_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the Model into", str(self._exports_dir))
        if folder:
            self.folder_edit.setText(folder)
            self._folder_edited = True

    # -- running -------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._runner is not None and self._runner.is_running()

    @Slot()
    def start(self) -> None:
        """Starts the export of the chosen run; does nothing while one runs."""
        from core.export.model import ExportRequest, export_job

        if self.is_running() or not self.run_combo.count():
            return
        if not self.folder_edit.text().strip():
            self._show_message("Choose a folder to export into.", error=True)
            return
        request = ExportRequest(project_root=self._project_root, out_dir=self.folder(), fmt=self.format(),
                                run_id=self.run_id(), model=self.model())
        self.result, self.error = None, None
        self._runner = WorkerJobRunner(JobCall(export_job, (request,)), self._worker, self)
        self._runner.progressed.connect(self._on_runner_progressed)
        self._runner.finished.connect(self._on_runner_finished)
        self._runner.failed.connect(self._on_runner_failed)
        self._set_inputs_enabled(False)
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        what = "the defect detector of run" if request.model == "detector" else "run"
        self._show_message(f"Exporting {what} #{request.run_id} as {FORMATS[request.fmt]}…", error=False)
        self._runner.start()

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for widget in (self.model_combo, self.run_combo, self.format_combo, self.folder_edit, self.browse_button,
                       self.export_button):
            widget.setEnabled(enabled)

    def reject(self) -> None:  # Esc, Close or the title bar while exporting: cancel first
        if self.is_running():
            assert self._runner is not None
            self._runner.cancel()
            self._show_message("Cancelling after the current step…", error=False)
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_running():
            self.reject()
            event.ignore()
            return
        super().closeEvent(event)

    @Slot(object)
    def _on_runner_progressed(self, progress: Any) -> None:
        if progress.total == 4:  # the export's own phases (the pixel cache's have other totals)
            self.progress_bar.setValue(progress.step)
        if not (self._runner and self._runner.is_cancelled()):
            self._show_message(f"{progress.phase[:1].upper()}{progress.phase[1:]}…", error=False)

    @Slot(object)
    def _on_runner_finished(self, result: Any) -> None:
        self.result = result
        self.progress_bar.setValue(self.progress_bar.maximum())
        self._set_inputs_enabled(True)
        self._show_message(success_text(result), error=False)
        self.export_finished.emit(result)

    @Slot(object)
    def _on_runner_failed(self, error: BaseException) -> None:
        from core.jobs import JobCancelled

        self.error = error
        self.progress_bar.hide()
        self._set_inputs_enabled(True)
        if isinstance(error, JobCancelled):
            self._show_message("Export cancelled; nothing was written.", error=False)
            return
        logger.warning("model export failed: %s", error)
        self._show_message(f"Export failed: {error_text(error)}", error=True)
        self.export_failed.emit(error)

    def _show_message(self, text: str, *, error: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")


def success_text(result: Any) -> str:
    parity = result.parity
    what = "the defect detector of run" if result.model == "detector" else "run"
    beside = [p.name for p in result.files[1:]]  # classes.txt (a classifier's), model_card.json
    return (f"Exported {what} #{result.run_id} to {result.out_dir}: {result.model_path.name}"
            f" ({result.size_bytes / 1e6:.1f} MB) and {' and '.join(beside)}, in {result.seconds:.0f} s."
            f" On {parity.images} project images it matches the app's model within {parity.max_abs_diff:.1g}.")


def show_export_model_dialog(parent: QWidget, project: Project | None, *, message: Callable[[str], None],
                             error: Callable[[str], None]) -> ExportModelDialog | None:
    """Opens the dialog (window-modal, not blocking) on ``project``; the outcome also goes
    to ``message`` / ``error`` (the status area)."""
    from core.export.model import exportable_runs
    from core.training.model_io import detector_runs

    if project is None:
        return None
    runs = exportable_runs(project) + detector_runs(project)
    if not runs:
        error("No classifier or defect detector to export yet: label at least two classes and Retrain.")
        return None
    dialog = ExportModelDialog(project.root, runs, project.exports_dir, parent=parent,
                               classes={run.id: model_classes(project, run) for run in runs})
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.export_finished.connect(lambda result: message(success_text(result)))
    dialog.export_failed.connect(lambda failure: error(f"Model export failed: {failure}"))
    dialog.open()
    return dialog
