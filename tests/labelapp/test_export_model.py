"""Exporting a model from the command line and the window, and predicting with the exported
folder alone (``labelapp predict``): a real project, a real process per command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from core.store import Project
from labelapp.cli.parser import main
from labelapp.export.model_dialog import ExportModelDialog
from labelapp.shell.app import create_main_window
from labelapp.shell.main_window import MainWindow


def labelapp(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-m", "labelapp", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, train_small_classifier) -> Path:
    """42 images at 64 px, 28 labeled, one classifier run (2) on a 1-epoch encoder (run 1)."""
    return train_small_classifier(tmp_path_factory.mktemp("export-model") / "project")


def test_export_model_then_predict_without_the_project(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    exported = labelapp("export-model", trained, "--format", "torchscript", "--out", out, "--sample", 12)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "model.pt" in exported.stdout and "on 12 project images" in exported.stdout
    assert sorted(p.name for p in out.iterdir()) == ["classes.txt", "model.pt", "model_card.json"]

    images = tmp_path / "images"
    shutil.copytree(trained / "images", images)
    (images / "corrupt.png").write_bytes((images / "img_00000.png").read_bytes()[:150])
    shutil.rmtree(trained.parent / "project-moved", ignore_errors=True)
    moved = trained.parent / "project-moved"  # the project is not needed: hide it
    trained.rename(moved)
    try:
        answer = labelapp("predict", out, images / "img_00003.png", images, "--json", "--batch", 8)
    finally:
        moved.rename(trained)
    assert answer.returncode == 0, answer.stderr[-3000:]
    report = json.loads(answer.stdout)
    assert [s["path"] for s in report["skipped"]] == [str(images / "corrupt.png")]
    assert "truncated" in report["skipped"][0]["error"]
    predicted = report["predictions"]
    assert len(predicted) == 1 + 42 and predicted[0]["path"] == str(images / "img_00003.png")
    with Project.open(trained) as project:
        stored = {Path(project.images.get(p.image_id).path).name: p for p in
                  (project.predictions.get(i.id, 2) for i in project.images.list())}
        names = {c.id: c.name for c in project.classes.list()}
    for row in predicted[1:]:
        truth = stored[Path(row["path"]).name]
        assert row["class"] == names[truth.class_id]
        assert np.allclose(list(row["probabilities"].values()), truth.probabilities, atol=1e-4)
        assert row["confidence"] == max(row["probabilities"].values())


def test_predict_fails_when_no_image_can_be_read(trained: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(trained) as project:
        from core.export.model import export_model

        export_model(project, fmt="torchscript", out_dir=tmp_path / "model", sample=4)
    (tmp_path / "empty.png").write_bytes(b"")
    assert main(["predict", str(tmp_path / "model"), str(tmp_path / "empty.png"), str(tmp_path / "none.jpg")]) == 1
    err = capsys.readouterr().err
    assert "empty.png: empty file" in err and "none.jpg: no such file" in err and "0 of 2 images classified" in err
    assert main(["predict", str(trained), str(tmp_path / "empty.png")]) == 2  # not a model folder
    assert "no model_card.json" in capsys.readouterr().err
    image = next((trained / "images").glob("*.png"))
    assert main(["predict", str(tmp_path / "model"), str(image), "--heatmaps", str(tmp_path / "heat")]) == 2
    assert "holds a classifier: heat maps come from an exported defect detector" in capsys.readouterr().err
    assert not (tmp_path / "heat").exists()


def test_export_model_reports_a_missing_run(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-model", str(trained), "--run", "99", "--format", "torchscript",
                 "--out", str(tmp_path / "m")]) == 2
    assert "no run with id 99" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


# -- the window ------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path: Path, trained: Path) -> Iterator[MainWindow]:
    win = create_main_window(trained, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.editor.current_image_id() is not None)
    yield win
    win.close()


def open_dialog(window: MainWindow) -> ExportModelDialog:
    action = window.window_actions.actions["model.export"]
    assert action.isEnabled() and action in window.window_actions.menus["&File"].actions()
    action.trigger()
    dialog = window.findChild(ExportModelDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_export_model_action_exports_in_the_background(qtbot, window: MainWindow, tmp_path: Path) -> None:
    dialog = open_dialog(window)
    assert dialog.run_id() == 2 and dialog.format() == "torchscript"
    assert dialog.folder() == window.project.exports_dir / "model-run2-torchscript"
    dialog.folder_edit.clear()
    qtbot.keyClicks(dialog.folder_edit, str(tmp_path / "gui-export"))
    with qtbot.waitSignal(dialog.export_finished, timeout=120_000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.is_running() and not dialog.export_button.isEnabled()
    assert (tmp_path / "gui-export" / "model.pt").is_file()
    card = json.loads((tmp_path / "gui-export" / "model_card.json").read_text())
    assert card["run"] == 2 and card["parity"]["max_abs_diff"] <= 1e-4
    assert "Exported run #2" in dialog.status_label.text() and "Exported run #2" in window.status.message_text()
    assert dialog.export_button.isEnabled()


def test_export_model_failure_is_shown(qtbot, window: MainWindow, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    dialog = open_dialog(window)
    dialog.folder_edit.setText(str(blocker / "model"))  # a folder inside a file cannot be made
    with qtbot.waitSignal(dialog.export_failed, timeout=120_000):
        dialog.start()
    assert dialog.status_label.text().startswith("Export failed:")
    assert "Model export failed" in window.status.message_text()
    assert blocker.read_text() == "in the way"
