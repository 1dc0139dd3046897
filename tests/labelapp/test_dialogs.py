"""Dialogs on real widgets and a real store: the job runner, import, new project,
class settings, shortcut settings and the keyboard help."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QLineEdit, QMainWindow, QMessageBox

from core.demo import ALL_CLASSES, DemoManifest
from core.importing import ImportOptions, import_folder
from core.store import ClassKind, Project
from labelapp.jobs.runner import JobRunner
from labelapp.project.class_settings import (
    COL_COLOR,
    COL_KEY,
    COL_KIND,
    COL_NAME,
    ClassSettingsDialog,
    KeyCaptureButton,
)
from labelapp.project.import_progress import ImportProgressDialog
from labelapp.project.new_project import NewProjectDialog
from labelapp.shortcuts.help_overlay import HelpOverlay
from labelapp.shortcuts.keymap import ACTIONS, ShortcutMap, class_keys
from labelapp.shortcuts.settings_dialog import ShortcutSettingsDialog

WHO = {"actor": "tester", "source": "test"}


# -- the job runner ------------------------------------------------------------------
def counting_job(n: int, threads: list[int]):
    def job(cancel: threading.Event) -> Generator[int, None, str]:
        threads.append(threading.get_ident())
        for i in range(n):
            if cancel.is_set():
                return f"stopped at {i}"
            yield i
        return "done"

    return job


def test_job_runner_drains_a_generator_on_a_worker_thread_and_throttles_progress(qtbot) -> None:
    threads: list[int] = []
    runner = JobRunner(counting_job(200_000, threads))
    seen: list[int] = []
    runner.progressed.connect(seen.append)
    started = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.start()
        assert runner.is_running()
    elapsed = time.monotonic() - started
    assert finished.args == ["done"]
    assert threads and threads[0] != threading.get_ident()
    assert seen[-1] == 199_999  # the last progress is always delivered
    assert len(seen) <= elapsed / 0.05 + 2 and seen == sorted(seen)  # about 20 a second at most
    assert not runner.is_running() and runner.wait(0)


def test_job_runner_cancel_ends_through_finished_and_errors_through_failed(qtbot) -> None:
    def endless(cancel: threading.Event) -> Generator[int, None, str]:
        i = 0
        while not cancel.is_set():
            i += 1
            yield i
        return "cancelled"

    runner = JobRunner(endless)
    runner.progressed.connect(lambda _p: runner.cancel())
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.start()
    assert finished.args == ["cancelled"]

    def broken(cancel: threading.Event) -> Generator[int, None, None]:
        yield 1
        raise ValueError("bad input")

    failing = JobRunner(broken)
    with qtbot.waitSignal(failing.failed, timeout=10_000) as failed:
        failing.start()
    assert isinstance(failed.args[0], ValueError) and str(failed.args[0]) == "bad input"


# -- import ------------------------------------------------------------------------
@pytest.fixture()
def import_source(demo_folders: DemoManifest, tmp_path: Path) -> Path:
    """The demo images in class folders plus one broken file."""
    source = tmp_path / "source"
    shutil.copytree(demo_folders.root / "images", source)
    (source / "ok" / "broken.png").write_bytes(b"\x89PNG not really")
    return source


def test_import_dialog_imports_in_a_worker_thread_and_shows_the_counts(qtbot, import_source: Path,
                                                                         tmp_path: Path) -> None:
    dialog = ImportProgressDialog(tmp_path / "project", import_source,
                                  ImportOptions(labels_from_folders=True, ok_class="ok", workers=1, batch=8))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.import_finished, timeout=15_000):
        dialog.start()
    report = dialog.report
    assert report is not None and report.added == 42 and len(report.failed) == 1
    assert (dialog.progress_bar.value(), dialog.progress_bar.maximum()) == (43, 43)
    summary = dialog.summary_label.text()
    assert "Imported 42 new images" in summary and "1 unreadable file skipped" in summary
    assert "42 images labeled" in summary
    assert dialog.close_button.isVisible() and not dialog.cancel_button.isVisible()
    assert not dialog.details_text.isVisible()
    qtbot.mouseClick(dialog.details_button, Qt.MouseButton.LeftButton)
    assert dialog.details_text.isVisible() and "broken.png" in dialog.details_text.toPlainText()
    with Project.open(tmp_path / "project") as project:
        assert project.images.count() == 42
        assert project.classes.get("ok").kind is ClassKind.OK
        assert project.summary().labeled == 42


def test_cancelling_an_import_keeps_the_committed_batches(qtbot, import_source: Path, tmp_path: Path) -> None:
    dialog = ImportProgressDialog(tmp_path / "project", import_source, ImportOptions(workers=1, batch=8))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.import_finished, timeout=15_000):
        dialog.start()
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert not dialog.cancel_button.isEnabled()
    report = dialog.report
    assert report.cancelled and 0 < report.added < 42
    assert "Cancelled" in dialog.summary_label.text()
    with Project.open(tmp_path / "project") as project:
        assert project.images.count() == report.added


# -- new project ---------------------------------------------------------------------
def test_new_project_dialog_previews_the_folder_and_builds_the_request(qtbot, demo_folders: DemoManifest) -> None:
    images = demo_folders.root / "images"
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.image_edit.setText(str(images))
    assert dialog.project_edit.text() == str(demo_folders.root / "images-labels")
    qtbot.waitUntil(lambda: dialog.preview is not None and dialog.preview.done, timeout=10_000)
    assert dialog.preview_label.text() == "42 images in 7 sub-folders"
    assert not dialog.ok_combo.isEnabled()
    dialog.labels_check.setChecked(True)
    assert dialog.ok_combo.isEnabled()
    assert [dialog.ok_combo.itemText(i) for i in range(dialog.ok_combo.count())] == ["(none)", *sorted(ALL_CLASSES)]
    assert dialog.ok_combo.currentText() == "ok"
    dialog.masks_combo.setCurrentIndex(2)
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "masks" in dialog.error_label.text() and dialog.isVisible()
    dialog.masks_edit.setText(str(demo_folders.root / "masks"))
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == NewProjectDialog.DialogCode.Accepted
    request = dialog.request()
    assert request.project_dir == demo_folders.root / "images-labels" and not request.into_existing
    assert request.options.labels_from_folders and request.options.ok_class == "ok"
    assert request.options.masks == demo_folders.root / "masks"


def test_new_project_dialog_offers_to_import_into_an_existing_project(qtbot, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    PILImage.new("L", (8, 8)).save(tmp_path / "imgs" / "a.png")
    Project.create(tmp_path / "existing").close()
    dialog = NewProjectDialog(image_folder=tmp_path / "nowhere")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "existing folder of images" in dialog.error_label.text()
    dialog.image_edit.setText(str(tmp_path / "imgs"))
    qtbot.keyClicks(dialog.project_edit, "x")  # a user edit: the default no longer follows the image folder
    dialog.project_edit.setText(str(tmp_path / "existing"))
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.existing_box.isVisible() and "already holds a project" in dialog.existing_box.text()
    qtbot.mouseClick(dialog.existing_box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert dialog.result() == NewProjectDialog.DialogCode.Accepted and dialog.request().into_existing


# -- class settings ------------------------------------------------------------------
@pytest.fixture()
def project(tmp_path: Path) -> Project:
    """Four images; ok (0), scratch (1), pit (2); pit labels and a mask with pit pixels."""
    source = tmp_path / "source"
    source.mkdir()
    for i in range(4):
        PILImage.new("L", (16, 12), color=40 * i + 20).save(source / f"im{i}.png")
    p = Project.create(tmp_path / "project")
    for name, kind in (("ok", ClassKind.OK), ("scratch", ClassKind.DEFECT), ("pit", ClassKind.DEFECT)):
        p.classes.add(name, kind=kind, **WHO)
    import_folder(p, source, ImportOptions(workers=1))
    p.labels.set_many([1, 2], "pit", **WHO)
    p.labels.set(3, "scratch", **WHO)
    mask = np.zeros((12, 16), dtype=np.uint8)
    mask[2:5, 3:7] = p.classes.get("pit").id
    mask[8:10, 0:2] = p.classes.get("scratch").id
    p.masks.save(1, mask, **WHO)
    yield p
    p.close()


@pytest.fixture()
def class_dialog(qtbot, project: Project) -> ClassSettingsDialog:
    dialog = ClassSettingsDialog(project, reserved={"D": "Next image"})
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def row(dialog: ClassSettingsDialog, project: Project, name: str) -> int:
    return dialog.row_of(project.classes.get(name).id)


def test_class_settings_rename_recolour_and_kind_go_to_the_store(qtbot, class_dialog: ClassSettingsDialog,
                                                                  project: Project) -> None:
    table = class_dialog.table
    item = table.item(row(class_dialog, project, "pit"), COL_NAME)
    table.setCurrentItem(item)
    table.editItem(item)
    editor = table.findChild(QLineEdit)
    editor.selectAll()
    with qtbot.waitSignal(class_dialog.classes_changed):
        qtbot.keyClicks(editor, "pitting")
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert project.classes.find("pitting") is not None and project.classes.find("pit") is None
    assert project.labels.get(1).class_name == "pitting"

    item = table.item(row(class_dialog, project, "pitting"), COL_NAME)
    item.setText("scratch")  # taken: refused inline, the table shows the store again
    assert "already exists" in class_dialog.message_label.text()
    assert item.text() == "pitting"

    qtbot.mouseClick(table.cellWidget(row(class_dialog, project, "scratch"), COL_COLOR), Qt.MouseButton.LeftButton)
    assert class_dialog.color_dialog.isVisible()
    class_dialog.color_dialog.setCurrentColor(QColor("#123456"))
    class_dialog.color_dialog.accept()
    assert project.classes.get("scratch").color == "#123456"

    kind = table.cellWidget(row(class_dialog, project, "scratch"), COL_KIND)
    kind.setCurrentIndex(kind.findData("ok"))
    assert project.classes.get("scratch").kind is ClassKind.OK


def test_class_settings_key_capture_refuses_a_taken_key(qtbot, class_dialog: ClassSettingsDialog,
                                                        project: Project) -> None:
    def key_button() -> KeyCaptureButton:
        return class_dialog.table.cellWidget(row(class_dialog, project, "pit"), COL_KEY)

    qtbot.mouseClick(key_button(), Qt.MouseButton.LeftButton)
    assert key_button().is_capturing()
    qtbot.keyClick(key_button(), Qt.Key.Key_7)
    assert project.classes.get("pit").shortcut == "7" and key_button().text() == "7"

    qtbot.mouseClick(key_button(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(key_button(), Qt.Key.Key_0)
    assert "0 is already the key of class 'ok'" in class_dialog.message_label.text()
    qtbot.mouseClick(key_button(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(key_button(), Qt.Key.Key_D)
    assert "Next image" in class_dialog.message_label.text()
    assert project.classes.get("pit").shortcut == "7"


def test_class_settings_merge_moves_labels_and_mask_pixels(qtbot, class_dialog: ClassSettingsDialog,
                                                           project: Project) -> None:
    scratch_id = project.classes.get("scratch").id
    class_dialog.table.selectRow(row(class_dialog, project, "pit"))
    assert not class_dialog.remove_button.isEnabled()  # in use: merge instead
    assert "2 images and 1 mask" in class_dialog.remove_button.toolTip()
    actions = {a.text(): a for a in class_dialog.merge_button.menu().actions()}
    assert set(actions) == {"ok", "scratch"}
    actions["scratch"].trigger()
    box = class_dialog.confirm_box
    assert box.isVisible() and "2 labels and 1 mask" in box.informativeText()
    with qtbot.waitSignal(class_dialog.classes_changed):
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert project.classes.find("pit") is None and class_dialog.table.rowCount() == 2
    assert {lab.class_id for lab in project.labels.all().values()} == {scratch_id}
    mask = project.masks.load(1)
    assert np.count_nonzero(mask == scratch_id) == 3 * 4 + 2 * 2 and set(np.unique(mask)) == {0, scratch_id}
    assert "Merged 'pit' into 'scratch'" in class_dialog.message_label.text()


def test_class_settings_add_remove_and_order(qtbot, class_dialog: ClassSettingsDialog, project: Project) -> None:
    qtbot.mouseClick(class_dialog.add_button, Qt.MouseButton.LeftButton)
    added = project.classes.find("new class")
    assert added is not None and class_dialog.selected_id() == added.id
    qtbot.mouseClick(class_dialog.up_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in project.classes.list()] == ["ok", "scratch", "new class", "pit"]
    assert class_dialog.remove_button.isEnabled()
    with qtbot.waitSignal(class_dialog.classes_changed):
        qtbot.mouseClick(class_dialog.remove_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in project.classes.list()] == ["ok", "scratch", "pit"]
    assert class_dialog.table.rowCount() == 3


# -- shortcuts -----------------------------------------------------------------------
@pytest.fixture()
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_actions_have_the_listed_ids_and_no_default_conflicts(settings: QSettings) -> None:
    ids = [a.id for a in ACTIONS]
    assert len(ids) == len(set(ids)) == 45
    by_id = {a.id: a for a in ACTIONS}
    assert by_id["train.retrain"].defaults == ("Ctrl+R",)
    assert by_id["image.next"].defaults == ("D", "Right") and by_id["edit.redo"].defaults == ("Ctrl+Shift+Z", "Ctrl+Y")
    assert by_id["help.shortcuts"].defaults == ("?", "F1") and by_id["view.zoom_in"].group == "View"
    assert ShortcutMap(settings).conflicts(reserved={str(i): f"class {i}" for i in range(10)}) == []


def test_shortcut_map_persists_overrides_and_finds_conflicts(settings: QSettings, tmp_path: Path) -> None:
    shortcuts = ShortcutMap(settings)
    shortcuts.set_keys("image.next", ["M", QKeySequence("Right")])
    shortcuts.set_keys("tool.fill", ["1"])
    shortcuts.set_keys("tool.pan", [])
    again = ShortcutMap(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert [k.toString() for k in again.keys("image.next")] == ["M", "Right"]
    assert again.keys("tool.pan") == []
    assert [k.toString() for k in again.keys("tool.brush")] == ["B"]
    assert again.conflicts(reserved={"1": "class crazing"}) == [("1", "class crazing", "tool.fill")]
    again.set_keys("tool.brush", ["m"])
    assert again.conflicts() == [("M", "image.next", "tool.brush")]
    again.reset("tool.brush")
    assert not again.conflicts() and again.is_default("tool.brush")
    again.reset()
    assert [k.toString() for k in ShortcutMap(settings).keys("image.next")] == ["D", "Right"]


def test_shortcut_dialog_shows_conflicts_inline_and_saves(qtbot, settings: QSettings) -> None:
    shortcuts = ShortcutMap(settings)
    dialog = ShortcutSettingsDialog(shortcuts, {"1": "class crazing"})
    qtbot.addWidget(dialog)
    dialog.show()
    eraser = dialog.editors["tool.eraser"][0]
    eraser.setKeySequence(QKeySequence("B"))
    assert "B is also Brush" in dialog.warning_labels["tool.eraser"].text()
    assert dialog.warning_labels["tool.brush"].text() and not dialog.save_button.isEnabled()
    dialog.editors["tool.pan"][1].setKeySequence(QKeySequence("1"))
    assert "class crazing" in dialog.warning_labels["tool.pan"].text()
    assert "2 key conflicts" in dialog.summary_label.text()
    qtbot.mouseClick(dialog.reset_all_button, Qt.MouseButton.LeftButton)
    assert dialog.save_button.isEnabled() and not dialog.warning_labels["tool.eraser"].text()
    dialog.editors["image.next"][0].setKeySequence(QKeySequence("M"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert [k.toString() for k in shortcuts.keys("image.next")] == ["M", "Right"]
    assert shortcuts.is_default("tool.eraser")


def test_help_overlay_lists_the_current_keys_and_closes(qtbot, settings: QSettings, project: Project) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    shortcuts = ShortcutMap(settings)
    shortcuts.set_keys("image.next", ["M"])
    overlay = HelpOverlay(window)
    overlay.show_for(shortcuts, project.classes.list())
    assert overlay.isVisible() and overlay.geometry() == window.rect()
    entries = overlay.entries()
    assert ("Navigate", "M", "Next image") in entries
    assert ("Classes", "2", "pit") in entries and ("Classes", "0", "ok") in entries
    with qtbot.waitSignal(overlay.closed):
        qtbot.keyClick(overlay, Qt.Key.Key_Escape)
    assert not overlay.isVisible()
    overlay.show_for(shortcuts, project.classes.list())
    with qtbot.waitSignal(overlay.closed):
        qtbot.mouseClick(overlay, Qt.MouseButton.LeftButton)
    help_action = QAction("help", window)
    help_action.setShortcuts(shortcuts.keys("help.shortcuts"))
    window.addAction(help_action)
    triggered: list[bool] = []
    help_action.triggered.connect(lambda: triggered.append(True))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert triggered == [True]  # the window's shortcut works while the overlay is hidden
    overlay.show_for(shortcuts, project.classes.list())
    with qtbot.waitSignal(overlay.closed):
        qtbot.keyClick(overlay, Qt.Key.Key_F1)  # the help key closes it instead of reopening it
    assert triggered == [True] and not overlay.isVisible()
    assert class_keys(project.classes.list()) == {"0": "class ok", "1": "class scratch", "2": "class pit"}
