"""The main window as a user drives it: keys, mouse strokes, undo, bad files, the store after each step."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from core.demo_project import create_demo_project
from core.store import Project
from labelapp.shell.main_window import MainWindow

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier
SIZE = 96


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "project"
    create_demo_project(root, n_images=12, size=SIZE, workers=1)
    return root


@pytest.fixture
def window(open_window, demo_template: Path) -> MainWindow:
    return open_window(demo_template)


def store(window: MainWindow) -> Project:
    """A second connection, as another process would see the project."""
    return Project.open(window.project.root)


def key(qtbot, window: MainWindow, text: str) -> None:
    """Presses a key combination such as "Ctrl+Shift+Z" on the window."""
    QTest.keySequence(window, text)


def shown(qtbot, window: MainWindow, image_id: int) -> None:
    qtbot.waitUntil(lambda: window.editor.current_image_id() == image_id)


def widget_point(window: MainWindow, x: float, y: float) -> QPoint:
    return window.editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint()


def stroke(qtbot, window: MainWindow, points: list[tuple[int, int]]) -> None:
    canvas = window.editor.canvas
    qtbot.waitUntil(lambda: canvas.document() is not None)
    qtbot.mousePress(canvas, LEFT, NONE, widget_point(window, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, widget_point(window, *point))
    qtbot.mouseRelease(canvas, LEFT, NONE, widget_point(window, *points[-1]))


def test_class_keys_label_and_advance(qtbot, window: MainWindow) -> None:
    first = window.editor.current_image_id()
    ordered = [int(i) for i in window.grid.ordered_ids()]
    assert first == ordered[0] and window.windowTitle().endswith("project")
    qtbot.keyClick(window, Qt.Key.Key_3)  # class key of "patches"
    shown(qtbot, window, ordered[1])  # advanced to the next image
    with store(window) as project:
        assert project.labels.get(first).class_name == "patches"
        assert project.events.list(image_id=first)[-1].source == "gui"
    qtbot.keyClick(window, Qt.Key.Key_Space)  # OK
    shown(qtbot, window, ordered[2])
    qtbot.keyClick(window, Qt.Key.Key_A)  # back
    shown(qtbot, window, ordered[1])
    with store(window) as project:
        assert project.labels.get(ordered[1]).class_name == "ok"
    qtbot.keyClick(window, Qt.Key.Key_Delete)  # clear: stays on the image
    with store(window) as project:
        assert project.labels.get(ordered[1]) is None
    assert window.editor.current_image_id() == ordered[1]
    qtbot.keyClick(window, Qt.Key.Key_U)  # next unlabeled after ordered[1]
    shown(qtbot, window, ordered[2])
    qtbot.waitUntil(lambda: "1 / 12 labeled" in window.status.counts.text())


def click_tile(qtbot, window: MainWindow, image_id: int, modifier=NONE) -> None:
    view = window.grid.view
    row = view.grid_model().row_of(image_id)
    view.scrollTo(view.model().index(row, 0))
    qtbot.mouseClick(view.viewport(), LEFT, modifier, view.row_rect(row).center())


def test_label_a_grid_selection_with_one_key(qtbot, window: MainWindow) -> None:
    ordered = [int(i) for i in window.grid.ordered_ids()]
    selection = ordered[4:7]
    click_tile(qtbot, window, selection[0])
    shown(qtbot, window, selection[0])  # a click on a tile opens it in the editor
    click_tile(qtbot, window, selection[-1], Qt.KeyboardModifier.ShiftModifier)
    assert sorted(window.grid.selected_ids()) == sorted(selection)
    qtbot.keyClick(window, Qt.Key.Key_2)  # inclusion, for the whole selection
    with store(window) as project:
        assert {project.labels.get(i).class_name for i in selection} == {"inclusion"}
        assert project.summary().labeled == 3
    window.grid.set_filter("unlabeled")
    assert not set(selection) & {int(i) for i in window.grid.ordered_ids()}


def test_paint_undo_redo_across_image_switches(qtbot, window: MainWindow) -> None:
    first = window.editor.current_image_id()
    qtbot.keyClick(window, Qt.Key.Key_1)  # crazing: labels, sets the paint class, advances
    qtbot.keyClick(window, Qt.Key.Key_A)
    shown(qtbot, window, first)
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert window.editor.tool() == "brush"
    stroke(qtbot, window, [(10, 40), (80, 40)])
    key(qtbot, window, "Ctrl+S")
    crazing = window.project.classes.get("crazing").id
    with store(window) as project:
        painted = project.masks.load(first)
        assert painted is not None and painted[40, 20:70].tolist() == [crazing] * 50
        assert painted[5, 5] == 0
    qtbot.keyClick(window, Qt.Key.Key_D)  # switch away and back: the history survives
    qtbot.waitUntil(lambda: window.editor.current_image_id() != first)
    qtbot.keyClick(window, Qt.Key.Key_A)
    shown(qtbot, window, first)
    key(qtbot, window, "Ctrl+Z")
    window.editor.flush()
    with store(window) as project:
        mask = project.masks.load(first)
        assert mask is None or not mask.any()
    key(qtbot, window, "Ctrl+Shift+Z")
    window.editor.flush()
    with store(window) as project:
        assert np.array_equal(project.masks.load(first), painted)
    key(qtbot, window, "Ctrl+Z")  # the stroke
    key(qtbot, window, "Ctrl+Z")  # then the label, the first edit of the session
    with store(window) as project:
        assert project.labels.get(first) is None


def test_missing_and_corrupt_files_are_messages_and_relink_works(qtbot, window: MainWindow, monkeypatch,
                                                                   tmp_path: Path) -> None:
    project = window.project
    images = project.images.list()
    missing, corrupt = images[5], images[6]
    moved = tmp_path / "moved.png"
    original = project.images.resolve(missing)
    shutil.move(original, moved)
    path = project.images.resolve(corrupt)
    path.write_bytes(path.read_bytes()[:200])
    window.labeling.go_to(corrupt.id)
    qtbot.waitUntil(lambda: window.editor.placeholder.isVisible())
    assert "truncated" in window.editor.placeholder.label.text().lower()
    window.labeling.go_to(missing.id)
    qtbot.waitUntil(lambda: "moved" in window.editor.placeholder.label.text().lower()
                    or "missing" in window.editor.placeholder.label.text().lower())
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(moved), ""))
    with qtbot.waitSignal(window.editor.image_shown, timeout=5000):
        window.editor.relink_requested.emit(missing.id)
    assert project.images.get(missing.id).path.endswith("moved.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(project.images.resolve(images[0])), ""))
    window.editor.relink_requested.emit(missing.id)  # a different image is refused, with a message
    assert "different image" in window.status.message_text()
    assert project.images.get(missing.id).path.endswith("moved.png")


def test_help_overlay_and_no_ok_class_message(qtbot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help_overlay.isVisible()
    texts = " ".join(str(e) for e in window.help_overlay.entries())
    assert "crazing" in texts and "Next image" in texts
    qtbot.keyClick(window.help_overlay, Qt.Key.Key_Escape)
    assert not window.help_overlay.isVisible()


def test_open_errors_are_messages(qtbot, window: MainWindow, tmp_path: Path) -> None:
    assert window.open_project(tmp_path / "nothing-here") is False
    assert "Cannot open" in window.status.message_text()
    assert window.project is not None  # the open project stays


def test_retrain_runs_to_completion_while_the_window_stays_usable(qtbot, window: MainWindow) -> None:
    settings = window._settings
    for key, value in (("training/epochs", 1), ("training/size", 48), ("training/batch_size", 8)):
        settings.setValue(key, value)
    qtbot.keyClick(window, Qt.Key.Key_1)  # two classes labeled: the classifier runs after pretraining
    qtbot.keyClick(window, Qt.Key.Key_2)
    ended: list[tuple[str, object]] = []
    window.training.run_finished.connect(lambda result: ended.append(("finished", result)))
    window.training.run_failed.connect(lambda exc: ended.append(("failed", exc)))
    stored: list[tuple[object, int]] = []  # each batch, with how many tiles showed a prediction then
    catalog = window.grid.view.grid_model().catalog
    window.training.predictions_stored.connect(lambda batch: stored.append(
        (batch, int((window.grid.view.grid_model().catalog.pred_class > 0).sum()))))
    shown = window.grid.shown_first()
    QTest.keySequence(window, "Ctrl+R")
    assert window.training_panel.is_running() and window.training.worker_pid() not in (None, os.getpid())
    qtbot.keyClick(window, Qt.Key.Key_D)  # labeling goes on while it trains
    qtbot.waitUntil(lambda: bool(ended), timeout=120000)
    assert ended[0][0] == "finished", ended
    assert ended[0][1].run is not None
    with store(window) as project:
        assert [(r.method, r.status.value) for r in project.runs.list()] == [
            ("pretrain-simclr", "done"), ("classifier", "done")]
        assert project.predictions.count(project.predictions.latest_run()) == project.images.count()
    assert window.training_panel.history.count() == 2
    assert window.grid.view.grid_model().catalog.prediction_run is not None
    # the predictions streamed in before the run ended: the grid's images first, shown batch by batch
    assert stored and stored[0][0].kind == "classifier" and stored[-1][0].complete
    assert set(shown) <= set(stored[0][0].image_ids) and stored[0][1] >= len(shown)
    assert catalog is window.grid.view.grid_model().catalog  # batches went into the grid's catalog, not a reload
    current = window.editor.current_image_id()
    with store(window) as project:
        predicted = project.predictions.get(current).class_id
        assert "predicted" in window.image_info.text()
    window.labeling.auto_advance = False
    qtbot.keyClick(window, Qt.Key.Key_Y)  # accept the prediction
    with store(window) as project:
        assert project.labels.get(current).class_id == predicted
    assert "finished" in window.status.message_text()
    # the thorough path: the box persists, the classifier fine-tunes the encoder first
    settings.setValue("training/finetune_steps", 2)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2):  # two labels per class: cross-validated accuracy in the message
        qtbot.keyClick(window, Qt.Key.Key_D)
        qtbot.keyClick(window, key)
    window.training_panel.thorough_box.setChecked(True)
    ended.clear()
    QTest.keySequence(window, "Ctrl+R")
    qtbot.waitUntil(lambda: bool(ended), timeout=120000)
    assert ended[0][0] == "finished", ended
    assert ended[0][1].run.config["finetune_steps"] == 2
    assert settings.value("training/thorough", type=bool) is True
    assert "validation accuracy" in window.status.message_text()
