"""The Map dock: the map panel (:mod:`labelapp.map.panel`) in a dock beside Project /
Training."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QDockWidget, QWidget

from labelapp.map.panel import EmbeddingMapPanel


class EmbeddingMapDock(QObject):
    """The Map dock around the panel. The window docks it (a tab beside Project /
    Training) and connects it: project changes, retrains, label changes, opening an image,
    the grid showing the selection, and labeling it (``label_requested``).

    Signals:
        label_requested(object): ``(image ids, class id)``: label the map's selection.
    """

    label_requested = Signal(object)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.panel = EmbeddingMapPanel()
        self.dock = QDockWidget("Map", parent)
        self.dock.setObjectName("map_dock")
        self.dock.setWidget(self.panel)
        self.panel.label_requested.connect(self._on_panel_label_requested)

    def set_project(self, project: object) -> None:
        self.panel.set_project(project)  # type: ignore[arg-type]

    @Slot(object)
    def on_run_finished(self, _result: object) -> None:
        """A retrain brought new embeddings and predictions."""
        self.panel.refresh_classes()
        self.panel.reload()

    @Slot(int)
    def _on_panel_label_requested(self, class_id: int) -> None:
        ids = self.panel.selected_ids()
        if len(ids):
            self.label_requested.emit((ids, class_id))
