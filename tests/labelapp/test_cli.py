"""The command line, run as a user runs it: a real process per command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.demo import DEFECT_CLASSES, OK_CLASS, DemoManifest, read_truth
from core.store import Project


def labelapp(*args: object, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-m", "labelapp", *map(str, args)], capture_output=True,
                            text=True, timeout=300, env=env)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "demo"
    out = json.loads(labelapp("demo", root, "--images", 28, "--size", 64, "--seed", 3, "--json").stdout)
    assert out["images"] == 28
    return root


def test_demo_makes_an_unlabeled_project_with_truth(demo_project: Path) -> None:
    status = json.loads(labelapp("status", demo_project, "--json").stdout)
    assert (status["images"], status["labeled"], status["ok"], status["masks"], status["runs"]) == (28, 0, 0, 0, 0)
    assert set(status["classes"]) == {OK_CLASS, *DEFECT_CLASSES}
    truth = read_truth(demo_project)
    assert len(truth) == 28 and set(truth.values()) <= {OK_CLASS, *DEFECT_CLASSES}
    names = [Path(f).name for f in truth]
    assert not any(cls in name for name in names for cls in DEFECT_CLASSES)  # names hide the class


def test_label_with_keys_of_every_kind(demo_project: Path, tmp_path: Path) -> None:
    truth = read_truth(demo_project)
    files = sorted(truth)
    first, second = files[0], files[1]
    out = json.loads(labelapp("label", demo_project, first, "--class", "scratches", "--json").stdout)
    assert out == {"image": first, "changed": True, "class": "scratches", "mask_pixels": None}
    assert json.loads(labelapp("label", demo_project, first, "--class", "scratches", "--json").stdout)[
        "changed"] is False
    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 5:30] = 255
    PILImage.fromarray(mask).save(tmp_path / "m.png")
    out = json.loads(labelapp("label", demo_project, Path(second).name, "--class", "crazing",
                              "--mask", tmp_path / "m.png", "--json").stdout)
    assert out["mask_pixels"] == 250
    assert json.loads(labelapp("label", demo_project, files[2], "--ok", "--json").stdout)["class"] == OK_CLASS
    status = json.loads(labelapp("status", demo_project, "--json").stdout)
    assert (status["labeled"], status["ok"], status["masks"]) == (3, 1, 1)
    assert status["classes"]["scratches"] == 1 and status["classes"]["crazing"] == 1
    labelapp("label", demo_project, Path(second).name, "--clear")
    status = json.loads(labelapp("status", demo_project, "--json").stdout)
    assert (status["labeled"], status["masks"]) == (2, 0)
    with Project.open(demo_project) as project:
        sources = {e.source for e in project.events.list(kind="label")}
        assert sources == {"cli"}


def test_label_errors_are_messages_not_tracebacks(demo_project: Path) -> None:
    result = labelapp("label", demo_project, "no-such-image.png", "--ok", check=False)
    assert result.returncode == 2 and "no image 'no-such-image.png'" in result.stderr
    assert "Traceback" not in result.stderr
    first = sorted(read_truth(demo_project))[0]
    result = labelapp("label", demo_project, first, "--class", "dent", check=False)
    assert result.returncode == 2 and "no class 'dent'" in result.stderr and "--create" in result.stderr
    result = labelapp("status", demo_project.parent / "not-a-project", "--json", check=False)
    assert result.returncode == 2 and "error" in json.loads(result.stdout)


def test_an_import_of_a_missing_folder_creates_no_project(tmp_path: Path) -> None:
    result = labelapp("import", tmp_path / "new-project", tmp_path / "no-such-folder", check=False)
    assert result.returncode == 2 and "not a folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "new-project").exists()


def test_import_export_round_trip(demo_folders: DemoManifest, tmp_path: Path) -> None:
    project = tmp_path / "p"
    report = json.loads(labelapp("import", project, demo_folders.root / "images", "--labels-from-folders",
                                 "--ok-class", "ok", "--masks", demo_folders.root / "masks", "--json").stdout)
    assert report["added"] == len(demo_folders.entries) and report["failed"] == []
    assert report["project"]["classes"] == demo_folders.counts()
    labelapp("export-labels", project, tmp_path / "labels.csv")
    rows = list(csv.DictReader(open(tmp_path / "labels.csv")))
    assert len(rows) == len(demo_folders.entries)
    truth = {Path(e.file).name: e.class_name for e in demo_folders.entries}
    assert {Path(r["path"]).name: r["class"] for r in rows} == truth

    labelapp("export-labels", project, tmp_path / "folders", "--format", "folders")
    labelapp("export-labels", project, tmp_path / "masks", "--format", "masks")
    for table in ("labels.csv", "masks/index.csv", "masks/classes.csv"):  # plain newlines, not CRLF
        data = (tmp_path / table).read_bytes()
        assert b"\r" not in data and data.endswith(b"\n")
    header = (tmp_path / "labels.csv").read_text().splitlines()[0]
    assert header == "path,class,kind,mask,mask_pixels,labeled_by,labeled_at"
    again = tmp_path / "again"
    report = json.loads(labelapp("import", again, tmp_path / "folders", "--labels-from-folders",
                                 "--ok-class", "ok", "--json").stdout)
    assert report["project"]["classes"] == demo_folders.counts()
    assert len(list((tmp_path / "masks").rglob("*.png"))) == len(demo_folders.entries)
    index = list(csv.DictReader(open(tmp_path / "masks" / "index.csv")))
    assert len(index) == len(demo_folders.entries)
    with Project.open(project) as p:
        for row in index:
            assert not Path(row["mask"]).is_absolute()
            written = np.asarray(PILImage.open(tmp_path / "masks" / row["mask"]))
            stored = p.masks.load(p.images.find(row["image"]).id)
            assert np.array_equal(written, stored) and int(row["pixels"]) == np.count_nonzero(stored)


def test_status_answers_without_importing_torch_or_qt(demo_project: Path) -> None:
    code = ("import sys; from labelapp.cli.parser import main; main(['status', sys.argv[1]]);"
            "heavy = [m for m in ('torch', 'PySide6', 'lightly') if m in sys.modules]; print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code, str(demo_project)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert "images" in result.stdout
