"""Thumbnail grid at scale: catalog load, view queries, first paint and scrolling.

    .venv/bin/python benchmarks/gui_bench_grid.py [--images 100000] [--cache /tmp/labelapp-bench]
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_bench_grid.py

``make_big_project`` builds (once, cached under ``--cache``) a project with ``n`` image
rows whose files do not exist, a thumbnail for each (a handful of rendered demo
thumbnails reused under distinct hash keys), labels on 20 % of the images, masks on
2 % and a finished run with predictions for half of them. ``measure_scroll`` opens an
:class:`ImageGrid` of 1400x900 on it and scrolls from top to bottom a page at a time.
Prints one table.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.catalog import Catalog  # noqa: E402
from core.demo import ALL_CLASSES, DEFECT_CLASSES, OK_CLASS, render_sample  # noqa: E402
from core.store import ClassKind, NewImage, Project, RunStatus  # noqa: E402
from core.store.thumbnails import ThumbnailCache  # noqa: E402

logger = logging.getLogger(__name__)
BATCH = 10_000
DISTINCT_THUMBNAILS = 14
ACTOR, SOURCE = "bench", "bench"


def _thumbnails() -> list[tuple[int, int, bytes]]:
    """A few rendered demo thumbnails as (width, height, jpeg), square and 4:3."""
    from PIL import Image as PILImage

    out = []
    for k in range(DISTINCT_THUMBNAILS):
        size = (160, 160) if k % 2 == 0 else (120, 160)  # (height, width)
        sample = render_sample(k, seed=3, size=size, class_name=ALL_CLASSES[k % len(ALL_CLASSES)])
        buffer = io.BytesIO()
        PILImage.fromarray(sample.image).save(buffer, format="JPEG", quality=85)
        out.append((size[1], size[0], buffer.getvalue()))
    return out


def make_big_project(root: Path, n: int = 100_000) -> Path:
    """A project with ``n`` image rows (fake files), thumbnails, labels, masks and
    predictions under ``root/grid-<n>``; reused when it is already complete."""
    path = Path(root) / f"grid-{n}"
    done = path / "complete"
    if done.exists():
        return path
    if path.exists():
        import shutil

        shutil.rmtree(path)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    thumbs = _thumbnails()
    with Project.create(path) as project:
        classes = [project.classes.add(OK_CLASS, kind=ClassKind.OK, actor=ACTOR, source=SOURCE)]
        classes += [project.classes.add(c, kind=ClassKind.DEFECT, actor=ACTOR, source=SOURCE) for c in DEFECT_CLASSES]
        cache = ThumbnailCache(project.cache_dir)
        mtimes = 1.7e9 + rng.uniform(0, 3e7, size=n)
        ids: list[int] = []
        for start in range(0, n, BATCH):
            rows, entries = [], []
            for i in range(start, min(n, start + BATCH)):
                width, height, jpeg = thumbs[i % len(thumbs)]
                digest = f"{i:08x}{rng.integers(1 << 62):016x}"
                rows.append(NewImage(path=f"images/line{i % 3}/cam{i % 4}_{i:06d}.png", hash=digest,
                                     width=width * 8, height=height * 8, channels=1, bit_depth=8, mode="L",
                                     gray=True, file_size=1, mtime=float(mtimes[i])))
                entries.append((digest, width, height, jpeg))
            ids += project.images.add_many(rows)
            cache.put_many(entries)
        cache.close()
        _add_annotations(project, np.array(ids), classes, rng)
    done.write_text("")
    logger.info("built %s with %d images in %.0f s", path, n, time.perf_counter() - started)
    return path


def _add_annotations(project: Project, ids: np.ndarray, classes: list, rng: np.random.Generator) -> None:
    """Labels on 20 %, masks on 2 % (a third of them empty), predictions on 50 %."""
    labeled = rng.choice(ids, size=len(ids) // 5, replace=False)
    for k, cls in enumerate(classes):
        project.labels.set_many([int(i) for i in labeled[k::len(classes)]], cls, actor=ACTOR, source=SOURCE)
    masked = rng.choice(labeled, size=len(ids) // 50, replace=False)
    with project.transaction():  # the grid reads a mask's pixel count, never its file
        for k, i in enumerate(masked):
            empty = k % 3 == 0
            project.masks.save_encoded(int(i), None if empty else b"fake", 0 if empty else 100, (),
                                       actor=ACTOR, source=SOURCE)
    run = project.runs.start(method="bench", config={}, label_snapshot={}, seed=0)
    predicted = rng.choice(ids, size=len(ids) // 2, replace=False)
    class_ids = [c.id for c in classes]
    predicted_classes = np.array([class_ids[k % len(class_ids)] for k in range(len(predicted))])
    project.predictions.save(run.id, predicted, predicted_classes,
                             np.array([float(rng.uniform(0.3, 1.0)) for _ in predicted]), None)
    project.runs.finish(run.id, status=RunStatus.DONE)


def measure_catalog(project_root: Path, repeats: int = 5) -> dict:
    """Median seconds of ``Catalog.load`` and of the slowest common ``view`` queries."""
    with Project.open(project_root) as project:
        loads = []
        for _ in range(repeats):
            started = time.perf_counter()
            catalog = Catalog.load(project)
            loads.append(time.perf_counter() - started)
        views = {}
        ok_class = project.classes.ok_class()
        queries = {
            "all by name": dict(filter="all", sort="name"),
            "all by label, descending": dict(filter="all", sort="label", descending=True),
            "unlabeled by date": dict(filter="unlabeled", sort="date"),
            "class by name": dict(filter="class", class_id=ok_class.id if ok_class else None, sort="name"),
            'all, search "cam1"': dict(filter="all", search="cam1", sort="name"),
            'unlabeled, search "_00", by date': dict(filter="unlabeled", search="_00", sort="date"),
        }
        for name, query in queries.items():
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                catalog.view(**query)
                times.append(time.perf_counter() - started)
            views[name] = statistics.median(times)
        started = time.perf_counter()
        catalog.refresh(project, [int(i) for i in catalog.ids[:20]])
        refresh = time.perf_counter() - started
    return {"load": statistics.median(loads), "views": views, "refresh_20": refresh, "images": len(catalog)}


def measure_scroll(project_root: Path, size: tuple[int, int] = (1400, 900)) -> dict:
    """Opens an ImageGrid on the project, shown at ``size``; measures ``set_project`` to
    first paint, a scroll from top to bottom a page at a time (``scroll_to_end_benchmark``),
    a filter change to paint, and how long the thumbnails of a page take after a jump."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from labelapp.grid import ImageGrid

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    grid = ImageGrid()
    grid.resize(*size)
    grid.show()
    QTest.qWaitForWindowExposed(grid)
    with Project.open(project_root) as project:
        first_paint = _time_to_paint(grid, lambda: grid.set_project(project))
        _wait(lambda: _page_loaded(grid))
        result = grid.scroll_to_end_benchmark()
        result["page_thumbnails"] = _page_latencies(grid)
        result["filter_to_paint"] = _time_to_paint(grid, lambda: grid.set_filter("unlabeled"))
        result["first_paint"] = first_paint
        result["columns"] = grid.view.columns
        grid.shutdown()
        grid.set_project(None)
    grid.close()
    return result


def _time_to_paint(grid: object, action: object) -> float:
    """Seconds from the start of ``action()`` to the end of the next viewport paint."""
    from PySide6.QtCore import QEvent, QObject

    class Probe(QObject):
        painted = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            self.painted = self.painted or event.type() == QEvent.Type.Paint
            return False

    probe = Probe()
    grid.view.viewport().installEventFilter(probe)
    started = time.perf_counter()
    action()
    _wait(lambda: probe.painted)
    grid.view.viewport().removeEventFilter(probe)
    return time.perf_counter() - started


def _page_latencies(grid: object, jumps: int = 20) -> list[float]:
    """Seconds until every visible tile has its thumbnail, after jumps to random places."""
    rng = np.random.default_rng(1)
    bar = grid.view.verticalScrollBar()
    latencies = []
    for value in rng.integers(0, bar.maximum(), size=jumps):
        started = time.perf_counter()
        bar.setValue(int(value))
        _wait(lambda: _page_loaded(grid))
        latencies.append(time.perf_counter() - started)
    return latencies


def _page_loaded(grid: object) -> bool:
    first, last = grid.view.visible_rows()
    return all(grid.model.pixmaps.get(grid.model.tile(r).hash) is not None for r in range(first, last + 1))


def _wait(condition: object, timeout: float = 10.0) -> None:
    """Runs the event loop in 2 ms slices until ``condition()``. A loop that keeps
    calling ``processEvents`` would hold the GIL and starve the loader thread, which
    yields to the GUI thread on purpose; an idle event loop lets it run, as in the app."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the grid did not get there in time")
        loop = QEventLoop()
        QTimer.singleShot(2, loop.quit)
        loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-bench")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    root = make_big_project(args.cache, args.images)
    catalog = measure_catalog(root)
    scroll = measure_scroll(root)
    from PySide6.QtWidgets import QApplication

    platform = QApplication.instance().platformName()
    print(f"\nthumbnail grid, {catalog['images']:,} images, {os.cpu_count()} cores, Qt platform {platform}")
    print("| measure | value |")
    print("|---|---|")
    print(f"| Catalog.load | {catalog['load'] * 1000:.0f} ms |")
    for name, seconds in catalog["views"].items():
        print(f"| view: {name} | {seconds * 1000:.1f} ms |")
    print(f"| Catalog.refresh of 20 images | {catalog['refresh_20'] * 1000:.1f} ms |")
    print(f"| set_project to first paint (1400x900) | {scroll['first_paint'] * 1000:.0f} ms |")
    print(f"| scroll top to bottom, page by page | {scroll['seconds']:.1f} s, {scroll['steps']} steps,"
          f" {scroll['frames']} frames, {scroll['rows']:,} grid rows of {scroll['columns']} |")
    print(f"| scroll step (setValue + events + paint) | mean {scroll['mean_ms']:.1f} ms,"
          f" max {scroll['max_ms']:.1f} ms |")
    print(f"| filter change to paint (Unlabeled) | {scroll['filter_to_paint'] * 1000:.0f} ms |")
    pages = scroll["page_thumbnails"]
    print(f"| thumbnails of a whole page after a jump ({len(pages)} jumps) | median"
          f" {statistics.median(pages) * 1000:.0f} ms, max {max(pages) * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
