"""The image editor on a real project: tools, undo/redo, saving, bad files, 16-bit, zoom."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from core.demo_project import create_demo_project
from core.media.imaging import content_hash
from core.store import NewImage, Project
from labelapp.editor import ImageEditor
from labelapp.editor.cache import DocumentCache
from labelapp.editor.document import ImageDocument
from labelapp.editor.geometry import Box
from labelapp.editor.loader import LoadedImage
from labelapp.editor.mips import mask_levels, update_mask_levels
from labelapp.editor.tools import Stroke, step_brush_size

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier
SIZE = 96


@dataclass(frozen=True)
class Setup:
    project: Project
    editor: ImageEditor
    ids: list[int]
    crazing: int
    inclusion: int


def _add_file(project: Project, path: Path, *, width: int, height: int, bit_depth: int = 8,
              mode: str = "L") -> int:
    return project.images.add_many([NewImage(
        path=project.images.stored_path(path), hash=content_hash(path.name.encode()), width=width, height=height,
        channels=1, bit_depth=bit_depth, mode=mode, gray=True, file_size=1, mtime=0.0)])[0]


@pytest.fixture
def setup(qtbot, tmp_path: Path) -> Iterator[Setup]:
    root = tmp_path / "project"
    create_demo_project(root, n_images=6, size=SIZE, workers=1)
    project = Project.open(root)
    editor = ImageEditor()
    qtbot.addWidget(editor)
    editor.resize(1000, 560)  # wide enough for the tool bar on one row
    editor.show()
    editor.set_project(project)
    editor.set_tool("brush")  # the editor starts with the pan tool; these tests paint
    ids = [image.id for image in project.images.list()]
    yield Setup(project, editor, ids, project.classes.get("crazing").id, project.classes.get("inclusion").id)
    editor.shutdown()
    project.close()


def show(qtbot, editor: ImageEditor, image_id: int) -> None:
    with qtbot.waitSignal(editor.image_shown, timeout=5000) as blocker:
        editor.show_image(image_id)
    assert blocker.args == [image_id]


def widget_point(editor: ImageEditor, x: float, y: float) -> QPoint:
    """The widget pixel over the centre of image pixel (x, y)."""
    return editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint()


def drag(qtbot, editor: ImageEditor, points: Sequence[tuple[float, float]]) -> None:
    canvas = editor.canvas
    qtbot.mousePress(canvas, LEFT, NONE, widget_point(editor, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, widget_point(editor, *point))
    qtbot.mouseRelease(canvas, LEFT, NONE, widget_point(editor, *points[-1]))


def click(qtbot, editor: ImageEditor, x: float, y: float) -> None:
    qtbot.mouseClick(editor.canvas, LEFT, NONE, widget_point(editor, x, y))


def stored_mask(project: Project, image_id: int) -> np.ndarray | None:
    return project.masks.load(image_id)


def test_brush_stroke_paints_along_the_path_and_flush_commits_it(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[0]
    show(qtbot, editor, image_id)
    editor.set_paint_class(setup.crazing)
    editor.change_brush_size(-2)  # 16 -> 8
    assert editor.brush_size() == 8
    # a fast move: two far-apart events must still leave a continuous line
    drag(qtbot, editor, [(10, 20), (80, 20)])
    with qtbot.waitSignal(editor.labels.mask_saved, timeout=5000) as blocker:
        editor.flush()
    assert blocker.args == [image_id]
    mask = stored_mask(setup.project, image_id)
    assert mask is not None and mask.shape == (SIZE, SIZE)
    assert (mask[20, 10:81] == setup.crazing).all()  # no gaps along the stroke
    assert (mask[16:25, 30] == setup.crazing).all()  # brush 8 covers +-4 rows
    assert (mask[:14] == 0).all() and (mask[27:] == 0).all()  # nothing elsewhere
    assert set(np.unique(mask)) == {0, setup.crazing}


def test_eraser_clears_painted_pixels(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[0]
    show(qtbot, editor, image_id)
    drag(qtbot, editor, [(10, 40), (85, 40)])
    editor.set_tool("eraser")
    assert editor.tool() == "eraser"
    drag(qtbot, editor, [(40, 20), (40, 60)])
    editor.flush()
    mask = stored_mask(setup.project, image_id)
    assert (mask[30:51, 32:48] == 0).all()
    assert (mask[40, 10:25] != 0).all() and (mask[40, 60:85] != 0).all()


def test_polygon_fills_on_enter_backspace_drops_a_vertex_escape_cancels(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[1]
    show(qtbot, editor, image_id)
    editor.set_paint_class(setup.inclusion)
    editor.set_tool("polygon")
    for x, y in [(20, 20), (70, 20), (90, 90), (70, 70)]:
        click(qtbot, editor, x, y)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Backspace)  # drops (70, 70)
    click(qtbot, editor, 20, 70)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Return)
    mask = editor.current_mask().copy()
    assert mask[30, 40] == setup.inclusion  # inside
    assert mask[60, 30] == setup.inclusion
    assert mask[85, 40] == 0 and mask[10, 40] == 0  # outside
    for x, y in [(5, 5), (15, 5), (15, 15)]:
        click(qtbot, editor, x, y)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Escape)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Return)
    assert (editor.current_mask() == mask).all()
    editor.flush()
    assert (stored_mask(setup.project, image_id) == mask).all()


def test_polygon_closes_on_double_click(qtbot, setup: Setup) -> None:
    editor = setup.editor
    show(qtbot, editor, setup.ids[1])
    editor.set_tool("polygon")
    for x, y in [(10, 10), (50, 10)]:
        click(qtbot, editor, x, y)
    qtbot.mouseDClick(editor.canvas, LEFT, NONE, widget_point(editor, 30, 50))
    assert editor.current_mask()[20, 30] == setup.crazing
    assert editor.current_mask()[60, 30] == 0


def test_fill_replaces_the_connected_region_under_the_click(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[2]
    show(qtbot, editor, image_id)
    editor.set_tool("polygon")
    for x, y in [(20, 20), (60, 20), (60, 60), (20, 60)]:
        click(qtbot, editor, x, y)
    qtbot.keyClick(editor.canvas, Qt.Key.Key_Enter)
    editor.set_tool("brush")
    drag(qtbot, editor, [(80, 5), (80, 90)])  # a separate region of the same class
    editor.set_tool("fill")
    editor.set_paint_class(setup.inclusion)
    click(qtbot, editor, 40, 40)
    editor.flush()
    mask = stored_mask(setup.project, image_id)
    assert (mask[20:61, 20:61] == setup.inclusion).all()
    assert (mask[5:90, 80] == setup.crazing).all()  # not connected: unchanged
    assert mask[5, 5] == 0 and mask[90, 40] == 0


def test_undo_and_redo_of_a_stroke_reach_the_store(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[0]
    show(qtbot, editor, image_id)
    assert not editor.undo()
    drag(qtbot, editor, [(10, 50), (60, 50)])
    editor.flush()
    painted = stored_mask(setup.project, image_id)
    assert painted is not None and painted[50, 30] == setup.crazing
    assert editor.undo()
    assert editor.current_mask()[50, 30] == 0
    editor.flush()
    # every edit of the session undone on an image that had no mask: no mask again
    assert setup.project.masks.info(image_id) is None
    assert editor.redo()
    assert not editor.redo()
    editor.flush()
    assert (stored_mask(setup.project, image_id) == painted).all()


def test_histories_survive_switching_images(qtbot, setup: Setup) -> None:
    editor, a, b = setup.editor, setup.ids[0], setup.ids[1]
    show(qtbot, editor, a)
    editor.set_tool("eraser")
    drag(qtbot, editor, [(0, 0), (1, 1)])  # erasing nothing is no edit
    editor.set_tool("brush")
    drag(qtbot, editor, [(10, 10), (40, 40)])
    drag(qtbot, editor, [(60, 10), (60, 40)])
    with qtbot.waitSignal(editor.labels.mask_saved, timeout=5000):
        show(qtbot, editor, b)  # switching saves A
    assert stored_mask(setup.project, a)[25, 25] == setup.crazing
    drag(qtbot, editor, [(50, 50), (70, 70)])
    show(qtbot, editor, a)
    assert editor.undo() and editor.undo()
    assert not editor.undo()  # the erase of nothing was not recorded
    editor.flush()
    assert setup.project.masks.info(a) is None
    assert stored_mask(setup.project, b)[60, 60] == setup.crazing


def test_undo_of_a_label_change_writes_the_old_label_back(qtbot, setup: Setup) -> None:
    editor, project, image_id = setup.editor, setup.project, setup.ids[3]
    show(qtbot, editor, image_id)
    editor.labels.write_labels([(image_id, setup.crazing)])  # what the labeling keys do
    editor.labels.write_labels([(image_id, setup.inclusion)])
    with qtbot.waitSignal(editor.labels.labels_changed, timeout=1000) as blocker:
        assert editor.undo()
    assert list(blocker.args[0].image_ids) == [image_id]
    label = project.labels.get(image_id)
    assert label.class_id == setup.crazing and label.source == "gui undo"
    assert editor.undo()
    assert project.labels.get(image_id) is None
    with qtbot.waitSignal(editor.labels.labels_changed, timeout=1000):
        assert editor.redo()
    assert project.labels.get(image_id).class_id == setup.crazing


def test_mask_saves_itself_after_an_idle_second(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[4]
    show(qtbot, editor, image_id)
    drag(qtbot, editor, [(30, 30), (35, 60)])
    with qtbot.waitSignal(editor.labels.mask_saved, timeout=4000) as blocker:
        pass  # no flush, no switch: the idle timer saves
    assert blocker.args == [image_id]
    assert stored_mask(setup.project, image_id)[45, 32] == setup.crazing


def test_a_failed_save_reports_and_keeps_the_mask_dirty(qtbot, setup: Setup) -> None:
    editor, image_id, masks = setup.editor, setup.ids[0], setup.project.masks_dir
    show(qtbot, editor, image_id)
    drag(qtbot, editor, [(30, 30), (60, 30)])
    shutil.rmtree(masks)
    masks.write_text("not a folder")  # the PNG cannot be written
    with qtbot.waitSignal(editor.message, timeout=5000) as blocker:
        editor.flush()
    assert "not saved" in blocker.args[0]
    assert setup.project.masks.info(image_id) is None
    masks.unlink()
    masks.mkdir()
    with qtbot.waitSignal(editor.labels.mask_saved, timeout=5000):
        editor.flush()
    assert stored_mask(setup.project, image_id)[30, 45] == setup.crazing


def test_missing_file_offers_relink_and_reload_shows_it(qtbot, setup: Setup, tmp_path: Path) -> None:
    editor, project = setup.editor, setup.project
    path = tmp_path / "elsewhere" / "gone.png"
    image_id = _add_file(project, path, width=40, height=30)
    editor.show_image(image_id)
    qtbot.waitUntil(lambda: editor.placeholder.isVisible(), timeout=5000)
    assert "missing" in editor.placeholder.label.text() and "gone.png" in editor.placeholder.label.text()
    assert editor.placeholder.relink_button.isVisible()
    with qtbot.waitSignal(editor.relink_requested, timeout=1000) as blocker:
        qtbot.mouseClick(editor.placeholder.relink_button, LEFT)
    assert blocker.args == [image_id]
    path.parent.mkdir()
    PILImage.new("L", (40, 30), 90).save(path)
    with qtbot.waitSignal(editor.image_shown, timeout=5000):
        editor.reload_image(image_id)
    assert editor.canvas.isVisible() and editor.current_mask().shape == (30, 40)


def test_corrupt_file_shows_the_reason(qtbot, setup: Setup) -> None:
    editor, project = setup.editor, setup.project
    path = project.root / "images" / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    image_id = _add_file(project, path, width=40, height=30)
    editor.show_image(image_id)
    qtbot.waitUntil(lambda: editor.placeholder.isVisible(), timeout=5000)
    text = editor.placeholder.label.text()
    assert "cannot be shown" in text and ("corrupt" in text or "not an image" in text or "truncated" in text)
    assert not editor.placeholder.relink_button.isVisible()
    assert editor.current_mask() is None


def _canvas_gray(editor: ImageEditor, x: int, y: int) -> int:
    image = editor.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    return image.pixelColor(widget_point(editor, x, y)).red()


def test_16_bit_window_level_changes_the_displayed_pixels(qtbot, setup: Setup) -> None:
    editor, project = setup.editor, setup.project
    path = project.root / "images" / "deep.png"
    ramp = np.tile(np.linspace(1000, 3000, 64, dtype=np.uint16), (48, 1))
    PILImage.fromarray(ramp).save(path)
    image_id = _add_file(project, path, width=64, height=48, bit_depth=16, mode="I;16")
    show(qtbot, editor, image_id)
    editor.toggle_overlay()
    bar = editor.toolbar
    assert bar.window_row.isVisible()
    before = [_canvas_gray(editor, x, 20) for x in (8, 32, 56)]
    assert before[0] < before[1] < before[2]  # auto window spreads the ramp
    bar.window_low_slider.setValue(0)
    bar.window_high_slider.setValue(500)  # window 1000..2000: the right half saturates
    after = [_canvas_gray(editor, x, 20) for x in (8, 32, 56)]
    assert after[0] < after[1] == after[2] == 255
    bar.window_low_slider.setValue(250)
    bar.window_high_slider.setValue(750)  # window 1500..2500
    assert [_canvas_gray(editor, x, 20) for x in (8, 32, 56)][::2] == [0, 255]
    assert "1500" in bar.window_label.text() and "2500" in bar.window_label.text()
    bar.auto_button.click()
    assert [_canvas_gray(editor, x, 20) for x in (8, 32, 56)] == before
    show(qtbot, editor, setup.ids[0])
    assert not bar.window_row.isVisible()


def test_zoom_fit_and_actual_size_change_the_scale(qtbot, setup: Setup) -> None:
    editor = setup.editor
    show(qtbot, editor, setup.ids[0])
    fitted = editor.canvas.scale()
    assert fitted > 2  # a 96 px image fills the view
    editor.actual_size()
    assert editor.canvas.scale() == 1.0
    editor.zoom_by(2.0)
    assert editor.canvas.scale() == 2.0
    center = QPointF(editor.canvas.width() / 2, editor.canvas.height() / 2)
    anchored = editor.canvas.view().to_image(center)
    editor.canvas.zoom_by(1.5, center)
    assert editor.canvas.scale() == 3.0
    assert editor.canvas.view().to_image(center) == pytest.approx(anchored)  # zoom about the cursor
    editor.fit()
    assert editor.canvas.scale() == pytest.approx(fitted)
    offset = editor.canvas.view().dx
    qtbot.mousePress(editor.canvas, Qt.MouseButton.MiddleButton, NONE, QPoint(100, 100))
    qtbot.mouseMove(editor.canvas, QPoint(140, 100))
    qtbot.mouseRelease(editor.canvas, Qt.MouseButton.MiddleButton, NONE, QPoint(140, 100))
    assert editor.canvas.view().dx == pytest.approx(offset + 40)
    assert stored_mask(setup.project, setup.ids[0]) is None  # panning paints nothing


def test_prefetched_image_shows_without_waiting(qtbot, setup: Setup) -> None:
    editor, a, b = setup.editor, setup.ids[0], setup.ids[5]
    show(qtbot, editor, a)
    editor.set_prefetch([b])
    qtbot.waitUntil(lambda: editor._session.document(b) is not None, timeout=5000)
    shown: list[object] = []
    editor.image_shown.connect(shown.append)
    editor.show_image(b)
    assert shown == [b]  # synchronously: no event loop turn, no I/O


def test_a_fresh_editor_starts_with_the_pan_tool(qtbot) -> None:
    editor = ImageEditor()
    qtbot.addWidget(editor)
    assert editor.tool() == "pan" and editor.toolbar.tool_actions["pan"].isChecked()
    assert not editor.toolbar.tool_actions["brush"].isChecked()


def test_space_drag_pans_and_the_wheel_zooms_about_the_cursor(qtbot, setup: Setup) -> None:
    editor, canvas = setup.editor, setup.editor.canvas
    show(qtbot, editor, setup.ids[0])
    canvas.setFocus()
    offset = canvas.view().dy
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(qtbot, editor, [(40, 40), (40, 50)])  # with Space held a left drag pans, never paints
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.view().dy == pytest.approx(offset + 10 * canvas.scale(), abs=1.5)
    assert not editor.current_mask().any()
    scale, spot = canvas.scale(), QPointF(widget_point(editor, 30, 30))
    under = canvas.view().to_image(spot)
    wheel = QWheelEvent(spot, canvas.mapToGlobal(spot), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        NONE, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, wheel)
    assert canvas.scale() == pytest.approx(scale * 1.25)
    assert canvas.view().to_image(spot) == pytest.approx(under)
    editor.toolbar.tool_actions["pan"].trigger()
    assert editor.tool() == "pan"


def test_erasing_every_pixel_saves_an_empty_mask(qtbot, setup: Setup) -> None:
    editor, image_id = setup.editor, setup.ids[5]
    show(qtbot, editor, image_id)
    drag(qtbot, editor, [(40, 40), (50, 40)])
    editor.set_tool("eraser")
    for _ in range(3):
        editor.change_brush_size(+1)
    drag(qtbot, editor, [(35, 40), (55, 40)])
    editor.flush()
    info = setup.project.masks.info(image_id)
    assert info is not None and info.pixels == 0 and info.file is None  # annotated: no defect pixels


def test_a_short_stroke_on_a_large_mask_keeps_only_its_box() -> None:
    mask = np.zeros((4096, 4096), dtype=np.uint8)
    stroke = Stroke(mask, value=3, diameter=8, start=(1000.2, 2000.7))
    for x in range(1001, 1060, 7):
        stroke.extend((x + 0.3, 2000.5 + (x - 1000) / 10))
    edit = stroke.finish()
    assert edit.box.width <= 70 and edit.box.height <= 16
    assert edit.before.array().shape == (edit.box.height, edit.box.width)
    assert (edit.after.array() == mask[edit.box.slices]).all()
    assert not edit.before.array().any()
    edit.apply(mask, undo=True)
    assert not mask.any()
    assert step_brush_size(16, +1) == 23 and step_brush_size(1, -1) == 1 and step_brush_size(512, +3) == 512


def test_cache_drops_least_recently_used_but_keeps_unsaved_masks(qtbot) -> None:
    def doc(image_id: int) -> ImageDocument:
        pixels = np.zeros((100, 100), dtype=np.uint8)  # 10 kB image + 10 kB mask
        return ImageDocument(LoadedImage(token=image_id, image_id=image_id, width=100, height=100, levels=(pixels,),
                                         high_depth=False, auto_window=(0, 255), value_range=(0, 255),
                                         mask=np.zeros_like(pixels), has_mask=False))

    cache = DocumentCache(budget_bytes=70_000)  # room for three
    first, second = doc(1), doc(2)
    cache.put(first)
    cache.put(second)
    first.mark_edited()  # unsaved: must stay
    cache.put(doc(3))
    assert cache.get(2) is not None  # 2 is now the most recently used
    cache.put(doc(4))
    assert 1 in cache and 2 in cache and 4 in cache and 3 not in cache


def test_mask_levels_follow_edits_and_keep_thin_lines() -> None:
    rng = np.random.default_rng(1)
    mask = np.zeros((2600, 2101), dtype=np.uint8)
    levels = mask_levels(mask)
    assert [lv.shape for lv in levels] == [(1300, 1051), (650, 526)]
    for _ in range(20):
        x, y = int(rng.integers(0, 2101)), int(rng.integers(0, 2600))
        box = Box(x, y, min(2101, x + int(rng.integers(1, 40))), min(2600, y + 1))  # thin lines
        mask[box.slices] = rng.integers(1, 7)
        update_mask_levels(mask, levels, box)
    for kept, fresh in zip(levels, mask_levels(mask), strict=True):
        assert (kept == fresh).all()
    assert np.count_nonzero(levels[-1]) > 0  # a 1 px line is still there at 1/4 size
