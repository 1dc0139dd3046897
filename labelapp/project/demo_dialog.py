"""Create the Demo Project…: generated images of a kind of surface, without labels, in a
new project folder; the window opens it when it is ready.

The images are generated and imported by ``core.demo_project.create_demo_project`` on a
worker thread (it reports through a callback; :func:`demo_job` turns that into progress
records), so the window stays responsive; 600 steel images take a few seconds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QCloseEvent
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from labelapp.jobs.runner import JobRunner, StartJob

KINDS = {"steel": "Steel surfaces: six defect classes and OK",
         "cracks": "Long parts: a few with one thin crack",
         "textured": "Textures: small faint spots, scratches, texture changes"}
DEFAULT_IMAGES = 600
ERROR_STYLE = "color: #C5221F;"


@dataclass(frozen=True)
class DemoProgress:
    phase: str  # "generate" or "import"
    done: int
    total: int


def demo_job(root: Path, *, kind: str, images: int) -> StartJob:
    """The demo's creation as a job: progress records while it generates and imports."""

    def job(_cancel: threading.Event) -> Generator[DemoProgress, None, Any]:
        from core.demo_project import create_demo_project

        updates: queue.SimpleQueue = queue.SimpleQueue()
        outcome: dict[str, Any] = {}

        def create() -> None:
            try:
                outcome["result"] = create_demo_project(
                    root, n_images=images, kind=kind,
                    progress=lambda phase, done, total: updates.put(DemoProgress(phase, done, total)))
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI as the job's error
                outcome["error"] = exc
            finally:
                updates.put(None)

        worker = threading.Thread(target=create, name="demo-project", daemon=True)
        worker.start()
        while (update := updates.get()) is not None:
            yield update
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    return job


def default_folder() -> Path:
    """``~/labelapp-demo``, or ``~/labelapp-demo-2``… when that already exists."""
    home = Path.home()
    folder, n = home / "labelapp-demo", 1
    while folder.exists():
        n += 1
        folder = home / f"labelapp-demo-{n}"
    return folder


class DemoProjectDialog(QDialog):
    """Asks where and what, then creates the demo project with a progress bar.

    Signals:
        created(object): the new project's folder (Path).
    """

    created = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create the Demo Project")
        self.setMinimumWidth(520)
        self._runner: JobRunner | None = None
        self.folder_edit = QLineEdit(str(folder or default_folder()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.kind_combo = QComboBox()
        for kind, text in KINDS.items():
            self.kind_combo.addItem(text, kind)
        self.images_spin = QSpinBox(minimum=20, maximum=20_000, value=DEFAULT_IMAGES, singleStep=100)
        form = QFormLayout()
        form.addRow("Folder:", folder_row)
        form.addRow("Images of:", self.kind_combo)
        form.addRow("How many:", self.images_spin)
        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.status_label = QLabel("A new project folder; the true classes are kept in its truth/ folder.")
        self.status_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create", QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

    def folder(self) -> Path:
        return Path(self.folder_edit.text().strip()).expanduser()

    def is_running(self) -> bool:
        return self._runner is not None and self._runner.is_running()

    @Slot()
    def start(self) -> None:
        folder = self.folder()
        if self.is_running():
            return
        if not self.folder_edit.text().strip() or (folder.exists() and any(folder.iterdir())):
            self._show("Choose a new or empty folder: the demo writes its images and project there.", error=True)
            return
        self._runner = JobRunner(demo_job(folder, kind=str(self.kind_combo.currentData()),
                                          images=self.images_spin.value()), self)
        self._runner.progressed.connect(self._on_runner_progressed)
        self._runner.finished.connect(self._on_runner_finished)
        self._runner.failed.connect(self._on_runner_failed)
        for widget in (self.folder_edit, self.kind_combo, self.images_spin, self.create_button):
            widget.setEnabled(False)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self._show("Generating images…", error=False)
        self._runner.start()

    def reject(self) -> None:  # the job cannot stop half-way: the dialog stays until it ends
        if not self.is_running():
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_running():
            event.ignore()
            return
        super().closeEvent(event)

    def _show(self, text: str, *, error: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    @Slot()
    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Create the Demo Project in", str(self.folder().parent))
        if folder:
            self.folder_edit.setText(folder)

    @Slot(object)
    def _on_runner_progressed(self, progress: DemoProgress) -> None:
        self.progress_bar.setRange(0, max(1, progress.total))
        self.progress_bar.setValue(progress.done)
        what = "Generating" if progress.phase == "generate" else "Importing"
        self._show(f"{what} images… {progress.done:,} of {progress.total:,}", error=False)

    @Slot(object)
    def _on_runner_finished(self, result: Any) -> None:
        self._show(f"Created {result.images:,} images in {result.root}.", error=False)
        self.created.emit(Path(result.root))
        self.accept()

    @Slot(object)
    def _on_runner_failed(self, error: BaseException) -> None:
        for widget in (self.folder_edit, self.kind_combo, self.images_spin, self.create_button):
            widget.setEnabled(True)
        self.progress_bar.hide()
        self._show(f"Could not create the demo: {error}", error=True)
