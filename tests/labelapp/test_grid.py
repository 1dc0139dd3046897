"""The thumbnail grid on a real demo project: filters, sorts, search, refresh, mouse and
keyboard selection, thumbnails from the loader thread, and navigation helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPixmap
from PySide6.QtWidgets import QLabel, QMainWindow
from pytestqt.qtbot import QtBot

from core.catalog import MaskState
from core.demo_project import create_demo_project
from core.store import Project, RunStatus
from labelapp.grid import ImageGrid
from labelapp.grid.delegate import PAD, THUMB
from labelapp.grid.marks import KINDS, tile_marks
from labelapp.grid.model import GridModel

ACTOR, SOURCE = "test", "gui"
N_IMAGES = 30


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[Project]:
    """30 demo images: 2 ok, 3 scratches, 3 crazing; an empty mask on image 3, a mask
    with pixels on image 4; a finished run predicting image 5."""
    create_demo_project(tmp_path / "p", n_images=N_IMAGES, size=48, workers=1)
    project = Project.open(tmp_path / "p")
    ids = [im.id for im in project.images.list()]
    ok, scratches, crazing = (project.classes.get(n) for n in ("ok", "scratches", "crazing"))
    project.labels.set_many(ids[0:2], ok, actor=ACTOR, source=SOURCE)
    project.labels.set_many(ids[2:5], scratches, actor=ACTOR, source=SOURCE)
    project.labels.set_many(ids[5:8], crazing, actor=ACTOR, source=SOURCE)
    mask = np.zeros((48, 48), dtype=np.uint8)
    project.masks.save(ids[3], mask, actor=ACTOR, source=SOURCE)
    mask[4:20, 4:20] = scratches.id
    project.masks.save(ids[4], mask, actor=ACTOR, source=SOURCE)
    run = project.runs.start(method="test", config={}, label_snapshot={}, seed=0)
    project.predictions.add(run.id, [ids[5]], [scratches.id], [0.75], None)
    project.runs.finish(run.id, status=RunStatus.DONE)
    yield project
    project.close()


@pytest.fixture()
def grid(open_grid, project: Project) -> ImageGrid:
    return open_grid(project)


def names_by_id(project: Project) -> dict[int, str]:
    return {im.id: Path(im.path).name for im in project.images.list()}


def click_row(qtbot: QtBot, grid: ImageGrid, row: int, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
              ) -> None:
    center = grid.view.visualRect(grid.model.index(row)).center()
    qtbot.mouseClick(grid.view.viewport(), Qt.MouseButton.LeftButton, modifier, center)


def test_filters_sorts_and_search_choose_and_order_the_rows(grid: ImageGrid, project: Project) -> None:
    names = names_by_id(project)
    by_name = sorted(names, key=lambda i: names[i].lower())
    labels = project.labels.all()
    assert grid.model.rowCount() == N_IMAGES
    assert grid.ordered_ids().tolist() == by_name
    assert grid.filter_bar.count_label.text() == f"{N_IMAGES} of {N_IMAGES}"
    grid.set_filter("unlabeled")
    assert grid.ordered_ids().tolist() == [i for i in by_name if i not in labels]
    assert grid.filter_bar.count_label.text() == f"{N_IMAGES - 8} of {N_IMAGES}"
    grid.set_filter("ok")
    assert grid.model.rowCount() == 2
    grid.set_filter("class", project.classes.get("scratches").id)
    assert grid.ordered_ids().tolist() == [i for i in by_name if i in labels and labels[i].class_name == "scratches"]
    grid.set_filter("mask")
    assert set(grid.ordered_ids().tolist()) == set(project.masks.all())
    grid.set_filter("labeled")
    grid.set_sort("label", descending=True)
    positions = {c.id: c.position for c in project.classes.list()}
    expected = sorted(labels, key=lambda i: (positions[labels[i].class_id], names[i].lower()), reverse=True)
    assert grid.ordered_ids().tolist() == expected
    grid.set_filter("all")
    grid.set_sort("added")
    grid.set_search("IMG_0001")
    assert grid.ordered_ids().tolist() == sorted(i for i in names if "img_0001" in names[i])
    assert grid.model.rowCount() == 10


def test_filter_bar_controls_change_the_view(qtbot: QtBot, grid: ImageGrid, project: Project) -> None:
    names = names_by_id(project)
    bar = grid.filter_bar
    bar.filter_combo.setFocus()
    qtbot.keyClick(bar.filter_combo, Qt.Key.Key_Down)  # All images -> Unlabeled
    assert grid.model.query.filter == "unlabeled"
    assert grid.model.rowCount() == N_IMAGES - 8
    ascending = grid.ordered_ids().tolist()
    qtbot.mouseClick(bar.direction_button, Qt.MouseButton.LeftButton)
    assert grid.ordered_ids().tolist() == ascending[::-1]
    qtbot.keyClicks(bar.search_edit, "0002")
    expected = [i for i in ascending[::-1] if "0002" in names[i]]
    assert len(expected) == 10  # img_00020 .. img_00029; img_00002 is labeled
    qtbot.waitUntil(lambda: grid.ordered_ids().tolist() == expected)
    qtbot.keyClick(bar.search_edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: grid.model.rowCount() == N_IMAGES - 8)
    class_entries = [bar.filter_combo.itemText(i) for i in range(bar.filter_combo.count())]
    assert "crazing  [1]" in class_entries and "ok  [0]" in class_entries


def test_refresh_after_labeling_updates_the_chip_and_the_unlabeled_filter(grid: ImageGrid, project: Project) -> None:
    grid.set_filter("unlabeled")
    image_id = int(grid.ordered_ids()[0])
    crazing = project.classes.get("crazing")
    project.labels.set(image_id, crazing, actor=ACTOR, source=SOURCE)
    assert image_id in grid.ordered_ids().tolist()  # nothing changes before refresh
    grid.refresh([image_id])
    assert image_id not in grid.ordered_ids().tolist()
    assert grid.model.rowCount() == N_IMAGES - 9
    grid.set_filter("all")
    row = grid.model.row_of(image_id)
    assert grid.model.data(grid.model.index(row), GridModel.LabelRole) == crazing.id
    assert grid.model.tile(row).label.name == "crazing"


def combo_entries(combo) -> dict[str, object]:
    return {combo.itemText(i): combo.itemData(i) for i in range(combo.count()) if combo.itemText(i)}


def add_run(project: Project, predictions: dict[int, tuple[int, float]]) -> int:
    run = project.runs.start(method="classifier", config={}, label_snapshot={}, seed=0)
    project.predictions.add(run.id, list(predictions), [c for c, _ in predictions.values()],
                            [p for _, p in predictions.values()], None)
    project.runs.finish(run.id, status=RunStatus.DONE)
    return run.id


def test_prediction_filters_in_the_filter_bar(qtbot: QtBot, grid: ImageGrid, project: Project) -> None:
    ids = [im.id for im in project.images.list()]
    bar = grid.filter_bar
    entries = combo_entries(bar.filter_combo)
    scratches, crazing = project.classes.get("scratches"), project.classes.get("crazing")
    assert entries["Label \u2260 prediction"] == "disagree"
    assert entries["Predicted: scratches"] == f"predicted:{scratches.id}"
    assert len([t for t in entries if t.startswith("Predicted: ")]) == len(project.classes.list())
    position = bar.filter_combo.findData(f"predicted:{scratches.id}")
    bar.filter_combo.setCurrentIndex(position - 1)  # "Predicted: ok" (or another class) above it
    bar.filter_combo.setFocus()
    qtbot.keyClick(bar.filter_combo, Qt.Key.Key_Down)
    assert (grid.model.query.filter, grid.model.query.class_id) == ("predicted", scratches.id)
    assert grid.ordered_ids().tolist() == [ids[5]]  # labeled crazing, predicted scratches
    grid.set_filter("disagree")
    assert grid.ordered_ids().tolist() == [ids[5]]
    assert bar.filter_combo.currentText() == "Label \u2260 prediction"
    project.labels.set(ids[5], scratches, actor=ACTOR, source=SOURCE)  # the engineer fixes the label
    grid.refresh([ids[5]])
    assert grid.model.rowCount() == 0 and bar.count_label.text() == f"0 of {N_IMAGES}"
    project.labels.set(ids[5], crazing, actor=ACTOR, source=SOURCE)
    grid.refresh([ids[5]])
    assert grid.ordered_ids().tolist() == [ids[5]]


def test_prediction_choices_follow_the_runs(grid: ImageGrid, project: Project) -> None:
    ids = [im.id for im in project.images.list()]
    names = names_by_id(project)
    bar = grid.filter_bar
    ok, patches = project.classes.get("ok"), project.classes.get("patches")
    grid.set_filter("predicted", project.classes.get("scratches").id)
    grid.set_sort("least_sure")
    for run in project.runs.list():  # no run with predictions any more
        project.predictions.delete_run(run.id)
    grid.refresh(None)
    assert "disagree" not in combo_entries(bar.filter_combo).values()
    assert "least_sure" not in combo_entries(bar.sort_combo).values()
    assert (grid.model.query.filter, grid.model.query.sort) == ("all", "name")  # fell back, rows follow
    assert grid.ordered_ids().tolist() == sorted(names, key=lambda i: names[i].lower())
    add_run(project, {ids[9]: (ok.id, 0.9), ids[12]: (patches.id, 0.3), ids[20]: (patches.id, 0.6)})
    grid.refresh(None)  # what the training controller calls after a run
    assert combo_entries(bar.sort_combo)["Least sure first"] == "least_sure"
    assert "disagree" in combo_entries(bar.filter_combo).values()
    grid.set_sort("least_sure")
    ordered = grid.ordered_ids().tolist()
    assert ordered[:3] == [ids[12], ids[20], ids[9]]
    assert ordered[3:] == sorted(set(names) - {ids[9], ids[12], ids[20]}, key=lambda i: names[i].lower())
    assert bar.sort_combo.currentText() == "Least sure first"
    grid.set_sort("most_sure")
    assert grid.ordered_ids().tolist()[:3] == [ids[9], ids[20], ids[12]]
    grid.set_filter("predicted", patches.id)
    assert grid.ordered_ids().tolist() == [ids[20], ids[12]]


def test_refresh_keeps_current_and_selection(qtbot: QtBot, grid: ImageGrid, project: Project) -> None:
    ordered = grid.ordered_ids().tolist()
    assert grid.set_current(ordered[9])
    click_row(qtbot, grid, 12, Qt.KeyboardModifier.ControlModifier)
    assert grid.selected_ids() == [ordered[9], ordered[12]]
    grid.set_sort("name", descending=True)  # rows change: state follows the images
    assert grid.current_id() == ordered[12]
    assert grid.selected_ids() == [ordered[12], ordered[9]]
    project.labels.set(ordered[12], project.classes.get("ok"), actor=ACTOR, source=SOURCE)
    with qtbot.assertNotEmitted(grid.selection_changed):
        grid.refresh([ordered[12]])
    assert grid.current_id() == ordered[12]
    with qtbot.waitSignal(grid.current_changed) as blocker:
        grid.set_filter("unlabeled")  # hides the current image
    assert blocker.args == [None]
    assert grid.selected_ids() == [ordered[9]]


def test_clicking_a_tile_makes_it_current(qtbot: QtBot, grid: ImageGrid) -> None:
    ordered = grid.ordered_ids().tolist()
    with qtbot.waitSignal(grid.current_changed) as blocker:
        click_row(qtbot, grid, 4)
    assert blocker.args == [ordered[4]]
    assert grid.current_id() == ordered[4]
    assert grid.selected_ids() == [ordered[4]]


def test_shift_click_selects_the_range_in_view_order(qtbot: QtBot, grid: ImageGrid) -> None:
    ordered = grid.ordered_ids().tolist()
    click_row(qtbot, grid, 2)
    assert grid.view.columns < 8  # the range spans grid rows: not a rectangle
    with qtbot.waitSignal(grid.selection_changed) as blocker:
        click_row(qtbot, grid, 9, Qt.KeyboardModifier.ShiftModifier)
    assert grid.selected_ids() == ordered[2:10]
    assert blocker.args == [ordered[2:10]]
    assert grid.current_id() == ordered[9]
    click_row(qtbot, grid, 0, Qt.KeyboardModifier.ShiftModifier)  # the anchor stays at row 2
    assert grid.selected_ids() == ordered[0:3]


def test_rubber_band_selects_the_tiles_it_touches(qtbot: QtBot, grid: ImageGrid) -> None:
    ordered = grid.ordered_ids().tolist()
    columns = grid.view.columns
    viewport = grid.view.viewport()
    start = grid.view.visualRect(grid.model.index(0)).center()
    end = grid.view.visualRect(grid.model.index(columns + 1)).center()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert grid.selected_ids() == [ordered[0], ordered[1], ordered[columns], ordered[columns + 1]]


def test_keyboard_moves_the_current_tile(qtbot: QtBot, grid: ImageGrid) -> None:
    ordered = grid.ordered_ids().tolist()
    columns = grid.view.columns
    grid.set_current(ordered[0])
    grid.view.setFocus()
    qtbot.keyClick(grid.view, Qt.Key.Key_Right)
    assert grid.current_id() == ordered[1]
    qtbot.keyClick(grid.view, Qt.Key.Key_Down)
    assert grid.current_id() == ordered[1 + columns]
    qtbot.keyClick(grid.view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert grid.selected_ids() == ordered[columns:columns + 2]
    qtbot.keyClick(grid.view, Qt.Key.Key_End)
    assert grid.current_id() == ordered[-1]
    qtbot.keyClick(grid.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert grid.selected_ids() == ordered
    with qtbot.waitSignal(grid.activated) as blocker:
        qtbot.keyClick(grid.view, Qt.Key.Key_Return)
    assert blocker.args == [ordered[-1]]


def test_letters_and_digits_reach_the_window_shortcuts(qtbot: QtBot, project: Project) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    grid = ImageGrid()
    window.setCentralWidget(grid)
    triggered: list[str] = []
    for key in ("D", "1", "Space", "Right"):
        action = QAction(key, window)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _checked=False, k=key: triggered.append(k))
        window.addAction(action)
    window.resize(800, 600)
    with qtbot.waitActive(window):  # window shortcuts need the active window
        window.show()
        window.activateWindow()
    grid.set_project(project)
    first = int(grid.ordered_ids()[0])
    grid.set_current(first)
    grid.view.setFocus()
    try:
        for key in (Qt.Key.Key_D, Qt.Key.Key_1, Qt.Key.Key_Space):
            qtbot.keyClick(grid.view, key)
        qtbot.keyClick(grid.view, Qt.Key.Key_Right)  # the grid's own key wins while it has focus
        assert triggered == ["D", "1", "Space"]
        assert grid.current_id() == int(grid.ordered_ids()[1])
    finally:
        grid.shutdown()


def test_double_click_activates(qtbot: QtBot, grid: ImageGrid) -> None:
    ordered = grid.ordered_ids().tolist()
    center = grid.view.visualRect(grid.model.index(3)).center()
    with qtbot.waitSignal(grid.activated) as blocker:  # press, release, double-click: as a mouse sends them
        qtbot.mouseClick(grid.view.viewport(), Qt.MouseButton.LeftButton, pos=center)
        qtbot.mouseDClick(grid.view.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert blocker.args == [ordered[3]]


def test_thumbnail_arrives_from_the_loader_thread(qtbot: QtBot, grid: ImageGrid) -> None:
    index = grid.model.index(0)
    qtbot.waitUntil(lambda: isinstance(grid.model.data(index, Qt.ItemDataRole.DecorationRole), QPixmap))
    pixmap = grid.model.data(index, Qt.ItemDataRole.DecorationRole)
    assert (pixmap.width(), pixmap.height()) == (48, 48)  # the cache's thumbnail of a 48 px image
    assert grid.loader.isRunning()


def test_tiles_show_label_mask_and_prediction(qtbot: QtBot, grid: ImageGrid, project: Project) -> None:
    ids = [im.id for im in project.images.list()]
    tiles = {i: grid.model.tile(grid.model.row_of(i)) for i in ids[:6]}
    assert tiles[ids[3]].mask == MaskState.EMPTY and tiles[ids[4]].mask == MaskState.PIXELS
    assert tiles[ids[0]].mask == MaskState.NONE
    assert tiles[ids[5]].prediction.name == "scratches" and tiles[ids[5]].confidence == pytest.approx(0.75)
    assert tiles[ids[4]].prediction is None
    row = grid.model.row_of(ids[2])  # scratches: a bar of the class colour under the thumbnail
    qtbot.waitUntil(lambda: grid.model.data(grid.model.index(row), Qt.ItemDataRole.DecorationRole) is not None)
    grid.view.scrollTo(grid.model.index(row))
    rect = grid.view.visualRect(grid.model.index(row))
    image = grid.view.viewport().grab().toImage()
    bar = image.pixelColor(QPoint(rect.center().x(), rect.top() + PAD + THUMB - 2))
    assert bar == QColor(project.classes.get("scratches").color)
    assert "scratches" in grid.model.data(grid.model.index(row), Qt.ItemDataRole.ToolTipRole)


def test_navigation_helpers(grid: ImageGrid, project: Project) -> None:
    ordered = grid.ordered_ids().tolist()
    hidden = ordered[15]  # labeled, between unlabeled images
    project.labels.set(hidden, project.classes.get("patches"), actor=ACTOR, source=SOURCE)
    grid.refresh([hidden])
    labeled = set(project.labels.all())
    unlabeled = [i for i in ordered if i not in labeled]
    assert grid.neighbour(ordered[3], 1) == ordered[4]
    assert grid.neighbour(ordered[3], -2) == ordered[1]
    assert grid.neighbour(ordered[0], -1) is None and grid.neighbour(ordered[-1], 1) is None
    assert grid.next_unlabeled(None) == unlabeled[0]
    assert grid.next_unlabeled(unlabeled[0]) == unlabeled[1]
    assert grid.next_unlabeled(unlabeled[-1]) == unlabeled[0]  # wraps
    grid.set_filter("unlabeled")  # a labeled image counts from where it would be
    assert grid.neighbour(hidden, 1) == ordered[16]
    assert grid.neighbour(hidden, -1) == ordered[14]
    assert grid.next_unlabeled(hidden) == ordered[16]
    assert not grid.set_current(hidden)
    project.labels.set_many(unlabeled[1:], project.classes.get("ok"), actor=ACTOR, source=SOURCE)
    grid.refresh(unlabeled[1:])
    assert grid.ordered_ids().tolist() == [unlabeled[0]]
    assert grid.next_unlabeled(unlabeled[0]) == unlabeled[0]
    project.labels.set(unlabeled[0], project.classes.get("ok"), actor=ACTOR, source=SOURCE)
    grid.refresh([unlabeled[0]])
    assert grid.next_unlabeled(None) is None


def test_reload_shows_imported_images_and_keeps_the_current_one(grid: ImageGrid, project: Project) -> None:
    from core.store import NewImage

    current = int(grid.ordered_ids()[5])
    grid.set_current(current)
    project.images.add_many([NewImage(path="elsewhere/aaa_new.png", hash="e" * 32, width=80, height=40, channels=1,
                                      bit_depth=8, mode="L", gray=True, file_size=1, mtime=0.0)])
    grid.reload()
    assert grid.model.rowCount() == N_IMAGES + 1
    assert grid.model.data(grid.model.index(0)) == "aaa_new.png"
    assert grid.current_id() == current


def test_shutdown_stops_the_loader_thread(grid: ImageGrid) -> None:
    assert grid.loader.isRunning()
    grid.shutdown()
    assert not grid.loader.isRunning()
    assert grid.loader.isFinished()


def test_tile_tooltips_list_the_marks_in_words(qtbot: QtBot, grid: ImageGrid, project: Project) -> None:
    ids = [im.id for im in project.images.list()]
    crazing, patches = project.classes.get("crazing"), project.classes.get("patches")
    model = grid.model

    def tip(image_id: int) -> str:
        return model.data(model.index(model.row_of(image_id)), Qt.ItemDataRole.ToolTipRole)

    assert "Marks:\n  M \u2014 a mask with defect pixels" in tip(ids[4])
    assert "\u2205 \u2014 an empty mask: annotated as free of defects" in tip(ids[3])
    # image 5: labeled crazing, predicted scratches: the "≠" chip says why it is worth a look
    assert "\u2260 scratches \u2014 the classifier predicts scratches (75%), not the label" in tip(ids[5])
    assert [m.kind for m in tile_marks(model.tile(model.row_of(ids[5])))] == ["label", "disagree"]
    # a run predicting the 22 unlabeled images, one of them far less sure than the rest
    unlabeled = ids[8:]
    add_run(project, {i: (patches.id if i == ids[9] else crazing.id, 0.2 if i == ids[9] else 0.7)
                      for i in unlabeled})
    grid.refresh(None)
    unsure, typical = model.tile(model.row_of(ids[9])), model.tile(model.row_of(ids[10]))
    assert unsure.unsure and not typical.unsure  # 70 % everywhere says nothing: no mark, no percentage
    assert "? \u2014 the classifier is unsure: 20% for patches, among the least sure tenth" in tip(ids[9])
    assert [m.kind for m in tile_marks(typical)] == ["prediction"]
    assert "crazing \u2014 unlabeled; the classifier predicts crazing (70%)" in tip(ids[10])
    assert "?" not in tip(ids[10]).split("Marks:")[1]


def test_the_legend_shows_every_mark_with_its_meaning(qtbot: QtBot, grid: ImageGrid) -> None:
    button = grid.filter_bar.legend_button
    assert button.isVisible() and "marks" in button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    legend = grid.legend.legend
    qtbot.waitUntil(lambda: legend is not None and legend.isVisible())
    assert set(legend.rows) == set(KINDS)
    texts = [label.text() for label in legend.findChildren(QLabel)]
    for kind in KINDS.values():
        assert kind.meaning in texts
    samples = [label.pixmap() for label in legend.findChildren(QLabel) if not label.pixmap().isNull()]
    assert len(samples) == len(KINDS) and all(p.width() > 8 for p in samples)
