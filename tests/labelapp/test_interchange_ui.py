"""Labels in and out from the command line and the File menu: export-labels in the other
tools' formats, import-labels, and File > Import Labels…."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QInputDialog

from core.export.labels import export_labels
from core.store import Project
from labelapp.cli.parser import main
from tests.core.interchange_data import LABELS, blank_project, labeled_project, write_images


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a labeled project, a blank one with the same images): templates, copy before changing."""
    root = tmp_path_factory.mktemp("interchange-ui")
    images = write_images(root)
    labeled_project(root / "labeled", images).close()
    blank_project(root / "blank", images).close()
    return root / "labeled", root / "blank"


def test_the_commands_export_and_import_every_format(projects: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    labeled, blank = projects
    for fmt in ("coco", "yolo", "voc", "labelme"):
        assert main(["export-labels", str(labeled), str(tmp_path / fmt), "--format", fmt, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["images"] == 6
        target = tmp_path / f"into-{fmt}"
        with Project.create(target):
            pass
        assert main(["import-labels", str(target), str(tmp_path / fmt), "--format", fmt, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)  # a project without images matches none
        assert len(report["unmatched"]) == 6 and report["labels"] == report["masks"] == 0
        assert {entry["reason"] for entry in report["unmatched"]} == {"the project has no such image"}
        with Project.open(target) as project:
            assert project.classes.list() == []  # nothing matched: nothing written
    shutil.copytree(blank, tmp_path / "blank")
    assert main(["import-labels", str(tmp_path / "blank"), str(tmp_path / "coco"), "--format", "coco"]) == 0
    assert f"imported {len(LABELS)} image labels and 5 masks" in capsys.readouterr().out


def test_a_refused_import_is_one_line_on_stderr(projects: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    labeled, blank = projects
    assert main(["export-labels", str(labeled), str(tmp_path / "lm"), "--format", "labelme"]) == 0
    (tmp_path / "lm/line-a/img0.json").write_text("{not json")
    capsys.readouterr()
    assert main(["import-labels", str(blank), str(tmp_path / "lm"), "--format", "labelme"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelapp: error: line-a/img0.json is not a readable JSON file") and "Traceback" not in err
    with Project.open(blank) as project:
        assert project.labels.count() == 0 and project.masks.all() == {}


def test_file_menu_imports_and_exports_labels(qtbot, open_window, projects: tuple[Path, Path], tmp_path: Path,
                                              monkeypatch) -> None:
    labeled, blank = projects
    with Project.open(labeled) as project:
        export_labels(project, tmp_path / "coco", format="coco")
    window = open_window(blank)
    actions = {a.text(): a for a in window.window_actions.menus["&File"].actions()}
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("COCO (a .json file)", True))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "coco/annotations.json"), ""))
    actions["Import Labels…"].trigger()
    assert window.status.message_text() == f"Imported {len(LABELS)} labels and 5 masks."
    assert window.project.labels.count() == len(LABELS) and len(window.project.masks.all()) == 5
    assert [c.name for c in window.project.classes.list()] == ["ok", "scratch", "pit"]
    qtbot.waitUntil(lambda: window.editor.current_image_id() is not None)

    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("YOLO segmentation", True))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "yolo"))
    actions["Export Labels…"].trigger()
    assert window.status.message_text() == f"Exported 6 images to {tmp_path / 'yolo'}."
    assert (tmp_path / "yolo/data.yaml").is_file() and len(list((tmp_path / "yolo/labels").rglob("*.txt"))) == 5

    (tmp_path / "coco/annotations.json").write_text("[]")
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("COCO (a .json file)", True))
    actions["Import Labels…"].trigger()
    assert window.status.message_text().startswith("Nothing imported: annotations.json is not a COCO file")
