"""The grid's list model: the rows of a :class:`Catalog` view, one per image.

The model holds the view as a numpy array of catalog indices, so ``rowCount`` and
``data`` cost the same for 100 images as for 100,000. Thumbnails come from a
:class:`PixmapCache` that the grid fills from the loader thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from core.catalog import Catalog, MaskState
from core.store import ImageClass
from labelapp.grid.marks import tile_tooltip
from labelapp.grid.tile import Tile, unsure_cut
from labelapp.widgets.thumbnail_loader import LoadedThumbnail, PixmapCache, ThumbnailRequest

AnyIndex = QModelIndex | QPersistentModelIndex
_EMPTY = np.zeros(0, dtype=np.int64)
# the suggestion star goes on the next few images to label: a queue of 200 on a small
# project would star nearly every unlabeled tile and say nothing (the "Suggested" filter
# and sort still list the whole queue)
STARRED = 24


@dataclass(frozen=True)
class ViewQuery:
    """What the grid shows: a filter, a file-name search and a sort order."""

    filter: str = "all"
    class_id: int | None = None
    search: str = ""
    sort: str = "name"
    descending: bool = False


class GridModel(QAbstractListModel):
    """Read-only rows over a catalog view; :meth:`set_query` changes the view."""

    ImageIdRole = Qt.ItemDataRole.UserRole + 1
    TileRole = Qt.ItemDataRole.UserRole + 2
    LabelRole = Qt.ItemDataRole.UserRole + 3  # label class id, 0 when unlabeled

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pixmaps = PixmapCache()
        self.catalog: Catalog | None = None
        self.query = ViewQuery()
        self._classes: dict[int, ImageClass] = {}
        self._notes: dict[bool, str] = {}  # the verdict's note by "the classifier says defective"
        self._unsure: tuple[tuple, float] = ((), 0.0)  # (run, predicted images), the "unsure" cut of that run
        self._rows = _EMPTY  # catalog index of each row
        self._keys = _EMPTY  # sort key of each row, ascending
        self._row_of = _EMPTY  # catalog index -> row, -1 when hidden

    # -- view ------------------------------------------------------------------------------
    def set_catalog(self, catalog: Catalog | None, *, keep_thumbnails: bool = False) -> None:
        """Shows ``catalog`` (None: nothing) with the current query. With
        ``keep_thumbnails`` (the same project, reloaded) decoded thumbnails stay and
        those known missing are asked for again."""
        self.beginResetModel()
        self.catalog = catalog
        if keep_thumbnails:
            self.pixmaps.forget_missing()
        else:
            self.pixmaps.clear()
        self._compute()
        self.endResetModel()

    def set_query(self, query: ViewQuery) -> bool:
        """Shows ``query``; returns whether the rows changed."""
        self.query = query
        return self.update_view()

    def update_view(self) -> bool:
        """Applies the query to the catalog again (labels or classes changed). Resets the
        model only when the rows change; returns whether they did."""
        old = self._rows
        rows, keys = self._query_rows()
        if np.array_equal(rows, old):
            self._classes = self._class_table()
            self._keys = keys
            if len(rows):
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return False
        self.beginResetModel()
        self._compute()
        self.endResetModel()
        return True

    def _compute(self) -> None:
        self._classes = self._class_table()
        self._rows, self._keys = self._query_rows()
        self._row_of = np.full(len(self.catalog) if self.catalog is not None else 0, -1, dtype=np.int64)
        self._row_of[self._rows] = np.arange(len(self._rows))

    def _query_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self.catalog is None:
            return _EMPTY, _EMPTY
        q = self.query
        rows = self.catalog.view_indices(q.filter, q.class_id, q.search, q.sort, q.descending)
        return rows, self.catalog.sort_keys(q.sort, q.descending)[rows]

    def _class_table(self) -> dict[int, ImageClass]:
        verdict = None if self.catalog is None else self.catalog.verdict
        self._notes = {} if verdict is None else {side: verdict.note(side) for side in (False, True)}
        self._update_unsure_cut()
        return {} if self.catalog is None else self.catalog.class_by_id()

    def _update_unsure_cut(self) -> None:
        """Recomputes the confidence below which a prediction is among its run's least
        sure tenth, when the run or its number of predicted images changed (streaming)."""
        catalog = self.catalog
        if catalog is None:
            self._unsure = ((), 0.0)
            return
        key = (id(catalog), catalog.prediction_run, int(np.count_nonzero(catalog.pred_class)))
        if key != self._unsure[0]:
            self._unsure = (key, unsure_cut(catalog.pred_class, catalog.pred_conf))

    # -- rows --------------------------------------------------------------------------------
    def total(self) -> int:
        """Images in the catalog, shown or not."""
        return 0 if self.catalog is None else len(self.catalog)

    def ids(self) -> np.ndarray:
        """The image ids in row order."""
        return _EMPTY.copy() if self.catalog is None else self.catalog.ids[self._rows]

    def image_id(self, row: int) -> int:
        return int(self.catalog.ids[self._rows[row]])

    def ids_of_rows(self, rows: np.ndarray) -> np.ndarray:
        """The image ids of ``rows``."""
        return _EMPTY.copy() if self.catalog is None else self.catalog.ids[self._rows[rows]]

    def row_of(self, image_id: int) -> int:
        """The row of ``image_id``, -1 when the view hides it."""
        if self.catalog is None:
            return -1
        index = int(self.catalog.index_of([image_id])[0])
        return -1 if index < 0 else int(self._row_of[index])

    def rows_of(self, image_ids: np.ndarray) -> np.ndarray:
        """The rows of ``image_ids`` (-1 for hidden ones)."""
        if self.catalog is None:
            return np.full(len(image_ids), -1, dtype=np.int64)
        index = self.catalog.index_of(image_ids)
        return np.where(index >= 0, self._row_of[index], -1)

    def insertion_row(self, image_id: int) -> int:
        """Where ``image_id`` is or would be in the view: the number of rows whose sort
        key is below its own (its row when shown)."""
        index = int(self.catalog.index_of([image_id])[0]) if self.catalog is not None else -1
        if index < 0:
            return 0
        key = self.catalog.sort_keys(self.query.sort, self.query.descending)[index]
        return int(np.searchsorted(self._keys, key))

    def unlabeled_rows(self) -> np.ndarray:
        """The rows, ascending, whose image has no label."""
        if self.catalog is None:
            return _EMPTY
        return np.flatnonzero(self.catalog.label[self._rows] == 0)

    def tile(self, row: int) -> Tile:
        catalog = self.catalog
        i = int(self._rows[row])
        defect = float(catalog.pred_defect[i])
        probability = None if np.isnan(defect) else defect
        rank = int(catalog.suggestion_rank[i]) if catalog.label[i] == 0 else 0
        suggestion = rank if rank <= STARRED else 0
        prediction = self._classes.get(int(catalog.pred_class[i]))
        says_defective = None if prediction is None else not prediction.is_ok
        verdict = catalog.verdict
        disagree = verdict is not None and verdict.disagrees(says_defective, probability)
        return Tile(
            image_id=int(catalog.ids[i]), name=catalog.names[i], hash=catalog.hashes[i],
            width=int(catalog.widths[i]), height=int(catalog.heights[i]),
            label=self._classes.get(int(catalog.label[i])), mask=MaskState(int(catalog.mask[i])),
            prediction=prediction, confidence=float(catalog.pred_conf[i]),
            defect=probability, defect_threshold=catalog.defect_threshold, suggestion=suggestion,
            defect_validated=catalog.detector.validated,
            disagreement=self._notes.get(bool(says_defective)) if disagree else None,
            overruled=disagree and verdict.overrules_detector(says_defective, probability),
            unsure_below=self._unsure[1],
        )

    # -- thumbnails ----------------------------------------------------------------------------
    def thumbnail_requests(self, first: int, last: int) -> list[ThumbnailRequest]:
        """Requests for the rows ``first..last`` (inclusive, in that order; ``first`` may
        be above ``last``) whose thumbnail is neither decoded nor known missing."""
        if self.catalog is None or not len(self._rows):
            return []
        first = min(max(first, 0), len(self._rows) - 1)
        last = min(max(last, 0), len(self._rows) - 1)
        step = 1 if last >= first else -1
        hashes, ids = self.catalog.hashes, self.catalog.ids
        return [ThumbnailRequest(int(ids[i]), hashes[i]) for i in self._rows[np.arange(first, last + step, step)]
                if self.pixmaps.wanted(hashes[i])]

    def add_thumbnails(self, batch: list[LoadedThumbnail]) -> None:
        """Stores decoded thumbnails and repaints the tiles that show them."""
        for item in batch:
            self.pixmaps.put(item.hash, item.image)
        rows = self.rows_of(np.array([item.image_id for item in batch], dtype=np.int64))
        for row in rows[rows >= 0]:
            index = self.index(int(row))
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    # -- QAbstractListModel ----------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = index.row()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.catalog.names[self._rows[row]]
        if role == self.ImageIdRole:
            return self.image_id(row)
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmaps.get(self.catalog.hashes[self._rows[row]])
        if role == self.LabelRole:
            return int(self.catalog.label[self._rows[row]])
        if role == self.TileRole:
            return self.tile(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            mistake = self.catalog.mistakes.reason(int(self._rows[row]), self.catalog.label)
            return tile_tooltip(self.tile(row), self.catalog.paths[self._rows[row]]) + (
                f"\npossibly mislabeled: {mistake}" if mistake else "")
        return None
