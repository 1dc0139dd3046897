"""Importing a folder with a progress dialog, then a summary of what was imported.

The import runs as ``core.importing.iter_import`` on a worker thread that opens its
own ``Project`` from the folder path; the dialog only shows what it yields.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Generator
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.importing import ImportOptions, ImportProgress, ImportReport, iter_import
from core.store import Project
from labelapp.jobs.runner import JobRunner, StartJob
from labelapp.widgets.formatting import counted as _n

logger = logging.getLogger(__name__)

DETAIL_LINES = 50  # issues listed per kind in the details box


def import_job(project_root: Path, folder: Path, options: ImportOptions) -> StartJob:
    """The import as a job for :class:`JobRunner`: opens (or creates) the project on the worker thread."""

    def job(cancel: threading.Event) -> Generator[ImportProgress, None, ImportReport]:
        with Project.open(project_root, create=True) as project:
            return (yield from iter_import(project, folder, options, cancel))

    return job


def summary_lines(report: ImportReport) -> list[str]:
    """What an import did, in a few sentences."""
    if report.cancelled:
        lines = [f"Cancelled: {_n(report.added, 'new image')} imported before stopping."
                 " Import the folder again to add the rest."]
    elif report.scanned == 0:
        lines = [f"No images found in {report.folder}."]
    else:
        lines = [f"Imported {_n(report.added, 'new image')} in {report.seconds:.1f} s."]
    lines += [text for n, text in (
        (report.already_present, f"{_n(report.already_present, 'image was', 'images were')} already in the project."),
        (len(report.duplicates), f"{_n(len(report.duplicates), 'duplicate')} skipped (same content as another image)."),
        (len(report.failed), f"{_n(len(report.failed), 'unreadable file')} skipped."),
        (report.labels_set, f"{_n(report.labels_set, 'image')} labeled from the sub-folder names."),
        (len(report.label_conflicts), f"{_n(len(report.label_conflicts), 'folder label')} not applied"
                                      " (see the details)."),
        (report.masks_set, f"{_n(report.masks_set, 'mask')} imported ({report.masks_nonempty:,} with defect pixels)."),
        (len(report.mask_issues), f"{_n(len(report.mask_issues), 'mask')} could not be used (see the details)."),
        (report.ignored_files, f"{_n(report.ignored_files, 'non-image file')} ignored."),
        (report.hidden_files, f"{_n(report.hidden_files, 'hidden file or folder', 'hidden files and folders')}"
                              " (names starting with a dot) not imported."),
    ) if n]
    if report.classes_created:
        lines.append("New classes: " + ", ".join(report.classes_created) + ".")
    return lines


def detail_text(report: ImportReport) -> str:
    """The first reasons of each kind of problem, one file a line."""
    parts = []
    for title, issues in (("Unreadable", report.failed), ("Duplicates", report.duplicates),
                          ("Masks", report.mask_issues), ("Labels", report.label_conflicts)):
        if issues:
            parts.append(f"{title} ({len(issues):,}):")
            parts += [f"  {issue.path} — {issue.reason}" for issue in issues[:DETAIL_LINES]]
            if len(issues) > DETAIL_LINES:
                parts.append(f"  … and {len(issues) - DETAIL_LINES:,} more")
    return "\n".join(parts)


class ImportProgressDialog(QDialog):
    """Runs one import when :meth:`start` is called; shows progress, then the summary.

    Closing or cancelling while the import runs stops it after the batch in flight;
    what was committed stays in the project.
    """

    import_finished = Signal(object)  # ImportReport
    import_failed = Signal(object)  # the exception

    def __init__(self, project_root: Path, folder: Path, options: ImportOptions,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Importing {Path(folder).name}")
        self.setMinimumWidth(520)
        self.report: ImportReport | None = None
        self.error: BaseException | None = None
        self._started = 0.0
        self._runner = JobRunner(import_job(Path(project_root), Path(folder), options), self)
        self._runner.progressed.connect(self._on_runner_progressed)
        self._runner.finished.connect(self._on_runner_finished)
        self._runner.failed.connect(self._on_runner_failed)
        self._build(Path(folder))

    def _build(self, folder: Path) -> None:
        self.title_label = QLabel(f"Importing images from <b>{html.escape(str(folder))}</b>")
        self.title_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.status_label = QLabel("Starting…")
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.toggled.connect(self._on_details_button_toggled)
        self.details_text = QPlainTextEdit()
        self.details_text.setReadOnly(True)
        self.details_text.setMinimumHeight(160)
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button: QPushButton = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        for widget in (self.title_label, self.progress_bar, self.status_label, self.summary_label,
                       self.details_button, self.details_text):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        for widget in (self.summary_label, self.details_button, self.details_text, self.close_button):
            widget.hide()

    def start(self) -> None:
        self._started = time.monotonic()
        self.progress_bar.setRange(0, 0)
        self.status_label.setText("Looking for images…")
        self._runner.start()

    def is_running(self) -> bool:
        return self._runner.is_running()

    @Slot()
    def cancel(self) -> None:
        """Stops the import after the batch in flight."""
        if self._runner.is_running():
            self._runner.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after the current batch…")

    def reject(self) -> None:  # Esc or the window's close button while running: cancel first
        if self._runner.is_running():
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        """While the import runs the window stays: closing it cancels, the summary follows."""
        if self._runner.is_running():
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)

    @Slot(object)
    def _on_runner_progressed(self, progress: ImportProgress) -> None:
        if progress.phase == "scan" or progress.total == 0:
            return
        self.progress_bar.setRange(0, progress.total)
        self.progress_bar.setValue(progress.done)
        elapsed = max(time.monotonic() - self._started, 1e-3)
        rate = progress.done / elapsed
        text = f"{progress.done:,} of {progress.total:,} images · {rate:,.0f} images/s"
        text += f" · {progress.added:,} added · {progress.failed:,} failed"
        if rate > 0 and progress.done < progress.total:
            text += f" · about {_duration((progress.total - progress.done) / rate)} left"
        if not self._runner.is_cancelled():
            self.status_label.setText(text)

    @Slot(object)
    def _on_runner_finished(self, report: ImportReport) -> None:
        self.report = report
        total = max(report.scanned, 1)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(total if not report.cancelled else self.progress_bar.value())
        self.status_label.hide()
        self._show_summary(summary_lines(report), detail_text(report))
        self.import_finished.emit(report)

    @Slot(object)
    def _on_runner_failed(self, error: BaseException) -> None:
        self.error = error
        logger.error("import failed: %s", error, exc_info=error)
        self.status_label.hide()
        self.progress_bar.hide()
        self._show_summary([f"The import stopped with an error: {error}"], "")
        self.summary_label.setStyleSheet("color: #C5221F;")
        self.import_failed.emit(error)

    def _show_summary(self, lines: list[str], details: str) -> None:
        self.setWindowTitle("Import finished" if self.error is None else "Import failed")
        self.summary_label.setText("\n".join(lines))
        self.summary_label.show()
        self.details_text.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.cancel_button.hide()
        self.close_button.show()
        self.close_button.setDefault(True)
        self.close_button.setFocus()

    @Slot(bool)
    def _on_details_button_toggled(self, shown: bool) -> None:
        self.details_text.setVisible(shown)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.adjustSize()


def import_folder_interactively(parent: QWidget | None, project_root: Path, folder: Path,
                                options: ImportOptions) -> ImportReport | None:
    """Imports ``folder`` into the project at ``project_root`` (created if missing) with a
    modal progress dialog and summary. Returns the report, or None when the import failed."""
    dialog = ImportProgressDialog(project_root, folder, options, parent)
    dialog.start()
    dialog.exec()
    report = dialog.report
    dialog.deleteLater()
    return report


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
