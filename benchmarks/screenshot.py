"""Screenshot of the main window on a project, for reviews and docs.

Opens the main window on PROJECT, waits until it is shown and painted, grabs it with
``QWidget.grab()`` (works on the offscreen platform and under Xvfb) and saves a PNG.
Settings go to a throw-away file, so the user's recent-project list is untouched.

Usage::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/screenshot.py PROJECT --out shot.png
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/screenshot.py PROJECT --out shot.png --size 1400x900
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from labelapp.shell.app import create_application, create_main_window  # noqa: E402

logger = logging.getLogger(__name__)
SETTLE_MS = 300  # event processing after the window is exposed: delayed layouts, first paint


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must look like 1400x900, not {text!r}") from exc
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="project folder")
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--size", type=parse_size, default=(1400, 900), help="window size, WxH")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    app = create_application([sys.argv[0]])
    with tempfile.TemporaryDirectory() as scratch:
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        started = time.perf_counter()
        window = create_main_window(args.project, settings=settings)
        window.resize(*args.size)
        window.show()
        if not QTest.qWaitForWindowExposed(window, 5000):
            logger.error("the window was not exposed within 5 s")
            return 1
        QTest.qWait(SETTLE_MS)
        QApplication.processEvents()
        shown = time.perf_counter() - started
        pixmap = window.grab()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.isNull() or not pixmap.save(str(args.out), "PNG"):
            logger.error("could not grab or save the window to %s", args.out)
            return 1
        logger.info("%s: %dx%d, window shown and painted in %.2f s (platform %s)", args.out,
                    pixmap.width(), pixmap.height(), shown, app.platformName())
        opened = window.project is not None
        window.close()
    return 0 if opened else 2  # 2: saved, but the project did not open (the message is in the shot)


if __name__ == "__main__":
    sys.exit(main())
