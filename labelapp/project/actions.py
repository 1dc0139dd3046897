"""What the File and Edit menus do with a project: dialogs in, store calls out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from core.importing import ImportOptions
from core.store import StoreError

if TYPE_CHECKING:
    from labelapp.shell.main_window import MainWindow

logger = logging.getLogger(__name__)
EXPORT_FORMATS = {"CSV table (labels.csv)": "csv", "Class folders (copies)": "folders",
                  "Mask PNGs": "masks"}


class ProjectActions(QObject):
    """The project-level commands of a main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def _start_dir(self) -> str:
        project = self._window.project
        return str(project.root.parent) if project is not None else ""

    @Slot()
    def new_project(self) -> None:
        from labelapp.project.new_project import create_project_interactively

        path = create_project_interactively(self._window)
        if path is not None:
            self._window.open_project(path)

    @Slot()
    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._window, "Open Project", self._start_dir())
        if folder:
            self._window.open_project(Path(folder))

    @Slot()
    def import_folder(self) -> None:
        from labelapp.project.import_progress import import_folder_interactively

        project = self._window.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(self._window, "Import a Folder of Images", self._start_dir())
        if not folder:
            return
        answer = QMessageBox.question(
            self._window, "Labels from sub-folders?",
            "Use the names of the first-level sub-folders as classes?\n"
            "(No: the images are imported without labels.)")
        self._window.editor.flush()
        options = ImportOptions(labels_from_folders=answer == QMessageBox.StandardButton.Yes)
        report = import_folder_interactively(self._window, project.root, Path(folder), options)
        if report is not None:
            self._window.images_added()
            self._window.status.show_info(f"Imported {report.added:,} images ({len(report.failed)} unreadable).")

    @Slot()
    def edit_classes(self) -> None:
        from labelapp.project.class_settings import ClassSettingsDialog

        project = self._window.project
        if project is None:
            return
        from labelapp.shortcuts.keymap import ACTIONS, key_text

        shortcuts = self._window.shortcuts
        reserved = {key_text(k): spec.text for spec in ACTIONS for k in shortcuts.keys(spec.id)}
        dialog = ClassSettingsDialog(project, self._window, reserved=reserved)
        dialog.classes_changed.connect(self._window.refresh_classes)
        dialog.exec()
        self._window.refresh_classes()

    @Slot()
    def edit_shortcuts(self) -> None:
        from labelapp.shortcuts.keymap import class_keys
        from labelapp.shortcuts.settings_dialog import ShortcutSettingsDialog

        project = self._window.project
        reserved = class_keys(project.classes.list()) if project is not None else {}
        dialog = ShortcutSettingsDialog(self._window.shortcuts, reserved, self._window)
        dialog.exec()
        self._window.window_actions.apply_shortcuts()

    @Slot(object)
    def relink_image(self, image_id: object) -> None:
        project = self._window.project
        if project is None:
            return
        image = project.images.get(int(image_id))  # type: ignore[arg-type]
        path, _ = QFileDialog.getOpenFileName(
            self._window, f"Where is {Path(image.path).name}?", self._start_dir(),
            "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)")
        if not path:
            return
        try:
            project.images.relink(image.id, Path(path))
        except (StoreError, OSError) as exc:
            self._window.status.show_error(f"Not relinked: {exc}")
            return
        self._window.editor.reload_image(image.id)
        self._window.grid.refresh([image.id])
        self._window.status.show_info(f"Relinked {Path(path).name}.")

    @Slot()
    def relink_folder(self) -> None:
        project = self._window.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(self._window, "Folder holding the moved images", self._start_dir())
        if not folder:
            return
        try:
            count = project.images.relink_folder(Path(folder))
        except (StoreError, OSError) as exc:
            self._window.status.show_error(f"Relink failed: {exc}")
            return
        self._window.grid.refresh(None)
        current = self._window.editor.current_image_id()
        if current is not None:
            self._window.editor.reload_image(current)
        self._window.status.show_info(f"Relinked {count:,} images found in {folder}.")

    @Slot()
    def export_labels(self) -> None:
        from core.export.labels import export_labels

        project = self._window.project
        if project is None:
            return
        choice, ok = QInputDialog.getItem(self._window, "Export Labels", "Format:", list(EXPORT_FORMATS), 0, False)
        if not ok:
            return
        folder = QFileDialog.getExistingDirectory(self._window, "Export into", str(project.exports_dir))
        if not folder:
            return
        self._window.editor.flush()
        try:
            result = export_labels(project, Path(folder), format=EXPORT_FORMATS[choice])
        except (StoreError, OSError, ValueError) as exc:
            self._window.status.show_error(f"Export failed: {exc}")
            return
        self._window.status.show_info(f"Exported {result.images:,} images to {result.out}.")
