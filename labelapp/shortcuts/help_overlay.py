"""The keyboard help: a translucent panel over the main window listing every key."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.store import ImageClass
from labelapp.shortcuts.keymap import ACTIONS, GROUPS, ShortcutMap, display_text, key_text

logger = logging.getLogger(__name__)

COLUMNS = 3
CLASSES_GROUP = "Classes"
BACKDROP = QColor(0, 0, 0, 150)
PANEL_STYLE = """
QFrame#help_panel { background: rgba(28, 31, 36, 235); border-radius: 12px; }
QFrame#help_panel QLabel { color: #E8EAED; font-size: 14px; background: transparent; }
QFrame#help_panel QLabel[role="title"] { font-size: 20px; font-weight: bold; }
QFrame#help_panel QLabel[role="group"] { color: #8AB4F8; font-size: 15px; font-weight: bold; padding-top: 6px; }
QFrame#help_panel QLabel[role="key"] { color: #FFFFFF; font-weight: bold; background: #3C4043;
    border: 1px solid #5F6368; border-radius: 4px; padding: 1px 6px; }
QFrame#help_panel QLabel[role="hint"] { color: #9AA0A6; font-size: 12px; }
"""
Entry = tuple[str, str, str]  # (group, keys as shown, what they do)


class HelpOverlay(QWidget):
    """Covers its parent; :meth:`show_for` fills it. Esc, the help key or a click closes it."""

    closed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("help_overlay")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._entries: list[Entry] = []
        self._close_keys: set[str] = {"?", "Esc"}
        self._panel = QFrame(self)
        self._panel.setObjectName("help_panel")
        self._panel.setStyleSheet(PANEL_STYLE)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(self._panel, 0, Qt.AlignmentFlag.AlignVCenter)
        outer.addStretch(1)
        parent.installEventFilter(self)
        self.hide()

    def entries(self) -> list[Entry]:
        """What the overlay lists, in display order."""
        return list(self._entries)

    def show_for(self, shortcut_map: ShortcutMap, classes: Sequence[ImageClass]) -> None:
        """Lists every action with its current keys and the class keys, and shows the overlay."""
        self._entries = [(s.group, display_text(shortcut_map.keys(s.id)) or "—", s.text) for s in ACTIONS]
        self._entries += [(CLASSES_GROUP, c.shortcut, c.name) for c in classes if c.shortcut]
        self._close_keys = {"?", "Esc"} | {key_text(k) for k in shortcut_map.keys("help.shortcuts")}
        self._rebuild()
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.PopupFocusReason)

    def dismiss(self) -> None:
        if self.isVisible():
            self.hide()
            self.closed.emit()

    def _rebuild(self) -> None:
        old = self._panel.layout()
        if old is not None:
            QWidget().setLayout(old)  # reparents the old layout and its widgets away for deletion
        layout = QVBoxLayout(self._panel)
        layout.setContentsMargins(28, 20, 28, 16)
        title = _label("Keyboard shortcuts", "title")
        layout.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        columns = QHBoxLayout()
        columns.setSpacing(36)
        for groups in _split_columns(self._grouped(), COLUMNS):
            column = QGridLayout()
            column.setHorizontalSpacing(12)
            column.setVerticalSpacing(4)
            for group, rows in groups:
                column.addWidget(_label(group, "group"), column.rowCount(), 0, 1, 2)
                for keys, text in rows:
                    row = column.rowCount()
                    column.addWidget(_label(keys, "key"), row, 0, Qt.AlignmentFlag.AlignRight)
                    column.addWidget(_label(text), row, 1)
            column.setRowStretch(column.rowCount(), 1)
            columns.addLayout(column)
        layout.addLayout(columns)
        layout.addWidget(_label("Esc, ? or a click closes this panel", "hint"), 0, Qt.AlignmentFlag.AlignHCenter)

    def _grouped(self) -> list[tuple[str, list[tuple[str, str]]]]:
        order = [*GROUPS, CLASSES_GROUP]
        grouped = {g: [(keys, text) for group, keys, text in self._entries if group == g] for g in order}
        return [(g, rows) for g, rows in grouped.items() if rows]

    # -- events --------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # every key comes to keyPressEvent: no window shortcut fires while shown
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        pressed = key_text(QKeySequence(event.keyCombination()))
        if event.key() == Qt.Key.Key_Escape or pressed in self._close_keys or event.text() == "?":
            self.dismiss()
            return
        event.accept()  # the overlay is modal to the keyboard while shown

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.dismiss()


def _label(text: str, role: str = "text") -> QLabel:
    label = QLabel(text)
    label.setProperty("role", role)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _split_columns(groups: list[tuple[str, list]], count: int) -> list[list[tuple[str, list]]]:
    """Consecutive groups into ``count`` columns of about equal height (a heading counts 1.5 rows)."""
    heights = [len(rows) + 1.5 for _, rows in groups]
    target = sum(heights) / count
    columns: list[list[tuple[str, list]]] = [[]]
    filled = 0.0
    for group, height in zip(groups, heights, strict=True):
        if columns[-1] and filled + height / 2 > target and len(columns) < count:
            columns.append([])
            filled = 0.0
        columns[-1].append(group)
        filled += height
    return columns
