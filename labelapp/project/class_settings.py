"""The classes of a project: name, colour, kind, key and order; merge and remove.

Every change goes to the store at once (one transaction each); a refused change
shows its reason in the dialog and the table shows the store's state again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QFocusEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.store import ClassKind, ImageClass, Project, StoreError, default_actor
from core.store.merge import merge_classes
from labelapp.shortcuts.keymap import key_text
from labelapp.widgets.formatting import counted as _n

logger = logging.getLogger(__name__)

COLUMNS = ("Colour", "Name", "Kind", "Key", "Images", "Masks")
COL_COLOR, COL_NAME, COL_KIND, COL_KEY, COL_IMAGES, COL_MASKS = range(len(COLUMNS))
KINDS = ((ClassKind.OK, "OK"), (ClassKind.DEFECT, "defect"))
SOURCE = "gui"
ERROR_STYLE = "color: #C5221F;"
INFO_STYLE = "color: #188038;"
_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier


class KeyCaptureButton(QPushButton):
    """Shows a single key; clicked, it records the next key pressed (Backspace or
    Delete: no key, Esc: keep)."""

    key_captured = Signal(str)

    def __init__(self, key: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._key = key or ""
        self._capturing = False
        self.setToolTip("Click, then press the key for this class (Backspace: none)")
        self.clicked.connect(self._on_self_clicked)
        self._show()

    def is_capturing(self) -> bool:
        return self._capturing

    @Slot()
    def _on_self_clicked(self) -> None:
        self._capturing = True
        self.setText("press a key…")
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._capturing:
            super().keyPressEvent(event)
            return
        key = event.key()
        if key in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
            return
        self._capturing = False
        self._show()
        if key == Qt.Key.Key_Escape or event.modifiers() & _MODIFIERS:
            return
        text = "" if key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete) else key_text(QKeySequence(key))
        self.key_captured.emit(text)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._capturing = False
        self._show()
        super().focusOutEvent(event)

    def _show(self) -> None:
        self.setText(self._key or "—")


class ClassSettingsDialog(QDialog):
    """Edits the classes of ``project`` (opened on the GUI thread).

    Args:
        reserved: keys the app's actions use, ``{key: action text}``; a class may not take them.
    """

    classes_changed = Signal()

    def __init__(self, project: Project, parent: QWidget | None = None, *,
                 reserved: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Classes — {project.name}")
        self._project = project
        self._reserved = {key_text(k): v for k, v in (reserved or {}).items()}
        self._ids: list[int] = []
        self._usage: dict[int, tuple[int, int]] = {}
        self._color_class: int | None = None
        self._merge_pair: tuple[int, int] | None = None
        self.color_dialog = QColorDialog(self)
        self.color_dialog.colorSelected.connect(self._on_color_dialog_color_selected)
        self.confirm_box = QMessageBox(QMessageBox.Icon.Question, "Merge classes", "", parent=self)
        self.confirm_box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        self.confirm_box.finished.connect(self._on_confirm_box_finished)
        self.table = self._build_table()
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self._build_layout()
        self._reload()
        self.resize(640, 420)

    # -- building ------------------------------------------------------------------
    def _build_table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                              | QAbstractItemView.EditTrigger.EditKeyPressed)
        table.verticalHeader().setVisible(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        table.itemChanged.connect(self._on_table_item_changed)
        table.itemSelectionChanged.connect(self._on_table_selection_changed)
        return table

    def _build_layout(self) -> None:
        self.add_button = QPushButton("Add")
        self.merge_button = QPushButton("Merge into…")
        self.merge_button.setMenu(QMenu(self.merge_button))
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        buttons = QHBoxLayout()
        for button in (self.add_button, self.merge_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)
        layout.addWidget(box)

    def _reload(self, select_id: int | None = None) -> None:
        """Shows the store's classes again, keeping (or moving to) a selection."""
        if select_id is None:
            select_id = self.selected_id()
        classes = self._project.classes.list()
        self._usage = self._project.classes.usage()
        self._ids = [c.id for c in classes]
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        self.table.setRowCount(len(classes))
        for row, cls in enumerate(classes):
            self._fill_row(row, cls)
        self.table.blockSignals(False)
        if select_id in self._ids:
            self.table.selectRow(self._ids.index(select_id))
        self._on_table_selection_changed()

    def _fill_row(self, row: int, cls: ImageClass) -> None:
        swatch = QPushButton()
        swatch.setToolTip(f"{cls.color} — click to change")
        swatch.setStyleSheet(f"background-color: {cls.color}; border: 1px solid #555; min-width: 36px;")
        swatch.clicked.connect(lambda: self._open_color_dialog(cls.id))
        self.table.setCellWidget(row, COL_COLOR, swatch)
        self.table.setItem(row, COL_NAME, QTableWidgetItem(cls.name))
        kind = QComboBox()
        for value, text in KINDS:
            kind.addItem(text, value.value)
        kind.setCurrentIndex(kind.findData(cls.kind.value))
        kind.currentIndexChanged.connect(lambda _i, c=kind: self._update(cls.id, kind=c.currentData()))
        self.table.setCellWidget(row, COL_KIND, kind)
        key = KeyCaptureButton(cls.shortcut)
        key.key_captured.connect(lambda text: self.set_key(cls.id, text))
        self.table.setCellWidget(row, COL_KEY, key)
        labels, masks = self._usage.get(cls.id, (0, 0))
        for column, count in ((COL_IMAGES, labels), (COL_MASKS, masks)):
            item = QTableWidgetItem(f"{count:,}")
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)

    # -- reading -------------------------------------------------------------------
    def selected_id(self) -> int | None:
        row = self.table.currentRow()
        return self._ids[row] if 0 <= row < len(self._ids) and self.table.selectedItems() else None

    def row_of(self, class_id: int) -> int:
        return self._ids.index(class_id)

    # -- changes -------------------------------------------------------------------
    def _change(self, action: Callable[[], object], *, select_id: int | None = None, done: str = "") -> bool:
        """Runs one store change; shows its error inline. Returns whether it succeeded."""
        try:
            action()
        except (StoreError, OSError) as exc:
            self._show_message(str(exc), error=True)
            self._reload(select_id)
            return False
        self._show_message(done)
        self._reload(select_id)
        self.classes_changed.emit()
        return True

    def _update(self, class_id: int, **changes: object) -> bool:
        return self._change(lambda: self._project.classes.update(
            class_id, actor=default_actor(), source=SOURCE, **changes), select_id=class_id)

    def set_key(self, class_id: int, key: str) -> bool:
        """Gives a class a key ("" for none) unless another class or an action has it."""
        owner = self._key_owner(class_id, key)
        if owner is not None:
            self._show_message(f"{key} is already the key of {owner}; choose another key", error=True)
            return False
        return self._update(class_id, shortcut=key)

    def _key_owner(self, class_id: int, key: str) -> str | None:
        if not key:
            return None
        for cls in self._project.classes.list():
            if cls.id != class_id and cls.shortcut and key_text(cls.shortcut) == key:
                return f"class {cls.name!r}"
        action = self._reserved.get(key)
        return f"the action {action!r}" if action else None

    def move_selected(self, step: int) -> bool:
        """Moves the selected class ``step`` rows up (-1) or down (+1)."""
        class_id = self.selected_id()
        if class_id is None:
            return False
        row = self.row_of(class_id)
        if not 0 <= row + step < len(self._ids):
            return False
        order = list(self._ids)
        order[row], order[row + step] = order[row + step], order[row]
        return self._change(lambda: self._project.classes.reorder(order, actor=default_actor(), source=SOURCE),
                            select_id=class_id)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.message_label.setText(text)

    # -- slots ---------------------------------------------------------------------
    @Slot(QTableWidgetItem)
    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != COL_NAME:
            return
        class_id = self._ids[item.row()]
        try:
            self._project.classes.update(class_id, name=item.text(), actor=default_actor(), source=SOURCE)
        except StoreError as exc:
            self._show_message(str(exc), error=True)
        else:
            self._show_message("")
            self.classes_changed.emit()
        # the item is being committed by its editor: change its text, not the rows
        self.table.blockSignals(True)
        item.setText(self._project.classes.get(class_id).name)
        self.table.blockSignals(False)
        self._fill_merge_menu(self.selected_id())

    @Slot()
    def _on_table_selection_changed(self) -> None:
        class_id = self.selected_id()
        selected = class_id is not None
        labels, masks = self._usage.get(class_id, (0, 0)) if selected else (0, 0)
        self.remove_button.setEnabled(selected and labels == 0 and masks == 0)
        self.remove_button.setToolTip(
            f"In use by {_n(labels, 'image')} and {_n(masks, 'mask')}: merge it into another class instead"
            if labels or masks else "Remove the selected class")
        self.merge_button.setEnabled(selected and len(self._ids) > 1)
        self.up_button.setEnabled(selected and self.row_of(class_id) > 0)
        self.down_button.setEnabled(selected and self.row_of(class_id) < len(self._ids) - 1)
        self._fill_merge_menu(class_id)

    def _fill_merge_menu(self, class_id: int | None) -> None:
        menu = self.merge_button.menu()
        menu.clear()
        for cls in self._project.classes.list() if class_id is not None else []:
            if cls.id != class_id:
                action = menu.addAction(cls.name)
                action.triggered.connect(lambda _checked=False, t=cls.id: self.ask_merge(class_id, t))

    @Slot()
    def _on_add_button_clicked(self) -> None:
        names = {c.name.lower() for c in self._project.classes.list()}
        name = next(n for n in (f"new class {i}" if i else "new class" for i in range(1000)) if n not in names)
        added: list[ImageClass] = []
        if self._change(lambda: added.append(self._project.classes.add(name, actor=default_actor(), source=SOURCE))):
            row = self.row_of(added[0].id)
            self.table.selectRow(row)
            self.table.editItem(self.table.item(row, COL_NAME))

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        class_id = self.selected_id()
        if class_id is not None:
            name = self._project.classes.get(class_id).name
            self._change(lambda: self._project.classes.remove(class_id, actor=default_actor(), source=SOURCE),
                         done=f"Removed class {name!r}.")

    def _open_color_dialog(self, class_id: int) -> None:
        self._color_class = class_id
        self.color_dialog.setCurrentColor(QColor(self._project.classes.get(class_id).color))
        self.color_dialog.open()

    @Slot(QColor)
    def _on_color_dialog_color_selected(self, color: QColor) -> None:
        if self._color_class is not None:
            self._update(self._color_class, color=color.name().upper())

    def ask_merge(self, merged_id: int, target_id: int) -> None:
        """Asks (non-blocking, in ``confirm_box``) before merging one class into another."""
        merged, target = self._project.classes.get(merged_id), self._project.classes.get(target_id)
        labels, masks = self._usage.get(merged_id, (0, 0))
        self._merge_pair = (merged_id, target_id)
        self.confirm_box.setText(f"Merge {merged.name!r} into {target.name!r}?")
        self.confirm_box.setInformativeText(
            f"{_n(labels, 'label')} and {_n(masks, 'mask')} of {merged.name!r} become {target.name!r}, and the"
            f" class {merged.name!r} is deleted. {target.name!r} keeps its kind ({target.kind.value}).")
        self.confirm_box.open()

    @Slot(int)
    def _on_confirm_box_finished(self, result: int) -> None:
        pair, self._merge_pair = self._merge_pair, None
        if pair is None or result != QMessageBox.StandardButton.Yes:
            return
        merged = self._project.classes.get(pair[0]).name
        outcome = []
        ok = self._change(lambda: outcome.append(merge_classes(
            self._project, pair[0], pair[1], actor=default_actor(), source=SOURCE)), select_id=pair[1])
        if ok:
            m = outcome[0]
            self._show_message(f"Merged {merged!r} into {m.target.name!r}: {_n(m.labels_moved, 'label')} and"
                               f" {_n(m.masks_rewritten, 'mask')} moved.")
