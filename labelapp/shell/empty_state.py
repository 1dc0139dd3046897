"""What the window shows in place of the grid and the editor when they have nothing to
show: no project open (open one, make one from a folder of images, create the demo, or
reopen a recent one), or a project without images (import a folder)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

NO_PROJECT_TITLE = "No project open"
NO_PROJECT_HINT = ("Open a project, make one from a folder of images, or create the demo project: 600 generated"
                   " steel-surface images of seven classes to try labeling and retraining on.")
NO_IMAGES_TITLE = "This project has no images yet"
NO_IMAGES_HINT = "Import a folder of images (File ▸ Import Folder…, Ctrl+I)."
RECENT_SHOWN = 4


class EmptyState(QWidget):
    """A title, a sentence, the buttons that get the user going, and the recent projects.

    Signals:
        open_requested(), new_requested(), demo_requested(), import_requested(): a button.
        recent_requested(object): the folder (Path) of a recent project to open.
    """

    open_requested = Signal()
    new_requested = Signal()
    demo_requested = Signal()
    import_requested = Signal()
    recent_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("empty_state")
        self.title = QLabel(objectName="empty_title", alignment=Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.hint = QLabel(objectName="message_label", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.hint.setFixedWidth(520)  # a fixed width: the wrapped text gets the height it needs
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.addStretch(1)
        for key, text, signal in (("open", "Open Project…", self.open_requested),
                                  ("new", "New Project from Images…", self.new_requested),
                                  ("demo", "Create the Demo Project…", self.demo_requested),
                                  ("import", "Import Folder…", self.import_requested)):
            button = QPushButton(text, objectName=f"empty_{key}")
            button.clicked.connect(signal)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        self.recent_label = QLabel("Recent projects", alignment=Qt.AlignmentFlag.AlignCenter)
        self.recent_label.setStyleSheet("color: gray;")
        self._recent = QVBoxLayout()
        self._recent.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addStretch(2)
        layout.addWidget(self.title)
        layout.addWidget(self.hint, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        layout.addLayout(row)
        layout.addSpacing(18)
        layout.addWidget(self.recent_label)
        layout.addLayout(self._recent)
        layout.addStretch(3)

    def text(self) -> str:
        """The title and the sentence under it."""
        return f"{self.title.text()}\n\n{self.hint.text()}"

    def show_no_project(self, recent: list[Path], *, error: str = "") -> None:
        """No project: open, new, demo, and up to :data:`RECENT_SHOWN` recent projects; ``error``
        (why a project did not open) above the sentence."""
        self.title.setText(NO_PROJECT_TITLE)
        self._set_hint(f"{error}\n\n{NO_PROJECT_HINT}" if error else NO_PROJECT_HINT)
        self._show_buttons("open", "new", "demo")
        self._set_recent([path for path in recent if path.is_dir()][:RECENT_SHOWN])

    def show_no_images(self) -> None:
        self.title.setText(NO_IMAGES_TITLE)
        self._set_hint(NO_IMAGES_HINT)
        self._show_buttons("import")
        self._set_recent([])

    def _set_hint(self, text: str) -> None:
        """The sentence, with the height its wrapped lines need (a centred item gets no more by itself)."""
        self.hint.setText(text)
        self.hint.setMinimumHeight(self.hint.heightForWidth(self.hint.width()))

    def _show_buttons(self, *keys: str) -> None:
        for key, button in self.buttons.items():
            button.setVisible(key in keys)

    def _set_recent(self, paths: list[Path]) -> None:
        while self._recent.count():
            item = self._recent.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for path in paths:
            button = QPushButton(f"{path.name}  —  {path}", flat=True)
            button.setToolTip(f"Open {path}")
            button.setProperty("path", str(path))
            button.clicked.connect(self._on_recent_button_clicked)
            self._recent.addWidget(button)
        self.recent_label.setVisible(bool(paths))

    @Slot()
    def _on_recent_button_clicked(self) -> None:
        button = self.sender()
        if button is not None:
            self.recent_requested.emit(Path(str(button.property("path"))))
