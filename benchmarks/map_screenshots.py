"""Screenshots of the Map dock for review: colour modes, a lasso selection shown in the grid,
the hover card. Needs a project with a pretraining run (a demo project after a retrain):

    .venv/bin/labelapp demo /tmp/demo --images 600 && .venv/bin/labelapp train /tmp/demo
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/map_screenshots.py /tmp/demo \
        --out /tmp/map-shots

The project is copied first (the map writes its cache; a lasso labels nothing).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from shots_common import settle, wait_for_refined  # noqa: E402

from labelapp.shell.app import create_application, create_main_window  # noqa: E402


def mouse(widget, kind, pos: QPointF, buttons=Qt.MouseButton.NoButton, button=Qt.MouseButton.NoButton,
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos.toPoint())), button,
                                               buttons, modifiers))


def lasso_left_third(canvas) -> None:
    """Shift-drags a loop around the left third of the points."""
    import pyqtgraph as pg

    pg.setConfigOption("mouseRateLimit", -1)
    pixels = canvas.box_pixels()
    cut = float(np.percentile(pixels[:, 0], 33))
    top, bottom = float(pixels[:, 1].min()) - 8, float(pixels[:, 1].max()) + 8
    left = float(pixels[:, 0].min()) - 8
    corners = [(left, top), (cut, top), (cut + 15, (top + bottom) / 2), (cut, bottom), (left, bottom)]
    view = canvas.viewport()
    points = [QPointF(canvas.mapFromScene(canvas.box.mapToScene(QPointF(x, y)))) for x, y in corners]
    left_button, shift = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
    mouse(view, QEvent.Type.MouseButtonPress, points[0], left_button, left_button, shift)
    for a, b in zip(points, points[1:] + points[:1], strict=True):
        for t in np.linspace(0.1, 1.0, 10):
            mouse(view, QEvent.Type.MouseMove, a + (b - a) * float(t), left_button, modifiers=shift)
    mouse(view, QEvent.Type.MouseButtonRelease, points[0], button=left_button, modifiers=shift)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/map-shots"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="map-shots-")) / "project"
    shutil.copytree(args.project, work)
    args.out.mkdir(parents=True, exist_ok=True)
    create_application([sys.argv[0]])
    settings = QSettings(str(args.out / "settings.ini"), QSettings.Format.IniFormat)
    settings.clear()
    window = create_main_window(work, settings=settings)
    window.resize(1500, 940)
    window.show()
    QTest.qWaitForWindowExposed(window, 5000)
    dock, panel = window.embedding_map.dock, window.embedding_map.panel
    dock.raise_()
    wait_for_refined(panel)
    settle()
    window.grab().save(str(args.out / "map-1-window.png"))
    for k, mode in enumerate(("prediction", "uncertainty", "suggested"), start=2):
        panel.set_colour_mode(mode)
        settle(150)
        panel.grab().save(str(args.out / f"map-{k}-{mode}.png"))
    panel.set_colour_mode("label")
    lasso_left_third(panel.canvas)
    settle()
    window.grab().save(str(args.out / "map-5-lasso-in-grid.png"))
    pixels = panel.canvas.box_pixels()
    target = QPointF(panel.canvas.mapFromScene(panel.canvas.box.mapToScene(QPointF(*pixels[len(pixels) // 2]))))
    QTest.mouseMove(panel.canvas.viewport(), target.toPoint())
    mouse(panel.canvas.viewport(), QEvent.Type.MouseMove, target)
    settle()
    panel.grab().save(str(args.out / "map-6-hover.png"))
    window.close()
    shutil.rmtree(work.parent, ignore_errors=True)
    print("\n".join(str(p) for p in sorted(args.out.glob("map-*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
