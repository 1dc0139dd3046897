"""The suggestions queue: the open suggestions of the panel (:mod:`labelapp.suggestions.panel`)
in rank order. Double-click or Enter in the list, and the "Next suggested image" key (N),
open an image in the editor; labeling an
image opened that way goes on to the next suggestion when "go to the next image after
labeling" is on, while images reached another way advance through the grid as before.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from labelapp.suggestions.panel import ALL_LABELED, NOT_YET, SuggestionsPanel


class SuggestionsQueue(QObject):
    """Opens suggested images in the panel's order: opening one (row, N) shows it with the
    queue as the route that labeling advances on.

    ``go_to(image_id, then=...)`` shows an image and sets that route (the labeling
    controller's); ``current()`` is the image shown.

    Signals:
        image_opened(object): a suggested image id now shown (the window brings the dock forward).
        message(str): a line for the status area.
    """

    image_opened = Signal(object)
    message = Signal(str)

    def __init__(self, panel: SuggestionsPanel, go_to: Callable[..., None], current: Callable[[], int | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._go_to = go_to
        self._current = current
        panel.image_requested.connect(self.open)

    @Slot(object)
    def open(self, image_id: object) -> None:
        """Shows a suggested image; labeling it goes on to the next suggestion."""
        self._go_to(int(image_id), then=self._panel.next_after)  # type: ignore[call-overload]
        self._panel.select(image_id)
        self.image_opened.emit(image_id)

    def go_next(self) -> None:
        """The next open suggestion after the image shown (the best when it is not one)."""
        panel = self._panel
        target = panel.next_after(self._current())
        if target is not None:
            self.open(target)
        elif not panel.image_ids():
            self.message.emit(NOT_YET if panel.is_empty_set() else ALL_LABELED)
        else:
            self.message.emit("This is the last open suggestion: Refresh for more.")
