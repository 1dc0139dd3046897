"""The Map dock in the main window: layouts, colour modes, hover, click, lasso into the grid,
labeling the selection, and a retrain recolouring the map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from core.map.job import NO_ENCODER
from core.store import Project, RunKind

Shift = Qt.KeyboardModifier.ShiftModifier
Ctrl = Qt.KeyboardModifier.ControlModifier
NoModifier = Qt.KeyboardModifier.NoModifier
Left = Qt.MouseButton.LeftButton
NoButton = Qt.MouseButton.NoButton


@pytest.fixture(autouse=True)
def every_mouse_move() -> None:
    """pyqtgraph drops mouse moves closer than 10 ms apart; synthetic drags come faster."""
    limit = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    yield
    pg.setConfigOption("mouseRateLimit", limit)


@pytest.fixture
def window(open_window, small_classifier_project: Path, qtbot):
    """The main window on a copy of the small classifier project, with the Map dock shown
    and its refined (t-SNE) layout on screen."""
    win = open_window(small_classifier_project, height=860)
    panel = win.embedding_map.panel
    win.embedding_map.dock.raise_()
    qtbot.waitUntil(lambda: panel.layout_kind() == "tsne" and not panel.is_busy(), timeout=60_000)
    return win


def viewport_point(canvas, box_xy) -> QPointF:
    """A point in the view box's pixels as a position on the canvas's viewport."""
    scene = canvas.box.mapToScene(QPointF(float(box_xy[0]), float(box_xy[1])))
    return QPointF(canvas.mapFromScene(scene))


def send_mouse(widget: QWidget, kind: QEvent.Type, pos: QPointF, *, button=NoButton, buttons=NoButton,
               modifiers=NoModifier) -> None:
    event = QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos.toPoint())), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def lasso(canvas, corners: list[tuple[float, float]], modifiers=Shift) -> None:
    """Drags the left button along ``corners`` (view-box pixels) with ``modifiers`` held."""
    viewport = canvas.viewport()
    points = [viewport_point(canvas, c) for c in corners]
    send_mouse(viewport, QEvent.Type.MouseButtonPress, points[0], button=Left, buttons=Left, modifiers=modifiers)
    for a, b in zip(points, points[1:] + points[:1], strict=True):  # along every edge, back to the start
        for t in np.linspace(0.25, 1.0, 4):
            send_mouse(viewport, QEvent.Type.MouseMove, a + (b - a) * float(t), buttons=Left, modifiers=modifiers)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, points[0], button=Left, modifiers=modifiers)


def split_left(pixels: np.ndarray) -> float:
    """An x between two columns of points with the widest gap, in the middle half."""
    xs = np.sort(pixels[:, 0])
    middle = xs[len(xs) // 4: 3 * len(xs) // 4 + 1]
    gaps = np.diff(middle)
    k = int(np.argmax(gaps))
    assert gaps[k] > 6, "no clear gap to cut the map at"
    return float((middle[k] + middle[k + 1]) / 2)


def isolated_point(pixels: np.ndarray) -> int:
    """The point farthest from its nearest neighbour (a click on it can hit no other)."""
    distance = np.linalg.norm(pixels[:, None] - pixels[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    return int(np.argmax(distance.min(axis=1)))


def test_map_shows_every_image_and_its_labels(window) -> None:
    panel = window.embedding_map.panel
    assert panel.image_ids().tolist() == list(range(1, 43))
    xy = panel.coordinates()
    assert xy.shape == (42, 2) and np.isfinite(xy).all()
    assert "Refined map of pretraining run #1" in panel.status_line.text()
    with Project.open(window.project.root) as project:
        labels = {i: lab.class_id for i, lab in project.labels.all().items()}
        classes = [c.id for c in project.classes.list()]
    groups = panel.colouring().groups
    expected = [classes.index(labels[i]) + 1 if i in labels else 0 for i in range(1, 43)]
    assert groups.tolist() == expected
    assert f"unlabeled&nbsp;<span style='color:#777'>{42 - len(labels)}</span>" in panel.legend.text()


def test_dots_are_drawn_in_their_class_colour(window) -> None:
    panel = window.embedding_map.panel
    canvas = panel.canvas
    pixels = canvas.box_pixels()
    labeled = np.flatnonzero(panel.colouring().groups > 0)
    index = int(labeled[isolated_point(pixels[labeled])])
    colour = panel.colouring().colors[int(panel.colouring().groups[index])]
    picture = canvas.grab().toImage()
    centre = viewport_point(canvas, pixels[index]).toPoint()
    assert QColor(picture.pixel(centre)).name() == colour.name()


def test_colour_modes_follow_predictions_uncertainty_and_suggestions(window) -> None:
    panel = window.embedding_map.panel
    with Project.open(window.project.root) as project:
        classes = [c.id for c in project.classes.list()]
        predicted = [project.predictions.get(i).class_id for i in range(1, 43)]
        ranks = project.suggestions.ranks()
        labeled = set(project.labels.all())
    panel.set_colour_mode("prediction")
    assert panel.colouring().groups.tolist() == [classes.index(c) + 1 for c in predicted]
    panel.set_colour_mode("uncertainty")
    groups = panel.colouring().groups
    assert groups.min() >= 1 and groups.max() <= 8  # every image has a prediction: none grey
    assert "sure" in panel.legend.text() and "unsure" in panel.legend.text()
    panel.set_colour_mode("suggested")
    suggested = {i for i in ranks if i not in labeled}
    assert {i + 1 for i in np.flatnonzero(panel.colouring().groups > 0)} == suggested


def test_lasso_selects_exactly_the_images_inside_and_the_grid_shows_them(window, qtbot) -> None:
    panel, grid = window.embedding_map.panel, window.grid
    canvas = panel.canvas
    pixels = canvas.box_pixels()
    cut = split_left(pixels)
    rect = canvas.box.boundingRect()
    left, top, bottom = rect.left() + 3, rect.top() + 3, rect.bottom() - 3
    lasso(canvas, [(left, top), (cut, top), (cut, bottom), (left, bottom)])
    expected = panel.image_ids()[pixels[:, 0] < cut]
    assert 0 < len(expected) < 42
    assert panel.selected_ids().tolist() == expected.tolist()
    assert sorted(grid.ordered_ids().tolist()) == expected.tolist()
    assert sorted(grid.selected_ids()) == expected.tolist()
    assert grid.filter_bar.filter_combo.currentText() == f"Map: {len(expected)} selected"
    assert f"{len(expected)}" in panel.selection_label.text()

    lasso(canvas, [(cut, top), (rect.right() - 3, top), (rect.right() - 3, bottom), (cut, bottom)],
          modifiers=Ctrl)  # Ctrl adds the other side
    assert panel.selected_ids().tolist() == list(range(1, 43))
    assert len(grid.ordered_ids()) == 42

    panel.clear_button.click()
    assert len(panel.selected_ids()) == 0
    assert grid.filter_bar.query.filter == "all" and grid.filter_bar.filter_combo.findData("map") < 0


def test_label_as_labels_the_whole_selection_through_the_labeling_path(window, qtbot) -> None:
    panel = window.embedding_map.panel
    ids = [int(i) for i in panel.image_ids()[-6:]]  # the last images: some unlabeled (28 of 42 are)
    panel.select_ids(np.array(ids))
    assert panel.label_button.isEnabled() and panel.label_button.text() == "Label 6 as"
    project = window.project
    target = project.classes.list()[0]
    action = next(a for a in panel.label_button.menu().actions() if a.data() == target.id)
    with qtbot.waitSignal(window.session.labels_changed) as changed:
        action.trigger()
    assert sorted(changed.args[0].image_ids) == ids
    assert all(project.labels.get(i).class_id == target.id for i in ids)
    position = [c.id for c in project.classes.list()].index(target.id) + 1
    groups = panel.colouring().groups
    assert all(groups[i - 1] == position for i in ids)  # the map recoloured at once
    assert sorted(window.grid.ordered_ids().tolist()) == ids


def test_click_opens_the_image_and_hover_shows_it(window, qtbot) -> None:
    panel = window.embedding_map.panel
    canvas = panel.canvas
    pixels = canvas.box_pixels()
    index = isolated_point(pixels)
    image_id = int(panel.image_ids()[index])
    window.labeling.go_to(1 if image_id != 1 else 2)
    where = viewport_point(canvas, pixels[index])
    send_mouse(canvas.viewport(), QEvent.Type.MouseMove, where)
    assert panel.hover_card.isVisible()
    name = Path(window.project.images.get(image_id).path).name
    assert name in panel.hover_card.text.text()
    assert panel.hover_card.picture.pixmap() is not None and not panel.hover_card.picture.pixmap().isNull()
    qtbot.mouseClick(canvas.viewport(), Left, pos=where.toPoint())
    assert window.editor.current_image_id() == image_id
    send_mouse(canvas.viewport(), QEvent.Type.MouseMove, viewport_point(canvas, (-50, -50)))
    assert not panel.hover_card.isVisible()


def test_a_retrain_recolours_the_map_with_its_predictions(window, qtbot) -> None:
    panel = window.embedding_map.panel
    panel.set_colour_mode("prediction")
    window.training_panel.segdec_box.setChecked(False)
    with qtbot.waitSignal(window.training.run_finished, timeout=120_000):
        window.training.retrain()
    latest = window.project.predictions.latest_run(RunKind.CLASSIFIER)
    assert latest != 2
    qtbot.waitUntil(lambda: not panel.is_busy() and panel.colouring() is not None
                    and panel.points().prediction_run == latest, timeout=30_000)
    assert panel.layout_kind() == "tsne"  # the same encoder: the cached layout


def test_map_says_what_to_do_without_an_encoder(open_window, tmp_path: Path, qtbot) -> None:
    from core.demo_project import create_demo_project

    template = tmp_path / "fresh"
    create_demo_project(template, n_images=6, size=32, workers=1)
    win = open_window(template)
    win.embedding_map.dock.raise_()
    panel = win.embedding_map.panel
    # core's reason, then the window's own action
    shown = f"{NO_ENCODER} Press Retrain (Ctrl+R) to pretrain the encoder."
    qtbot.waitUntil(lambda: panel.message.text() == shown and not panel.is_busy(), timeout=20_000)
    assert panel.layout_kind() is None and not panel.label_button.isEnabled()
