"""Undo and redo of masks and labels go on after the project is closed and reopened,
unless the event log says the image changed elsewhere in between."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.demo_project import create_demo_project
from core.store import Project
from labelapp.editor import ImageEditor
from labelapp.editor.history_file import history_path

LEFT, NONE = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    create_demo_project(root, n_images=4, size=96, workers=1)
    return root


def _editor(qtbot, project: Project) -> ImageEditor:
    editor = ImageEditor()
    qtbot.addWidget(editor)
    editor.resize(1000, 560)
    editor.show()
    editor.set_project(project)
    editor.set_tool("brush")
    return editor


def _show(qtbot, editor: ImageEditor, image_id: int) -> None:
    with qtbot.waitSignal(editor.image_shown, timeout=5000):
        editor.show_image(image_id)


def _drag(qtbot, editor: ImageEditor, points: list[tuple[float, float]]) -> None:
    at = [editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint() for x, y in points]
    qtbot.mousePress(editor.canvas, LEFT, NONE, at[0])
    for point in at[1:]:
        qtbot.mouseMove(editor.canvas, point)
    qtbot.mouseRelease(editor.canvas, LEFT, NONE, at[-1])


def _first_session(qtbot, root: Path) -> tuple[int, int, int, np.ndarray]:
    """Paints two strokes on image A and labels image B, then closes. Returns A, B, the
    class B got and A's mask after the first stroke."""
    project = Project.open(root)
    editor = _editor(qtbot, project)
    a, b = (image.id for image in project.images.list()[:2])
    cls = project.classes.list()[1].id
    _show(qtbot, editor, a)
    _drag(qtbot, editor, [(10, 20), (60, 20)])
    after_first = editor.current_mask().copy()
    _drag(qtbot, editor, [(10, 70), (60, 70)])
    editor.labels.write_labels([(b, cls)])  # what a label key does
    editor.shutdown()  # saves the mask, then the histories
    assert project.masks.info(a) is not None and history_path(project).is_file()
    project.close()
    return a, b, cls, after_first


def test_mask_and_label_undo_survive_closing_the_project(qtbot, root: Path) -> None:
    a, b, cls, after_first = _first_session(qtbot, root)
    project = Project.open(root)
    assert project.labels.get(b).class_id == cls
    editor = _editor(qtbot, project)
    _show(qtbot, editor, a)
    assert editor.undo()  # the second stroke, painted before the close
    assert (editor.current_mask() == after_first).all()
    editor.flush()
    assert (project.masks.load(a) == after_first).all()
    assert editor.undo() and not editor.undo()  # the first stroke; then nothing is left
    editor.flush()
    assert project.masks.info(a) is None  # A had no mask before the first session
    assert editor.redo()
    editor.flush()
    assert (project.masks.load(a) == after_first).all()
    _show(qtbot, editor, b)
    assert editor.undo()
    assert project.labels.get(b) is None
    editor.shutdown()
    project.close()


def test_an_image_changed_elsewhere_loses_its_history_the_others_keep_theirs(qtbot, root: Path) -> None:
    a, b, _cls, _after_first = _first_session(qtbot, root)
    with Project.open(root) as other:  # the command line writes A's mask while the app is closed
        other.masks.save(a, None, actor="someone", source="cli")
    project = Project.open(root)
    editor = _editor(qtbot, project)
    _show(qtbot, editor, a)
    assert not editor.undo()  # its history would undo on top of a mask it never saw
    _show(qtbot, editor, b)
    assert editor.undo() and project.labels.get(b) is None
    editor.shutdown()
    project.close()


def test_a_class_change_elsewhere_drops_every_history(qtbot, root: Path) -> None:
    a, b, _cls, _after_first = _first_session(qtbot, root)
    with Project.open(root) as other:
        other.classes.add("new defect", actor="someone", source="cli")
    project = Project.open(root)
    editor = _editor(qtbot, project)
    _show(qtbot, editor, b)
    assert not editor.undo()
    editor.shutdown()
    project.close()


def test_large_patches_and_joined_label_changes_round_trip(tmp_path: Path) -> None:
    from labelapp.editor.geometry import Box
    from labelapp.editor.history import Histories, LabelChange, MaskEdit, Patch
    from labelapp.editor.history_file import load_histories, save_histories

    big = np.random.default_rng(0).integers(0, 3, (300, 400), dtype=np.uint8)  # compressed when kept
    edit = MaskEdit(Box(0, 0, 400, 300), Patch.of(np.zeros_like(big)), Patch.of(big), origin="proposal:run-7",
                    edited_origin="proposal:run-7:edited")
    histories = Histories()
    history = histories.get(5)
    history.base_had_mask = False
    history.push(edit)
    history.push(LabelChange(5, None, 2, joined=True))
    histories.get(6).redo_stack.append(LabelChange(6, 1, None))
    with Project.create(tmp_path / "p") as project:
        save_histories(project, histories)
        loaded = load_histories(project)
    five = loaded.find(5)
    assert five.base_had_mask is False and five.undo_stack[1] == LabelChange(5, None, 2, joined=True)
    again = five.undo_stack[0]
    assert not isinstance(again.after.data, np.ndarray)  # still compressed
    assert (again.after.array() == big).all() and again.box == edit.box and again.origin == "proposal:run-7"
    assert loaded.find(6).redo_stack == [LabelChange(6, 1, None)] and loaded.find(6).undo_stack == []
