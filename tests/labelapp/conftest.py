"""Qt tests run without a display: choose the offscreen platform before any QApplication.

Also the windows several test modules open: the main window on a copy of a template
project, and the thumbnail grid on a project.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def open_window(qtbot, tmp_path: Path) -> Iterator[Callable]:
    """``open_window(template, height=800)``: the main window on a copy of ``template``
    (own settings file), shown, with its first image in the editor; closed afterwards."""
    from PySide6.QtCore import QSettings

    from labelapp.app import create_main_window

    opened = []

    def open_(template: Path, height: int = 800):
        root = tmp_path / "project"
        shutil.copytree(template, root)
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = create_main_window(root, settings=settings)
        qtbot.addWidget(win)
        win.resize(1300, height)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        qtbot.waitUntil(lambda: win.editor.current_image_id() is not None)
        opened.append(win)
        return win

    yield open_
    for win in opened:
        win.close()


@pytest.fixture
def open_grid(qtbot) -> Iterator[Callable]:
    """``open_grid(project)``: the thumbnail grid, shown, on ``project``; shut down afterwards."""
    from labelapp.grid import ImageGrid

    opened = []

    def open_(project):
        widget = ImageGrid()
        qtbot.addWidget(widget)
        widget.resize(900, 640)
        with qtbot.waitExposed(widget):
            widget.show()
        widget.set_project(project)
        opened.append(widget)
        return widget

    yield open_
    for widget in opened:
        widget.shutdown()
