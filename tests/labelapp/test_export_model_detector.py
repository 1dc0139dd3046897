"""Exporting the defect detector from the command line and the window, and finding defects
with the exported folder alone (``labelapp predict``, with heat maps)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PySide6.QtCore import Qt

from core.store import Project
from labelapp.cli.parser import main
from labelapp.export.model_dialog import ExportModelDialog
from labelapp.shell.main_window import MainWindow

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, segdec_project: Path) -> Path:
    """42 demo images at 64 px, all labeled, one defect-detector run (1), no classifier."""
    root = tmp_path_factory.mktemp("cli-detector") / "project"
    shutil.copytree(segdec_project, root)
    return root


@pytest.fixture(scope="module")
def exported(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detector-export") / "model"
    assert main(["export-model", str(project), "--run", "1", "--format", "torchscript", "--out", str(out),
                 "--sample", "8"]) == 0
    return out


@pytest.fixture
def images(project: Path, tmp_path: Path) -> list[Path]:
    """Three project images, a non-square crop of another size, a corrupt file."""
    folder = tmp_path / "images"
    folder.mkdir()
    files = [Path(shutil.copy(f, folder)) for f in sorted((project / "images").glob("*.png"))[:3]]
    PILImage.open(files[0]).crop((0, 0, 50, 37)).save(folder / "crop.png")
    (folder / "corrupt.png").write_bytes(files[1].read_bytes()[:150])
    return [*files, folder / "crop.png", folder / "corrupt.png"]


def test_export_model_names_the_detector_run(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    assert main(["export-model", str(project), "--model", "detector", "--format", "torchscript", "--out", str(out),
                 "--sample", "6"]) == 0
    text = capsys.readouterr().out
    assert "exported defect-detector run 1 as torchscript" in text and "on 6 project images" in text
    assert "64x64" in text  # the project's size at the working scale, among the sizes checked
    assert sorted(p.name for p in out.iterdir()) == ["model.pt", "model_card.json"]
    assert main(["export-model", str(project), "--model", "classifier", "--run", "1", "--format", "torchscript",
                 "--out", str(tmp_path / "c")]) == 2
    assert "run 1 is a defect-detector run, not a classifier run" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_predict_gives_defect_probabilities_and_heat_maps_without_the_project(
        project: Path, exported: Path, images: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(project) as store:
        probability = {Path(store.images.get(i).path).name: p
                       for i, p in store.predictions.defect_probabilities(1).items()}
    hidden = project.parent / "project-hidden"  # the project is not needed: hide it
    project.rename(hidden)
    try:
        status = main(["predict", str(exported), *map(str, images), "--json", "--heatmaps", str(tmp_path / "heat")])
    finally:
        hidden.rename(project)
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "segdec" and report["validated"] is False
    assert [s["path"] for s in report["skipped"]] == [str(images[-1])]
    rows = report["predictions"]
    assert [r["path"] for r in rows] == [str(p) for p in images[:-1]]
    for row in rows[:3]:
        assert abs(row["defect_probability"] - probability[Path(row["path"]).name]) < 1e-4
    for row, path in zip(rows, images, strict=False):
        assert row["defective"] is None  # not validated: nothing is called defective
        assert row["at_or_above_threshold"] == (row["defect_probability"] >= report["threshold"])
        heat = PILImage.open(row["heatmap"])
        assert Path(row["heatmap"]).name == f"{path.stem}-heatmap.png" and heat.mode == "L"
        assert heat.size == PILImage.open(path).size  # the size of each image: 64x64, and the 50x37 crop
    assert PILImage.open(rows[3]["heatmap"]).size == (50, 37)


def test_predict_says_defective_only_for_a_validated_detector(
        exported: Path, images: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(exported), *map(str, images[:4])]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 4 and all(line.endswith(", not validated") for line in lines)
    assert "calls nothing defective" in captured.err
    card = json.loads((exported / "model_card.json").read_text())
    validated = tmp_path / "validated"
    shutil.copytree(exported, validated)
    card["validated"], card["threshold"] = True, 0.0  # everything at or above it
    (validated / "model_card.json").write_text(json.dumps(card))
    assert main(["predict", str(validated), *map(str, images[:4])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.rsplit("\t", 1)[1] for line in lines] == ["defective"] * 4


# -- the window ------------------------------------------------------------------------
def test_export_dialog_offers_the_detector(qtbot, open_window, project: Path, tmp_path: Path) -> None:
    window: MainWindow = open_window(project)
    window.window_actions.actions["model.export"].trigger()
    dialog = window.findChild(ExportModelDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.model_combo.count() == 1 and dialog.model() == "detector" and dialog.run_id() == 1
    dialog.folder_edit.setText(str(tmp_path / "gui-detector"))
    with qtbot.waitSignal(dialog.export_finished, timeout=120_000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    card = json.loads((tmp_path / "gui-detector" / "model_card.json").read_text())
    assert card["method"] == "segdec" and card["run"] == 1 and card["input"]["scale"] == 1.0
    assert "Exported the defect detector of run #1" in dialog.status_label.text()
    assert not (tmp_path / "gui-detector" / "classes.txt").exists()


def test_choosing_the_model_lists_its_runs(qtbot, project: Path, tmp_path: Path) -> None:
    with Project.open(project) as store:
        detector = store.runs.get(1)
    classifier = dataclasses.replace(detector, id=7, method="classifier", metrics={"classes": 3})
    dialog = ExportModelDialog(project, [classifier, detector], tmp_path / "exports")
    qtbot.addWidget(dialog)
    assert [dialog.model_combo.itemData(i) for i in range(dialog.model_combo.count())] == ["classifier", "detector"]
    assert dialog.run_id() == 7 and dialog.folder() == tmp_path / "exports" / "model-run7-torchscript"
    dialog.model_combo.setCurrentIndex(1)
    assert dialog.model() == "detector" and dialog.run_combo.count() == 1 and dialog.run_id() == 1
    assert "not validated" in dialog.run_combo.currentText()
    assert dialog.folder() == tmp_path / "exports" / "model-run1-torchscript"
