"""The background pretraining in the window (labelapp/training/background.py): it runs the
real job in the training process while the project is idle, pauses for a retrain (which
uses its newest checkpoint), resumes after, shows its line in the panel and obeys its toggle."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from core.store import Project
from labelapp.session.project_session import ProjectSession
from labelapp.training.background import CHECKPOINT_KEY, ENABLED_KEY, IDLE_KEY
from labelapp.training.controller import TrainingController
from labelapp.training.panel import TrainingPanel


@pytest.fixture
def window_parts(qtbot, tmp_path: Path, small_classifier_project: Path):
    """(root, session, controller, panel) on a copy of the small classifier project, the
    background pretraining on, starting at once and saving a checkpoint after every chunk."""
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    for key, value in (("training/epochs", 1), ("training/size", 48), ("training/segdec", False),
                       (IDLE_KEY, 0), (CHECKPOINT_KEY, 0)):
        settings.setValue(key, value)
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    session = ProjectSession()
    controller = TrainingController(panel, session, settings)
    yield root, session, controller, panel, settings
    controller.shutdown()
    session.close()


def test_it_pauses_for_a_retrain_that_uses_its_checkpoint_and_resumes(qtbot, window_parts) -> None:
    root, session, controller, panel, settings = window_parts
    background = controller.background
    assert panel.background_box.isChecked()  # on by default
    saved: list[int] = []
    background.checkpoint_saved.connect(saved.append)
    with qtbot.waitSignal(background.checkpoint_saved, timeout=180000):
        session.open(root)
    assert background.is_running()  # it goes on after a checkpoint
    assert re.fullmatch(r"encoder: \d+ epochs, loss \d+\.\d\d(, improving|, levelled off)? — training while idle",
                        panel.encoder_label.text()), panel.encoder_label.text()

    during: list[bool] = []
    panel.progress_shown.connect(lambda _record: during.append(background.is_running()))
    with qtbot.waitSignal(controller.run_finished, timeout=240000) as finished:
        controller.retrain()
        assert controller.is_running() and background.handing_over()  # the retrain waits for the pause
        assert panel.encoder_label.text().endswith("pausing for the job")
    assert during and not any(during)  # never both at once
    result = finished.args[0]
    assert result.pretrain is None and result.classify.run.config["pretrain_run"] == saved[-1]

    paused_at = saved[-1]
    with qtbot.waitSignal(background.checkpoint_saved, timeout=180000):  # idle again: it resumes by itself
        pass
    with Project.open(root) as project:  # a checkpoint after the retrain (more may have come since)
        resumed = project.runs.get(saved[saved.index(paused_at) + 1])
        # its chain leads back to the checkpoint the retrain used (the panel may hear of only some
        # checkpoints: progress records are coalesced, so the next one heard need not be the next one made)
        link = resumed
        while link.id > paused_at and "continues" in link.config:
            link = project.runs.get(link.config["continues"])
        assert link.id == paused_at
        assert resumed.metrics["epochs"] > project.runs.get(paused_at).metrics["epochs"]

    with qtbot.waitSignal(background.stopped, timeout=30000) as stopped:
        panel.background_box.setChecked(False)
    assert stopped.args == ["paused"] and not background.is_running()
    assert panel.encoder_label.text().endswith("— off") and settings.value(ENABLED_KEY, type=bool) is False
    assert not background.start_if_idle() and not background.is_running()  # off: nothing starts


def test_the_line_shows_the_encoder_without_running(qtbot, window_parts) -> None:
    root, session, controller, panel, settings = window_parts
    panel.background_box.setChecked(False)
    session.open(root)
    line = panel.encoder_label.text()
    assert re.fullmatch(r"encoder: 1 epoch, loss \d+\.\d\d — off", line), line
    assert not controller.background.start_if_idle()


def test_the_command_line_continues_the_encoder_for_some_minutes(tmp_path: Path, small_classifier_project: Path,
                                                                 capsys) -> None:
    from labelapp.cli.parser import main

    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    assert main(["pretrain", str(root), "--continue", "--minutes", "0"]) == 0  # one chunk, then a checkpoint
    out = capsys.readouterr().out
    assert re.search(r"^checkpoint: run 3 \(pretrain-simclr\), \d+\.\d epochs, loss \d+\.\d{3}$", out, re.M), out
    assert out.strip().splitlines()[-1].endswith("(time up)")
    with Project.open(root) as project:
        assert project.runs.get(3).config["continues"] == 1
    assert main(["pretrain", str(tmp_path / "none"), "--continue", "--minutes", "1"]) != 0


def test_the_controller_and_its_background_pretraining_are_freed_without_the_garbage_collector(
        qtbot, tmp_path: Path) -> None:
    """No reference cycle between them: the collector could free them on another thread,
    and a QObject deleted off its thread deadlocked the suite once."""
    import gc
    import weakref

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    controller = TrainingController(panel, ProjectSession(), settings)
    refs = (weakref.ref(controller), weakref.ref(controller.background))
    gc.disable()
    try:
        del controller
        assert [ref() is None for ref in refs] == [True, True]
    finally:
        gc.enable()
