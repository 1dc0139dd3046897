"""How the editor loads images: each file decoded once when stepping fast, and a JPEG
decoded at the fitted view's scale that still lines up with its mask and heat map and
turns into full resolution when the view zooms in."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from core.media.imaging import content_hash
from core.store import NewImage, Project, RunKind
from core.training.heatmaps import HeatmapWriter, iter_heatmaps
from labelapp.editor import ImageEditor
from labelapp.editor.loader import LoadRequest, load

WIDTH, HEIGHT = 2400, 1600  # a heat-map cell of an 8 x 8 map covers 300 x 200 pixels
DARK, BRIGHT = 60, 220
BRIGHT_BOX = (1200, 800, 1500, 1000)  # x0, y0, x1, y1: exactly heat-map cell (row 4, column 4)
MASK_BOX = (1000, 700, 1150, 780)  # painted in the stored mask, over a second bright box


def add_jpeg(project: Project, name: str, pixels: np.ndarray) -> int:
    path = project.root / name
    PILImage.fromarray(pixels).save(path, quality=90)
    height, width = pixels.shape
    return project.images.add_many([NewImage(
        path=project.images.stored_path(path), hash=content_hash(path.read_bytes()), width=width, height=height,
        channels=1, bit_depth=8, mode="L", gray=True, file_size=path.stat().st_size, mtime=0.0)])[0]


def open_editor(qtbot: QtBot, project: Project) -> ImageEditor:
    editor = ImageEditor()
    qtbot.addWidget(editor)
    editor.resize(1000, 700)
    editor.show()
    qtbot.waitExposed(editor)
    editor.set_project(project)
    return editor


@pytest.fixture()
def project(segdec_project: Path, tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    project = Project.open(root)
    yield project
    project.close()


def test_stepping_fast_decodes_each_image_once(qtbot: QtBot, project: Project) -> None:
    """Each image is shown as soon as the one before is (the D key held down), with the
    labeling controller's prefetch: next two and previous. Prefetches that become the
    image shown while queued or being decoded must be awaited, not decoded again."""
    rng = np.random.default_rng(0)
    ids = [add_jpeg(project, f"step_{i}.jpg", rng.integers(0, 256, (1024, 1536), dtype=np.uint8))
           for i in range(16)]
    editor = open_editor(qtbot, project)
    shown: list[object] = []
    editor.image_shown.connect(shown.append)
    for index, image_id in enumerate(ids):
        editor.show_image(image_id)
        editor.set_prefetch([*ids[index + 1:index + 3], *ids[max(0, index - 1):index]])
        qtbot.waitUntil(lambda i=image_id: bool(shown) and shown[-1] == i, timeout=10000)
    assert shown == ids
    counts = editor.decode_counts()
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)
    for image_id in reversed(ids[-3:]):  # back through the cache: nothing decoded again
        editor.show_image(image_id)
        assert shown[-1] == image_id
    assert editor.decode_counts() == counts
    editor.shutdown()


def scene() -> tuple[np.ndarray, np.ndarray]:
    """The image (dark, a bright box on a heat-map cell and one under the mask) and its mask."""
    pixels = np.full((HEIGHT, WIDTH), DARK, np.uint8)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    for x0, y0, x1, y1 in (BRIGHT_BOX, MASK_BOX):
        pixels[y0:y1, x0:x1] = BRIGHT
    x0, y0, x1, y1 = MASK_BOX
    mask[y0:y1, x0:x1] = 1  # replaced by a defect class id below
    return pixels, mask


def give_heatmap(project: Project, image_id: int, heat: np.ndarray) -> None:
    run = project.runs.latest(RunKind.SEGDEC)
    folder = project.runs_dir / str(run.id)
    maps = {i: np.array(h) for i, h in iter_heatmaps(folder)}
    maps[image_id] = heat
    writer = HeatmapWriter(folder)
    for i, h in maps.items():
        writer.add(i, h)
    writer.close()


def gray_at(editor: ImageEditor, x: float, y: float) -> QColor:
    """The colour of the widget pixel under the centre of image pixel (x, y)."""
    centre = editor.canvas.view().to_widget(x + 0.5, y + 0.5)
    point = QPoint(math.floor(centre.x()), math.floor(centre.y()))
    assert editor.canvas.rect().contains(point), (x, y)
    return editor.canvas.grab().toImage().pixelColor(point)


def test_reduced_jpeg_lines_up_with_mask_and_heat_map_and_zooming_in_loads_every_pixel(
        qtbot: QtBot, project: Project) -> None:
    pixels, mask = scene()
    image_id = add_jpeg(project, "large.jpg", pixels)
    defect = next(c for c in project.classes.list() if not c.is_ok)
    project.masks.save(image_id, mask * defect.id, actor="test", source="test")
    heat = np.zeros((8, 8), np.uint8)
    heat[4, 4] = 255
    give_heatmap(project, image_id, heat)
    editor = open_editor(qtbot, project)
    editor.set_overlay_opacity(1.0)
    with qtbot.waitSignal(editor.image_shown, timeout=10000):
        editor.show_image(image_id)

    doc = editor.canvas.document()
    assert doc.base_level == 1 and doc.levels[0] is None  # the fitted view draws level 1: decoded at 1/2
    assert (doc.width, doc.height) == (WIDTH, HEIGHT) and doc.mask.shape == (HEIGHT, WIDTH)
    assert doc.levels[1].shape == (HEIGHT // 2, WIDTH // 2)
    assert editor.decode_counts()[image_id] == 1
    full = load(LoadRequest(token=0, image_id=image_id, path=project.root / "large.jpg", mask_path=None,
                            has_mask=False))
    # what the fitted view shows differs little from the halved full decode (DCT scaling vs box filter)
    assert np.abs(full.levels[1].astype(int) - doc.levels[1]).mean() < 1.0

    # image, mask and heat map in image pixels: each where it belongs on screen
    x0, y0, x1, y1 = BRIGHT_BOX
    assert gray_at(editor, (x0 + x1) / 2, (y0 + y1) / 2).red() > BRIGHT - 10
    assert gray_at(editor, x0 - 20, (y0 + y1) / 2).red() < DARK + 10
    assert gray_at(editor, (x0 + x1) / 2, y0 - 20).red() < DARK + 10
    colour = QColor(defect.color).rgb()
    mx0, my0, mx1, my1 = MASK_BOX
    assert gray_at(editor, mx0 + 10, my0 + 10).rgb() == colour == gray_at(editor, mx1 - 10, my1 - 10).rgb()
    assert gray_at(editor, mx0 - 10, my0 + 10).rgb() != colour != gray_at(editor, mx1 + 10, my1 - 10).rgb()
    editor.set_heatmap_visible(True)
    editor.set_heatmap_opacity(1.0)
    hot = gray_at(editor, (x0 + x1) / 2, (y0 + y1) / 2)
    assert hot.green() > 200  # the pale yellow end of the heat scale, over the bright box
    assert gray_at(editor, (x0 + x1) / 2, y0 - 150).green() < 120  # a cell away: cold
    editor.set_heatmap_visible(False)

    # zoomed to 1:1 about the bright box's corner, the full resolution is loaded and drawn
    editor.canvas.zoom_by(1.0 / editor.canvas.scale(), editor.canvas.view().to_widget(x0, y0))
    assert editor.canvas.scale() == pytest.approx(1.0)
    qtbot.waitUntil(lambda: doc.base_level == 0, timeout=10000)
    assert editor.canvas.document() is doc and editor.decode_counts()[image_id] == 2
    assert np.array_equal(doc.levels[0], full.levels[0])
    # sharp to the pixel, as only level 0 can be: the box starts exactly at (x0, y0)
    assert gray_at(editor, x0 - 1, y0 + 8).red() < DARK + 10 and gray_at(editor, x0, y0 + 8).red() > BRIGHT - 10
    assert gray_at(editor, x0 + 8, y0 - 1).red() < DARK + 10 and gray_at(editor, x0 + 8, y0).red() > BRIGHT - 10
    # the mask, edited or not, is the same array in image pixels
    assert doc.mask[my0, mx0] == defect.id and doc.mask[my0 - 1, mx0] == 0
    editor.shutdown()


def test_fitted_view_of_a_png_or_small_jpeg_decodes_every_pixel(qtbot: QtBot, project: Project) -> None:
    """Only a JPEG larger than the fitted view is decoded small; PNGs cannot be."""
    pixels, _ = scene()
    path = project.root / "large.png"
    PILImage.fromarray(pixels).save(path)
    png = project.images.add_many([NewImage(
        path=project.images.stored_path(path), hash=content_hash(path.read_bytes()), width=WIDTH, height=HEIGHT,
        channels=1, bit_depth=8, mode="L", gray=True, file_size=path.stat().st_size, mtime=0.0)])[0]
    small = add_jpeg(project, "small.jpg", pixels[:400, :600])
    editor = open_editor(qtbot, project)
    for image_id in (png, small):
        with qtbot.waitSignal(editor.image_shown, timeout=10000):
            editor.show_image(image_id)
        assert editor.canvas.document().base_level == 0
    editor.canvas.zoom_by(4.0, QPoint(10, 10))
    assert editor.decode_counts()[png] == editor.decode_counts()[small] == 1  # nothing to reload
    editor.shutdown()


def test_prefetching_waits_for_the_paint_of_a_decoded_image(qtbot: QtBot, project: Project) -> None:
    """Showing an image decoded already paints it first; the prefetches asked with it
    start after that paint (decoding would otherwise compete with it)."""
    a, b, c = project.images.list()[:3]
    editor = open_editor(qtbot, project)
    with qtbot.waitSignal(editor.image_shown, timeout=10000):
        editor.show_image(a.id)
    editor.set_prefetch([b.id])
    qtbot.waitUntil(lambda: editor._session.document(b.id) is not None, timeout=10000)
    paints = editor.canvas.paint_count
    editor.show_image(b.id)  # decoded: on the canvas at once, painted on the next event loop turn
    editor.set_prefetch([c.id])
    assert editor.canvas.document().image_id == b.id
    assert not editor._session.loading(c.id) and editor.canvas.paint_count == paints
    with qtbot.waitSignal(editor.canvas.painted, timeout=5000):
        pass
    assert editor._session.loading(c.id) or editor._session.document(c.id) is not None
    qtbot.waitUntil(lambda: editor._session.document(c.id) is not None, timeout=10000)
    assert editor.decode_counts()[c.id] == 1
    editor.shutdown()
