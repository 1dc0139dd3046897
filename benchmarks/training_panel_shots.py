"""The training panel as a user sees it, and how good its time left is.

    .venv/bin/python benchmarks/training_panel_shots.py [--images 600] [--epochs 3] [--detector-epochs 3]
        [--labels-per-class 10] [--retrains 2] [--width 340] [--height 620] [--out /tmp/labelapp-panel-shots]

Generates (once, cached under ``--cache``) a steel demo project, labels
``--labels-per-class`` images of each class from the truth, opens the training panel
alone at ``--width`` x ``--height`` px (about the Training dock in a 1400 x 900 window;
offscreen unless ``QT_QPA_PLATFORM`` is set) with its controller, and presses Retrain
``--retrains`` times (the first one pretrains and has
no earlier runs to estimate from; the next ones do). It saves PNGs of the panel during
each retrain (when each part starts, and every 15 s), after it, of the latest run's
details, and after the project is closed and opened again, under ``--out``. It prints,
per retrain, the time left the panel showed against the time the retrain then really
took, at a tenth, a quarter, half, three quarters and nine tenths of the run.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from core.demo_project import create_demo_project  # noqa: E402
from core.store import Project  # noqa: E402

SHOT_EVERY_S = 15.0


def demo_copy(cache: Path, n: int, scratch: Path, per_class: int) -> Path:
    template = cache / f"demo-{n}"
    if not (template / "complete").exists():
        shutil.rmtree(template, ignore_errors=True)
        print(f"generating {n} demo images under {template} (once)…", flush=True)
        create_demo_project(template, n_images=n)
        (template / "complete").touch()
    root = scratch / "project"
    shutil.copytree(template, root)
    with open(root / "truth" / "labels.csv", newline="") as f, Project.open(root) as project:
        by_class: dict[str, list[int]] = {}
        for row in csv.DictReader(f):
            by_class.setdefault(row["class"], []).append(project.images.find(row["file"]).id)
        for name, ids in by_class.items():
            project.labels.set_many(ids[:per_class], name, actor="bench", source="bench")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--detector-epochs", type=int, default=3)
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--retrains", type=int, default=2)
    parser.add_argument("--width", type=int, default=340)
    parser.add_argument("--height", type=int, default=620)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-panel-shots")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-panel-shots-cache")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from labelapp.session.project_session import ProjectSession
    from labelapp.training.controller import TrainingController
    from labelapp.training.panel import TrainingPanel

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as scratch:
        root = demo_copy(args.cache, args.images, Path(scratch), args.labels_per_class)
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        for key, value in (("training/epochs", args.epochs), ("training/segdec_max_epochs", args.detector_epochs)):
            settings.setValue(key, value)
        panel = TrainingPanel()
        panel.resize(args.width, args.height)
        panel.show()
        session = ProjectSession()
        controller = TrainingController(panel, session, settings)
        loop = QEventLoop()

        def wait_history() -> None:
            while controller.history_pending():
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

        def shot(name: str) -> None:
            app.processEvents()
            path = args.out / f"{name}.png"
            panel.grab().save(str(path))
            print(f"saved {path}", flush=True)

        session.open(root)
        wait_history()
        shot("0-opened-no-runs")
        for number in range(1, args.retrains + 1):
            seen: list[tuple[float, float, float, str]] = []  # (time, overall, eta, part)
            state = {"part": None, "last_shot": 0.0}

            def on_progress(record, number=number, seen=seen, state=state) -> None:
                now = time.monotonic()
                if record.overall is None:
                    return
                seen.append((now, record.overall, record.eta_s or 0.0, record.stage))
                if record.stage != state["part"] or now - state["last_shot"] >= SHOT_EVERY_S:
                    state["part"], state["last_shot"] = record.stage, now
                    slug = record.stage.lower().replace(" ", "-")
                    shot(f"{number}-during-{len(seen):05d}-{slug}")

            connection = panel.progress_shown.connect(on_progress)
            finished = controller.run_finished.connect(lambda _r: QTimer.singleShot(0, loop.quit))
            failed = controller.run_failed.connect(lambda exc: (print(f"failed: {exc}"), loop.quit()))
            started = time.monotonic()
            controller.retrain()
            loop.exec()
            ended = time.monotonic()
            panel.progress_shown.disconnect(connection)
            controller.run_finished.disconnect(finished)
            controller.run_failed.disconnect(failed)
            wait_history()
            shot(f"{number}-after")
            report(number, seen, started, ended)
        newest = panel.runs()[-1].id
        dialog = panel.show_run_details(newest)
        dialog.resize(560, 520)
        app.processEvents()
        dialog.grab().save(str(args.out / "details.png"))
        print(f"saved {args.out / 'details.png'}")
        dialog.close()
        session.close()
        session.open(root)
        wait_history()
        shot("reopened")
        controller.shutdown()
        session.close()


def report(number: int, seen: list[tuple[float, float, float, str]], started: float, ended: float) -> None:
    total = ended - started
    print(f"\nRetrain {number}: {total:.0f} s from the click to the end; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| share of the run | part | bar % | time left shown s | time left really s |")
    print("|---|---|---|---|---|")
    for share in (0.1, 0.25, 0.5, 0.75, 0.9):
        at = started + share * total
        row = min(seen, key=lambda r: abs(r[0] - at), default=None)
        if row is not None:
            print(f"| {share:.0%} | {row[3]} | {100 * row[1]:.0f} | {row[2]:.0f} | {ended - row[0]:.0f} |")


if __name__ == "__main__":
    main()
