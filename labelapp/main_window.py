"""The main window: assembles the thumbnail view, the "Project" dock and the menus.

The window owns the open :class:`Project` (one per window, opened on the GUI thread)
and shows store errors as messages in the window, never as tracebacks.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QWidget,
)

from core.store import Project, StoreError
from labelapp.image_list_model import ImageListModel
from labelapp.summary_panel import SummaryPanel

logger = logging.getLogger(__name__)

APP_TITLE = "labelapp"
MAX_RECENT = 10
RECENT_KEY = "recent_projects"
GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
NO_PROJECT_HINT = "No project open.\n\nFile ▸ Open Project… (Ctrl+O) opens a project folder."
NO_IMAGES_HINT = "This project has no images yet.\n\nImport a folder with: labelapp import PROJECT FOLDER"


class RecentProjects:
    """The most recently opened project folders, newest first, kept in QSettings."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def paths(self) -> list[Path]:
        value = self._settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # INI files give a lone string for a one-item list
            value = [value]
        return [Path(v) for v in (value or []) if v]

    def add(self, path: Path) -> None:
        text = os.path.abspath(path)
        rest = [str(p) for p in self.paths() if str(p) != text]
        self._settings.setValue(RECENT_KEY, [text, *rest][:MAX_RECENT])

    def clear(self) -> None:
        self._settings.remove(RECENT_KEY)


class ThumbnailGrid(QListView):
    """A read-only icon grid whose cells widen to fill the viewport (no ragged gap on
    the right). Uniform item sizes: the layout never asks the model for every row."""

    def __init__(self, tile_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._min_cell = QSize(tile_size + 20, tile_size + 30)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(tile_size, tile_size))
        self.setGridSize(self._min_cell)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(self._min_cell.height() // 4)

    def resizeEvent(self, event: QResizeEvent) -> None:
        width = self.viewport().width()
        columns = max(1, width // self._min_cell.width())
        cell = QSize(max(self._min_cell.width(), width // columns), self._min_cell.height())
        if cell != self.gridSize():
            self.setGridSize(cell)
        super().resizeEvent(event)


class MainWindow(QMainWindow):
    """The project window. ``settings`` defaults to the application's QSettings."""

    project_opened = Signal(object)  # Project
    project_closed = Signal()

    def __init__(self, *, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings()
        self.recent = RecentProjects(self._settings)
        self._project: Project | None = None
        self.model = ImageListModel(self)
        self.view = self._build_view()
        self.message = QLabel(NO_PROJECT_HINT)
        self.message.setObjectName("message_label")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setMargin(24)
        self._stack = QStackedWidget()
        self._stack.addWidget(self.message)
        self._stack.addWidget(self.view)
        self.setCentralWidget(self._stack)
        self.summary_panel = SummaryPanel()
        self.summary_dock = QDockWidget("Project", self)
        self.summary_dock.setObjectName("project_dock")
        self.summary_dock.setWidget(self.summary_panel)
        self.summary_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.summary_dock)
        self.resizeDocks([self.summary_dock], [320], Qt.Orientation.Horizontal)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("status_counts")
        self.statusBar().addPermanentWidget(self.counts_label)
        self._build_menus()
        self._show_no_project()
        self.resize(1280, 820)
        self._restore_layout()

    def _build_view(self) -> QListView:
        view = ThumbnailGrid(self.model.tile_size)
        view.setObjectName("image_grid")
        view.setModel(self.model)
        return view

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open Project…", self)
        self.open_action.setShortcut(QKeySequence("Ctrl+O"))
        self.open_action.triggered.connect(self._on_open_action_triggered)
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)
        self._on_recent_menu_about_to_show()

    # -- project -----------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self._project

    def open_project(self, path: Path | str) -> bool:
        """Opens the project in ``path``; on a store error keeps what was open and shows
        the message. Returns whether the project opened."""
        path = Path(path)
        try:
            project = Project.open(path)
        except (StoreError, OSError) as exc:
            logger.warning("cannot open project %s: %s", path, exc)
            self._show_error(f"Cannot open {path}: {exc}", detail=f"Cannot open the project.\n{exc}")
            return False
        try:
            self._show_project(project)
        except (StoreError, OSError) as exc:
            logger.warning("cannot read project %s: %s", path, exc)
            if self._project is project:
                self.close_project()
            else:
                project.close()
            self._show_error(f"Cannot read {path}: {exc}", detail=f"Cannot read the project.\n{exc}")
            return False
        self.recent.add(project.root)
        self.statusBar().showMessage(f"Opened {project.root}", 5000)
        self.project_opened.emit(project)
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
        self.model.set_project(None)
        self._project.close()
        self._project = None
        self._show_no_project()
        self.project_closed.emit()

    def _show_project(self, project: Project) -> None:
        summary = project.summary()
        classes = project.classes.list()
        self.close_project()
        self._project = project
        self.model.set_project(project)
        self.setWindowTitle(f"{APP_TITLE} — {project.name}")
        self.summary_panel.show_summary(name=project.name, path=str(project.root), summary=summary,
                                        classes=classes)
        self.counts_label.setText(f"{summary.images:,} images · {summary.labeled:,} labeled")
        if summary.images:
            self._stack.setCurrentWidget(self.view)
        else:
            self._show_message(NO_IMAGES_HINT)

    def _show_no_project(self) -> None:
        self.setWindowTitle(APP_TITLE)
        self.summary_panel.clear()
        self.counts_label.setText("")
        self._show_message(NO_PROJECT_HINT)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self._stack.setCurrentWidget(self.message)

    def _show_error(self, text: str, *, detail: str) -> None:
        """Shows an error in the status bar, and ``detail`` in the central area when no
        project occupies it."""
        self.statusBar().showMessage(text)
        if self._project is None:
            self._show_message(f"{detail}\n\n{NO_PROJECT_HINT}")

    # -- slots -------------------------------------------------------------------------------
    @Slot()
    def _on_open_action_triggered(self) -> None:
        start = str(self._project.root.parent) if self._project is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Open Project", start)
        if folder:
            self.open_project(Path(folder))

    @Slot()
    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(str(path))
            action.setEnabled(path.is_dir())
            action.triggered.connect(lambda _checked=False, p=path: self._on_recent_action_triggered(p))
        if paths:
            self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear Recent")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self._on_clear_recent_action_triggered)

    def _on_recent_action_triggered(self, path: Path) -> None:
        self.open_project(path)

    @Slot()
    def _on_clear_recent_action_triggered(self) -> None:
        self.recent.clear()

    # -- window --------------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self._settings.value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self._settings.value(STATE_KEY)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(STATE_KEY, self.saveState())
        self.close_project()
        super().closeEvent(event)
