"""The suggestions queue: the suggestions panel (:mod:`labelapp.suggestions.panel`)
connected to the window.

:class:`SuggestionsQueue` connects the panel to the window: double-click or Enter in the
list, and the "Next suggested image" key (N), open an image in the editor; labeling an
image opened that way goes on to the next suggestion when "go to the next image after
labeling" is on, while images reached another way advance through the grid as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from labelapp.suggestions.panel import ALL_LABELED, NOT_YET

if TYPE_CHECKING:
    from labelapp.shell.main_window import MainWindow


class SuggestionsQueue(QObject):
    """Connects the window's suggestions panel to the editor, the labels and the retrains:
    opening a suggestion (row, N) shows it with the queue as the route that labeling
    advances on; a label or a new set updates the panel, the grid and the editor's line."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        panel = window.suggestions
        panel.image_requested.connect(self.open)
        panel.refreshed.connect(self._on_panel_refreshed)
        panel.message.connect(window.status.show_info)
        window.labeling.labels_changed.connect(self._on_labels_changed)
        window.editor.labels_changed.connect(self._on_labels_changed)
        window.editor.image_shown.connect(panel.select)
        window.training_panel.run_finished.connect(self._on_training_panel_run_finished)
        window.project_opened.connect(panel.set_project)
        window.project_closed.connect(self._on_window_project_closed)

    @Slot(object)
    def open(self, image_id: object) -> None:
        """Shows a suggested image; labeling it goes on to the next suggestion."""
        window, panel = self._window, self._window.suggestions
        window.labeling.go_to(int(image_id), then=panel.next_after)  # type: ignore[call-overload]
        panel.select(image_id)
        if window.suggestions_dock.isVisible():
            window.suggestions_dock.raise_()

    def go_next(self) -> None:
        """The next open suggestion after the image shown (the best when it is not one)."""
        panel, current = self._window.suggestions, self._window.editor.current_image_id()
        target = panel.next_after(current)
        if target is not None:
            self.open(target)
        elif not panel.image_ids():
            self._window.status.show_info(NOT_YET if panel.is_empty_set() else ALL_LABELED)
        else:
            self._window.status.show_info("This is the last open suggestion: Refresh for more.")

    @Slot(object)
    def _on_labels_changed(self, image_ids: object) -> None:
        self._window.suggestions.on_labels_changed(image_ids)
        self._window.editor.refresh_suggestion()

    @Slot(object)
    def _on_panel_refreshed(self, _count: object) -> None:
        self._window.grid.refresh(None)  # ranks for the grid's suggestion filter and sort
        self._window.editor.refresh_suggestion()

    @Slot(object)
    def _on_training_panel_run_finished(self, _result: object) -> None:
        """A retrain stores fresh suggestions at its end (the grid reads them with the
        predictions)."""
        self._window.suggestions.reload()
        self._window.editor.refresh_suggestion()

    @Slot()
    def _on_window_project_closed(self) -> None:
        self._window.suggestions.set_project(None)
