"""Work on the GUI thread split over several event-loop turns.

A burst of updates after an event (a retrain's end: the panel, the heat maps, the grid,
the suggestions, the map) takes tens of milliseconds in all; done in one slot, the
window does not paint or take a key for that long. :func:`in_turns` runs the parts one
per turn, so input, timers and paints get in between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer


def in_turns(context: QObject, steps: Sequence[Callable[[], None]]) -> None:
    """Runs ``steps`` in order, each in its own turn of the event loop (the first in the
    next one); the steps left are dropped when ``context`` is destroyed first. A step that
    raises does not stop the ones after it (the error goes to Qt's handler as usual)."""
    queue = list(steps)

    def run_next() -> None:
        step = queue.pop(0)
        try:
            step()
        finally:  # posted after the step: the paint it asked for comes before the next step
            if queue:
                QTimer.singleShot(0, context, run_next)

    if queue:
        QTimer.singleShot(0, context, run_next)
