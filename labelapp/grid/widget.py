"""ImageGrid: the filter bar over the virtualized thumbnail grid, as one widget.

The grid reads a :class:`Catalog` of the project on the GUI thread (a few queries,
about 0.35 s for 100,000 images) and loads thumbnails on its own loader thread. After
label or mask changes the window calls :meth:`ImageGrid.refresh` with the images that
changed; after an import, :meth:`ImageGrid.reload`. Both keep the current tile, the
selection and the scroll position where the images are still shown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from core.catalog import CLASS_FILTERS, FILTERS, Catalog
from core.catalog_sorts import SORTS
from core.store import Project
from labelapp.grid.filter_bar import FilterBar
from labelapp.grid.legend import LegendButton
from labelapp.grid.model import GridModel, ViewQuery
from labelapp.grid.scroll_benchmark import scroll_to_end
from labelapp.grid.view import GridView
from labelapp.widgets.thumbnail_loader import LoadedThumbnail, ThumbnailLoader

logger = logging.getLogger(__name__)
Flag = QItemSelectionModel.SelectionFlag


class ImageGrid(QWidget):
    """The project's images as a filterable, sortable, multi-selectable thumbnail grid."""

    current_changed = Signal(object)  # image id or None
    activated = Signal(object)  # image id: double-click or Enter
    selection_changed = Signal(object)  # list[int] selected image ids, in view order

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._quiet = 0  # > 0 while the grid restores its state: signals are sent once, after
        self._last_current: int | None = None
        self._last_selection: list[int] = []
        self._last_scroll = 0
        self.model = GridModel(self)
        self.view = GridView(self.model)
        self.view.setObjectName("image_grid")
        self.filter_bar = FilterBar()
        self.loader = ThumbnailLoader(self)
        self.legend = LegendButton(self.filter_bar.legend_button, self.view.tile_delegate)  # "?": the tiles' marks
        self._request_timer = QTimer(self, singleShot=True, interval=0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.view, 1)
        self.setFocusProxy(self.view)
        self._connect()
        self.filter_bar.set_counts(0, 0)

    def _connect(self) -> None:
        selection = self.view.selectionModel()
        selection.currentChanged.connect(self._on_selection_current_changed)
        selection.selectionChanged.connect(self._on_selection_selection_changed)
        self.view.activated_row.connect(self._on_view_activated_row)
        self.view.geometry_changed.connect(self._on_view_geometry_changed)
        self.view.verticalScrollBar().valueChanged.connect(self._on_scroll_bar_value_changed)
        self.model.modelReset.connect(self._on_view_geometry_changed)
        self.filter_bar.query_changed.connect(self._on_filter_bar_query_changed)
        self.filter_bar.focus_released.connect(self.view.setFocus)
        self.loader.thumbnails_loaded.connect(self._on_loader_thumbnails_loaded)
        self._request_timer.timeout.connect(self._on_request_timer_timeout)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- project -------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Shows the images of ``project`` (None: none). ``project`` belongs to the GUI
        thread; the loader thread opens its own thumbnail cache."""
        self._project = project
        catalog = Catalog.load(project) if project is not None else None
        query = ViewQuery(sort=self.filter_bar.query.sort, descending=self.filter_bar.query.descending)
        with self._tracking():
            self.filter_bar.set_query(query)
            self._show_choices(catalog)
            self.model.set_catalog(catalog)
            self.view.scrollToTop()
        self.loader.set_cache_dir(project.cache_dir if project is not None else None)
        if project is not None and not self.loader.isRunning():
            self.loader.start()
        self._after_change()

    def refresh(self, image_ids: Iterable[int] | None = None) -> None:
        """Labels or masks of ``image_ids`` changed (None: of any image, or the classes
        changed): reads them again and re-applies filter and sort."""
        if self._project is None or self.model.catalog is None:
            return
        if image_ids is None:
            self.model.catalog.reload_labels(self._project)
            self._show_choices(self.model.catalog)
        else:
            self.model.catalog.refresh(self._project, image_ids)
        self._apply(self.model.update_view, center=False)

    def after_run(self) -> None:
        """A retrain ended: reads what it changed besides its streamed predictions (:meth:`Catalog.after_run`)."""
        self.add_stored(None)

    def add_stored(self, stored: object) -> None:
        """A running retrain stored predictions of some images (``Progress.stored``; None: it
        ended): the tiles show them at once, the rest of the run follows batch by batch."""
        if self._project is None or self.model.catalog is None:
            return
        if stored is None:
            self.model.catalog.after_run(self._project)
        else:
            self.model.catalog.add_stored(self._project, stored)  # type: ignore[arg-type]
        self._show_choices(self.model.catalog)
        self._apply(self.model.update_view, center=False)

    def shown_first(self, n: int = 300) -> list[int]:
        """Up to ``n`` image ids in the order the user sees them next: the rows on screen,
        then those below them in view order."""
        first, _last = self.view.visible_rows()
        ids = self.model.ids()
        return [int(i) for i in ids[max(0, first):max(0, first) + n]]

    def reload(self) -> None:
        """Images were added (an import): reads the catalog again."""
        if self._project is None:
            return
        catalog = Catalog.load(self._project)
        if self.model.catalog is not None:
            catalog.map_selection = self.model.catalog.map_selection
        self._show_choices(catalog)

        def change() -> bool:
            self.model.set_catalog(catalog, keep_thumbnails=True)
            return True

        self._apply(change, center=False)

    def _show_choices(self, catalog: Catalog | None) -> None:
        """Lists the classes (and the prediction, defect and suggestion entries when
        ``catalog`` has such predictions or suggestions) in the filter bar; the model takes the query the bar keeps."""
        self.filter_bar.set_classes(catalog.classes if catalog is not None else (),
                                    predictions=catalog is not None and catalog.has_predictions,
                                    defects=catalog is not None and catalog.has_defect_predictions,
                                    suggestions=catalog is not None and catalog.has_suggestions,
                                    detector=catalog.detector if catalog is not None else None,
                                    map_selection=len(catalog.map_selection) if catalog is not None else 0)
        self.model.query = self.filter_bar.query

    def set_map_selection(self, image_ids: Iterable[int] | np.ndarray) -> None:
        """Shows exactly ``image_ids`` (the embedding map's selection), all selected, the
        search cleared; the first becomes current unless the current image is among them.
        No ids: the "Map selection" entry goes, and all images show if it was chosen."""
        if self.model.catalog is None:
            return
        ids = np.unique(np.asarray(image_ids if isinstance(image_ids, np.ndarray) else list(image_ids),
                                   dtype=np.int64))
        self.model.catalog.map_selection = ids
        if not len(ids):
            query = self.filter_bar.query
            self._show_choices(self.model.catalog)
            self._set_query(replace(query, filter="all", class_id=None) if query.filter == "map" else query)
            return
        query = replace(self.filter_bar.query, filter="map", class_id=None, search="")
        current = self.current_id()
        with self._tracking():
            self._show_choices(self.model.catalog)
            self.filter_bar.set_query(query)
            self.model.set_query(query)
            self.view.updateGeometries()
            rows = self.model.rowCount()
            selection = self.view.selectionModel()
            if rows:
                selection.select(QItemSelection(self.model.index(0), self.model.index(rows - 1)),
                                 Flag.ClearAndSelect)
                row = self.model.row_of(current) if current is not None else -1
                selection.setCurrentIndex(self.model.index(max(row, 0)), Flag.NoUpdate)
            self.view.scrollToTop()
        self._after_change()

    def shutdown(self) -> None:
        """Stops the loader thread (call from the window's closeEvent); final."""
        self._request_timer.stop()
        self.loader.shutdown()

    # -- queries ---------------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        """The selected image ids, in view order."""
        ranges = [(r.top(), r.bottom()) for r in self.view.selectionModel().selection()]
        if not ranges:
            return []
        rows = np.unique(np.concatenate([np.arange(top, bottom + 1) for top, bottom in ranges]))
        return [int(i) for i in self.model.ids_of_rows(rows)]

    def current_id(self) -> int | None:
        index = self.view.currentIndex()
        return self.model.image_id(index.row()) if index.isValid() else None

    def ordered_ids(self) -> np.ndarray:
        """The image ids in view order (filter, search and sort applied)."""
        return self.model.ids()

    def neighbour(self, image_id: int, step: int) -> int | None:
        """The image ``step`` places after (negative: before) ``image_id`` in view order;
        None past either end. An image the view hides counts from where it would be."""
        row = self.model.row_of(image_id)
        if row >= 0:
            target = row + step
        else:
            position = self.model.insertion_row(image_id)
            target = position + step - 1 if step > 0 else position + step
        return self.model.image_id(target) if 0 <= target < self.model.rowCount() else None

    def next_unlabeled(self, after: int | None) -> int | None:
        """The first unlabeled image after ``after`` in view order, wrapping to the start
        (``after`` itself when it is the only one); None when every image shown is labeled."""
        rows = self.model.unlabeled_rows()
        if not len(rows):
            return None
        if after is None:
            return self.model.image_id(int(rows[0]))
        row = self.model.row_of(after)
        start = row + 1 if row >= 0 else self.model.insertion_row(after)
        k = int(np.searchsorted(rows, start))
        return self.model.image_id(int(rows[k] if k < len(rows) else rows[0]))

    # -- commands ----------------------------------------------------------------------------------
    def set_current(self, image_id: int) -> bool:
        """Makes ``image_id`` the current (and only selected) tile and scrolls to it;
        False when the filter hides it."""
        row = self.model.row_of(image_id)
        if row < 0:
            return False
        index = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(index, Flag.ClearAndSelect)
        self.view.scrollTo(index)
        return True

    def set_filter(self, kind: str, class_id: int | None = None) -> None:
        if kind not in FILTERS:
            raise ValueError(f"unknown filter {kind!r}; expected one of {', '.join(FILTERS)}")
        if kind in CLASS_FILTERS and class_id is None:
            raise ValueError(f'the "{kind}" filter needs a class_id')
        self._set_query(replace(self.filter_bar.query, filter=kind,
                                class_id=class_id if kind in CLASS_FILTERS else None))

    def set_search(self, text: str) -> None:
        self._set_query(replace(self.filter_bar.query, search=text))

    def set_sort(self, key: str, descending: bool = False) -> None:
        if key not in SORTS:
            raise ValueError(f"unknown sort {key!r}; expected one of {', '.join(SORTS)}")
        self._set_query(replace(self.filter_bar.query, sort=key, descending=descending))

    def focus_search(self) -> None:
        self.filter_bar.focus_search()

    def _set_query(self, query: ViewQuery) -> None:
        self.filter_bar.set_query(query)
        self._apply(lambda: self.model.set_query(query), center=True)

    # -- keeping state across changes -----------------------------------------------------------------
    def _apply(self, change: Callable[[], bool], *, center: bool) -> None:
        """Runs ``change`` (returns whether the rows changed) and puts the current tile,
        the selection and the scroll position back where their images are still shown."""
        current, selected = self.current_id(), np.array(self.selected_ids(), dtype=np.int64)
        first = self.view.visible_rows()[0]
        top = self.model.image_id(first) if first >= 0 else None
        shift = self.view.verticalOffset() % self.view.tile_delegate.cell.height()
        with self._tracking():
            if change():
                self.view.updateGeometries()
                self._restore_selection(selected, current)
                self._restore_scroll(current, top, shift, center=center)
        self._after_change()

    def _restore_selection(self, selected: np.ndarray, current: int | None) -> None:
        rows = np.sort(self.model.rows_of(selected))
        rows = rows[rows >= 0]
        selection = QItemSelection()
        if len(rows):
            breaks = np.flatnonzero(np.diff(rows) != 1)
            for start, end in zip(np.r_[rows[0], rows[breaks + 1]], np.r_[rows[breaks], rows[-1]], strict=True):
                selection.select(self.model.index(int(start)), self.model.index(int(end)))
        model = self.view.selectionModel()
        model.select(selection, Flag.ClearAndSelect)
        row = self.model.row_of(current) if current is not None else -1
        model.setCurrentIndex(self.model.index(row) if row >= 0 else QModelIndex(), Flag.NoUpdate)

    def _restore_scroll(self, current: int | None, top: int | None, shift: int, *, center: bool) -> None:
        current_row = self.model.row_of(current) if current is not None else -1
        if center and current_row >= 0:
            self.view.scrollTo(self.model.index(current_row), GridView.ScrollHint.PositionAtCenter)
        elif center or top is None:
            self.view.scrollToTop()
        else:  # the tile that was on top stays on top (or the one now in its place)
            grid_row = self.model.insertion_row(top) // self.view.columns
            self.view.verticalScrollBar().setValue(grid_row * self.view.tile_delegate.cell.height() + shift)

    @contextlib.contextmanager
    def _tracking(self) -> Iterator[None]:
        """Holds back current and selection signals; sends each once if it changed."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
        if self._quiet == 0:
            self._emit_changes()

    def _emit_changes(self) -> None:
        current = self.current_id()
        if current != self._last_current:
            self._last_current = current
            self.current_changed.emit(current)
        selection = self.selected_ids()
        if selection != self._last_selection:
            self._last_selection = selection
            self.selection_changed.emit(selection)

    def _after_change(self) -> None:
        self.filter_bar.set_counts(self.model.rowCount(), self.model.total())
        self.view.viewport().update()
        self._request_timer.start()

    # -- slots -------------------------------------------------------------------------------------
    @Slot(QModelIndex, QModelIndex)
    def _on_selection_current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._quiet:
            self._emit_changes()

    @Slot(QItemSelection, QItemSelection)
    def _on_selection_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        if not self._quiet:
            self._emit_changes()

    @Slot()
    def _on_view_geometry_changed(self) -> None:
        self._request_timer.start()

    @Slot(int)
    def _on_scroll_bar_value_changed(self, _value: int) -> None:
        self._request_timer.start()  # not connected directly: start(int) would take the value as interval

    @Slot(int)
    def _on_view_activated_row(self, row: int) -> None:
        self.activated.emit(self.model.image_id(row))

    @Slot(object)
    def _on_filter_bar_query_changed(self, query: ViewQuery) -> None:
        self._apply(lambda: self.model.set_query(query), center=True)

    @Slot(object)
    def _on_loader_thumbnails_loaded(self, batch: list[LoadedThumbnail]) -> None:
        self.model.add_thumbnails(batch)

    @Slot()
    def _on_request_timer_timeout(self) -> None:
        """Asks the loader for the visible tiles, then one page ahead in the scroll direction."""
        first, last = self.view.visible_rows()
        if first < 0 or not self.loader.isRunning():
            self.loader.request([])
            return
        requests = self.model.thumbnail_requests(first, last)
        page = last - first + 1
        value = self.view.verticalOffset()
        if value < self._last_scroll and first > 0:
            requests += self.model.thumbnail_requests(first - 1, first - page)
        elif last < self.model.rowCount() - 1:
            requests += self.model.thumbnail_requests(last + 1, last + page)
        self._last_scroll = value
        self.loader.request(requests)

    # -- benchmark -------------------------------------------------------------------------------------
    def scroll_to_end_benchmark(self) -> dict:
        """Scrolls top to bottom a page at a time, processing events (:func:`scroll_to_end`)."""
        return scroll_to_end(self.view)
