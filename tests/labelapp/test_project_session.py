"""One owner of label changes: every label write goes through the project session, which
announces it once with the old and new class of each image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from core.demo_project import create_demo_project
from core.store import ImageNotFoundError, Project
from labelapp.session.changes import LabelsChanged
from labelapp.session.project_session import ProjectSession
from labelapp.shell.main_window import MainWindow


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "project"
    create_demo_project(root, n_images=8, size=48, workers=1)
    return root


def test_a_write_is_announced_once_with_old_and_new_classes(qtbot, template: Path, tmp_path: Path) -> None:
    session = ProjectSession()
    root = tmp_path / "p"
    shutil.copytree(template, root)
    project = session.open(root)
    first, second = project.classes.list()[:2]
    heard: list[LabelsChanged] = []
    session.labels_changed.connect(heard.append)
    session.write_labels([(1, first.id), (2, first.id)])
    session.write_labels([(1, second.id), (2, first.id)], source="gui undo")
    assert [c.image_ids for c in heard] == [(1, 2), (1, 2)]
    assert heard[0].old == {1: None, 2: None} and heard[0].new == {1: first.id, 2: first.id}
    assert heard[1].old == {1: first.id, 2: first.id} and heard[1].changed_ids == [1]
    assert heard[0].undoable and not heard[1].undoable
    with pytest.raises(ImageNotFoundError):  # one transaction: image 3 is not written either
        session.write_labels([(3, first.id), (999, first.id)])
    assert len(heard) == 2 and project.labels.get(3) is None
    session.close()
    with Project.open(root) as again:  # committed: another connection reads it
        assert again.labels.get(1).class_id == second.id


def test_one_key_press_refreshes_the_grid_once_and_undo_goes_through_the_session(
        qtbot, open_window, template: Path, monkeypatch) -> None:
    window: MainWindow = open_window(template)
    window.labeling.auto_advance = False
    image_id = window.editor.current_image_id()
    refreshed: list[object] = []
    real_refresh = window.grid.refresh
    monkeypatch.setattr(window.grid, "refresh", lambda ids: (refreshed.append(ids), real_refresh(ids)))
    heard: list[LabelsChanged] = []
    window.session.labels_changed.connect(heard.append)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert len(heard) == 1 and refreshed == [[image_id]]
    new = heard[0].new[image_id]
    assert heard[0].old == {image_id: None} and window.project.labels.get(image_id).class_id == new
    QTest.keySequence(window, "Ctrl+Z")  # the editor's history heard the write from the session
    assert len(heard) == 2 and heard[1].source == "gui undo" and heard[1].new == {image_id: None}
    assert window.project.labels.get(image_id) is None and refreshed[-1] == [image_id]
    QTest.keySequence(window, "Ctrl+Z")  # the undo itself was not recorded
    assert len(heard) == 2
