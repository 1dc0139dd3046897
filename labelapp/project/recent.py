"""The most recently opened projects, per user (QSettings)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

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

    def fill_menu(self, menu: QMenu, open_project: Callable[[Path], object]) -> None:
        """File ▸ Open Recent: one entry per project (greyed out when its folder is gone), then Clear."""
        menu.clear()
        paths = self.paths()
        for path in paths:
            action = menu.addAction(str(path))
            action.setEnabled(path.is_dir())
            action.triggered.connect(lambda _checked=False, p=path: open_project(p))
        if paths:
            menu.addSeparator()
        clear = menu.addAction("Clear Recent")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.clear)
