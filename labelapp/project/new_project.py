"""A new project from a folder of images: where, how to read labels and masks, a preview.

The preview counts the folder's images on a worker thread (a capped walk), so even a
folder on a slow network share never blocks the dialog.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.importing import ImportOptions
from core.importing.scan import MASK_MARKERS
from core.media.imaging import IMAGE_SUFFIXES
from core.store import DB_NAME
from labelapp.jobs.runner import JobRunner
from labelapp.project.import_progress import import_folder_interactively

logger = logging.getLogger(__name__)

PREVIEW_CAP = 200_000
NO_OK_CLASS = "(none)"
OK_NAMES = ("ok", "good", "normal", "no_defect", "defect-free", "defect_free")
MASKS_NONE, MASKS_AUTO, MASKS_FOLDER = range(3)
ERROR_STYLE = "color: #C5221F;"


@dataclass(frozen=True)
class FolderPreview:
    """What a quick walk of an image folder found so far."""

    images: int
    mask_like: int  # image files named like masks (``*_mask.png``)
    subfolders: tuple[str, ...]  # first-level sub-folders, sorted
    subfolders_with_images: int
    capped: bool = False
    done: bool = False


def preview_folder(folder: Path, cancel: threading.Event, *, cap: int = PREVIEW_CAP
                   ) -> Generator[FolderPreview, None, FolderPreview]:
    """Counts the images under ``folder``, stopping at ``cap`` files; yields after each
    folder and checks ``cancel`` between them."""
    try:
        with os.scandir(folder) as entries:
            subfolders = sorted((e.name for e in entries if e.is_dir() and not e.name.startswith(".")),
                                key=str.lower)
    except OSError:
        return FolderPreview(images=0, mask_like=0, subfolders=(), subfolders_with_images=0, done=True)
    images = mask_like = files = 0
    with_images: set[str] = set()
    preview = FolderPreview(images=0, mask_like=0, subfolders=tuple(subfolders), subfolders_with_images=0)
    yield preview
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found = [os.path.splitext(n) for n in filenames if not n.startswith(".")]
        found = [(stem, ext) for stem, ext in found if ext.lower() in IMAGE_SUFFIXES]
        masks = sum(1 for stem, _ in found if stem.lower().endswith(MASK_MARKERS))
        images += len(found) - masks
        mask_like += masks
        files += len(filenames)
        rel = Path(dirpath).relative_to(folder).parts
        if rel and found:
            with_images.add(rel[0])
        preview = FolderPreview(images=images, mask_like=mask_like, subfolders=tuple(subfolders),
                                subfolders_with_images=len(with_images), capped=files >= cap)
        if preview.capped or cancel.is_set():
            break
        yield preview
    return replace(preview, done=True)


def preview_text(preview: FolderPreview) -> str:
    """"1,360 images in 7 sub-folders", with what is still being counted."""
    more = "more than " if preview.capped else ""
    text = f"{more}{preview.images:,} images"
    if preview.subfolders_with_images:
        text += f" in {preview.subfolders_with_images:,} sub-folder" + ("s" if preview.subfolders_with_images > 1
                                                                         else "")
    if preview.mask_like:
        text += f" · {preview.mask_like:,} files named like masks"
    return text if preview.done or preview.capped else f"counting… {text} so far"


@dataclass(frozen=True)
class NewProjectRequest:
    """What the dialog asks for: import ``image_folder`` into ``project_dir``."""

    image_folder: Path
    project_dir: Path
    options: ImportOptions
    into_existing: bool  # the project folder already holds a project


def default_project_dir(image_folder: Path) -> Path:
    """``<image folder name>-labels`` beside the image folder."""
    folder = Path(os.path.abspath(image_folder))
    return folder.parent / f"{folder.name}-labels"


class NewProjectDialog(QDialog):
    """Asks for the image folder, the project folder and the import options."""

    preview_updated = Signal(object)  # FolderPreview

    def __init__(self, parent: QWidget | None = None, *, image_folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(620)
        self.preview: FolderPreview | None = None
        self._runner: JobRunner | None = None  # the preview that counts; earlier ones are cancelled
        self._runners: list[JobRunner] = []
        self._project_edited = False
        self._into_existing = False
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self._start_preview)
        self._build()
        self.existing_box = QMessageBox(QMessageBox.Icon.Question, "Project exists", "", parent=self)
        self.existing_box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        self.existing_box.finished.connect(self._on_existing_box_finished)
        if image_folder is not None:
            self.image_edit.setText(str(image_folder))

    def _build(self) -> None:
        self.image_edit = QLineEdit()
        self.image_edit.setPlaceholderText("the folder that holds the images")
        self.project_edit = QLineEdit()
        self.project_edit.setPlaceholderText("a new folder for the project's database, masks and models")
        self.labels_check = QCheckBox("Class labels from sub-folders (each first-level sub-folder is a class)")
        self.ok_combo = QComboBox()
        self.ok_combo.addItem(NO_OK_CLASS)
        self.ok_combo.setToolTip("The sub-folder that holds defect-free images")
        self.masks_combo = QComboBox()
        self.masks_combo.addItems(["None", "Beside the images (name_mask.png)", "From a folder…"])
        self.masks_edit = QLineEdit()
        self.masks_edit.setPlaceholderText("a folder that mirrors the image folder")
        self.preview_label = QLabel("Choose a folder of images.")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create", QDialogButtonBox.ButtonRole.AcceptRole)
        form = QFormLayout()
        form.addRow("Images:", _with_browse(self.image_edit, self._on_image_browse_clicked))
        form.addRow("", self.preview_label)
        form.addRow("Project folder:", _with_browse(self.project_edit, self._on_project_browse_clicked))
        form.addRow("", self.labels_check)
        form.addRow("OK class:", self.ok_combo)
        form.addRow("Masks:", self.masks_combo)
        form.addRow("", _with_browse(self.masks_edit, self._on_masks_browse_clicked))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.image_edit.textChanged.connect(self._on_image_edit_text_changed)
        self.project_edit.textEdited.connect(self._on_project_edit_text_edited)
        self.labels_check.toggled.connect(self._update_enabled)
        self.masks_combo.currentIndexChanged.connect(self._update_enabled)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self._update_enabled()

    # -- reading -------------------------------------------------------------------
    def request(self) -> NewProjectRequest:
        """The choices as they stand (valid once the dialog was accepted)."""
        ok = self.ok_combo.currentText() if self.labels_check.isChecked() else NO_OK_CLASS
        masks: str | Path | None = None
        if self.masks_combo.currentIndex() == MASKS_AUTO:
            masks = "auto"
        elif self.masks_combo.currentIndex() == MASKS_FOLDER:
            masks = Path(self.masks_edit.text().strip())
        options = ImportOptions(labels_from_folders=self.labels_check.isChecked(),
                                ok_class=None if ok == NO_OK_CLASS else ok, masks=masks)
        return NewProjectRequest(image_folder=Path(self.image_edit.text().strip()),
                                 project_dir=Path(self.project_edit.text().strip()), options=options,
                                 into_existing=self._into_existing)

    # -- slots ---------------------------------------------------------------------
    @Slot(str)
    def _on_image_edit_text_changed(self, text: str) -> None:
        text = text.strip()
        if not self._project_edited:
            self.project_edit.setText(str(default_project_dir(Path(text))) if text else "")
        self.error_label.clear()
        self._debounce.start()

    @Slot(str)
    def _on_project_edit_text_edited(self, text: str) -> None:
        self._project_edited = bool(text.strip())

    @Slot()
    def _update_enabled(self) -> None:
        self.ok_combo.setEnabled(self.labels_check.isChecked())
        self.masks_edit.parentWidget().setEnabled(self.masks_combo.currentIndex() == MASKS_FOLDER)

    def _start_preview(self) -> None:
        if self._runner is not None:
            self._runner.cancel()  # it ends on its own; its signals are ignored from now on
        self.preview = None
        folder = Path(self.image_edit.text().strip())
        if not self.image_edit.text().strip() or not folder.is_dir():
            self._runner = None
            self.preview_label.setText("Not a folder." if self.image_edit.text().strip() else "")
            return
        runner = JobRunner(lambda cancel: preview_folder(folder, cancel), self)
        runner.progressed.connect(self._on_preview_runner_progressed)
        runner.finished.connect(self._on_preview_runner_progressed)
        runner.finished.connect(lambda _result, r=runner: self._runners.remove(r))
        self._runner = runner
        self._runners.append(runner)
        self.preview_label.setText("counting…")
        runner.start()

    @Slot(object)
    def _on_preview_runner_progressed(self, preview: FolderPreview) -> None:
        if self.sender() is not self._runner:
            return
        first = self.preview is None or self.preview.subfolders != preview.subfolders
        self.preview = preview
        if first:
            self._fill_ok_combo(preview.subfolders)
        self.preview_label.setText(preview_text(preview))
        self.preview_updated.emit(preview)

    def _fill_ok_combo(self, names: tuple[str, ...]) -> None:
        current = self.ok_combo.currentText()
        self.ok_combo.clear()
        self.ok_combo.addItems([NO_OK_CLASS, *names])
        guess = next((n for n in names if n.lower() in OK_NAMES), NO_OK_CLASS)
        self.ok_combo.setCurrentText(current if current in names else guess)

    @Slot()
    def _on_buttons_accepted(self) -> None:
        problem = self._problem()
        if problem:
            self.error_label.setText(problem)
            return
        project_dir = Path(self.project_edit.text().strip())
        if (project_dir / DB_NAME).exists():
            self.existing_box.setText(f"{project_dir} already holds a project.")
            self.existing_box.setInformativeText("Import the images into that project?")
            self.existing_box.open()
            return
        self._into_existing = False
        self.accept()

    @Slot(int)
    def _on_existing_box_finished(self, result: int) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self._into_existing = True
            self.accept()

    def _problem(self) -> str:
        image_text, project_text = self.image_edit.text().strip(), self.project_edit.text().strip()
        if not image_text or not Path(image_text).is_dir():
            return "Choose an existing folder of images."
        if not project_text:
            return "Choose a folder for the project."
        if Path(project_text).exists() and not Path(project_text).is_dir():
            return f"{project_text} is a file; choose a folder for the project."
        masks_text = self.masks_edit.text().strip()
        if self.masks_combo.currentIndex() == MASKS_FOLDER and not (masks_text and Path(masks_text).is_dir()):
            return "Choose the folder that holds the masks."
        if self.preview is not None and self.preview.done and self.preview.images == 0:
            return "The folder holds no images (PNG, JPEG, BMP or TIFF)."
        return ""

    @Slot()
    def _on_image_browse_clicked(self) -> None:
        self._browse(self.image_edit, "Folder of images")

    @Slot()
    def _on_project_browse_clicked(self) -> None:
        if self._browse(self.project_edit, "Project folder"):
            self._project_edited = True

    @Slot()
    def _on_masks_browse_clicked(self) -> None:
        self._browse(self.masks_edit, "Folder of masks")

    def _browse(self, edit: QLineEdit, title: str) -> bool:
        path = QFileDialog.getExistingDirectory(self, title, edit.text().strip() or str(Path.home()))
        if path:
            edit.setText(path)
        return bool(path)

    def done(self, result: int) -> None:
        self._debounce.stop()
        for runner in self._runners:
            runner.cancel()
            runner.wait()
        super().done(result)


def _with_browse(edit: QLineEdit, on_click: object) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Browse…")
    button.clicked.connect(on_click)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return box


def create_project_interactively(parent: QWidget | None = None) -> Path | None:
    """Asks for a new project, creates it and imports the folder; returns the project
    folder, or None when cancelled or nothing could be created."""
    dialog = NewProjectDialog(parent)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    request = dialog.request()
    dialog.deleteLater()
    if not accepted:
        return None
    import_folder_interactively(parent, request.project_dir, request.image_folder, request.options)
    return request.project_dir if (request.project_dir / DB_NAME).exists() else None
