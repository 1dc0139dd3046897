"""The GUI entry point: the QApplication, its settings identity, and the first window."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

from labelapp.shell.main_window import MainWindow

logger = logging.getLogger(__name__)

APPLICATION_NAME = "labelapp"
ORGANIZATION_NAME = "labelapp"
ORGANIZATION_DOMAIN = "labelapp.local"
GIL_SWITCH_S = 0.001
"""How long a thread of the window's process keeps the GIL while another waits (Python's
default is 5 ms). The GUI thread calls into Qt thousands of times a frame, and each call
may release the GIL and wait to get it back: with a busy loader thread beside it, every
wait cost up to 5 ms and a paint of the grid took 150 ms (GUI thread 18 ms of CPU in it,
``benchmarks/responsiveness_bench.py``). Training runs in its own process, unaffected."""


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (created once), named so that ``QSettings()`` finds our settings."""
    QCoreApplication.setApplicationName(APPLICATION_NAME)
    QCoreApplication.setOrganizationName(ORGANIZATION_NAME)
    QCoreApplication.setOrganizationDomain(ORGANIZATION_DOMAIN)
    sys.setswitchinterval(GIL_SWITCH_S)
    from labelapp.jobs.warmup import resolve_qt_types

    resolve_qt_types()  # before any thread of ours touches Qt
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv)
        app.setStyle("Fusion")  # the same look on every platform and under Xvfb
    assert isinstance(app, QApplication)
    return app


def create_main_window(project_path: Path | None, *, settings: QSettings | None = None) -> MainWindow:
    """A main window on ``project_path``; with None, on the most recently opened
    project if it still exists, else empty. Errors show in the window."""
    window = MainWindow(settings=settings)
    if project_path is not None:
        window.open_project(project_path)
    else:
        window.open_most_recent()
    return window


def run_gui(project_path: Path | None) -> int:
    """Opens the main window on ``project_path`` (see :func:`create_main_window`) and
    runs the event loop; returns the application's exit code."""
    app = create_application()
    window = create_main_window(project_path)
    window.show()
    from PySide6.QtCore import QTimer

    from labelapp.jobs.warmup import start_warmup

    QTimer.singleShot(500, start_warmup)  # after the first paint: the curves' plotting loads while the user looks
    return app.exec()


if __name__ == "__main__":  # python -m labelapp.shell.app [PROJECT]
    sys.exit(run_gui(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
