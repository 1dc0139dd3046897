"""Embedding-map speed on synthetic features: layouts, drawing and interaction.

For each size it times the PCA layout, the refined layout (t-SNE on landmarks, run as the
app runs it: a job on a worker thread, while a 10 ms timer on the GUI thread records the
longest stall), then the map canvas: first draw (coordinates, k-d tree, colours, one
paint), a recolour (colour mode change + paint), a pan / zoom frame, a hover hit-test and
a lasso over about half of the points. Run without a display:

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/map_bench.py [--points 10000 100000] [--dims 532]

532 is the width of the classifier's features with the default encoder (128 embedding +
404 texture statistics).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QPointF, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.jobs.base import drain  # noqa: E402
from core.map.layout import LANDMARKS, pca_layout, refined_layout  # noqa: E402
from core.map.points import MapPoints  # noqa: E402
from core.store import ClassKind, ImageClass  # noqa: E402

CLASSES = [ImageClass(id=k + 1, name=f"class {k + 1}", color=color, shortcut=None, kind=ClassKind.DEFECT,
                       position=k)
           for k, color in enumerate(("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                      "#e377c2", "#7f7f7f"))]


def synthetic(n: int, dims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features in 30 Gaussian clusters of uneven size, and each point's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, dims)).astype(np.float32)
    weights = rng.pareto(1.5, 30) + 0.05
    cluster = rng.choice(30, n, p=weights / weights.sum())
    features = centres[cluster] + rng.normal(size=(n, dims)).astype(np.float32) * 0.6
    return features.astype(np.float32), cluster


def points_for(cluster: np.ndarray, seed: int = 0) -> MapPoints:
    rng = np.random.default_rng(seed)
    n = len(cluster)
    label = np.where(rng.random(n) < 0.02, cluster % len(CLASSES) + 1, 0).astype(np.int64)
    rank = np.zeros(n, np.int64)
    rank[rng.choice(n, 200, replace=False)] = np.arange(1, 201)
    return MapPoints(label=label, predicted=(cluster % len(CLASSES) + 1).astype(np.int64),
                     confidence=rng.random(n).astype(np.float32), uncertainty=rng.random(n).astype(np.float32),
                     rank=rank, prediction_run=1)


def refine_on_worker(features: np.ndarray, landmarks: int) -> tuple[np.ndarray, float, float]:
    """(layout, seconds, longest GUI-thread stall in ms) of the refinement run as a job."""
    from labelapp.jobs.runner import JobRunner

    ticks: list[float] = []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    runner = JobRunner(lambda cancel: refined_layout(features, landmarks=landmarks, cancel=cancel))
    loop = QEventLoop()
    box: dict = {}
    runner.finished.connect(lambda result: (box.setdefault("xy", result), loop.quit()))
    runner.failed.connect(lambda exc: (box.setdefault("error", exc), loop.quit()))
    started = time.perf_counter()
    timer.start()
    runner.start()
    loop.exec()
    seconds = time.perf_counter() - started
    timer.stop()
    if "error" in box:
        raise box["error"]
    stall = max(np.diff(ticks), default=0.0) * 1000 - 10 if len(ticks) > 1 else float("nan")
    return box["xy"], seconds, stall


def ms(work, repeat: int = 1) -> float:
    """Mean milliseconds of ``work()`` over ``repeat`` runs."""
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) * 1000 / repeat


def canvas_timings(xy: np.ndarray, points: MapPoints) -> dict[str, float]:
    from labelapp.map.canvas import MapCanvas
    from labelapp.map.colours import MODES, colour_points

    canvas = MapCanvas()
    canvas.resize(900, 700)
    canvas.show()
    QApplication.processEvents()
    colouring = colour_points("label", points, CLASSES)

    def first_draw() -> None:
        canvas.set_layout(xy)
        canvas.set_groups(colouring.groups, colouring.colors)
        canvas.viewport().repaint()

    result = {"first draw ms": ms(first_draw)}
    modes = [mode for _text, mode in MODES]

    def recolour() -> None:
        mode = modes[recolour.k % len(modes)]
        recolour.k += 1
        coloured = colour_points(mode, points, CLASSES)
        canvas.set_groups(coloured.groups, coloured.colors)
        canvas.viewport().repaint()

    recolour.k = 1
    result["recolour ms"] = ms(recolour, repeat=8)
    frames = []
    for step in range(24):
        started = time.perf_counter()
        if step % 2:
            canvas.box.translateBy(x=0.03, y=-0.02)
        else:
            canvas.box.scaleBy((0.9 if step < 12 else 1.1,) * 2)
        canvas.viewport().repaint()
        frames.append(time.perf_counter() - started)
    result["pan/zoom frame ms"] = 1000 * float(np.mean(frames))
    result["worst frame ms"] = 1000 * float(np.max(frames))
    canvas.fit()
    QApplication.processEvents()
    rect = canvas.box.boundingRect()
    rng = np.random.default_rng(1)
    probes = [QPointF(rect.left() + rng.random() * rect.width(), rect.top() + rng.random() * rect.height())
              for _ in range(2000)]
    started = time.perf_counter()
    for probe in probes:
        canvas.index_at(probe)
    result["hover hit-test ms"] = (time.perf_counter() - started) * 1000 / len(probes)
    angle = np.linspace(0, 2 * np.pi, 400, endpoint=False)  # a wavy loop of 400 vertices over half the view
    centre = np.array([rect.center().x(), rect.center().y()])
    radius = 0.3 * min(rect.width(), rect.height()) * (1 + 0.15 * np.sin(7 * angle))
    polygon = centre + np.stack([np.cos(angle), np.sin(angle)], axis=1) * radius[:, None]
    result["lasso ms"] = ms(lambda: canvas.indices_in(polygon), repeat=5)
    result["lasso points"] = float(len(canvas.indices_in(polygon)))
    canvas.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dims", type=int, default=532)
    parser.add_argument("--landmarks", type=int, default=LANDMARKS)
    args = parser.parse_args()
    QApplication.instance() or QApplication([sys.argv[0]])
    warm, _ = synthetic(500, args.dims)
    drain(refined_layout(warm, landmarks=200))  # imports (sklearn, scipy) out of the timings
    rows = []
    for n in args.points:
        features, cluster = synthetic(n, args.dims)
        started = time.perf_counter()
        pca = pca_layout(features)
        pca_s = time.perf_counter() - started
        xy, refine_s, stall_ms = refine_on_worker(features, args.landmarks)
        assert pca.shape == xy.shape == (n, 2)
        row = {"points": n, "PCA s": pca_s, "refinement s": refine_s, "GUI stall ms": stall_ms}
        row.update(canvas_timings(xy, points_for(cluster)))
        rows.append(row)
        print(f"{n:,} points done", file=sys.stderr)
    columns = ["points", "PCA s", "refinement s", "GUI stall ms", "first draw ms", "recolour ms",
               "pan/zoom frame ms", "worst frame ms", "hover hit-test ms", "lasso ms"]
    print(f"features: {args.dims} dims, {args.landmarks:,} landmarks, {os.cpu_count()} CPU cores")
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(f"{row[c]:,}" if c == "points" else f"{row[c]:.3f}" if row[c] < 1 else f"{row[c]:.1f}"
                         for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
