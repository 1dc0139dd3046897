"""The bar above the grid: filter, file-name search, sort order and the image count.

The prediction entries (predicted as a class, prediction disagrees with the label,
the confidence sorts) are listed only while the project has a run with predictions; the
defect entries (detected defective, detection disagrees with the label, the
defect-probability sorts) only while it has a defect-detector run; while that run is not
validated the two filters are listed greyed out with the reason, and the sorts say
"not validated". The suggestion entries (suggested to label next, the suggestion-rank
sort) once suggestions were computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from core.store import ImageClass
from core.training.trust import DetectorTrust
from labelapp.grid.model import ViewQuery
from labelapp.widgets.combos import keep_text_whole, rebuilding
from labelapp.widgets.swatches import color_icon

SEARCH_DELAY_MS = 120  # typing pauses this long before the grid filters
FIXED_FILTERS = (("All images", "all"), ("Unlabeled", "unlabeled"), ("Labeled", "labeled"), ("OK", "ok"),
                 ("Has mask", "mask"))
SORTS = (("Name", "name"), ("Date", "date"), ("Label", "label"), ("Import order", "added"))
PREDICTION_SORTS = (("Least sure first", "least_sure"), ("Most sure first", "most_sure"),
                    ("Likely mistakes first", "mislabeled"))
DISAGREE_TEXT = "Label \u2260 prediction"
MISLABELED_FILTER = ("Possibly mislabeled", "mislabeled")
PREDICTED_TEXT = "Predicted: {name}"
SUGGESTED_FILTER = ("Suggested", "suggested")
SUGGESTED_SORT = ("Suggested first", "suggested")
DEFECT_FILTERS = (("Defective (detector)", "defective"), ("Label \u2260 detector", "missed"))
DEFECT_SORTS = (("Likeliest defect first", "defect_first"), ("Least likely defect first", "defect_last"))
TIPS = {  # the tooltip of each entry whose short text needs one
    "suggested": "Unlabeled images the suggestions queue names (N opens the next)",
    "disagree": "Labeled images the classifier predicts as another class (also when trained without them):"
                " label mistakes or hard images",
    "mislabeled": "Labeled images that classifiers trained without them confidently put in another class"
                  " (confident learning); the tooltip says which",
    "predicted": "Images the classifier predicts as {name}",
    "defective": "Images the defect detector calls defective (probability at or above its threshold)",
    "missed": "Labeled OK but detected defective, or labeled defective but not detected",
    "least_sure": "By the classifier's confidence in its predicted class, the least sure first",
    "most_sure": "By the classifier's confidence in its predicted class, the surest first",
    "defect_first": "By the defect detector's defect probability, the highest first",
    "defect_last": "By the defect detector's defect probability, the lowest first",
}
NOT_VALIDATED = "not validated"

MAP_FILTER_TEXT = "Map: {n:,} selected"  # short: the filter combo is squeezed in a narrow grid


class SearchField(QLineEdit):
    """A line edit that gives the focus back to the grid on Escape (after clearing)
    and on Enter."""

    focus_released = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
        elif event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.focus_released.emit()
        else:
            super().keyPressEvent(event)


class FilterBar(QWidget):
    """Emits :attr:`query_changed` with a new :class:`ViewQuery` when the user changes
    a control; :meth:`set_query` shows a query without emitting."""

    query_changed = Signal(object)  # ViewQuery
    focus_released = Signal()  # Escape or Enter in the search field

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._query = ViewQuery()
        self._entries_key: tuple | None = None  # what the entries were built from (set_classes)
        self.filter_combo = keep_text_whole(QComboBox(objectName="grid_filter"))
        self.filter_combo.setToolTip("Show only some images")
        self.search_edit = SearchField(objectName="grid_search")
        self.search_edit.setPlaceholderText("Search file names")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(110)
        self.sort_combo = keep_text_whole(QComboBox(objectName="grid_sort"))
        self.sort_combo.setToolTip("Sort order")
        self.direction_button = QToolButton(objectName="grid_sort_direction")
        self.direction_button.setCheckable(True)
        self.direction_button.setAutoRaise(True)
        self.direction_button.setIconSize(QSize(14, 14))
        self.count_label = QLabel(objectName="grid_count")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.legend_button = QToolButton(objectName="grid_legend", text="?", autoRaise=True)
        self.legend_button.setToolTip("What the marks on the tiles mean")
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._layout()
        self.set_classes(())
        self._show_direction(False)
        self.filter_combo.activated.connect(self._on_filter_combo_activated)
        self.sort_combo.activated.connect(self._on_sort_combo_activated)
        self.direction_button.toggled.connect(self._on_direction_button_toggled)
        self.search_edit.textChanged.connect(self._on_search_edit_text_changed)
        self.search_edit.focus_released.connect(self.focus_released)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)

    def _layout(self) -> None:
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 4, 4, 4)
        row.setSpacing(6)
        row.addWidget(self.filter_combo)
        row.addWidget(self.search_edit, 1)
        row.addWidget(QLabel("Sort"))
        row.addWidget(self.sort_combo)
        row.addWidget(self.direction_button)
        row.addWidget(self.count_label)
        row.addWidget(self.legend_button)

    # -- state ---------------------------------------------------------------------------------
    @property
    def query(self) -> ViewQuery:
        return self._query

    def set_query(self, query: ViewQuery) -> None:
        """Shows ``query`` in the controls (emits nothing)."""
        self._query = query
        self._select_filter(query.filter, query.class_id)
        if self.search_edit.text() != query.search:
            self.search_edit.setText(query.search)
        self._search_timer.stop()
        self._show_sort(query.sort, query.descending)

    def set_classes(self, classes: Sequence[ImageClass], *, predictions: bool = False,
                    defects: bool = False, suggestions: bool = False, detector: DetectorTrust | None = None,
                    map_selection: int = 0) -> None:
        """Rebuilds the filter and sort entries: the fixed ones, one per class; with
        ``predictions`` (the project has a run with predictions) one "predicted as" per
        class, the disagreement filter and the confidence sorts; with ``defects`` (it
        has a defect-detector run) the two defect filters and the defect-probability
        sorts (greyed-out filters and "not validated" sorts when ``detector`` is not
        validated); with ``suggestions`` (suggestions were computed) the suggested filter
        and the suggestion-rank sort; with ``map_selection`` (images selected on the map)
        "Map: N selected" last. A query whose entry is gone (or greyed out) falls
        back to all images (or to the name order), without emitting. Nothing is rebuilt
        when the entries would be the same (after every retrain, mostly)."""
        key = (tuple((c.id, c.name, c.shortcut, c.color) for c in classes), predictions, defects, suggestions,
               None if detector is None else (detector.validated, detector.why), map_selection)
        if key == self._entries_key:
            return
        self._entries_key = key
        with rebuilding(self.filter_combo), rebuilding(self.sort_combo):
            self._rebuild(classes, predictions, defects, suggestions, detector, map_selection)

    def _rebuild(self, classes: Sequence[ImageClass], predictions: bool, defects: bool, suggestions: bool,
                 detector: DetectorTrust | None, map_selection: int) -> None:
        """The entries of :meth:`set_classes`, both combos replaced."""
        self.filter_combo.clear()
        for text, kind in FIXED_FILTERS:
            self.filter_combo.addItem(text, kind)
        if suggestions:
            self._add(self.filter_combo, *SUGGESTED_FILTER)
        if classes:
            self.filter_combo.insertSeparator(self.filter_combo.count())
        for cls in classes:
            key = f"  [{cls.shortcut}]" if cls.shortcut else ""
            self.filter_combo.addItem(color_icon(cls.color), f"{cls.name}{key}", f"class:{cls.id}")
        if predictions:
            self.filter_combo.insertSeparator(self.filter_combo.count())
            self._add(self.filter_combo, DISAGREE_TEXT, "disagree")
            self._add(self.filter_combo, *MISLABELED_FILTER)
            for cls in classes:
                self.filter_combo.addItem(color_icon(cls.color), PREDICTED_TEXT.format(name=cls.name),
                                          f"predicted:{cls.id}")
                self.filter_combo.setItemData(self.filter_combo.count() - 1, TIPS["predicted"].format(name=cls.name),
                                              Qt.ItemDataRole.ToolTipRole)
        validated = detector is None or detector.validated
        if defects:
            self._add_defect_filters(None if validated else detector.why)
        if map_selection:
            self.filter_combo.insertSeparator(self.filter_combo.count())
            self.filter_combo.addItem(MAP_FILTER_TEXT.format(n=map_selection), "map")
            self.filter_combo.setItemData(self.filter_combo.count() - 1, "The images selected on the map",
                                          Qt.ItemDataRole.ToolTipRole)
        self.sort_combo.clear()
        for text, key in (SORTS + ((SUGGESTED_SORT,) if suggestions else ()) + (PREDICTION_SORTS if predictions else ())
                          + (DEFECT_SORTS if defects else ())):
            self._add(self.sort_combo, text if validated or key not in dict(DEFECT_SORTS).values()
                      else f"{text} ({NOT_VALIDATED})", key)
        if not self._select_filter(self._query.filter, self._query.class_id):
            self._query = ViewQuery(search=self._query.search, sort=self._query.sort,
                                    descending=self._query.descending)
            self._select_filter("all", None)
        if self.sort_combo.findData(self._query.sort) < 0:
            self._query = ViewQuery(filter=self._query.filter, class_id=self._query.class_id,
                                    search=self._query.search)
        self._show_sort(self._query.sort, self._query.descending)

    def _add_defect_filters(self, why_not: str | None) -> None:
        """The defect filters; greyed out with ``why_not`` as the tip when the detector's
        threshold decides nothing (its calls are not validated)."""
        self.filter_combo.insertSeparator(self.filter_combo.count())
        for text, kind in DEFECT_FILTERS:
            self.filter_combo.addItem(text if why_not is None else f"{text} ({NOT_VALIDATED})", kind)
            row = self.filter_combo.count() - 1
            tip = TIPS[kind] if why_not is None else f"The defect detector is {why_not}."
            self.filter_combo.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
            if why_not is not None:
                self.filter_combo.model().item(row).setEnabled(False)

    @staticmethod
    def _add(combo: QComboBox, text: str, data: str) -> None:
        """An entry, with its tooltip when :data:`TIPS` has one."""
        combo.addItem(text, data)
        if data in TIPS:
            combo.setItemData(combo.count() - 1, TIPS[data], Qt.ItemDataRole.ToolTipRole)

    def set_counts(self, shown: int, total: int) -> None:
        self.count_label.setText(f"{shown:,} of {total:,}")

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def _select_filter(self, kind: str, class_id: int | None) -> bool:
        position = self.filter_combo.findData(f"{kind}:{class_id}" if class_id is not None else kind)
        if position >= 0 and not self.filter_combo.model().item(position).isEnabled():
            position = -1
        if position >= 0:
            self.filter_combo.setCurrentIndex(position)
        return position >= 0

    def _show_sort(self, key: str, descending: bool) -> None:
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(key)))
        self.direction_button.blockSignals(True)
        self.direction_button.setChecked(descending)
        self.direction_button.blockSignals(False)
        self._show_direction(descending)

    def _show_direction(self, descending: bool) -> None:
        self.direction_button.setText("↓" if descending else "↑")
        self.direction_button.setToolTip("Descending (click for ascending)" if descending
                                         else "Ascending (click for descending)")

    def _change(self, **changes: object) -> None:
        query = ViewQuery(**{**self._query.__dict__, **changes})
        if query != self._query:
            self._query = query
            self.query_changed.emit(query)

    # -- slots ---------------------------------------------------------------------------------
    @Slot(int)
    def _on_filter_combo_activated(self, position: int) -> None:
        data = str(self.filter_combo.itemData(position))
        kind, _, class_id = data.partition(":")
        self._change(filter=kind, class_id=int(class_id) if class_id else None)

    @Slot(int)
    def _on_sort_combo_activated(self, position: int) -> None:
        self._change(sort=self.sort_combo.itemData(position))

    @Slot(bool)
    def _on_direction_button_toggled(self, descending: bool) -> None:
        self._show_direction(descending)
        self._change(descending=descending)

    @Slot(str)
    def _on_search_edit_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    @Slot()
    def _on_search_timer_timeout(self) -> None:
        self._change(search=self.search_edit.text())
