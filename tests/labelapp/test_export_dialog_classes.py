"""File ▸ Export Model… says which classes the chosen model knows, and names each class it
left out, before anything is written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings

from core.store import ClassKind, Project, RunKind
from labelapp.export.model_dialog import ExportModelDialog
from labelapp.shell.app import create_main_window


def plain(text: str) -> str:
    return re.sub("<[^>]+>", "", text).replace("&#x27;", "'")


def test_the_export_dialog_lists_the_classes_and_names_the_one_left_out(
        qtbot, tmp_path: Path, small_classifier_project: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    with Project.open(root) as project:  # a class made after the run: it has no labels, the model cannot know it
        project.classes.add("dent", kind=ClassKind.DEFECT, actor="t", source="test")
        run = project.runs.latest(RunKind.CLASSIFIER)
        known = [project.classes.get(i).name for i in run.config["classes"]]
    window = create_main_window(root, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.window_actions.actions["model.export"].trigger()
    dialog = window.findChild(ExportModelDialog)
    assert dialog is not None and dialog.isVisible() and dialog.run_id() == run.id
    text = plain(dialog.classes_label.text())
    assert f"The classifier of run #{run.id} knows {len(known)} classes:" in text
    listed = text.split("classes:")[1].split(".")[0]
    assert [name.split(" (")[0].strip() for name in listed.split(",")] == known
    assert f"Not in the model (it cannot predict them): dent (no labels when run #{run.id} trained)" in text
    assert dialog.classes_label.isVisible() and not dialog.folder().exists()  # said before anything is written
    dialog.reject()
    window.close()
