"""Soak: simulated labeling in the real window while retrains run back to back.

    python benchmarks/soak.py [--minutes 30] [--images 300] [--size 96] [--step-ms 100] [--seed 0]

Opens the real :class:`MainWindow` (offscreen unless ``QT_QPA_PLATFORM`` is set) on a
generated demo project with a few labels per class, starts Retrain, and starts it again
each time it ends, for ``--minutes`` (short retrains: 2 pretraining epochs, a 0.3-minute
detector). Meanwhile a simulated user acts every ``--step-ms``: labels the image shown
with a class key's action, paints a brush stroke on it (the editor saves it about a second
later, or when the image changes), goes to the next image or jumps to another one. Each
action's outcome is remembered: the label the store held right after it, the editor's
mask after each stroke.

At the end (the last retrain finished, every mask flushed, the window closed) a fresh
connection reads the project: an edit is lost when its image's label or mask is not
the last one the user made. Counted all along: "database is locked" (in any log record,
status-bar message, editor message or uncaught exception), mask saves that failed,
uncaught exceptions, and the longest stall of the GUI thread (gaps of a 5 ms timer).
Summary line: ``minutes M, retrains R, edits E, lost L, database is locked D, longest stall S ms``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from core.demo_project import create_demo_project  # noqa: E402
from core.store import Project  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from shots_common import label_from_truth  # noqa: E402

LOCKED = "database is locked"


class Counter(logging.Handler):
    """Counts log records that mention a locked database or a failed save."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.locked = 0
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if LOCKED in text.lower():
            self.locked += 1
        if record.levelno >= logging.ERROR:
            self.errors.append(text[:200])


def build_project(scratch: Path, images: int, size: int, per_class: int) -> Path:
    root = scratch / "project"
    create_demo_project(root, n_images=images, size=size)
    label_from_truth(root, per_class=per_class)
    return root


class User:
    """The simulated labeler: one action per call, each outcome remembered."""

    def __init__(self, window, rng: random.Random, counts: dict) -> None:
        self.window, self.rng, self.counts = window, rng, counts
        self.labels: dict[int, int | None] = {}  # image id -> label right after the user's last action on it
        self.masks: dict[int, np.ndarray] = {}  # image id -> the editor's mask after the last stroke
        self.classes = [c.id for c in window.project.classes.list()]
        self.ids = [int(i) for i in window.grid.ordered_ids()]
        window.labeling.auto_advance = False
        window.editor.set_tool("brush")

    def step(self) -> None:
        w, roll = self.window, self.rng.random()
        image_id = w.editor.current_image_id()
        if image_id is None or w.editor.current_mask() is None:
            return  # still loading
        if roll < 0.4:
            w.labeling.label_with(self.rng.choice(self.classes))
            self._remember_label(image_id)
            if image_id in self.masks:  # a label may change the mask (OK: no defect pixels)
                self.masks[image_id] = w.editor.current_mask().copy()
            self.counts["labels"] += 1
        elif roll < 0.65:
            self._stroke()
            self.masks[image_id] = w.editor.current_mask().copy()
            self._remember_label(image_id)  # painting may label the image too
            self.counts["strokes"] += 1
        elif roll < 0.9:
            w.window_actions.actions["image.next"].trigger()
        else:
            w.labeling.go_to(self.rng.choice(self.ids))

    def _remember_label(self, image_id: int) -> None:
        label = self.window.project.labels.get(image_id)
        self.labels[image_id] = None if label is None else label.class_id

    def _stroke(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        editor = self.window.editor
        h, w = editor.current_mask().shape
        view = editor.canvas.view()
        x0, y0 = self.rng.uniform(0, w - 1), self.rng.uniform(0, h - 1)
        points = [view.to_widget(min(w - 1, x0 + k * 3) + 0.5, y0 + 0.5).toPoint() for k in range(5)]
        left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        QTest.mousePress(editor.canvas, left, none, points[0])
        for point in points[1:]:
            QTest.mouseMove(editor.canvas, point)
        QTest.mouseRelease(editor.canvas, left, none, points[-1])


def soak(root: Path, scratch: Path, args: argparse.Namespace) -> dict:
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer

    from labelapp.shell.app import create_application, create_main_window

    create_application([sys.argv[0]])
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    for key, value in (("training/epochs", 2), ("training/segdec_minutes", 0.3)):
        settings.setValue(key, value)
    counter = Counter()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.INFO)
    counts = {"labels": 0, "strokes": 0, "retrains": 0, "failed retrains": 0, "messages locked": 0,
              "mask saves failed": 0, "exceptions": 0}
    hook = sys.excepthook

    def excepthook(kind, value, tb) -> None:
        counts["exceptions"] += 1
        counts["messages locked"] += LOCKED in str(value).lower()
        hook(kind, value, tb)

    sys.excepthook = excepthook
    window = create_main_window(root, settings=settings)
    window.resize(1400, 900)
    window.show()

    def heard(text: str) -> None:
        counts["messages locked"] += LOCKED in text.lower()
        counts["mask saves failed"] += "not saved" in text

    window.editor.message.connect(heard)
    for part in (window.labeling, window.training, window.project_actions):
        part.message.connect(heard)
        part.error.connect(heard)
    loop = QEventLoop()
    wait = QTimer(interval=50)
    wait.timeout.connect(lambda: loop.quit() if window.editor.current_mask() is not None else None)
    wait.start()
    loop.exec()
    wait.stop()
    user = User(window, random.Random(args.seed), counts)
    gaps = {"last": time.perf_counter(), "longest": 0.0, "over_100": 0}

    def tick() -> None:
        now = time.perf_counter()
        gap = now - gaps["last"]
        gaps["longest"] = max(gaps["longest"], gap)
        gaps["over_100"] += gap > 0.1
        gaps["last"] = now

    probe = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=5)
    probe.timeout.connect(tick)
    actor = QTimer(interval=args.step_ms)
    actor.timeout.connect(user.step)
    deadline = time.perf_counter() + 60 * args.minutes
    retrain = window.window_actions.actions["train.retrain"]

    def ended(failed: bool) -> None:
        counts["failed retrains" if failed else "retrains"] += 1
        if time.perf_counter() < deadline:
            QTimer.singleShot(100, retrain.trigger)
        else:
            actor.stop()
            QTimer.singleShot(1500, loop.quit)  # the post-run refresh

    window.training.run_finished.connect(lambda _r: ended(False))
    window.training.run_failed.connect(lambda _e: ended(True))
    probe.start()
    actor.start()
    gaps["last"] = time.perf_counter()
    retrain.trigger()
    QTimer.singleShot(int(60_000 * (args.minutes + 30)), loop.quit)  # a retrain that never ends
    loop.exec()
    probe.stop()
    actor.stop()
    window.editor.flush()
    window.close()
    logging.getLogger().removeHandler(counter)
    sys.excepthook = hook
    lost = verify(root, user)
    return {**counts, "lost": lost, "locked": counter.locked + counts["messages locked"],
            "longest_ms": 1000 * gaps["longest"] - 5, "stalls_over_100": gaps["over_100"],
            "edits": counts["labels"] + counts["strokes"], "errors": counter.errors}


def verify(root: Path, user: User) -> int:
    """Edits whose image does not hold the last label or mask the user gave it."""
    lost = 0
    with Project.open(root) as project:
        labels = project.labels.class_by_image()
        for image_id, class_id in user.labels.items():
            if labels.get(image_id) != class_id:
                lost += 1
                print(f"lost label: image {image_id} holds {labels.get(image_id)}, the user gave {class_id}")
        for image_id, mask in user.masks.items():
            stored = project.masks.load(image_id)
            if stored is None or stored.shape != mask.shape or (stored != mask).any():
                lost += 1
                print(f"lost mask: image {image_id}")
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--labels-per-class", type=int, default=5)
    parser.add_argument("--step-ms", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        root = build_project(scratch, args.images, args.size, args.labels_per_class)
        started = time.perf_counter()
        result = soak(root, scratch, args)
        minutes = (time.perf_counter() - started) / 60
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nSoak: {args.images} images of {args.size} px, {os.cpu_count()} cores,"
          f" platform {os.environ['QT_QPA_PLATFORM']}, load average {os.getloadavg()[0]:.1f}\n")
    print("| minutes | retrains | failed retrains | labels | strokes | lost edits | database is locked |"
          " mask saves failed | exceptions | stalls > 100 ms | longest stall ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    r = result
    print(f"| {minutes:.1f} | {r['retrains']} | {r['failed retrains']} | {r['labels']} | {r['strokes']} | {r['lost']} |"
          f" {r['locked']} | {r['mask saves failed']} | {r['exceptions']} | {r['stalls_over_100']} |"
          f" {r['longest_ms']:.0f} |")
    for line in r["errors"][:10]:
        print(f"error logged: {line}")
    print(f"minutes {minutes:.1f}, retrains {r['retrains']}, edits {r['edits']}, lost {r['lost']},"
          f" database is locked {r['locked']}, longest stall {r['longest_ms']:.0f} ms")


if __name__ == "__main__":
    main()
