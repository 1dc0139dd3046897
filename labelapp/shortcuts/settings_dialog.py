"""Remapping the app's keys: one table per group, conflicts shown as they appear.

Edits stay in the dialog until Save; Save is refused while two actions (or an action
and a class key) share a key. The main window re-applies the map after the dialog.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from labelapp.shortcuts.keymap import ACTIONS, GROUPS, ShortcutMap, find_conflicts, key_text, spec

logger = logging.getLogger(__name__)

EDITORS_PER_ACTION = 2  # a key and an alternative
WARNING_STYLE = "color: #C5221F;"


class ShortcutSettingsDialog(QDialog):
    """Edits ``shortcut_map``; ``reserved`` maps keys others use to who uses them
    (``{"1": "class crazing"}``)."""

    def __init__(self, shortcut_map: ShortcutMap, reserved: Mapping[str, str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self._map = shortcut_map
        self._reserved = {key_text(k): v for k, v in (reserved or {}).items() if key_text(k)}
        self.editors: dict[str, list[QKeySequenceEdit]] = {}
        self.warning_labels: dict[str, QLabel] = {}
        self._rows: dict[str, list[QWidget]] = {}
        self._boxes: dict[str, QGroupBox] = {}
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter actions…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        self.summary_label = QLabel()
        self.summary_label.setStyleSheet(WARNING_STYLE)
        self.summary_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.reset_all_button = self.buttons.addButton("Reset all", QDialogButtonBox.ButtonRole.ResetRole)
        self.reset_all_button.clicked.connect(self._on_reset_all_button_clicked)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._build_groups())
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.buttons)
        self.resize(840, 680)
        self._refresh()

    def _build_groups(self) -> QWidget:
        body = QWidget()
        column = QVBoxLayout(body)
        text_width = max(self.fontMetrics().horizontalAdvance(a.text) for a in ACTIONS) + 16
        for group in GROUPS:
            box = QGroupBox(group)
            grid = QGridLayout(box)
            grid.setColumnMinimumWidth(0, text_width)  # the same columns in every group
            grid.setColumnStretch(4, 1)
            for row, action in enumerate(a for a in ACTIONS if a.group == group):
                self._add_row(grid, row, action.id)
            self._boxes[group] = box
            column.addWidget(box)
        column.addStretch(1)
        return body

    def _add_row(self, grid: QGridLayout, row: int, action_id: str) -> None:
        label = QLabel(spec(action_id).text)
        keys = self._map.keys(action_id)
        editors = []
        for index in range(EDITORS_PER_ACTION):
            editor = QKeySequenceEdit(keys[index] if index < len(keys) else QKeySequence())
            editor.setMaximumSequenceLength(1)
            editor.setClearButtonEnabled(True)
            editor.setFixedWidth(150)
            editor.keySequenceChanged.connect(self._refresh)
            editors.append(editor)
            grid.addWidget(editor, row, 1 + index)
        reset = QToolButton()
        reset.setText("Reset")
        reset.setToolTip("Back to " + (" / ".join(spec(action_id).defaults) or "no key"))
        reset.clicked.connect(lambda: self.reset_action(action_id))
        warning = QLabel()
        warning.setStyleSheet(WARNING_STYLE)
        warning.setWordWrap(True)
        grid.addWidget(label, row, 0)
        grid.addWidget(reset, row, 3)
        grid.addWidget(warning, row, 4)
        self.editors[action_id] = editors
        self.warning_labels[action_id] = warning
        self._rows[action_id] = [label, *editors, reset, warning]

    # -- reading -------------------------------------------------------------------
    def pending(self) -> dict[str, list[QKeySequence]]:
        """Every action's keys as edited (not yet saved)."""
        return {action_id: [e.keySequence() for e in editors if not e.keySequence().isEmpty()]
                for action_id, editors in self.editors.items()}

    def conflicts(self) -> list[tuple[str, str, str]]:
        return find_conflicts(self.pending(), self._reserved)

    # -- changes -------------------------------------------------------------------
    def reset_action(self, action_id: str) -> None:
        """Puts an action's default keys back in its editors."""
        defaults = spec(action_id).defaults
        for index, editor in enumerate(self.editors[action_id]):
            editor.setKeySequence(QKeySequence(defaults[index]) if index < len(defaults) else QKeySequence())

    @Slot()
    def _on_reset_all_button_clicked(self) -> None:
        for action_id in self.editors:
            self.reset_action(action_id)

    @Slot()
    def _refresh(self) -> None:
        found = self.conflicts()
        others: dict[str, list[str]] = {a: [] for a in self.editors}
        for key, first, second in found:
            for mine, theirs in ((first, second), (second, first)):
                if mine in others:
                    owner = spec(theirs).text if theirs in self.editors else theirs
                    others[mine].append(f"{QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)}"
                                        f" is also {owner}")
        for action_id, label in self.warning_labels.items():
            label.setText("; ".join(others[action_id]))
        self.save_button.setEnabled(not found)
        count = len(found)
        self.summary_label.setText(
            f"{count} key conflict{'s' if count > 1 else ''}: give each action its own key to save." if found else "")

    @Slot(str)
    def _on_filter_edit_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for action_id, widgets in self._rows.items():
            keys = " ".join(key_text(e.keySequence()).lower() for e in self.editors[action_id])
            shown = not needle or needle in spec(action_id).text.lower() or needle in keys
            for widget in widgets:
                widget.setVisible(shown)
        for group, box in self._boxes.items():
            box.setVisible(any(self._rows[a.id][0].isVisibleTo(box) for a in ACTIONS if a.group == group))

    @Slot()
    def _on_buttons_accepted(self) -> None:
        if self.conflicts():
            return
        for action_id, keys in self.pending().items():
            self._map.set_keys(action_id, keys)
        self.accept()
