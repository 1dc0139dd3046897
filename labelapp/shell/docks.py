"""The window's docks: Project and Training (tabs) with the Map beside them, Worth a mask,
Suggestions and Proposals (tabs) below, each with its View-menu entry."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from labelapp.map.dock import EmbeddingMapDock
from labelapp.project.summary_panel import SummaryPanel
from labelapp.proposals.panel import ProposalsPanel
from labelapp.suggestions.panel import SuggestionsPanel
from labelapp.suggestions.worth_a_mask import WorthAMaskPanel
from labelapp.training.panel import TrainingPanel


@dataclass(frozen=True)
class Docks:
    summary_panel: SummaryPanel
    summary_dock: QDockWidget
    training_panel: TrainingPanel
    training_dock: QDockWidget
    worth_a_mask: WorthAMaskPanel
    worth_a_mask_dock: QDockWidget
    suggestions: SuggestionsPanel
    suggestions_dock: QDockWidget
    embedding_map: EmbeddingMapDock
    proposals: ProposalsPanel
    proposals_dock: QDockWidget

    def all(self) -> tuple[QDockWidget, ...]:
        return (self.summary_dock, self.training_dock, self.worth_a_mask_dock, self.suggestions_dock,
                self.embedding_map.dock, self.proposals_dock)


def build_docks(window: QMainWindow, settings: QSettings) -> Docks:
    """Builds the docks on ``window``'s right side."""
    right = Qt.DockWidgetArea.RightDockWidgetArea
    summary_panel = SummaryPanel()
    summary_dock = _dock(window, "Project", "project_dock", summary_panel)
    window.addDockWidget(right, summary_dock)
    training_panel = TrainingPanel()
    training_dock = _dock(window, "Training", "training_dock", training_panel)
    worth_a_mask = WorthAMaskPanel()
    worth_a_mask_dock = _dock(window, "Worth a mask", "worth_a_mask_dock", worth_a_mask)
    # below the Project / Training tabs, not a third tab: always in sight
    window.addDockWidget(right, worth_a_mask_dock, Qt.Orientation.Vertical)
    suggestions = SuggestionsPanel(settings)
    suggestions_dock = _dock(window, "Suggestions", "suggestions_dock", suggestions)
    window.tabifyDockWidget(worth_a_mask_dock, suggestions_dock)  # a tab beside Worth a mask
    proposals = ProposalsPanel()
    proposals_dock = _dock(window, "Proposals", "proposals_dock", proposals)
    window.tabifyDockWidget(suggestions_dock, proposals_dock)  # mask proposals to review: a third tab
    proposals_dock.toggleViewAction().setEnabled(False)  # the window enables it with a project
    suggestions_dock.raise_()
    window.addDockWidget(right, training_dock)
    window.tabifyDockWidget(summary_dock, training_dock)
    window.resizeDocks([summary_dock, worth_a_mask_dock], [620, 280], Qt.Orientation.Vertical)
    window.resizeDocks([worth_a_mask_dock], [320], Qt.Orientation.Horizontal)
    embedding_map = EmbeddingMapDock(window)  # the Map dock: a tab beside Project / Training
    window.addDockWidget(right, embedding_map.dock)
    window.tabifyDockWidget(training_dock, embedding_map.dock)
    summary_dock.raise_()
    return Docks(summary_panel, summary_dock, training_panel, training_dock, worth_a_mask, worth_a_mask_dock,
                 suggestions, suggestions_dock, embedding_map, proposals, proposals_dock)


def _dock(window: QMainWindow, title: str, name: str, widget: QWidget) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    return dock
