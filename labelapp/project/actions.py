"""What the File and Edit menus do with a project: dialogs in, store calls out, and a
signal for what the window should show next."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from core.importing import ImportOptions
from core.store import StoreError
from labelapp.session.project_session import ProjectSession
from labelapp.shortcuts.keymap import ShortcutMap

logger = logging.getLogger(__name__)
EXPORT_FORMATS = {"CSV table (labels.csv and the mask PNGs)": "csv", "Class folders (copies)": "folders",
                  "Mask PNGs": "masks", "COCO (masks as RLE)": "coco", "COCO (masks as polygons)": "coco-polygons",
                  "YOLO segmentation": "yolo", "Pascal VOC segmentation": "voc", "labelme (a JSON file per image)":
                  "labelme"}
IMPORT_FORMATS = {"COCO (a .json file)": "coco", "YOLO segmentation (a folder with data.yaml)": "yolo",
                  "Pascal VOC segmentation (a folder)": "voc", "labelme (a folder of .json files)": "labelme"}


class ProjectActions(QObject):
    """The project-level commands of a main window. Dialogs open over ``parent``;
    ``flush`` saves pending masks (before an import or an export).

    Signals:
        open_requested(object): a project folder (Path) to open.
        images_added(): an import added images.
        classes_changed(): classes were edited (names, colours, keys, a merge).
        shortcuts_changed(): the keyboard shortcuts were edited.
        images_relinked(object): image ids whose file moved (None: any image).
        message(str), error(str): notes for the status area.
    """

    open_requested = Signal(object)
    images_added = Signal()
    classes_changed = Signal()
    shortcuts_changed = Signal()
    images_relinked = Signal(object)
    message = Signal(str)
    error = Signal(str)

    def __init__(self, parent: QWidget, session: ProjectSession, shortcuts: ShortcutMap, *,
                 flush: Callable[[], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._session = session
        self._shortcuts = shortcuts
        self._flush = flush

    def _start_dir(self) -> str:
        project = self._session.project
        return str(project.root.parent) if project is not None else ""

    @Slot()
    def new_project(self) -> None:
        from labelapp.project.new_project import create_project_interactively

        path = create_project_interactively(self._parent)
        if path is not None:
            self.open_requested.emit(Path(path))

    @Slot()
    def create_demo(self) -> None:
        """Create the Demo Project…: generated images in a new project, opened when ready."""
        from labelapp.project.demo_dialog import DemoProjectDialog

        dialog = DemoProjectDialog(self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.created.connect(self.open_requested)
        dialog.open()

    @Slot()
    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Open Project", self._start_dir())
        if folder:
            self.open_requested.emit(Path(folder))

    @Slot()
    def import_folder(self) -> None:
        from labelapp.project.import_progress import import_folder_interactively

        project = self._session.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(self._parent, "Import a Folder of Images", self._start_dir())
        if not folder:
            return
        answer = QMessageBox.question(
            self._parent, "Labels from sub-folders?",
            "Use the names of the first-level sub-folders as classes?\n"
            "(No: the images are imported without labels.)")
        self._flush()
        options = ImportOptions(labels_from_folders=answer == QMessageBox.StandardButton.Yes)
        report = import_folder_interactively(self._parent, project.root, Path(folder), options)
        if report is not None:
            self.images_added.emit()
            self.message.emit(f"Imported {report.added:,} images ({len(report.failed)} unreadable).")

    @Slot()
    def edit_classes(self) -> None:
        from labelapp.project.class_settings import ClassSettingsDialog

        project = self._session.project
        if project is None:
            return
        from labelapp.shortcuts.keymap import ACTIONS, key_text

        shortcuts = self._shortcuts
        reserved = {key_text(k): spec.text for spec in ACTIONS for k in shortcuts.keys(spec.id)}
        dialog = ClassSettingsDialog(project, self._parent, reserved=reserved)
        dialog.classes_changed.connect(self.classes_changed)
        dialog.exec()
        self.classes_changed.emit()

    @Slot()
    def edit_shortcuts(self) -> None:
        from labelapp.shortcuts.keymap import class_keys
        from labelapp.shortcuts.settings_dialog import ShortcutSettingsDialog

        project = self._session.project
        reserved = class_keys(project.classes.list()) if project is not None else {}
        dialog = ShortcutSettingsDialog(self._shortcuts, reserved, self._parent)
        dialog.exec()
        self.shortcuts_changed.emit()

    @Slot(object)
    def relink_image(self, image_id: object) -> None:
        project = self._session.project
        if project is None:
            return
        image = project.images.get(int(image_id))  # type: ignore[arg-type]
        path, _ = QFileDialog.getOpenFileName(
            self._parent, f"Where is {Path(image.path).name}?", self._start_dir(),
            "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)")
        if not path:
            return
        try:
            project.images.relink(image.id, Path(path))
        except (StoreError, OSError) as exc:
            self.error.emit(f"Not relinked: {exc}")
            return
        self.images_relinked.emit([image.id])
        self.message.emit(f"Relinked {Path(path).name}.")

    @Slot()
    def relink_folder(self) -> None:
        project = self._session.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(self._parent, "Folder holding the moved images", self._start_dir())
        if not folder:
            return
        try:
            count = project.images.relink_folder(Path(folder))
        except (StoreError, OSError) as exc:
            self.error.emit(f"Relink failed: {exc}")
            return
        self.images_relinked.emit(None)
        self.message.emit(f"Relinked {count:,} images found in {folder}.")

    @Slot()
    def export_labels(self) -> None:
        from core.export.labels import export_labels

        project = self._session.project
        if project is None:
            return
        choice, ok = QInputDialog.getItem(self._parent, "Export Labels", "Format:", list(EXPORT_FORMATS), 0, False)
        if not ok:
            return
        folder = QFileDialog.getExistingDirectory(self._parent, "Export into", str(project.exports_dir))
        if not folder:
            return
        self._flush()
        fmt = EXPORT_FORMATS[choice]
        try:
            result = export_labels(project, Path(folder), format=fmt.removesuffix("-polygons"),
                                   polygons=fmt.endswith("-polygons"))
        except (StoreError, OSError, ValueError) as exc:
            self.error.emit(f"Export failed: {exc}")
            return
        self.message.emit(f"Exported {result.images:,} images to {result.out}.")

    @Slot()
    def import_labels(self) -> None:
        """Import Labels…: image labels and masks from another tool's files, all or nothing."""
        from core.interchange import import_labels

        project = self._session.project
        if project is None:
            return
        choice, ok = QInputDialog.getItem(self._parent, "Import Labels", "Format:", list(IMPORT_FORMATS), 0, False)
        if not ok:
            return
        fmt = IMPORT_FORMATS[choice]
        if fmt == "coco":
            path, _ = QFileDialog.getOpenFileName(self._parent, "COCO file to import", self._start_dir(),
                                                  "COCO files (*.json)")
        else:
            path = QFileDialog.getExistingDirectory(self._parent, "Folder to import", self._start_dir())
        if not path:
            return
        self._flush()
        try:
            result = import_labels(project, Path(path), format=fmt)
        except (StoreError, OSError, ValueError) as exc:
            self.error.emit(f"Nothing imported: {exc}")
            return
        self.images_added.emit()  # new classes, counts and the grid
        self.images_relinked.emit(None)  # the open image's label and mask
        left_out = f" {len(result.unmatched):,} images of the file are not in the project." if result.unmatched else ""
        self.message.emit(f"Imported {result.labels:,} labels and {result.masks:,} masks.{left_out}")
