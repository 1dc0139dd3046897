"""What the editor shows instead of an image: why there is none, and "Relink…" for a
missing file."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class Placeholder(QWidget):
    """A centred message with an optional "Relink…" button."""

    relink_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editor_placeholder")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#editor_placeholder { background: #303030; }"
                           " #editor_placeholder_message { color: #d2d2d2; font-size: 11pt; }")
        self.label = QLabel()
        self.label.setObjectName("editor_placeholder_message")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.relink_button = QPushButton("Relink…")
        self.relink_button.setObjectName("editor_relink_button")
        self.relink_button.setToolTip("Point the project at the file's new location")
        self.relink_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.relink_button.clicked.connect(self.relink_clicked)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addSpacing(8)
        layout.addWidget(self.relink_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    def show_message(self, text: str, *, relink: bool = False) -> None:
        self.label.setText(text)
        self.relink_button.setVisible(relink)
