"""Where the grid, the editor and the docks sit: a default that leaves the grid room for
several thumbnail columns, and the user's own layout kept in QSettings.

Until the user drags the grid / editor handle (or a saved layout is restored), the grid
gets as many whole tile columns as fit in :data:`GRID_SHARE` of the splitter (at least
:data:`MIN_COLUMNS`, the editor keeping :data:`EDITOR_MIN` pixels), refitted on every
resize: four columns at 1600 px beside the docks, five at 1920. The window's geometry,
its dock layout (:meth:`QMainWindow.saveState`) and the split the user chose are saved on
close and restored on the next start; the split only once the splitter has its real
width, so that the sizes come back as they were rather than scaled from a guess.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter

from labelapp.grid import ImageGrid

GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
SPLITTER_KEY = "main_window/splitter"
GRID_SHARE = 0.6
MIN_COLUMNS = 2
EDITOR_MIN = 420
DOCK_WIDTH = 320  # the docks' default width: their content's minimum, near enough


class WindowLayout(QObject):
    """Sizes ``splitter`` (the grid, then the editor) and ``docks`` of ``window``; saves and
    restores them with ``settings``."""

    def __init__(self, window: QMainWindow, splitter: QSplitter, grid: ImageGrid, docks: tuple[QDockWidget, ...],
                 settings: QSettings) -> None:
        super().__init__(window)
        self._window = window
        self._splitter = splitter
        self._grid = grid
        self._docks = docks
        self._settings = settings
        self._pending_splitter = settings.value(SPLITTER_KEY)  # restored at the splitter's first real size
        self.auto_fit = self._pending_splitter is None  # False once the user moved the handle
        self._laid_out = False  # the splitter had its real width once
        self._docks_sized = settings.value(STATE_KEY) is not None
        splitter.installEventFilter(self)
        splitter.splitterMoved.connect(self._on_splitter_moved)

    def restore(self) -> None:
        """The saved window geometry and dock layout (the splitter follows when it is laid out)."""
        geometry, state = self._settings.value(GEOMETRY_KEY), self._settings.value(STATE_KEY)
        if geometry is not None:
            self._window.restoreGeometry(geometry)
        if state is not None and not self._window.restoreState(state):
            self._docks_sized = False

    def save(self) -> None:
        self._settings.setValue(GEOMETRY_KEY, self._window.saveGeometry())
        self._settings.setValue(STATE_KEY, self._window.saveState())
        if not self._laid_out:  # never laid out (no project all session): the saved split stays
            return
        if self.auto_fit:  # the user never chose: the next start fits the columns to its own width
            self._settings.remove(SPLITTER_KEY)
        else:
            self._settings.setValue(SPLITTER_KEY, self._splitter.saveState())

    def grid_width(self, total: int) -> int:
        """The grid's width in a splitter ``total`` pixels wide (handle excluded)."""
        view = self._grid.view
        columns = MIN_COLUMNS
        while view.width_for(columns + 1) <= GRID_SHARE * total and total - view.width_for(columns + 1) >= EDITOR_MIN:
            columns += 1
        return min(view.width_for(columns), max(0, total - EDITOR_MIN // 2))

    def fit(self) -> None:
        """The default split: whole tile columns for the grid, the rest for the editor."""
        total = self._splitter.width() - self._splitter.handleWidth()
        if total <= 0:
            return
        grid = self.grid_width(total)
        self._splitter.setSizes([grid, total - grid])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._splitter and event.type() == QEvent.Type.Resize and self._splitter.width() > 0:
            self._laid_out = True
            if not self._docks_sized:
                self._docks_sized = True
                self._window.resizeDocks(list(self._docks[:1]), [DOCK_WIDTH], Qt.Orientation.Horizontal)
            if self._pending_splitter is not None:
                pending, self._pending_splitter = self._pending_splitter, None
                self.auto_fit = not self._splitter.restoreState(pending)
            if self.auto_fit:
                self.fit()
        return False

    @Slot(int, int)
    def _on_splitter_moved(self, _position: int, _index: int) -> None:
        self.auto_fit = False
