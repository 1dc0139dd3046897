"""What each view re-reads after a change: a label write, a saved mask, a finished
retrain, a moved threshold, new suggestions, a relinked file.

The window connects the parts' signals to these slots; each change refreshes each view
once (one key press: one grid refresh)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QDockWidget, QLabel

from core.store import StoreError
from labelapp.editor import ImageEditor
from labelapp.grid import ImageGrid
from labelapp.map.dock import EmbeddingMapDock
from labelapp.project.summary_panel import SummaryPanel
from labelapp.session.changes import LabelsChanged
from labelapp.session.project_session import ProjectSession
from labelapp.session.recovery_offer import RecoveredMasksOffer
from labelapp.shell.image_info import image_info_html
from labelapp.shell.status_area import StatusArea
from labelapp.suggestions.panel import SuggestionsPanel
from labelapp.suggestions.worth_a_mask import WorthAMaskPanel
from labelapp.widgets.turns import in_turns


@dataclass(frozen=True)
class Views:
    """The parts that show the project."""

    grid: ImageGrid
    editor: ImageEditor
    image_info: QLabel
    status: StatusArea
    summary_panel: SummaryPanel
    worth_a_mask: WorthAMaskPanel
    worth_a_mask_dock: QDockWidget
    suggestions: SuggestionsPanel
    embedding_map: EmbeddingMapDock


class ViewUpdates(QObject):
    """Refreshes the views of ``session``'s project after each change."""

    def __init__(self, session: ProjectSession, views: Views, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._views = views
        self._counts_timer = QTimer(self)  # a burst of label writes recounts once
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self.show_counts)
        session.labels_changed.connect(self._on_session_labels_changed)
        session.mask_saved.connect(self._on_session_mask_saved)
        # masks a failed save kept aside, offered back at the next open
        self.recovered_masks = RecoveredMasksOffer(session, views.editor, reload=views.editor.reload_image)
        self.recovered_masks.message.connect(views.status.show_info)

    @Slot(object)
    def _on_session_labels_changed(self, change: LabelsChanged) -> None:
        """One label write: each view refreshes once (stale marks: the training controller)."""
        v, ids = self._views, list(change.image_ids)
        v.grid.refresh(ids)
        self._counts_timer.start()
        self.show_image_info(v.editor.current_image_id())
        v.worth_a_mask.on_labels_changed(ids)
        v.suggestions.on_labels_changed(ids)
        v.editor.refresh_suggestion()
        v.embedding_map.panel.on_labels_changed(ids)

    @Slot(object)
    def _on_session_mask_saved(self, image_id: object) -> None:
        v = self._views
        v.status.mark_saved()
        if image_id == v.editor.current_image_id():
            self.show_image_info(image_id)
        v.grid.refresh([int(image_id)])  # type: ignore[arg-type]
        self._counts_timer.start()
        v.worth_a_mask.on_mask_saved(image_id)

    @Slot(object)
    def on_run_finished(self, result: object) -> None:
        """New predictions on the tiles and under the editor, new suggestions and map."""
        if self._session.project is None:
            return
        v = self._views
        if getattr(result, "run", None) is not None:
            v.grid.after_run()
            self.refresh_image_info()

        def suggestions() -> None:  # a retrain stores fresh suggestions at its end
            if self._session.project is not None:
                v.suggestions.reload()
                v.editor.refresh_suggestion()

        def embedding_map() -> None:
            if self._session.project is not None:
                v.embedding_map.on_run_finished(result)

        in_turns(self, (suggestions, embedding_map))  # later turns: each part paints before the next

    @Slot(object)
    def on_predictions_stored(self, stored: object) -> None:
        """A running retrain stored predictions of some images: the tiles show them, and
        the lines under the editor when the image shown is one of them."""
        self._views.grid.add_stored(stored)
        if self._views.editor.current_image_id() in getattr(stored, "image_ids", ()):
            self.show_image_info(self._views.editor.current_image_id())

    @Slot()
    def on_detector_updated(self) -> None:
        """A defect-detector run finished: new heat maps and a new worth-a-mask list."""
        v = self._views
        v.worth_a_mask.reload()
        if v.worth_a_mask.image_ids():
            v.worth_a_mask_dock.show()
        v.editor.reload_heatmaps()

    @Slot()
    def on_threshold_moved(self) -> None:
        """The user moved a defect-detector run's threshold: the grid's defect filters and
        the editor's defect line read it again."""
        self._views.grid.refresh(None)
        self._views.editor.reload_heatmaps()

    @Slot(object)
    def on_suggestions_refreshed(self, _count: object) -> None:
        self._views.grid.refresh(None)  # ranks for the grid's suggestion filter and sort
        self._views.editor.refresh_suggestion()

    @Slot(object)
    def on_images_relinked(self, image_ids: object) -> None:
        """Files moved: the grid and the editor read them again (None: any image)."""
        grid, editor = self._views.grid, self._views.editor
        current = editor.current_image_id()
        if image_ids is None:
            grid.refresh(None)
            if current is not None:
                editor.reload_image(current)
            return
        for image_id in image_ids:  # type: ignore[attr-defined]
            editor.reload_image(int(image_id))
        grid.refresh(list(image_ids))  # type: ignore[call-overload]

    def refresh_image_info(self) -> None:
        """Re-reads the lines under the editor (after a run brought new predictions: which
        model to believe may have changed too)."""
        self._views.editor.reload_heatmaps()
        self.show_image_info(self._views.editor.current_image_id())

    @Slot(object)
    def show_image_info(self, image_id: object) -> None:
        """One line under the editor: file, label, size, mask."""
        project, label = self._session.project, self._views.image_info
        if project is None or image_id is None:
            label.setText("")
            return
        try:
            label.setText(image_info_html(project, int(image_id)))  # type: ignore[arg-type]
        except StoreError as exc:
            label.setText(html.escape(str(exc)))

    @Slot()
    def show_counts(self) -> None:
        """Label counts in the status bar and the Project dock."""
        project, v = self._session.project, self._views
        if project is None:
            return
        try:
            summary = project.summary()
            classes = project.classes.list()
        except StoreError as exc:
            v.status.show_error(str(exc))
            return
        v.status.show_counts(summary, classes)
        v.summary_panel.show_summary(name=project.name, path=str(project.root), summary=summary, classes=classes)
