"""What the screenshot scripts share: a demo project with true labels and masks, waiting on
the event loop (for paint, a signal, the map's refined layout), one retrain watched through
the training panel's progress, and numbered PNGs with a table of what each shows.

Used by ``screenshots.py`` (the whole first hour, before and after a retrain),
``training_panel_shots.py`` (the panel and its time left) and ``map_screenshots.py``.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PySide6.QtCore import QEventLoop, QTimer, SignalInstance
from PySide6.QtWidgets import QApplication, QWidget

from core.demo_project import create_demo_project
from core.store import Project

SETTLE_MS = 300


def settle(ms: int = SETTLE_MS) -> None:
    """Runs the event loop for ``ms``: loader threads deliver thumbnails, layouts and the
    first paint happen (QEventLoop.exec lets the threads run; QTest.qWait would hold the
    Python lock). For paint only: where a signal says the work is done, use :func:`wait_for`."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal: SignalInstance, *, done: Callable[[], bool] = lambda: False,
             accept: Callable[..., bool] = lambda *_a: True, timeout_ms: int = 180_000) -> bool:
    """Runs the event loop until ``signal`` fires with arguments ``accept`` takes (at once
    when ``done()`` already holds); False when ``timeout_ms`` passed first."""
    if done():
        return True
    loop = QEventLoop()
    fired: list[bool] = []

    def on_signal(*args: Any) -> None:
        if accept(*args):
            fired.append(True)
            loop.quit()

    connection = signal.connect(on_signal)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(connection)
    return bool(fired) or done()


def wait_for_refined(panel: Any, timeout_ms: int = 180_000) -> bool:
    """Waits until the map ``panel`` shows its refined (t-SNE) layout."""
    return wait_for(panel.layout_shown, done=lambda: panel.layout_kind() == "tsne",
                    accept=lambda kind: kind == "tsne", timeout_ms=timeout_ms)


def label_from_truth(root: Path, *, first: int | None = None, per_class: int | None = None,
                     masks: int = 0) -> None:
    """Gives demo images their true labels: the ``first`` ones in import order, or
    ``per_class`` of each class; then the true masks of the first ``masks`` labeled
    defective images, written through the store like any other label."""
    with open(root / "truth" / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if per_class is not None:
        taken: dict[str, int] = {}
        chosen = []
        for row in rows:
            if taken.get(row["class"], 0) < per_class:
                taken[row["class"]] = taken.get(row["class"], 0) + 1
                chosen.append(row)
    else:
        chosen = rows[:first]
    with Project.open(root) as project:
        ids = {row["file"]: project.images.find(row["file"]).id for row in chosen}
        project.labels.apply([(ids[row["file"]], row["class"]) for row in chosen], actor="demo", source="screenshots")
        defective = [row for row in chosen if row["class"] != "ok" and row.get("mask")][:masks]
        for row in defective:
            cls = project.classes.get(row["class"])
            truth = np.asarray(PILImage.open(root / row["mask"])) > 127
            project.masks.save(ids[row["file"]], truth.astype(np.uint8) * cls.id, actor="demo", source="screenshots")


def demo_template(cache: Path, *, images: int, size: int | None = None) -> Path:
    """A demo project without labels, generated once under ``cache`` and kept."""
    template = cache / (f"demo-{images}" if size is None else f"demo-{images}-{size}px")
    if not (template / "complete").exists():
        shutil.rmtree(template, ignore_errors=True)
        print(f"generating {images} demo images under {template} (once)…", flush=True)
        create_demo_project(template, n_images=images, **({} if size is None else {"size": size}))
        (template / "complete").touch()
    return template


def fresh_copy(template: Path, root: Path) -> Path:
    """A copy of ``template`` at ``root`` (replacing what was there): every run starts
    from the same project, without the runs, maps and caches of the previous one."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root)
    return root


@dataclass
class RetrainWatch:
    """One retrain as the training panel showed it: the progress records with the time
    each arrived, how it ended and how long it took."""

    records: list[tuple[float, Any]] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def watch_retrain(start: Callable[[], None], controller: Any, panel: Any,
                  on_progress: Callable[[Any], None] | None = None) -> RetrainWatch:
    """Calls ``start`` (the Retrain action, or ``controller.retrain``) and runs the event
    loop until ``controller`` reports the run finished or failed; every record the training
    ``panel`` shows goes to ``on_progress`` meanwhile (its texts already updated)."""
    watch = RetrainWatch()
    loop = QEventLoop()

    def progressed(record: Any) -> None:
        watch.records.append((time.monotonic(), record))
        if on_progress is not None:
            on_progress(record)

    def finished(result: Any) -> None:
        watch.result = result
        QTimer.singleShot(0, loop.quit)  # after the window's own slots of the same signal

    def failed(error: BaseException) -> None:
        watch.error = error
        QTimer.singleShot(0, loop.quit)

    connections = [(panel.progress_shown, panel.progress_shown.connect(progressed)),
                   (controller.run_finished, controller.run_finished.connect(finished)),
                   (controller.run_failed, controller.run_failed.connect(failed))]
    watch.started = time.monotonic()
    start()
    loop.exec()
    watch.ended = time.monotonic()
    for signal, connection in connections:
        signal.disconnect(connection)
    return watch


class ShotLog:
    """Saves numbered PNGs (``01-empty.png``, ``02-grid.png`` …) under ``out`` and keeps
    what each shows, for the table at the end."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: list[tuple[str, str]] = []
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("[0-9][0-9]-*.png"):  # a previous run's, possibly numbered otherwise
            old.unlink()

    def save(self, widget: QWidget, slug: str, what: str) -> Path:
        """Grabs ``widget`` (after pending layouts) into the next numbered file."""
        QApplication.sendPostedEvents()
        path = self.out / f"{len(self.rows) + 1:02d}-{slug}.png"
        pixmap = widget.grab()
        if pixmap.isNull() or not pixmap.save(str(path)):
            raise RuntimeError(f"could not grab {slug} into {path}")
        self.rows.append((path.name, what))
        print(f"saved {path} ({pixmap.width()}x{pixmap.height()})", flush=True)
        return path

    def table(self) -> str:
        lines = ["| file | shows |", "|---|---|"]
        lines += [f"| {name} | {what} |" for name, what in self.rows]
        return "\n".join(lines)
