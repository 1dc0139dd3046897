"""The status bar: counts, when masks were last saved, and a non-blocking message area.

Expected failures (a missing file, a refused edit) are messages here, never a dialog.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QLabel, QStatusBar

from core.store import ImageClass, ProjectSummary

INFO_MS = 6000
ERROR_STYLE = "color: #b00020; font-weight: 600;"


class StatusArea:
    """Owns the widgets it adds to a QStatusBar."""

    def __init__(self, bar: QStatusBar) -> None:
        self._bar = bar
        self.message = QLabel()
        self.message.setObjectName("status_message")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.saved = QLabel()
        self.saved.setObjectName("status_saved")
        self.counts = QLabel()
        self.counts.setObjectName("status_counts")
        bar.addWidget(self.message, 1)
        bar.addPermanentWidget(self.saved)
        bar.addPermanentWidget(self.counts)
        self._clear_timer = QTimer(bar)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(self._on_clear_timer_timeout)

    def show_info(self, text: str) -> None:
        self._show(text, error=False)

    def show_error(self, text: str) -> None:
        """An error stays until the next message (the user must be able to read it)."""
        self._show(text, error=True)

    def _show(self, text: str, *, error: bool) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
        self.message.setToolTip(text)
        if error:
            self._clear_timer.stop()
        else:
            self._clear_timer.start(INFO_MS)

    def message_text(self) -> str:
        return self.message.text()

    def mark_saved(self) -> None:
        self.saved.setText(f"masks saved {time.strftime('%H:%M:%S')}")

    def show_counts(self, summary: ProjectSummary | None, classes: list[ImageClass]) -> None:
        if summary is None:
            self.counts.setText("")
            self.counts.setToolTip("")
            return
        self.counts.setText(
            f"{summary.labeled:,} / {summary.images:,} labeled · {summary.ok:,} OK · "
            f"{summary.masks:,} masks"
        )
        lines = [f"{c.name}: {summary.classes.get(c.name, 0):,}" for c in classes]
        self.counts.setToolTip("\n".join(lines))

    @Slot()
    def _on_clear_timer_timeout(self) -> None:
        self.message.setText("")
        self.message.setToolTip("")
