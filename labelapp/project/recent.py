"""The most recently opened projects, per user (QSettings)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10
RECENT_KEY = "recent_projects"


class RecentProjects:
    """Project folders, newest first."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def paths(self) -> list[Path]:
        value = self._settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # INI files give a lone string for a one-item list
            value = [value]
        return [Path(v) for v in (value or []) if v]

    def add(self, path: Path) -> None:
        text = os.path.abspath(path)
        rest = [str(p) for p in self.paths() if str(p) != text]
        self._settings.setValue(RECENT_KEY, [text, *rest][:MAX_RECENT])

    def clear(self) -> None:
        self._settings.remove(RECENT_KEY)
