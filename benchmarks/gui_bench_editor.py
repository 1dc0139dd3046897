"""Editor speed: next image, and brush-stroke feedback on a 4096 x 4096 mask.

    python benchmarks/gui_bench_editor.py [--sets 1024:png 2048:jpeg 4096:png] [--cache DIR]

Run it under a display (``xvfb-run -a -s "-screen 0 1600x1000x24"``) for numbers that
include flushing to the screen; ``QT_QPA_PLATFORM=offscreen`` works too. Generated
images (``write_dataset`` flat layout, gray; for ``jpeg`` re-encoded at quality 90;
imported with ``import_folder``) are cached under the cache folder, so a second run
starts at once. ``benchmarks/gui_bench.py`` imports :func:`make_editor_project`,
:func:`measure_next_image` and :func:`measure_stroke`.

Next image is timed from ``show_image`` (what the D key calls) to the end of the
canvas paint, with the labeling controller's prefetch (next two, previous one), in two
passes over every image of a set: at 2 images/s (a key every 0.5 s), and stepping
without pause (the next key as soon as the image is painted). Each pass opens a fresh
editor (cold cache) and reports how many times each image's file was decoded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.store import ClassKind, Project  # noqa: E402
from labelapp.editor import ImageEditor  # noqa: E402

EDITOR_SIZE = (1200, 800)
IMAGES_PER_SIZE = {1024: 60, 2048: 60, 4096: 24}
FORMATS = ("png", "jpeg")
JPEG_QUALITY = 90


def _app() -> QApplication:
    return QApplication.instance() or QApplication([])


def make_editor_project(root: Path, *, size: int, n_images: int | None = None,
                        fmt: str = "png") -> tuple[Path, list[int]]:
    """A project of generated ``size`` x ``size`` gray images (``fmt`` ``png`` or
    ``jpeg``) with an OK and a defect class, built once under ``root`` and reused.
    Returns (project folder, image ids)."""
    from PIL import Image as PILImage

    from core.demo import write_dataset
    from core.importing import ImportOptions, import_folder

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    project_dir = root / "project"
    done = root / "done"
    if not done.exists():
        n = n_images or IMAGES_PER_SIZE.get(size, 16)
        started = time.perf_counter()
        write_dataset(root / "source", n_images=n, seed=0, size=size, layout="flat")
        images = root / "source" / "images"
        if fmt == "jpeg":
            images = root / "source" / "jpeg"
            images.mkdir(exist_ok=True)
            for png in sorted((root / "source" / "images").glob("*.png")):
                with PILImage.open(png) as image:
                    image.save(images / f"{png.stem}.jpg", quality=JPEG_QUALITY)
        with Project.open(project_dir, create=True) as project:
            if project.classes.find("defect") is None:
                project.classes.add("ok", kind=ClassKind.OK, actor="bench", source="bench")
                project.classes.add("defect", kind=ClassKind.DEFECT, actor="bench", source="bench")
            import_folder(project, images, ImportOptions(actor="bench", source="bench"))
        done.write_text("")
        print(f"generated {n} {fmt} images of {size} px in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with Project.open(project_dir) as project:
        return project_dir, [image.id for image in project.images.list()]


def _open_editor(project_root: Path) -> tuple[QApplication, ImageEditor, Project]:
    app = _app()
    project = Project.open(project_root)
    editor = ImageEditor()
    editor.resize(*EDITOR_SIZE)
    editor.show()
    editor.set_project(project)
    app.processEvents()
    return app, editor, project


def _close_editor(editor: ImageEditor, project: Project) -> None:
    editor.shutdown()
    editor.close()
    editor.deleteLater()
    project.close()
    _app().processEvents()


def _pump_until(app: QApplication, done: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Runs the event loop until ``done()``; sleeps while no event is due (a busy loop
    would take a core from the decoding threads)."""
    ticker = QTimer()
    ticker.start(5)  # a wake-up, so that the deadline is seen even when nothing happens
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the editor did not answer in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    ticker.stop()


def _pump_for(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()


def _summary(values: Sequence[float], prefix: str = "") -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {f"{prefix}median_ms": statistics.median(ordered), f"{prefix}p95_ms": p95,
            f"{prefix}max_ms": ordered[-1]}


def measure_next_image(project_root: Path, image_ids: Sequence[int], *, prefetch: bool = True,
                       period_s: float | None = 0.5) -> dict:
    """Shows the images one after another as a labeler would: a step every
    ``period_s`` seconds (None: the next step as soon as the image is painted), the
    next two and the previous image prefetched as the labeling controller does; times
    ``show_image`` to ``image_shown`` and to the end of the canvas paint.

    Returns:
        ``median_ms``, ``p95_ms``, ``max_ms`` (to painted), the same with a
        ``shown_`` prefix (to ``image_shown``) and a ``cpu_`` prefix (the GUI thread's
        CPU time over the same span: what the step costs whatever else runs), ``n``,
        and ``decodes_mean`` / ``decodes_max``: how many times the file of each image
        shown was decoded.
    """
    app, editor, project = _open_editor(Path(project_root))
    shown: list[object] = []
    editor.image_shown.connect(shown.append)
    to_shown, to_painted, cpu = [], [], []
    try:
        for index, image_id in enumerate(image_ids):
            paints = editor.canvas.paint_count
            started, cpu_started = time.perf_counter(), time.thread_time()
            editor.show_image(image_id)
            if prefetch:
                editor.set_prefetch([*image_ids[index + 1:index + 3], *image_ids[max(0, index - 1):index]])
            _pump_until(app, lambda i=image_id: bool(shown) and shown[-1] == i)
            shown_at = time.perf_counter()
            _pump_until(app, lambda p=paints: editor.canvas.paint_count > p)
            painted_at = time.perf_counter()
            if index > 0:  # the first image is a cold start
                to_shown.append((shown_at - started) * 1000)
                to_painted.append((painted_at - started) * 1000)
                cpu.append((time.thread_time() - cpu_started) * 1000)
            if period_s is not None:
                _pump_for(max(0.0, started + period_s - time.perf_counter()))
        counts = editor.decode_counts()
        decodes = [counts[i] for i in image_ids]
    finally:
        _close_editor(editor, project)
    return {**_summary(to_painted), **_summary(to_shown, "shown_"), **_summary(cpu, "cpu_"), "n": len(to_painted),
            "decodes_mean": statistics.mean(decodes), "decodes_max": max(decodes)}


def _mouse(kind: QEvent.Type, pos: QPointF, button: Qt.MouseButton, buttons: Qt.MouseButton) -> QMouseEvent:
    return QMouseEvent(kind, pos, pos, button, buttons, Qt.KeyboardModifier.NoModifier)


def measure_stroke(project_root: Path, image_id: int, *, moves: int = 200, brush: int = 32,
                   zoom: str = "fit") -> dict:
    """One brush stroke of ``moves`` mouse moves (a diagonal sweep, 6 px apart) on the
    image; for each move, the time from delivering the event to the canvas having
    painted it. ``zoom`` is ``"fit"`` or ``"1:1"``.

    Returns:
        ``median_ms``, ``p95_ms``, ``max_ms``, ``handler_median_ms`` (the event handler
        alone), ``pixels`` painted, ``mask`` shape.
    """
    app, editor, project = _open_editor(Path(project_root))
    try:
        editor.show_image(image_id)
        _pump_until(app, lambda: editor.current_mask() is not None)
        canvas = editor.canvas
        if zoom == "1:1":
            editor.actual_size()
        while editor.brush_size() < brush:
            editor.change_brush_size(+1)
        _pump_for(0.2)
        left = Qt.MouseButton.LeftButton
        start = QPointF(canvas.width() * 0.2, canvas.height() * 0.2)
        QApplication.sendEvent(canvas, _mouse(QEvent.Type.MouseButtonPress, start, left, left))
        app.processEvents()
        feedback, handler = [], []
        for step in range(1, moves + 1):
            pos = start + QPointF(step * 6 % (canvas.width() * 0.6), step * 2 % (canvas.height() * 0.6))
            paints = canvas.paint_count
            started = time.perf_counter()
            QApplication.sendEvent(canvas, _mouse(QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, left))
            handled = time.perf_counter()
            _pump_until(app, lambda p=paints: canvas.paint_count > p)
            feedback.append((time.perf_counter() - started) * 1000)
            handler.append((handled - started) * 1000)
        QApplication.sendEvent(canvas, _mouse(QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton))
        mask = editor.current_mask()
        result = {**_summary(feedback), "handler_median_ms": statistics.median(handler),
                  "pixels": int((mask != 0).sum()), "mask": mask.shape, "scale": canvas.scale()}
        editor.undo()  # leave the cached project as it was
        editor.flush()
        return result
    finally:
        _close_editor(editor, project)


def parse_set(text: str) -> tuple[int, str]:
    """``"2048:jpeg"`` -> (2048, "jpeg"); a bare size is PNG."""
    size, _, fmt = text.partition(":")
    return int(size), fmt or "png"


def project_for(cache: Path, size: int, fmt: str) -> tuple[Path, list[int]]:
    n = IMAGES_PER_SIZE.get(size, 16)
    return make_editor_project(cache / f"editor-{size}-{fmt}-{n}", size=size, n_images=n, fmt=fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=parse_set, nargs="+", default=[(1024, "png"), (2048, "jpeg"), (4096, "png")],
                        help="image sets as SIZE:FORMAT (png or jpeg)")
    parser.add_argument("--no-stroke", action="store_true", help="skip the brush-stroke measures")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-gui-bench")
    args = parser.parse_args()
    _app()
    rows: list[tuple[str, str]] = []
    for size, fmt in args.sets:
        project_root, ids = project_for(args.cache, size, fmt)
        for period, prefetch in ((0.5, True), (None, True), (0.5, False)):
            r = measure_next_image(project_root, ids, prefetch=prefetch, period_s=period)
            pace = "2 images/s" if period else "no pause"
            rows.append((f"next image {size} px {fmt}, {pace}, prefetch {'on' if prefetch else 'off'} (n={r['n']})",
                         f"{r['median_ms']:.1f} / {r['p95_ms']:.1f} / {r['max_ms']:.1f} ms"
                         f" (image_shown {r['shown_median_ms']:.1f} / {r['shown_p95_ms']:.1f});"
                         f" decodes per image {r['decodes_mean']:.2f}, max {r['decodes_max']}"))
    stroke_sets = [s for s in args.sets if s[1] == "png"]
    if stroke_sets and not args.no_stroke:
        project_root, ids = project_for(args.cache, *max(stroke_sets))
        for zoom, brush in (("fit", 32), ("1:1", 32), ("1:1", 256)):
            r = measure_stroke(project_root, ids[0], zoom=zoom, brush=brush)
            rows.append((f"stroke feedback {r['mask'][1]}x{r['mask'][0]} mask, {zoom} (x{r['scale']:.2f}),"
                         f" brush {brush}", f"{r['median_ms']:.2f} / {r['p95_ms']:.2f} / {r['max_ms']:.2f} ms"
                         f" (handler {r['handler_median_ms']:.2f})"))
    platform = QApplication.platformName()
    print(f"\nEditor benchmark, platform {platform}, editor {EDITOR_SIZE[0]}x{EDITOR_SIZE[1]}")
    print("| measure | median / p95 / max |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
