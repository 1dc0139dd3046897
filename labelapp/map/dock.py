"""The Map dock: the map panel (:mod:`labelapp.map.panel`) in a dock beside Project /
Training.

:class:`EmbeddingMapDock` builds the dock and connects it to the main window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget

from labelapp.map.panel import EmbeddingMapPanel

if TYPE_CHECKING:
    from labelapp.shell.main_window import MainWindow


class EmbeddingMapDock(QObject):
    """Builds the Map dock (a tab beside Project / Training), its View-menu entry, and
    connects it to the window: project changes, retrains, label changes, opening an
    image, the grid showing the selection, and labeling it."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.panel = EmbeddingMapPanel()
        self.dock = QDockWidget("Map", window)
        self.dock.setObjectName("map_dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.training_dock, self.dock)
        window.summary_dock.raise_()
        window.window_actions.menus["&View"].addAction(self.dock.toggleViewAction())
        window.project_opened.connect(self._on_window_project_opened)
        window.project_closed.connect(self._on_window_project_closed)
        window.training_panel.run_finished.connect(self._on_training_run_finished)
        window.labeling.labels_changed.connect(self.panel.on_labels_changed)
        window.editor.labels_changed.connect(self.panel.on_labels_changed)
        self.panel.image_requested.connect(self._on_panel_image_requested)
        self.panel.selection_changed.connect(self._on_panel_selection_changed)
        self.panel.label_requested.connect(self._on_panel_label_requested)

    @Slot(object)
    def _on_window_project_opened(self, project: object) -> None:
        self.panel.set_project(project)  # type: ignore[arg-type]

    @Slot()
    def _on_window_project_closed(self) -> None:
        self.panel.set_project(None)

    @Slot(object)
    def _on_training_run_finished(self, _result: object) -> None:
        self.panel.refresh_classes()
        self.panel.reload()

    @Slot(int)
    def _on_panel_image_requested(self, image_id: int) -> None:
        self._window.labeling.go_to(image_id)

    @Slot(object)
    def _on_panel_selection_changed(self, image_ids: object) -> None:
        self._window.grid.set_map_selection(image_ids)  # type: ignore[arg-type]

    @Slot(int)
    def _on_panel_label_requested(self, class_id: int) -> None:
        """Labels the map's selection: the grid shows and selects exactly those images, and
        the labeling controller labels its selection (store, undo, events, stale marks)."""
        ids = self.panel.selected_ids()
        if not len(ids):
            return
        self._window.grid.set_map_selection(ids)
        self._window.labeling.label_with(class_id)
