"""Stale runs in the training panel of the main window: marks after a label change, and the
warning while a run trains on labels that change under it. The history and its exact
marks are read off the GUI thread: the tests wait until it is shown."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from core.demo_project import create_demo_project
from core.jobs import Progress, RunRecorder, take_snapshot
from core.store import Project, Run
from labelapp.shell.app import create_main_window
from labelapp.shell.main_window import MainWindow
from labelapp.training.panel import FINISHED_STALE, RUNNING_STALE, STALE_MARK


@dataclass(frozen=True)
class Result:
    run: Run | None
    cancelled: bool = False
    seconds: float = 0.0


def record_run(root: Path) -> Run:
    with Project.open(root) as project, RunRecorder(project, method="classifier", config={},
                                                    snapshot=take_snapshot(project), seed=0) as recorder:
        return recorder.finish(metrics={"labeled": len(project.labels.all())})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "project"
    create_demo_project(root, n_images=8, size=48, workers=1)
    return root


@pytest.fixture
def window(qtbot, tmp_path: Path, template: Path) -> Iterator[MainWindow]:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    record_run(root)
    win = create_main_window(root, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: win.editor.current_image_id() is not None)
    wait_for_history(qtbot, win)
    yield win
    win.close()


def wait_for_history(qtbot, window: MainWindow) -> None:
    """Until the history read off the GUI thread is shown."""
    qtbot.waitUntil(lambda: not window.training.history_pending(), timeout=10000)


def history_texts(window: MainWindow) -> list[str]:
    history = window.training_panel.history
    return [history.item(row).text() for row in range(history.count())]


def test_a_label_change_after_a_run_marks_it_stale(qtbot, window: MainWindow) -> None:
    assert len(history_texts(window)) == 1 and STALE_MARK not in history_texts(window)[0]
    qtbot.keyClick(window, Qt.Key.Key_3)  # labels the current image
    assert STALE_MARK in history_texts(window)[0]
    assert window.training_panel.stale_ids() == {window.training_panel.runs()[0].id}
    with qtbot.waitSignal(window.training.history_shown, timeout=10000):
        window.training.show_history()  # reopened history: exact again, still stale
    assert STALE_MARK in history_texts(window)[0]


def test_labeling_while_a_run_trains_warns_that_it_will_be_stale(qtbot, window: MainWindow) -> None:
    root, panel = window.project.root, window.training_panel
    snapshot_taken, gate = threading.Event(), threading.Event()

    def job(cancel: threading.Event):
        with Project.open(root) as project, RunRecorder(project, method="classifier", config={},
                                                        snapshot=take_snapshot(project), seed=0) as recorder:
            snapshot_taken.set()
            yield Progress(phase="classifier", step=0, total=1)
            gate.wait(20)
            return Result(run=recorder.finish(metrics={}))

    qtbot.keyClick(window, Qt.Key.Key_1)  # before the run's snapshot: the run includes it
    window.training.start(job, title="training")
    qtbot.waitUntil(snapshot_taken.is_set)
    assert not not panel.stale_label.isHidden()
    try:
        qtbot.keyClick(window, Qt.Key.Key_2)  # after it: the run in progress will be stale
        qtbot.waitUntil(lambda: not panel.stale_label.isHidden(), timeout=10000)  # the digest, read off the GUI
        assert panel.stale_label.text() == RUNNING_STALE
    finally:
        with qtbot.waitSignal(window.training.run_finished, timeout=20000) as blocker:
            gate.set()
    new_run = blocker.args[0].run
    wait_for_history(qtbot, window)
    assert not panel.stale_label.isHidden() and panel.stale_label.text() == FINISHED_STALE
    texts = history_texts(window)  # newest first: the new run, then the one from before
    assert texts[0].startswith(f"#{new_run.id} ") and STALE_MARK in texts[0] and STALE_MARK in texts[1]


def test_a_run_that_saw_every_label_is_not_stale(qtbot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert STALE_MARK in history_texts(window)[0]
    root, panel = window.project.root, window.training_panel
    with qtbot.waitSignal(window.training.run_finished, timeout=20000):
        window.training.start(lambda cancel: iter_result(root), title="training")
    wait_for_history(qtbot, window)
    texts = history_texts(window)
    assert STALE_MARK not in texts[0] and STALE_MARK in texts[1]
    assert not not panel.stale_label.isHidden()


def iter_result(root: Path):
    yield Progress(phase="classifier", step=0, total=1)
    return Result(run=record_run(root))
