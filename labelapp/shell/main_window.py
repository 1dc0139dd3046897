"""The main window: builds the parts and connects them, nothing more.

The parts: the project session (:mod:`labelapp.session`, the open project and every label write), the grid,
the editor, the labeling keys (:mod:`labelapp.labeling`), the docks (:mod:`labelapp.shell.docks`: project
summary, training, map, worth a mask, suggestions), the actions and menus. Each part gets the parts it
drives, never the window; what it asks of the others it says with a signal, which the window connects here.
Store errors become messages in the status area, never tracebacks.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from core.store import Project, StoreError
from labelapp.editor import ImageEditor
from labelapp.grid import ImageGrid
from labelapp.labeling.controller import LabelingController
from labelapp.project.actions import ProjectActions
from labelapp.project.recent import RecentProjects
from labelapp.proposals.review import ProposalReview
from labelapp.session.project_session import ProjectSession
from labelapp.shell.docks import build_docks
from labelapp.shell.empty_state import EmptyState
from labelapp.shell.layout import WindowLayout
from labelapp.shell.status_area import StatusArea
from labelapp.shell.views import Views, ViewUpdates
from labelapp.shell.window_actions import WindowActions
from labelapp.shortcuts.help_overlay import HelpOverlay
from labelapp.shortcuts.keymap import ShortcutMap
from labelapp.suggestions.queue import SuggestionsQueue
from labelapp.training.controller import TrainingController

logger = logging.getLogger(__name__)
APP_TITLE = "labelapp"
ADVANCE_KEY = "labeling/auto_advance"
OPACITY_STEP = 0.1


class MainWindow(QMainWindow):
    """The project window. ``settings`` defaults to the application's QSettings."""

    def __init__(self, *, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings()
        self.recent = RecentProjects(self._settings)
        self._opacity = 0.5
        self.session = ProjectSession(self)
        self._build_widgets()
        self.labeling = LabelingController(self.grid, self.editor, self.session, self)
        self.labeling.auto_advance = self._settings.value(ADVANCE_KEY, True, type=bool)
        self.training = TrainingController(self.training_panel, self.session, self._settings,
                                           strategy=self.suggestions.strategy, shown_first=self.grid.shown_first,
                                           parent=self)
        self.suggestions_queue = SuggestionsQueue(self.suggestions, self.labeling.go_to, self.editor.current_image_id,
                                                  self)
        self.shortcuts = ShortcutMap(self._settings)
        self.proposal_review = ProposalReview(self.docks.proposals, self.editor, self.session, self.labeling.go_to,
                                              self.shortcuts, self)
        self.project_actions = ProjectActions(self, self.session, self.shortcuts, flush=self.editor.flush)
        self.window_actions = WindowActions(self, self.shortcuts, self._handlers())
        self.proposal_review.attach(self.docks.proposals_dock, self.window_actions.set_context_active)
        self._build_extra_menu_items()
        self.views = ViewUpdates(self.session, Views(
            self.grid, self.editor, self.image_info, self.status, self.summary_panel, self.worth_a_mask,
            self.worth_a_mask_dock, self.suggestions, self.embedding_map), self)
        self._connect()
        self._show_no_project()
        self.resize(1400, 900)
        self.layout_state = WindowLayout(self, self.splitter, self.grid, self.docks.all(), self._settings)
        self.layout_state.restore()

    # -- construction --------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.grid = ImageGrid()
        self.grid.setObjectName("image_grid")
        self.editor = ImageEditor(labels=self.session)
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
        self.splitter.setStretchFactor(0, 0)  # a wider window widens the editor; WindowLayout fits the grid
        self.splitter.setStretchFactor(1, 1)
        self.message = EmptyState()  # no project, or a project without images
        self._stack = QStackedWidget()
        self._stack.addWidget(self.message)
        self._stack.addWidget(self.splitter)
        self.setCentralWidget(self._stack)
        docks = self.docks = build_docks(self, self._settings)
        self.summary_panel, self.summary_dock = docks.summary_panel, docks.summary_dock
        self.training_panel, self.training_dock = docks.training_panel, docks.training_dock
        self.worth_a_mask, self.worth_a_mask_dock = docks.worth_a_mask, docks.worth_a_mask_dock
        self.suggestions, self.suggestions_dock = docks.suggestions, docks.suggestions_dock
        self.embedding_map = docks.embedding_map
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
            "train.retrain": self.training.retrain, "train.cancel": self.training.cancel,
            "train.pretrain_again": self.training.pretrain_again, "train.propose_masks": self.training.propose_masks,
            "train.detector_from_scratch": self.training.detector_from_scratch,
            "model.export": self._export_model,
            "help.shortcuts": self._toggle_help, "app.quit": self.close,
            "mask.worth_next": self.go_to_next_worth_a_mask,
            "image.next_suggested": self.suggestions_queue.go_next, **self.proposal_review.handlers(),
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
        self.recent_menu.aboutToShow.connect(lambda: self.recent.fill_menu(self.recent_menu, self.open_project))
        file_menu.insertMenu(first, self.recent_menu)
        file_menu.insertSeparator(file_menu.actions()[-1])
        self._project_menu_actions = []  # enabled only with a project open
        for text, slot in (("Relink Missing Images…", self.project_actions.relink_folder),
                           ("Export Labels…", self.project_actions.export_labels),
                           ("Import Labels…", self.project_actions.import_labels),
                           ("Create the Demo Project…", self.project_actions.create_demo)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            file_menu.insertAction(file_menu.actions()[-2], action)
            if not text.startswith("Create"):
                self._project_menu_actions.append(action)
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
        for dock in self.docks.all()[:4]:
            menus["&View"].addAction(dock.toggleViewAction())
        menus["&View"].addAction(self.embedding_map.dock.toggleViewAction())
        menus["&View"].addAction(self.docks.proposals_dock.toggleViewAction())  # enabled with a project (_connect)

    def _connect(self) -> None:
        status = self.status
        for part in (self.labeling, self.training, self.project_actions):
            part.message.connect(status.show_info)
            part.error.connect(status.show_error)
        self.suggestions_queue.message.connect(status.show_info)
        self.proposal_review.message.connect(status.show_info)
        self.training.run_finished.connect(lambda _result: self.proposal_review.reload())  # a new proposer run
        for signal, enabled in ((self.session.opened, True), (self.session.closed, False)):
            signal.connect(lambda *_a, on=enabled: self.docks.proposals_dock.toggleViewAction().setEnabled(on))
        self.suggestions.message.connect(status.show_info)
        self.editor.image_shown.connect(self.views.show_image_info)
        self.editor.message.connect(status.show_info)
        self.editor.relink_requested.connect(self.project_actions.relink_image)
        self.editor.image_shown.connect(self.suggestions.select)
        self.worth_a_mask.image_requested.connect(self.open_for_mask)
        self.training_panel.image_requested.connect(self.labeling.go_to)
        self.training.retrain_starting.connect(self._on_training_retrain_starting)
        for signal, slot in ((self.training.run_finished, self.views.on_run_finished),
                             (self.training.predictions_stored, self.views.on_predictions_stored),
                             (self.training.detector_updated, self.views.on_detector_updated),
                             (self.training.threshold_moved, self.views.on_threshold_moved)):
            signal.connect(slot)
        self.suggestions_queue.image_opened.connect(self._on_suggestions_queue_image_opened)
        self.suggestions.refreshed.connect(self.views.on_suggestions_refreshed)
        self.project_actions.open_requested.connect(self.open_project)
        self.project_actions.images_added.connect(self.images_added)
        self.project_actions.classes_changed.connect(self.refresh_classes)
        self.project_actions.shortcuts_changed.connect(self.window_actions.apply_shortcuts)
        self.project_actions.images_relinked.connect(self.views.on_images_relinked)
        self.embedding_map.panel.image_requested.connect(self.labeling.go_to)
        self.embedding_map.panel.selection_changed.connect(self.grid.set_map_selection)
        self.embedding_map.label_requested.connect(self._on_embedding_map_label_requested)
        empty, actions = self.message, self.project_actions
        for signal, slot in ((empty.open_requested, actions.open_project_dialog),
                             (empty.new_requested, actions.new_project), (empty.demo_requested, actions.create_demo),
                             (empty.import_requested, actions.import_folder),
                             (empty.recent_requested, self.open_project)):
            signal.connect(slot)

    # -- project -------------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.session.project

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
        self.grid.set_project(project)
        self.editor.set_project(project)
        self.worth_a_mask.set_project(project)
        self.suggestions.set_project(project)
        self.embedding_map.set_project(project)
        self.session.adopt(project, owned=True)  # the controllers hear of it: stale marks, history
        self.setWindowTitle(f"{APP_TITLE} — {project.name}")
        self._apply_classes()
        self._stack.setCurrentWidget(self.splitter if summary.images else self.message)
        if not summary.images:
            self.message.show_no_images()
        self._set_project_open(True)
        self.recent.add(project.root)
        self.status.show_info(f"Opened {project.root}")
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
        if self.session.project is None:
            return
        self.editor.flush()
        self.editor.set_project(None)
        self.grid.set_project(None)
        self.worth_a_mask.set_project(None)
        self.suggestions.set_project(None)
        self.embedding_map.set_project(None)
        self.session.close()
        self._show_no_project()

    def refresh_classes(self) -> None:
        """Classes changed (names, colours, keys, a merge): every view re-reads them."""
        if self.project is None:
            return
        self._apply_classes()
        self.grid.refresh(None)

    def _apply_classes(self) -> None:
        classes = self.project.classes.list()
        self.window_actions.set_classes(classes, self.labeling.label_with)
        self.editor.refresh_classes()
        self.views.show_counts()

    def images_added(self) -> None:
        """An import added images: reload the grid and the counts."""
        self.grid.reload()
        self._stack.setCurrentWidget(self.splitter)
        self.refresh_classes()

    def _show_no_project(self) -> None:
        self.setWindowTitle(APP_TITLE)
        self.summary_panel.clear()
        self.status.show_counts(None, [])
        self.message.show_no_project(self.recent.paths())
        self._stack.setCurrentWidget(self.message)
        self._set_project_open(False)

    def _set_project_open(self, is_open: bool) -> None:
        """The actions and docks that need a project work only while one is open."""
        self.window_actions.set_project_actions_enabled(is_open)
        for action in self._project_menu_actions:
            action.setEnabled(is_open)
        for dock in self.docks.all():
            dock.widget().setEnabled(is_open)

    def _show_error(self, text: str) -> None:
        self.status.show_error(text)
        if self.project is None:
            self.message.show_no_project(self.recent.paths(), error=text)

    # -- worth a mask ---------------------------------------------------------------------------
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

        show_export_model_dialog(self, self.project, message=self.status.show_info, error=self.status.show_error)

    def _toggle_help(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
            return
        classes = self.project.classes.list() if self.project is not None else []
        self.help_overlay.show_for(self.shortcuts, classes)

    # -- slots ---------------------------------------------------------------------------------
    @Slot()
    def _on_training_retrain_starting(self) -> None:
        self.editor.flush()  # pending masks reach the retrain's label snapshot
        self.training_dock.show()
        self.training_dock.raise_()

    @Slot(object)
    def _on_suggestions_queue_image_opened(self, _image_id: object) -> None:
        if self.suggestions_dock.isVisible():
            self.suggestions_dock.raise_()

    @Slot(object)
    def _on_embedding_map_label_requested(self, request: object) -> None:
        """Labels the map's selection: the grid shows and selects exactly those images, and
        the labeling keys label its selection (store, undo, stale marks)."""
        image_ids, class_id = request  # type: ignore[misc]
        self.grid.set_map_selection(image_ids)
        self.labeling.label_with(class_id)

    @Slot(bool)
    def _on_advance_action_toggled(self, checked: bool) -> None:
        self.labeling.auto_advance = checked
        self._settings.setValue(ADVANCE_KEY, checked)

    # -- window --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.training.is_running() and not self.training.confirm_stop(self):
            event.ignore()
            return
        self.layout_state.save()
        self.training.shutdown()
        self.suggestions.shutdown()
        self.worth_a_mask.shutdown()
        self.proposal_review.shutdown()
        self.close_project()
        self.editor.shutdown()
        self.grid.shutdown()
        super().closeEvent(event)
