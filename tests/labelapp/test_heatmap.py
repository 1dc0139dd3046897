"""The defect detector in the editor and the grid, on a project with a real seg-dec run
(rewritten as a validated one where a test needs its calls): the heat-map toggle and
opacity, where the heat map lands on the image, the defect line under the canvas, reload
after a run, and the grid's defect filters, sorts and badge."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from core.catalog import Catalog
from core.media.imaging import content_hash
from core.store import NewImage, Project, RunKind, RunStatus
from core.training.heatmaps import HeatmapWriter, iter_heatmaps
from core.training.segdec import load_heatmap, upsample_heatmap
from labelapp.editor import ImageEditor
from labelapp.editor.heatmap import heatmap_color_table
from labelapp.grid import ImageGrid
from labelapp.grid.delegate import PAD, THUMB
from labelapp.grid.filter_bar import FilterBar

LEFT = Qt.MouseButton.LeftButton
N_IMAGES = 42


@pytest.fixture()
def project(segdec_project: Path, tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    project = Project.open(root)
    yield project
    project.close()


@pytest.fixture()
def editor(qtbot: QtBot, project: Project) -> Iterator[ImageEditor]:
    widget = ImageEditor()
    qtbot.addWidget(widget)
    widget.resize(760, 560)
    widget.show()
    widget.set_project(project)
    yield widget
    widget.shutdown()


def show(qtbot: QtBot, editor: ImageEditor, image_id: int) -> None:
    with qtbot.waitSignal(editor.image_shown, timeout=5000):
        editor.show_image(image_id)


def pixel(editor: ImageEditor, point: QPoint) -> QColor:
    return editor.canvas.grab().toImage().pixelColor(point)


def hottest_cell(project: Project) -> tuple[int, int, int, np.ndarray]:
    """The image, row and column of the hottest heat-map cell of the run, and that heat map."""
    run = project.runs.latest(RunKind.SEGDEC)
    best = None
    for image in project.images.list():
        heat = load_heatmap(project, run, image.id)
        row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
        if best is None or heat[row, col] > best[3][best[1], best[2]]:
            best = (image.id, int(row), int(col), heat)
    return best


def blend(under: QColor, value: int, opacity: float = 1.0) -> tuple[int, int, int]:
    """``under`` with the heat-map colour of ``value`` drawn over it."""
    over = QColor.fromRgba(heatmap_color_table(opacity)[value])
    a = over.alphaF()
    return tuple(round(u * (1 - a) + o * a) for u, o in ((under.red(), over.red()), (under.green(), over.green()),
                                                         (under.blue(), over.blue())))


def rgb(color: QColor) -> tuple[int, int, int]:
    return color.red(), color.green(), color.blue()


def heat_colour_near(color: QColor, under: QColor, stretched: np.ndarray, y: int, x: int,
                     opacity: float = 1.0) -> bool:
    """``color`` is ``under`` with the heat colour of a value between those of pixel (x, y)
    and its neighbours drawn over it (the painter samples between pixel centres)."""
    values = np.round(255 * stretched[max(0, y - 1):y + 2, max(0, x - 1):x + 2]).astype(int)
    return min(np.abs(np.subtract(rgb(color), blend(under, v, opacity))).max()
               for v in range(int(values.min()), int(values.max()) + 1)) <= 6


def test_toggle_shows_and_hides_the_heat_map_under_the_mask(qtbot: QtBot, editor: ImageEditor,
                                                            project: Project) -> None:
    image_id, row, col, heat = hottest_cell(project)
    show(qtbot, editor, image_id)
    # the line under the canvas keeps room for the legend, so the heat map never moves the image
    qtbot.waitUntil(lambda: editor.info.height() >= editor.legend.height())
    assert editor.toolbar.heatmap_action.isEnabled() and not editor.heatmap_visible()
    assert editor.canvas.heatmap() is not None and not editor.canvas.heatmap_shown()
    doc = editor.canvas.document()
    cells_h, cells_w = heat.shape
    # the centre of the image pixel at the cell's centre, and the value drawn there: the
    # heat map stretched over the image
    y, x = int((row + 0.5) * doc.height / cells_h), int((col + 0.5) * doc.width / cells_w)
    point = editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint()
    stretched = upsample_heatmap(heat, doc.width, doc.height)
    off = pixel(editor, point)
    editor.toolbar.heatmap_slider.setValue(100)  # the heat map's own opacity slider
    assert editor.heatmap_opacity() == 1.0 and pixel(editor, point) == off  # still hidden
    qtbot.mouseClick(editor.toolbar.view_bar.widgetForAction(editor.toolbar.heatmap_action), LEFT)
    assert editor.heatmap_visible() and editor.canvas.heatmap_shown()
    on = pixel(editor, point)
    assert on != off
    assert heat_colour_near(on, off, stretched, y, x)
    editor.set_heatmap_opacity(0.5)
    assert editor.toolbar.heatmap_slider.value() == 50
    half = pixel(editor, point)
    assert heat_colour_near(half, off, stretched, y, x, 0.5)
    assert editor.toolbar.opacity_slider.value() == 50  # the mask overlay keeps its own opacity

    crazing = project.classes.get("crazing")
    editor.set_overlay_opacity(1.0)
    doc.mask[y - 2:y + 3, x - 2:x + 3] = crazing.id  # a mask over the hot cell hides the heat map
    editor.canvas.update()
    assert rgb(pixel(editor, point)) == rgb(QColor(crazing.color))
    doc.mask[:] = 0
    editor.canvas.update()

    editor.toggle_heatmap()
    assert not editor.heatmap_visible() and not editor.toolbar.heatmap_action.isChecked()
    assert pixel(editor, point) == off


def add_wide_image(project: Project, width: int, height: int, gray: int) -> int:
    """A flat gray ``width`` x ``height`` image, not seen by the run."""
    path = project.root / "wide.png"
    PILImage.fromarray(np.full((height, width), gray, np.uint8)).save(path)
    return project.images.add_many([NewImage(
        path=project.images.stored_path(path), hash=content_hash(path.read_bytes()), width=width, height=height,
        channels=1, bit_depth=8, mode="L", gray=True, file_size=path.stat().st_size, mtime=0.0)])[0]


def give_heatmap(project: Project, image_id: int, heat: np.ndarray, probability: float) -> None:
    """Adds ``heat`` and ``probability`` for ``image_id`` to the seg-dec run, as the run writes them."""
    run = project.runs.latest(RunKind.SEGDEC)
    folder = project.runs_dir / str(run.id)
    maps = {i: np.array(h) for i, h in iter_heatmaps(folder)}
    maps[image_id] = heat
    writer = HeatmapWriter(folder)
    for i, h in maps.items():
        writer.add(i, h)
    writer.close()
    project.predictions.add(run.id, [image_id], None, [probability], None, defect_probability=[probability])


def test_heat_map_lines_up_with_the_image(qtbot: QtBot, editor: ImageEditor, project: Project,
                                         validate_detector) -> None:
    """One hot cell of an 8 x 8 heat map over a 200 x 100 image: hot exactly over the
    block of the image that cell covers (a run stores cells that tile the image)."""
    validate_detector(project)
    width, height, gray = 200, 100, 160
    image_id = add_wide_image(project, width, height, gray)
    heat = np.zeros((8, 8), np.uint8)
    heat[2, 5] = 255  # covers x in [125, 150), y in [25, 37.5)
    give_heatmap(project, image_id, heat, probability=0.91)
    editor.reload_heatmaps()
    editor.set_heatmap_visible(True)
    editor.set_heatmap_opacity(1.0)
    show(qtbot, editor, image_id)
    threshold = project.runs.latest(RunKind.SEGDEC).metrics["threshold"]
    assert editor.defect_info.isVisibleTo(editor)
    assert f"defect 0.91 (threshold {threshold:.2f})" in editor.defect_info.text()

    view, grabbed = editor.canvas.view(), editor.canvas.grab().toImage()
    value = np.round(upsample_heatmap(heat, width, height) * 255).astype(int)  # the core alignment rule
    plain = QColor(gray, gray, gray)
    drawn = np.zeros((height, width, 3))
    for y in range(height):
        for x in range(width):
            drawn[y, x] = rgb(grabbed.pixelColor(view.to_widget(x + 0.5, y + 0.5).toPoint()))
    expected = np.array([[blend(plain, int(v)) for v in row] for row in value], dtype=float)
    # every pixel has the colour of the heat value under it or next to it (the painter blends
    # colours between the stretched cells, which differs from the colour of the blended value
    # where the map is steep)
    padded = np.pad(expected, ((1, 1), (1, 1), (0, 0)), mode="edge")
    around = np.stack([padded[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)])
    assert (drawn >= around.min(axis=0) - 6).all() and (drawn <= around.max(axis=0) + 6).all()
    values = np.pad(value, 1, mode="edge")
    spread = np.ptp(np.stack([values[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)]), axis=0)
    flat = spread <= 2
    assert flat.sum() > 0.8 * flat.size and np.abs(drawn - expected)[flat].max() <= 6  # where the map is flat: exact
    hot = np.argwhere(drawn[..., 1] > 200)  # the pale yellow end of the scale
    assert hot[:, 1].min() >= 124 and hot[:, 1].max() <= 150 and hot[:, 0].min() >= 24 and hot[:, 0].max() <= 38
    assert value[31, 137] >= 230 and drawn[31, 137, 1] > 200 and drawn[31, 137, 2] < drawn[31, 137, 1] - 60
    # where the map is 0 the surface still shows, faintly tinted: the map is visibly there
    cold = drawn[80, 20]
    assert 0 < gray - cold.max() <= 40


def test_heat_map_toggle_is_disabled_without_a_segdec_run_and_reload_finds_one(
        qtbot: QtBot, project: Project, validate_detector) -> None:
    validate_detector(project)
    run = project.runs.latest(RunKind.SEGDEC)
    # as if the defect detector had not finished yet
    project.runs.finish(run.id, status=RunStatus.FAILED, metrics=run.metrics, checkpoint=run.checkpoint)
    editor = ImageEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.set_project(project)
    image_id = project.images.list()[0].id
    show(qtbot, editor, image_id)
    action = editor.toolbar.heatmap_action
    assert not action.isEnabled() and not editor.toolbar.heatmap_slider.isEnabled()
    assert "train the defect detector first (needs ok and defect labels)" in action.toolTip().lower()
    with qtbot.waitSignal(editor.message) as blocker:
        editor.toggle_heatmap()
    assert "train the defect detector first" in blocker.args[0] and not editor.heatmap_visible()
    assert editor.canvas.heatmap() is None and editor.defect_reading() is None
    assert not editor.defect_info.isVisibleTo(editor)

    # the run finished: the window calls reload_heatmaps
    project.runs.finish(run.id, status=RunStatus.DONE, metrics=run.metrics, checkpoint=run.checkpoint)
    editor.reload_heatmaps()
    assert action.isEnabled() and "run #1" in action.toolTip()
    probability = project.predictions.get(image_id, kind=RunKind.SEGDEC).defect_probability
    reading = editor.defect_reading()
    assert reading.probability == pytest.approx(probability) and reading.threshold == run.metrics["threshold"]
    assert np.array_equal(editor.canvas.heatmap().heat, load_heatmap(project, run, image_id))
    assert f"defect {probability:.2f} (threshold {run.metrics['threshold']:.2f})" in editor.defect_info.text()
    editor.toggle_heatmap()
    assert editor.canvas.heatmap_shown()
    editor.shutdown()


# -- grid ----------------------------------------------------------------------------------------


@pytest.fixture()
def grid(open_grid, project: Project) -> ImageGrid:
    return open_grid(project)


def combo_entries(combo) -> dict[str, object]:
    return {combo.itemText(i): combo.itemData(i) for i in range(combo.count()) if combo.itemText(i)}


def defect_probabilities(project: Project) -> dict[int, float]:
    run = project.runs.latest(RunKind.SEGDEC)
    return {int(i): float(p) for i, p in project.predictions.defect_probabilities(run.id).items()}


def test_filter_bar_lists_defect_entries_only_with_defect_predictions(qtbot: QtBot) -> None:
    bar = FilterBar()
    qtbot.addWidget(bar)
    bar.set_classes((), predictions=True)
    assert "defective" not in combo_entries(bar.filter_combo).values()
    assert "defect_first" not in combo_entries(bar.sort_combo).values()
    bar.set_classes((), defects=True)
    filters, sorts = combo_entries(bar.filter_combo), combo_entries(bar.sort_combo)
    assert filters["Defective (detector)"] == "defective" and filters["Label \u2260 detector"] == "missed"
    assert sorts["Likeliest defect first"] == "defect_first"
    assert sorts["Least likely defect first"] == "defect_last"
    assert "disagree" not in filters.values()  # the classifier's entries need predictions=True


def test_grid_sorts_and_filters_by_defect_probability(qtbot: QtBot, grid: ImageGrid, project: Project,
                                                     validate_detector) -> None:
    validate_detector(project)
    grid.refresh(None)
    bar, probability = grid.filter_bar, defect_probabilities(project)
    threshold = project.runs.latest(RunKind.SEGDEC).metrics["threshold"]
    position = bar.sort_combo.findData("defect_first")
    assert position >= 0 and bar.filter_combo.findData("defective") >= 0
    bar.sort_combo.setCurrentIndex(position - 1)
    bar.sort_combo.setFocus()
    qtbot.keyClick(bar.sort_combo, Qt.Key.Key_Down)  # the user picks "Likeliest defect first"
    assert grid.model.query.sort == "defect_first"
    ordered = grid.ordered_ids().tolist()
    assert len(ordered) == N_IMAGES
    assert [probability[i] for i in ordered] == sorted(probability.values(), reverse=True)
    grid.set_sort("defect_last")
    assert [probability[i] for i in grid.ordered_ids()] == sorted(probability.values())

    grid.set_filter("defective")
    assert set(grid.ordered_ids().tolist()) == {i for i, p in probability.items() if p >= threshold}
    catalog = Catalog.load(project)
    ok_ids = {c.id for c in project.classes.list() if c.is_ok}
    labels = project.labels.class_by_image()
    missed = {i for i, p in probability.items() if (p >= threshold) == (labels[i] in ok_ids)}
    grid.set_filter("missed")
    assert set(grid.ordered_ids().tolist()) == missed
    assert catalog.has_defect_predictions

    for run in project.runs.list():  # no defect-detector run any more: the entries go
        project.runs.finish(run.id, status=RunStatus.FAILED, metrics=run.metrics, checkpoint=run.checkpoint)
    grid.refresh(None)
    assert "defective" not in combo_entries(bar.filter_combo).values()
    assert "defect_first" not in combo_entries(bar.sort_combo).values()
    assert (grid.model.query.filter, grid.model.query.sort) == ("all", "name")


def test_tiles_show_the_defect_probability(qtbot: QtBot, grid: ImageGrid, project: Project,
                                          validate_detector) -> None:
    validate_detector(project)
    probability = defect_probabilities(project)
    run = project.runs.latest(RunKind.SEGDEC)
    values = sorted(set(probability.values()))
    threshold = (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2  # half the images above it
    project.runs.update_metrics(run.id, {**run.metrics, "threshold": threshold})  # as a threshold change does
    grid.refresh(None)
    grid.set_sort("defect_first")
    model = grid.model
    top, bottom = model.tile(0), model.tile(model.rowCount() - 1)
    assert top.detected and top.defect == pytest.approx(probability[top.image_id])
    assert not bottom.detected and bottom.defect_threshold == pytest.approx(threshold)
    for row in (0, model.rowCount() - 1):
        tip = model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
        assert f"defect probability {probability[model.image_id(row)]:.2f}" in tip

    index = model.index(0)
    qtbot.waitUntil(lambda: model.data(index, Qt.ItemDataRole.DecorationRole) is not None)
    grid.view.scrollTo(index)
    rect = grid.view.visualRect(index)
    thumb_left = rect.left() + (grid.view.tile_delegate.cell.width() - THUMB) // 2
    badge = QPoint(thumb_left + 5, rect.top() + PAD + 4 + grid.view.tile_delegate.chip_height // 2)
    color = grid.view.viewport().grab().toImage().pixelColor(badge)
    assert color.red() > 150 and color.green() < 90 and color.blue() < 90  # the red "⚠ 87%" badge
    last = model.index(model.rowCount() - 1)
    grid.view.scrollTo(last)
    qtbot.waitUntil(lambda: model.data(last, Qt.ItemDataRole.DecorationRole) is not None)
    rect = grid.view.visualRect(last)
    color = grid.view.viewport().grab().toImage().pixelColor(
        QPoint(thumb_left - grid.view.visualRect(index).left() + rect.left() + 5,
               rect.top() + PAD + 4 + grid.view.tile_delegate.chip_height // 2))
    assert not (color.red() > 150 and color.green() < 90 and color.blue() < 90)  # below the threshold: no badge


def test_view_controls_wrap_to_a_second_row_when_the_editor_is_narrow(qtbot: QtBot, editor: ImageEditor) -> None:
    bar = editor.toolbar
    editor.resize(1100, 560)
    qtbot.waitUntil(lambda: bar.view_bar.y() < bar.bar.y() + bar.bar.height() and bar.view_bar.x() >= bar.bar.width())
    assert bar.view_bar.widgetForAction(bar.heatmap_action).isVisible()
    editor.resize(620, 560)  # the heat-map toggle stays in sight, not behind the overflow button
    qtbot.waitUntil(lambda: bar.view_bar.y() >= bar.bar.y() + bar.bar.height())
    assert bar.view_bar.widgetForAction(bar.heatmap_action).isVisible()
    assert bar.view_bar.widgetForAction(bar.heatmap_action).geometry().right() < bar.view_bar.width()
