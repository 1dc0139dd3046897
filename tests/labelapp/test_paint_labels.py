"""Painting in the main window: the editor starts with a tool that does not paint, keeps
the tool the user chose, and a mask painted on an unlabeled (or OK) image labels it with
the paint class, undone together with the stroke."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from core.demo_project import create_demo_project
from core.store import Project
from labelapp.shell.main_window import MainWindow

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paint-template") / "project"
    create_demo_project(root, n_images=8, size=96, workers=1)
    return root


@pytest.fixture
def window(open_window, template: Path) -> MainWindow:
    win = open_window(template)
    win.labeling.auto_advance = False
    return win


def store(window: MainWindow) -> Project:
    """A second connection, as another process would see the project."""
    return Project.open(window.project.root)


def point(window: MainWindow, x: float, y: float) -> QPoint:
    return window.editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint()


def stroke(qtbot, window: MainWindow, points: list[tuple[int, int]]) -> None:
    canvas = window.editor.canvas
    qtbot.waitUntil(lambda: canvas.document() is not None)
    qtbot.mousePress(canvas, LEFT, NONE, point(window, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(canvas, point(window, *p))
    qtbot.mouseRelease(canvas, LEFT, NONE, point(window, *points[-1]))


def label_of(window: MainWindow, image_id: int) -> str | None:
    with store(window) as project:
        label = project.labels.get(image_id)
    return None if label is None else label.class_name


def stored_mask(window: MainWindow, image_id: int) -> np.ndarray | None:
    window.editor.flush()
    with store(window) as project:
        return project.masks.load(image_id)


def test_a_click_or_drag_with_the_default_tool_paints_nothing(qtbot, window: MainWindow) -> None:
    editor, first = window.editor, window.editor.current_image_id()
    assert editor.tool() == "pan" and editor.toolbar.tool_actions["pan"].isChecked()
    qtbot.waitUntil(lambda: editor.canvas.document() is not None)
    before = editor.current_mask().copy()
    qtbot.mouseClick(editor.canvas, LEFT, NONE, point(window, 40, 40))  # a click to focus or to look
    stroke(qtbot, window, [(20, 20), (60, 60)])
    assert np.array_equal(editor.current_mask(), before) and not before.any()
    assert stored_mask(window, first) is None and label_of(window, first) is None
    with store(window) as project:
        assert project.masks.info(first) is None


def test_the_chosen_tool_stays_across_images(qtbot, window: MainWindow) -> None:
    editor = window.editor
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert editor.tool() == "eraser"
    first = editor.current_image_id()
    qtbot.keyClick(window, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: editor.current_image_id() != first)
    assert editor.tool() == "eraser" and editor.toolbar.tool_actions["eraser"].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_B)
    qtbot.keyClick(window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: editor.current_image_id() == first)
    assert editor.tool() == "brush"


def test_painting_an_unlabeled_image_labels_it_and_ctrl_z_undoes_both(qtbot, window: MainWindow) -> None:
    editor, image_id = window.editor, window.editor.current_image_id()
    crazing = window.project.classes.get("crazing").id
    assert label_of(window, image_id) is None and editor.paint_class() == crazing
    qtbot.keyClick(window, Qt.Key.Key_B)
    stroke(qtbot, window, [(10, 30), (70, 30)])
    assert label_of(window, image_id) == "crazing"
    assert editor.current_image_id() == image_id  # painting never moves on
    assert "Labeled crazing" in window.status.message_text() and "Ctrl+Z undoes both" in window.status.message_text()
    assert window.grid.model.tile(window.grid.model.row_of(image_id)).label.id == crazing
    painted = stored_mask(window, image_id)
    assert painted is not None and painted[30, 20:60].tolist() == [crazing] * 40
    stroke(qtbot, window, [(10, 70), (70, 70)])  # a second stroke: the label is already there
    with store(window) as project:
        assert [e.kind for e in project.events.list(image_id=image_id)].count("label") == 1

    QTest.keySequence(window, "Ctrl+Z")  # the second stroke only
    assert label_of(window, image_id) == "crazing" and np.array_equal(stored_mask(window, image_id), painted)
    QTest.keySequence(window, "Ctrl+Z")  # the first stroke and the label it set, at once
    assert label_of(window, image_id) is None
    assert not editor.current_mask().any()
    assert stored_mask(window, image_id) is None  # no mask at all, as before: not an empty one
    with store(window) as project:
        assert project.masks.info(image_id) is None
    assert window.grid.model.tile(window.grid.model.row_of(image_id)).label is None
    QTest.keySequence(window, "Ctrl+Shift+Z")  # redo brings both back
    assert label_of(window, image_id) == "crazing" and np.array_equal(stored_mask(window, image_id), painted)


def test_painting_a_defect_on_an_ok_image_relabels_it(qtbot, window: MainWindow) -> None:
    editor, image_id = window.editor, window.editor.current_image_id()
    qtbot.keyClick(window, Qt.Key.Key_Space)  # OK
    assert label_of(window, image_id) == "ok"
    editor.set_paint_class(window.project.classes.get("scratches").id)
    qtbot.keyClick(window, Qt.Key.Key_B)
    stroke(qtbot, window, [(20, 50), (60, 50)])
    assert label_of(window, image_id) == "scratches"
    assert "Relabeled from ok to scratches" in window.status.message_text()
    QTest.keySequence(window, "Ctrl+Z")
    assert label_of(window, image_id) == "ok" and stored_mask(window, image_id) is None
    QTest.keySequence(window, "Ctrl+Z")  # then the OK label, the first change of the session
    assert label_of(window, image_id) is None


def test_painting_another_defect_class_keeps_the_label(qtbot, window: MainWindow) -> None:
    editor, image_id = window.editor, window.editor.current_image_id()
    qtbot.keyClick(window, Qt.Key.Key_2)  # inclusion; the paint class follows the label
    inclusion, crazing = (window.project.classes.get(n).id for n in ("inclusion", "crazing"))
    assert editor.paint_class() == inclusion
    editor.set_paint_class(crazing)  # a crack beside the inclusion
    qtbot.keyClick(window, Qt.Key.Key_B)
    stroke(qtbot, window, [(20, 50), (60, 50)])
    assert label_of(window, image_id) == "inclusion"
    assert set(np.unique(stored_mask(window, image_id))) == {0, crazing}
    qtbot.keyClick(window, Qt.Key.Key_E)  # erasing labels nothing either
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    stroke(qtbot, window, [(20, 50), (60, 50)])
    assert label_of(window, image_id) is None
