"""Screenshots of the labeling GUI for review: grid, editor with a mask, class settings, help,
retrain, suggestions.

Builds (once) a demo project under /tmp, labels part of it and copies a few true
masks in through the store, then opens the main window and saves PNGs:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/screenshots.py --out /tmp/shots

Without a display it also runs with QT_QPA_PLATFORM=offscreen (fonts may differ).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image as PILImage  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from core.demo_project import create_demo_project  # noqa: E402
from core.store import Project  # noqa: E402
from labelapp.shell.app import create_application, create_main_window  # noqa: E402

SETTLE_MS = 400


def demo_with_labels(root: Path, n_images: int = 240, labeled: int = 90, masks: int = 25) -> Path:
    """A demo project where the first images carry their true labels and masks."""
    if (root / "project.sqlite").exists():
        return root
    create_demo_project(root, n_images=n_images, size=200)
    with Project.open(root) as project, open(root / "truth" / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
        changes = []
        for row in rows[:labeled]:
            changes.append((project.images.find(row["file"]).id, row["class"]))
        project.labels.apply(changes, actor="demo", source="screenshots")
        done = 0
        for row in rows[:labeled]:
            if row["class"] == "ok" or done >= masks:
                continue
            cls = project.classes.get(row["class"])
            truth = np.asarray(PILImage.open(root / row["mask"])) > 127
            project.masks.save(project.images.find(row["file"]).id, truth.astype(np.uint8) * cls.id,
                               actor="demo", source="screenshots")
            done += 1
    return root


def settle(ms: int = SETTLE_MS) -> None:
    """Runs the event loop for ``ms`` (QEventLoop.exec lets the loader threads run;
    QTest.qWait would hold the Python lock)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def retrain_and_shoot(window, settings: QSettings, out: Path) -> None:
    """A short real Retrain, then the window with predictions and the run's details."""
    settings.setValue("training/epochs", 3)
    loop = QEventLoop()
    window.training.run_finished.connect(lambda _result: loop.quit())
    window.training.run_failed.connect(lambda _exc: loop.quit())
    window.training.retrain()
    loop.exec()
    settle()
    window.grab().save(str(out / "5-after-retrain.png"))
    panel = window.training_panel
    panel.history.setCurrentRow(0)
    panel.details_button.click()
    settle()
    if panel.details_dialog is not None:
        panel.details_dialog.grab().save(str(out / "6-run-details.png"))
        panel.details_dialog.close()


def suggestions_shots(window, out: Path) -> None:
    """After the retrain stored suggestions: N opens the best (the reason under the
    canvas), the dock lists the queue, the grid sorts suggested images first."""
    window.suggestions_dock.raise_()
    window.grid.set_sort("suggested")
    window.suggestions_queue.go_next()
    settle()
    window.grab().save(str(out / "7-suggestions.png"))
    window.suggestions_dock.grab().save(str(out / "8-suggestions-dock.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/labelapp-shots"))
    parser.add_argument("--project", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-shots-project")
    args = parser.parse_args()
    project_root = demo_with_labels(args.project)
    args.out.mkdir(parents=True, exist_ok=True)
    create_application([sys.argv[0]])
    settings = QSettings(str(args.out / "settings.ini"), QSettings.Format.IniFormat)
    window = create_main_window(project_root, settings=settings)
    window.resize(1600, 1000)
    window.show()
    QTest.qWaitForWindowExposed(window, 5000)
    settle()
    window.grab().save(str(args.out / "1-grid.png"))
    masked = sorted(window.project.masks.all())
    window.labeling.go_to(masked[3])
    settle()
    window.grab().save(str(args.out / "2-editor-mask.png"))
    from labelapp.project.class_settings import ClassSettingsDialog

    dialog = ClassSettingsDialog(window.project, window)
    dialog.show()
    settle()
    dialog.grab().save(str(args.out / "3-class-settings.png"))
    dialog.close()
    window._toggle_help()
    settle()
    window.grab().save(str(args.out / "4-help.png"))
    window._toggle_help()
    retrain_and_shoot(window, settings, args.out)
    suggestions_shots(window, args.out)
    window.close()
    print("\n".join(str(p) for p in sorted(args.out.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
