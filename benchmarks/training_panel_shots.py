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
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from shots_common import demo_template, fresh_copy, label_from_truth, watch_retrain  # noqa: E402

SHOT_EVERY_S = 15.0


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
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from labelapp.session.project_session import ProjectSession
    from labelapp.training.controller import TrainingController
    from labelapp.training.panel import TrainingPanel

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as scratch:
        root = fresh_copy(demo_template(args.cache, images=args.images), Path(scratch) / "project")
        label_from_truth(root, per_class=args.labels_per_class)
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        for key, value in (("training/epochs", args.epochs), ("training/segdec_max_epochs", args.detector_epochs)):
            settings.setValue(key, value)
        panel = TrainingPanel()
        panel.resize(args.width, args.height)
        panel.show()
        session = ProjectSession()
        controller = TrainingController(panel, session, settings)

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

            watch = watch_retrain(controller.retrain, controller, panel, on_progress)
            if watch.error is not None:
                print(f"failed: {watch.error}")
            wait_history()
            shot(f"{number}-after")
            report(number, seen, watch.started, watch.ended)
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
