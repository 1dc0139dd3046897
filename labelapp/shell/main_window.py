"""The main window: assembles the grid, the editor, the project dock and the actions.

The window owns the open :class:`Project` (opened on the GUI thread); the labeling
controller does the work of the keys, the dialogs do theirs; store errors become
messages in the status area, never tracebacks. The "Worth a mask" dock lists the
defective images whose mask would teach the defect detector most; the "Suggestions" dock
beside it, the images worth labeling next (:mod:`labelapp.suggestions.queue`).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.store import Project, StoreError
from labelapp.editor import ImageEditor
from labelapp.grid import ImageGrid
from labelapp.labeling.controller import LabelingController
from labelapp.map.dock import EmbeddingMapDock
from labelapp.project.actions import ProjectActions
from labelapp.project.recent import RecentProjects
from labelapp.project.summary_panel import SummaryPanel
from labelapp.shell.status_area import StatusArea
from labelapp.shell.window_actions import WindowActions
from labelapp.shortcuts.help_overlay import HelpOverlay
from labelapp.shortcuts.keymap import ShortcutMap
from labelapp.suggestions.panel import SuggestionsPanel
from labelapp.suggestions.queue import SuggestionsQueue
from labelapp.suggestions.worth_a_mask import WorthAMaskPanel
from labelapp.training.controller import TrainingController
from labelapp.training.panel import TrainingPanel

logger = logging.getLogger(__name__)

APP_TITLE = "labelapp"
GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
SPLITTER_KEY = "main_window/splitter"
ADVANCE_KEY = "labeling/auto_advance"
NO_PROJECT_HINT = ("No project open.\n\nFile ▸ New Project… (Ctrl+N) makes one from a folder of images;\n"
                   "File ▸ Open Project… (Ctrl+O) opens an existing one.")
NO_IMAGES_HINT = "This project has no images yet.\n\nFile ▸ Import Folder… (Ctrl+I) adds a folder of images."
OPACITY_STEP = 0.1


class MainWindow(QMainWindow):
    """The project window. ``settings`` defaults to the application's QSettings."""

    project_opened = Signal(object)  # Project
    project_closed = Signal()

    def __init__(self, *, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings()
        self.recent = RecentProjects(self._settings)
        self._project: Project | None = None
        self._opacity = 0.5
        self._build_widgets()
        self.labeling = LabelingController(self.grid, self.editor, self.status, self)
        self.labeling.auto_advance = self._settings.value(ADVANCE_KEY, True, type=bool)
        self.training = TrainingController(self, self._settings)
        self.suggestions_queue = SuggestionsQueue(self)
        self.shortcuts = ShortcutMap(self._settings)
        self.project_actions = ProjectActions(self)
        self.window_actions = WindowActions(self, self.shortcuts, self._handlers())
        self._build_extra_menu_items()
        self._connect()
        self.embedding_map = EmbeddingMapDock(self)  # the Map dock: a tab beside Project / Training
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._on_counts_timer_timeout)
        self._show_no_project()
        self.resize(1400, 900)
        self._restore_layout()

    # -- construction --------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.grid = ImageGrid()
        self.grid.setObjectName("image_grid")
        self.editor = ImageEditor()
        self.editor.setObjectName("image_editor")
        self.image_info = QLabel()
        self.image_info.setObjectName("image_info")
        self.image_info.setTextFormat(Qt.TextFormat.RichText)
        self.image_info.setContentsMargins(8, 2, 8, 2)
        self.image_info.setWordWrap(True)  # a long line wraps instead of widening the window
        editor_pane = QWidget()
        editor_layout = QVBoxLayout(editor_pane)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        editor_layout.setSpacing(0)
        editor_layout.addWidget(self.editor, 1)
        editor_layout.addWidget(self.image_info)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(editor_pane)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.message = QLabel(NO_PROJECT_HINT)
        self.message.setObjectName("message_label")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setMargin(24)
        self._stack = QStackedWidget()
        self._stack.addWidget(self.message)
        self._stack.addWidget(self.splitter)
        self.setCentralWidget(self._stack)
        self.summary_panel = SummaryPanel()
        self.summary_dock = QDockWidget("Project", self)
        self.summary_dock.setObjectName("project_dock")
        self.summary_dock.setWidget(self.summary_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.summary_dock)
        self.training_panel = TrainingPanel()
        self.training_dock = QDockWidget("Training", self)
        self.training_dock.setObjectName("training_dock")
        self.training_dock.setWidget(self.training_panel)
        self.worth_a_mask = WorthAMaskPanel()
        self.worth_a_mask_dock = QDockWidget("Worth a mask", self)
        self.worth_a_mask_dock.setObjectName("worth_a_mask_dock")
        self.worth_a_mask_dock.setWidget(self.worth_a_mask)
        # below the Project / Training tabs, not a third tab: always in sight
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.worth_a_mask_dock, Qt.Orientation.Vertical)
        self.suggestions = SuggestionsPanel(self._settings)
        self.suggestions_dock = QDockWidget("Suggestions", self)
        self.suggestions_dock.setObjectName("suggestions_dock")
        self.suggestions_dock.setWidget(self.suggestions)
        self.tabifyDockWidget(self.worth_a_mask_dock, self.suggestions_dock)  # a tab beside Worth a mask
        self.suggestions_dock.raise_()
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.training_dock)
        self.tabifyDockWidget(self.summary_dock, self.training_dock)
        self.summary_dock.raise_()
        self.resizeDocks([self.summary_dock, self.worth_a_mask_dock], [620, 280], Qt.Orientation.Vertical)
        self.resizeDocks([self.worth_a_mask_dock], [320], Qt.Orientation.Horizontal)
        self.status = StatusArea(self.statusBar())
        self.help_overlay = HelpOverlay(self)
        self.help_overlay.hide()

    def _handlers(self) -> dict:
        e, lab, p = self.editor, self.labeling, self.project_actions
        handlers = {
            "image.next": lab.go_next, "image.previous": lab.go_previous,
            "image.next_unlabeled": lab.go_next_unlabeled,
            "label.ok": lab.label_ok, "label.clear": lab.clear_label,
            "label.accept_prediction": lab.accept_prediction,
            "tool.brush": lambda: e.set_tool("brush"), "tool.eraser": lambda: e.set_tool("eraser"),
            "tool.polygon": lambda: e.set_tool("polygon"), "tool.fill": lambda: e.set_tool("fill"),
            "tool.pan": lambda: e.set_tool("pan"),
            "brush.smaller": lambda: e.change_brush_size(-1), "brush.larger": lambda: e.change_brush_size(+1),
            "overlay.toggle": e.toggle_overlay,
            "overlay.less": lambda: self._step_opacity(-OPACITY_STEP),
            "overlay.more": lambda: self._step_opacity(+OPACITY_STEP),
            "view.fit": e.fit, "view.actual_size": e.actual_size,
            "view.zoom_in": lambda: e.zoom_by(1.25), "view.zoom_out": lambda: e.zoom_by(0.8),
            "edit.undo": self._undo, "edit.redo": self._redo, "mask.save": self._save_masks,
            "grid.search": self.grid.focus_search,
            "project.new": p.new_project, "project.open": p.open_project_dialog,
            "project.import": p.import_folder, "project.classes": p.edit_classes,
            "train.retrain": self.training.retrain, "train.cancel": self.training_panel.cancel,
            "train.pretrain_again": self.training.pretrain_again,
            "train.detector_from_scratch": self.training.detector_from_scratch,
            "model.export": self._export_model,
            "help.shortcuts": self._toggle_help, "app.quit": self.close,
            "mask.worth_next": self.go_to_next_worth_a_mask,
            "image.next_suggested": self.suggestions_queue.go_next,
        }
        heatmap = getattr(e, "toggle_heatmap", None)  # an editor without heat maps leaves J disabled
        if heatmap is not None:
            handlers["heatmap.toggle"] = heatmap
        return handlers

    def _build_extra_menu_items(self) -> None:
        menus = self.window_actions.menus
        file_menu = menus["&File"]
        first = file_menu.actions()[2] if len(file_menu.actions()) > 2 else None
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        file_menu.insertMenu(first, self.recent_menu)
        file_menu.insertSeparator(file_menu.actions()[-1])
        for text, slot in (("Relink Missing Images…", self.project_actions.relink_folder),
                           ("Export Labels…", self.project_actions.export_labels)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            file_menu.insertAction(file_menu.actions()[-2], action)
        self.advance_action = QAction("Go to the Next Image after Labeling", self, checkable=True)
        self.advance_action.setChecked(self.labeling.auto_advance)
        self.advance_action.toggled.connect(self._on_advance_action_toggled)
        menus["&Label"].addSeparator()
        menus["&Label"].addAction(self.advance_action)
        keys = QAction("Keyboard Shortcuts…", self)
        keys.triggered.connect(self.project_actions.edit_shortcuts)
        menus["&Edit"].addSeparator()
        menus["&Edit"].addAction(keys)
        menus["&View"].addSeparator()
        menus["&View"].addAction(self.summary_dock.toggleViewAction())
        menus["&View"].addAction(self.training_dock.toggleViewAction())
        menus["&View"].addAction(self.worth_a_mask_dock.toggleViewAction())
        menus["&View"].addAction(self.suggestions_dock.toggleViewAction())

    def _connect(self) -> None:
        self.editor.image_shown.connect(self._on_editor_image_shown)
        self.editor.mask_saved.connect(self._on_editor_mask_saved)
        self.editor.labels_changed.connect(self._on_labels_changed)
        self.editor.message.connect(self.status.show_info)
        self.editor.relink_requested.connect(self.project_actions.relink_image)
        self.labeling.labels_changed.connect(self._on_labels_changed)
        self.editor.mask_saved.connect(self.worth_a_mask.on_mask_saved)
        self.editor.labels_changed.connect(self.worth_a_mask.on_labels_changed)
        self.labeling.labels_changed.connect(self.worth_a_mask.on_labels_changed)
        self.worth_a_mask.image_requested.connect(self.open_for_mask)
        self.training_panel.image_requested.connect(self.labeling.go_to)

    # -- project -------------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self._project

    def open_project(self, path: Path | str) -> bool:
        """Opens the project in ``path``; on a store error keeps what was open and shows
        the message. Returns whether the project opened."""
        path = Path(path)
        try:
            project = Project.open(path)
            summary = project.summary()
        except (StoreError, OSError) as exc:
            logger.warning("cannot open project %s: %s", path, exc)
            self._show_error(f"Cannot open {path}: {exc}")
            return False
        self.close_project()
        self._project = project
        self.grid.set_project(project)
        self.editor.set_project(project)
        self.labeling.set_project(project)
        self.setWindowTitle(f"{APP_TITLE} — {project.name}")
        self._apply_classes()
        self._stack.setCurrentWidget(self.splitter if summary.images else self.message)
        if not summary.images:
            self.message.setText(NO_IMAGES_HINT)
        self.window_actions.set_project_actions_enabled(True)
        self.training_panel.show_history(project.runs.list())
        self.worth_a_mask.set_project(project)
        self.recent.add(project.root)
        self.status.show_info(f"Opened {project.root}")
        self.project_opened.emit(project)
        ordered = self.grid.ordered_ids()
        if len(ordered):
            self.labeling.go_to(int(ordered[0]))
        return True

    def open_most_recent(self) -> bool:
        """Opens the most recently opened project if its folder still exists."""
        for path in self.recent.paths()[:1]:
            if path.is_dir():
                return self.open_project(path)
        return False

    def close_project(self) -> None:
        if self._project is None:
            return
        self.editor.flush()
        self.editor.set_project(None)
        self.grid.set_project(None)
        self.labeling.set_project(None)
        self.worth_a_mask.set_project(None)
        self._project.close()
        self._project = None
        self._show_no_project()
        self.project_closed.emit()

    def refresh_classes(self) -> None:
        """Classes changed (names, colours, keys, a merge): every view re-reads them."""
        if self._project is None:
            return
        self._apply_classes()
        self.grid.refresh(None)

    def _apply_classes(self) -> None:
        classes = self._project.classes.list()
        self.window_actions.set_classes(classes, self.labeling.label_with)
        self.editor.refresh_classes()
        self._on_counts_timer_timeout()

    def images_added(self) -> None:
        """An import added images: reload the grid and the counts."""
        self.grid.reload()
        self._stack.setCurrentWidget(self.splitter)
        self.refresh_classes()

    def _show_no_project(self) -> None:
        self.setWindowTitle(APP_TITLE)
        self.summary_panel.clear()
        self.status.show_counts(None, [])
        self.message.setText(NO_PROJECT_HINT)
        self._stack.setCurrentWidget(self.message)
        self.window_actions.set_project_actions_enabled(False)

    def _show_error(self, text: str) -> None:
        self.status.show_error(text)
        if self._project is None:
            self.message.setText(f"{text}\n\n{NO_PROJECT_HINT}")

    # -- defect detector -------------------------------------------------------------------------
    def detector_updated(self) -> None:
        """A defect-detector run finished: new heat maps and a new worth-a-mask list."""
        self.worth_a_mask.reload()
        if self.worth_a_mask.image_ids():
            self.worth_a_mask_dock.show()
        self._reload_heatmaps()

    def defect_threshold_moved(self) -> None:
        """The user moved a defect-detector run's threshold: the grid's defect filters and
        the editor's defect line read it again."""
        self.grid.refresh(None)
        self._reload_heatmaps()

    def _reload_heatmaps(self) -> None:
        reload_heatmaps = getattr(self.editor, "reload_heatmaps", None)  # an editor with heat maps
        if reload_heatmaps is not None:
            reload_heatmaps()

    @Slot(object)
    def open_for_mask(self, image_id: object) -> None:
        """Shows the image in the editor with the brush, ready to draw its mask."""
        self.labeling.go_to(int(image_id))  # type: ignore[arg-type]
        self.editor.set_tool("brush")
        self.worth_a_mask.select(int(image_id))  # type: ignore[arg-type]
        if self.worth_a_mask_dock.isVisible():  # the tab beside Suggestions comes to the front
            self.worth_a_mask_dock.raise_()

    def go_to_next_worth_a_mask(self) -> None:
        target = self.worth_a_mask.next_after(self.editor.current_image_id())
        if target is None:
            self.status.show_info("No image worth a mask: retrain (Ctrl+R) with the defect detector for a list.")
            return
        self.open_for_mask(target)

    # -- actions -------------------------------------------------------------------------------
    def _undo(self) -> None:
        if not self.editor.undo():
            self.status.show_info("Nothing to undo for this image.")

    def _redo(self) -> None:
        if not self.editor.redo():
            self.status.show_info("Nothing to redo for this image.")

    def _save_masks(self) -> None:
        self.editor.flush()
        self.status.mark_saved()

    def _step_opacity(self, step: float) -> None:
        self._opacity = min(1.0, max(0.0, self._opacity + step))
        self.editor.set_overlay_opacity(self._opacity)
        self.status.show_info(f"Overlay opacity {self._opacity:.0%}")

    def _export_model(self) -> None:
        from labelapp.export.model_dialog import show_export_model_dialog  # on first use: a fast start

        show_export_model_dialog(self)

    def _toggle_help(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
            return
        classes = self._project.classes.list() if self._project is not None else []
        self.help_overlay.show_for(self.shortcuts, classes)

    # -- slots ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_labels_changed(self, image_ids: object) -> None:
        self.grid.refresh(list(image_ids))  # type: ignore[arg-type]
        self._counts_timer.start()
        self._show_image_info(self.editor.current_image_id())

    @Slot(object)
    def _on_editor_image_shown(self, image_id: object) -> None:
        self._show_image_info(image_id)

    def refresh_image_info(self) -> None:
        """Re-reads the lines under the editor (after a run brought new predictions: which
        model to believe may have changed too)."""
        self._reload_heatmaps()
        self._show_image_info(self.editor.current_image_id())

    def _show_image_info(self, image_id: object) -> None:
        """One line under the editor: file, label, size, mask."""
        if self._project is None or image_id is None:
            self.image_info.setText("")
            return
        try:
            self.image_info.setText(image_info_html(self._project, int(image_id)))  # type: ignore[arg-type]
        except StoreError as exc:
            self.image_info.setText(html.escape(str(exc)))

    @Slot(object)
    def _on_editor_mask_saved(self, image_id: object) -> None:
        self.status.mark_saved()
        if image_id == self.editor.current_image_id():
            self._show_image_info(image_id)
        self.grid.refresh([int(image_id)])  # type: ignore[arg-type]
        self._counts_timer.start()

    @Slot()
    def _on_counts_timer_timeout(self) -> None:
        if self._project is None:
            return
        try:
            summary = self._project.summary()
            classes = self._project.classes.list()
        except StoreError as exc:
            self.status.show_error(str(exc))
            return
        self.status.show_counts(summary, classes)
        self.summary_panel.show_summary(name=self._project.name, path=str(self._project.root),
                                        summary=summary, classes=classes)

    @Slot(bool)
    def _on_advance_action_toggled(self, checked: bool) -> None:
        self.labeling.auto_advance = checked
        self._settings.setValue(ADVANCE_KEY, checked)

    @Slot()
    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(str(path))
            action.setEnabled(path.is_dir())
            action.triggered.connect(lambda _checked=False, p=path: self.open_project(p))
        if paths:
            self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear Recent")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.recent.clear)

    # -- window --------------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        for key, restore in ((GEOMETRY_KEY, self.restoreGeometry), (STATE_KEY, self.restoreState),
                             (SPLITTER_KEY, self.splitter.restoreState)):
            value = self._settings.value(key)
            if value is not None:
                restore(value)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(STATE_KEY, self.saveState())
        self._settings.setValue(SPLITTER_KEY, self.splitter.saveState())
        self.training_panel.shutdown()
        self.suggestions.shutdown()
        self.close_project()
        self.editor.shutdown()
        self.grid.shutdown()
        super().closeEvent(event)


def image_info_html(project: Project, image_id: int) -> str:
    image = project.images.get(image_id)
    label = project.labels.get(image_id)
    mask = project.masks.info(image_id)
    if label is None:
        label_html = "<i>unlabeled</i>"
    else:
        color = project.classes.get(label.class_id).color
        label_html = f"<b><span style='color:{color}'>&#9632;</span> {html.escape(label.class_name)}</b>"
    depth = f" · {image.bit_depth}-bit" if image.bit_depth != 8 else ""
    mask_text = "no mask" if mask is None else (f"mask {mask.pixels:,} px" if mask.pixels else "empty mask")
    prediction = project.predictions.get(image_id)
    predicted = ""
    if prediction is not None and prediction.class_id is not None:
        cls = project.classes.get(prediction.class_id)
        predicted = (f" &nbsp;·&nbsp; predicted <span style='color:{cls.color}'>&#9632;</span> "
                     f"{html.escape(cls.name)} {prediction.confidence:.0%} (Y accepts)")
    return (f"{html.escape(Path(image.path).name)} &nbsp;·&nbsp; {label_html} &nbsp;·&nbsp; "
            f"{image.width}×{image.height}{depth} &nbsp;·&nbsp; {mask_text}{predicted}")
