"""The window without a project, its default layout, and the layout the user chose coming
back on the next start (the same QSettings file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, QSize, Qt
from PySide6.QtTest import QTest

from core.demo_project import create_demo_project
from labelapp.shell.app import create_main_window
from labelapp.shell.layout import SPLITTER_KEY, STATE_KEY
from labelapp.shell.main_window import MainWindow

PROJECT_ACTIONS = ("train.retrain", "model.export", "project.import", "project.classes", "label.ok",
                   "image.next", "image.next_suggested", "mask.save")
ALWAYS = ("project.new", "project.open", "help.shortcuts", "app.quit")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout") / "project"
    create_demo_project(root, n_images=40, size=64, workers=1)
    return root


@pytest.fixture
def project_root(tmp_path: Path, template: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    return root


def open_window(qtbot, settings_path: Path, project: Path | None, size: QSize | None = None) -> MainWindow:
    window = create_main_window(project, settings=QSettings(str(settings_path), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    if size is not None:
        window.resize(size)
    window.show()
    qtbot.waitExposed(window)
    return window


def project_parts_enabled(window: MainWindow) -> list[bool]:
    """Whether each project action, each dock's content, Retrain and Refresh can be used."""
    return ([window.window_actions.actions[a].isEnabled() for a in PROJECT_ACTIONS]
            + [dock.widget().isEnabled() for dock in window.docks.all()]
            + [window.training_panel.retrain_button.isEnabled(), window.suggestions.refresh_button.isEnabled()])


def test_without_a_project_only_opening_one_is_possible(qtbot, tmp_path: Path, project_root: Path) -> None:
    window = open_window(qtbot, tmp_path / "settings.ini", None)
    assert window.project is None
    assert not any(project_parts_enabled(window))
    assert all(window.window_actions.actions[a].isEnabled() for a in ALWAYS)
    export_labels = next(a for a in window.window_actions.menus["&File"].actions() if a.text() == "Export Labels…")
    assert not export_labels.isEnabled()
    empty = window.message
    assert empty.isVisible() and "No project open" in empty.text() and "demo" in empty.text()
    assert [key for key, b in empty.buttons.items() if b.isVisible()] == ["open", "new", "demo"]
    assert empty.buttons["demo"].isEnabled() and empty.buttons["open"].isEnabled()

    assert window.open_project(project_root)
    assert all(project_parts_enabled(window)) and export_labels.isEnabled()
    assert not window.message.isVisible() and window.grid.isVisible()
    window.close_project()
    assert not any(project_parts_enabled(window)) and window.message.isVisible()
    empty = window.message  # the project just closed is offered again
    recent = [b for b in empty.findChildren(type(empty.buttons["open"])) if b.property("path")]
    assert [Path(b.property("path")) for b in recent] == [project_root]
    qtbot.mouseClick(recent[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.project is not None)
    assert all(project_parts_enabled(window))
    window.close()


def test_the_grid_gets_four_columns_at_1600_px_by_default(qtbot, tmp_path: Path, project_root: Path) -> None:
    window = open_window(qtbot, tmp_path / "settings.ini", project_root, QSize(1600, 1000))
    qtbot.waitUntil(lambda: window.grid.view.columns >= 4)
    editor = window.splitter.sizes()[1]
    assert editor >= 420 and window.summary_dock.width() <= 360
    window.resize(1920, 1080)  # more room: another column, until the user moves the handle
    qtbot.waitUntil(lambda: window.grid.view.columns >= 5)
    window.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert settings.value(STATE_KEY) is not None and settings.value(SPLITTER_KEY) is None  # nothing chosen: fit again


def test_the_training_panel_fits_its_dock_at_1400_px(qtbot, tmp_path: Path, project_root: Path) -> None:
    from PySide6.QtWidgets import QScrollArea, QWidget

    window = open_window(qtbot, tmp_path / "settings.ini", project_root, QSize(1400, 900))
    window.training_dock.raise_()
    scroll = window.findChild(QScrollArea, "training_scroll")
    content = window.findChild(QWidget, "training_content")
    qtbot.waitUntil(lambda: scroll.viewport().width() > 0 and content.width() > 0)
    # no part of the panel (the Retrain row, the check boxes) is wider than the dock shows: nothing clipped
    assert content.minimumSizeHint().width() <= scroll.viewport().width()
    qtbot.waitUntil(lambda: content.width() <= scroll.viewport().width(), timeout=3000)  # once laid out


def test_the_layout_the_user_chose_comes_back(qtbot, tmp_path: Path, project_root: Path) -> None:
    settings = tmp_path / "settings.ini"
    window = open_window(qtbot, settings, project_root, QSize(1500, 950))
    qtbot.waitUntil(lambda: window.grid.view.columns >= 3)
    handle = window.splitter.handle(1)
    start = QPoint(handle.width() // 2, handle.height() // 2)
    QTest.mousePress(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(handle, start - QPoint(220, 0))
    QTest.mouseRelease(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start - QPoint(220, 0))
    qtbot.waitUntil(lambda: not window.layout_state.auto_fit)
    map_dock = window.embedding_map.dock
    window.worth_a_mask_dock.hide()
    map_dock.raise_()  # the tab in front is the one resized
    window.resizeDocks([map_dock], [430], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: map_dock.width() >= 420)
    sizes, dock_width = window.splitter.sizes(), map_dock.width()
    assert window.grid.view.columns <= 2
    window.close()

    # the offscreen screen is 800 px wide, and Qt fits a restored geometry into the screen:
    # the window gets its size back as a real screen would give it
    again = open_window(qtbot, settings, project_root, QSize(1500, 950))
    qtbot.waitUntil(lambda: again.splitter.sizes() == sizes)
    assert again.embedding_map.dock.width() == dock_width
    assert not again.worth_a_mask_dock.isVisible()
    in_front = {dock.objectName() for dock in again.docks.all() if not dock.visibleRegion().isEmpty()}
    assert in_front == {"map_dock", "suggestions_dock"}  # the Map tab as the user left it
    assert not again.layout_state.auto_fit  # a resize keeps the user's split
    again.close()



def test_create_the_demo_from_the_empty_window(qtbot, tmp_path: Path) -> None:
    from labelapp.project.demo_dialog import DemoProjectDialog

    window = open_window(qtbot, tmp_path / "settings.ini", None)
    qtbot.mouseClick(window.message.buttons["demo"], Qt.MouseButton.LeftButton)
    dialog = window.findChild(DemoProjectDialog)
    assert dialog is not None and dialog.isVisible()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    dialog.folder_edit.setText(str(tmp_path / "full"))  # a folder with files in it is refused, untouched
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "new or empty folder" in dialog.status_label.text() and not dialog.is_running()
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    dialog.folder_edit.setText(str(tmp_path / "demo"))
    dialog.images_spin.setValue(24)
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.project is not None, timeout=60_000)
    assert window.project.root == tmp_path / "demo" and window.project.images.count() == 24
    assert all(project_parts_enabled(window)) and window.grid.model.rowCount() == 24
    assert (tmp_path / "demo" / "truth" / "labels.csv").is_file()
    window.close()
