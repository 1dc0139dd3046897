"""The "Project" dock: counts of images, labels, masks and runs, and one row per class."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.store import ImageClass, ProjectSummary
from labelapp.widgets.swatches import color_icon

SWATCH_SIZE = 14
CLASS_COLUMNS = ("Class", "Kind", "Key", "Images")
# (object-name suffix, row caption); the widgets are named "summary_<suffix>".
FIELDS = (
    ("images", "Images"),
    ("labeled", "Labeled"),
    ("unlabeled", "Unlabeled"),
    ("ok", "OK"),
    ("defect", "Defect"),
    ("masks", "Masks"),
    ("runs", "Runs"),
)


def percent(part: int, whole: int) -> str:
    return f"{part:,} ({round(100 * part / whole)} %)" if whole else f"{part:,}"


class SummaryPanel(QWidget):
    """Read-only view of a :class:`ProjectSummary` and the project's classes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = QLabel()
        self._title.setObjectName("summary_title")
        font = QFont(self._title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self._title.setFont(font)
        self._path = QLabel()
        self._path.setObjectName("summary_path")
        self._path.setWordWrap(True)
        self._path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._path.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setHorizontalSpacing(16)
        for key, caption in FIELDS:
            value = QLabel()
            value.setObjectName(f"summary_{key}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._values[key] = value
            form.addRow(caption, value)
        self._classes_caption = QLabel("Classes")
        self._classes_caption.setFont(font)
        self._classes = self._build_class_table()
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addWidget(self._path)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addSpacing(10)
        layout.addWidget(self._classes_caption)
        layout.addWidget(self._classes)
        layout.addStretch(1)
        self.clear()

    def _build_class_table(self) -> QTableWidget:
        table = QTableWidget(0, len(CLASS_COLUMNS))
        table.setObjectName("summary_classes")
        table.setHorizontalHeaderLabels(list(CLASS_COLUMNS))
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.setShowGrid(False)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(CLASS_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        return table

    # -- content -------------------------------------------------------------------------
    def clear(self) -> None:
        """Shows "no project": empty values and no classes."""
        self._title.setText("No project open")
        self._path.setText("")
        self._path.hide()
        for value in self._values.values():
            value.setText("–")
        self._classes.setRowCount(0)
        self._classes_caption.hide()
        self._classes.hide()

    def show_summary(self, *, name: str, path: str, summary: ProjectSummary,
                     classes: list[ImageClass]) -> None:
        self._title.setText(name)
        self._path.setText(path)
        self._path.show()
        values = {
            "images": f"{summary.images:,}",
            "labeled": percent(summary.labeled, summary.images),
            "unlabeled": percent(summary.unlabeled, summary.images),
            "ok": f"{summary.ok:,}",
            "defect": f"{summary.labeled - summary.ok:,}",
            "masks": f"{summary.masks:,} ({summary.nonempty_masks:,} non-empty)",
            "runs": f"{summary.runs:,}",
        }
        for key, text in values.items():
            self._values[key].setText(text)
        self._show_classes(classes, summary.classes)

    def _show_classes(self, classes: list[ImageClass], counts: dict[str, int]) -> None:
        self._classes_caption.show()
        self._classes.show()
        self._classes.setRowCount(len(classes))
        for row, cls in enumerate(classes):
            name = QTableWidgetItem(color_icon(cls.color, SWATCH_SIZE, border="outline"), cls.name)
            name.setToolTip(f"{cls.name} ({cls.color})")
            count = QTableWidgetItem(f"{counts.get(cls.name, 0):,}")
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items = (name, QTableWidgetItem(cls.kind.value), QTableWidgetItem(cls.shortcut or ""), count)
            for column, item in enumerate(items):
                self._classes.setItem(row, column, item)
        self._fit_class_table()

    def _fit_class_table(self) -> None:
        """As tall as its rows (the stretch below takes the rest); scrolls when the dock
        is shorter than that."""
        table = self._classes
        height = (table.horizontalHeader().sizeHint().height() + table.verticalHeader().length()
                  + 2 * table.frameWidth())
        table.setMaximumHeight(height)
        table.setMinimumHeight(min(height, 12 * table.verticalHeader().defaultSectionSize()))

    # -- reading back (tests, status bar) ---------------------------------------------------
    def value_text(self, key: str) -> str:
        """The text shown for one field of :data:`FIELDS`."""
        return self._values[key].text()
