"""What an import refuses: a malformed file of each format, a mask that does not fit, a
path that leads outside the folders it may name. Each is refused with a message naming
the file, and the project is left exactly as it was."""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.export.labels import export_labels
from core.importing import ImportOptions, import_folder
from core.interchange import InterchangeError, import_labels
from core.store import Project
from tests.core.interchange_data import blank_project, find, labeled_project, write_images


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the images folder, a folder holding a valid export in each format)."""
    root = tmp_path_factory.mktemp("refusals")
    images = write_images(root)
    with labeled_project(root / "source", images) as project:
        for fmt in ("coco", "yolo", "voc", "labelme"):
            export_labels(project, root / "exports" / fmt, format=fmt)
    return images, root / "exports"


@pytest.fixture
def fresh(exports: tuple[Path, Path], tmp_path: Path):
    """A blank project with the images, and a private copy of the exports."""
    images, folder = exports
    shutil.copytree(folder, tmp_path / "exports")
    with blank_project(tmp_path / "project", images) as project:
        yield project, tmp_path / "exports"


def _untouched(project: Project) -> None:
    assert project.classes.list() == [] and project.labels.count() == 0 and project.masks.all() == {}
    assert os.listdir(project.masks_dir) == []


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _coco_bad_polygon(d: dict) -> None:
    d["annotations"][-1]["segmentation"] = [[1, 2, 3, 4]]


def _coco_bad_rle(d: dict) -> None:
    d["annotations"][-1]["segmentation"] = {"size": [40, 30], "counts": "zzzzzzzz"}


def _coco_unknown_category(d: dict) -> None:
    d["annotations"][-1]["category_id"] = 77


def _coco_wrong_size(d: dict) -> None:
    d["images"][-1]["width"] = 31


CASES = {
    # format: (what to break, a word the message must hold)
    "coco-not-json": ("coco", lambda e: (e / "coco/annotations.json").write_text("{\"images\": ["), "JSON"),
    "coco-polygon": ("coco", lambda e: _edit_json(e / "coco/annotations.json", _coco_bad_polygon), "annotation"),
    "coco-rle": ("coco", lambda e: _edit_json(e / "coco/annotations.json", _coco_bad_rle), "RLE"),
    "coco-category": ("coco", lambda e: _edit_json(e / "coco/annotations.json", _coco_unknown_category),
                      "category_id 77"),
    "coco-size": ("coco", lambda e: _edit_json(e / "coco/annotations.json", _coco_wrong_size), "31x24 in the file"),
    "yolo-class": ("yolo", lambda e: (e / "yolo/labels/line-b/img3.txt").write_text("9 0 0 1 0 1 1\n"),
                   "class index 9"),
    "yolo-box": ("yolo", lambda e: (e / "yolo/labels/line-b/img3.txt").write_text("1 0.5 0.5 0.2 0.2\n"), "box"),
    "yolo-yaml": ("yolo", lambda e: (e / "yolo/data.yaml").write_text("names: [unclosed\n"), "data.yaml"),
    "voc-index": ("voc", lambda e: PILImage.fromarray(np.full((36, 36), 9, np.uint8), mode="L").save(
        e / "voc/SegmentationClass/line-b/img3.png"), "class index 9"),
    "voc-truncated": ("voc", lambda e: (e / "voc/SegmentationClass/line-b/img3.png").write_bytes(b"\x89PNG\r\n"),
                      "cannot be read"),
    "voc-list": ("voc", lambda e: (e / "voc/ImageSets/Main/pit_trainval.txt").write_text("line-a/img1 yes\n"),
                 "pit_trainval.txt line 1"),
    "labelme-line": ("labelme", lambda e: _edit_json(e / "labelme/line-b/img3.json", lambda d: d["shapes"][0].update(
        shape_type="line")), "'line' shape"),
    "labelme-flags": ("labelme", lambda e: _edit_json(e / "labelme/line-b/img3.json",
                                                      lambda d: d["flags"].update(ok=True, pit=True)), "one class"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_file_imports_nothing(fresh, case: str) -> None:
    project, exported = fresh
    fmt, breaks, words = CASES[case]
    breaks(exported)
    with pytest.raises(InterchangeError) as caught:
        import_labels(project, exported / fmt, format=fmt)
    assert words in str(caught.value)
    _untouched(project)


def test_a_failure_while_writing_rolls_everything_back(fresh, monkeypatch) -> None:
    project, exported = fresh
    real_save, calls = project.masks.save, []

    def save_then_fail(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(project.masks, "save", save_then_fail)
    with pytest.raises(OSError):
        import_labels(project, exported / "coco", format="coco")
    assert len(calls) == 3
    _untouched(project)  # the classes, labels and the two masks saved before are gone, their files too


@pytest.mark.parametrize("ref", ["../../../../../../etc/hosts", "/etc/hosts", "C:/data/img0.png",
                                 "line-a/../../../../outside/img0.png"])
def test_paths_leading_outside_are_refused(fresh, ref: str) -> None:
    project, exported = fresh
    _edit_json(exported / "coco/annotations.json", lambda d: d["images"][0].update(file_name=ref))
    with pytest.raises(InterchangeError, match="refused the path"):
        import_labels(project, exported / "coco", format="coco")
    _untouched(project)
    _edit_json(exported / "labelme/line-a/img0.json", lambda d: d.update(imagePath=ref))
    with pytest.raises(InterchangeError, match="refused the path"):
        import_labels(project, exported / "labelme", format="labelme")
    _untouched(project)


def test_paths_inside_the_allowed_folders_are_matched(fresh) -> None:
    project, exported = fresh
    inside = str(project.images.resolve(find(project, "line-a/img0.png")))  # absolute, a project image's folder
    names = {0: inside, 1: "line-a/./sub/../img1.png", 2: "elsewhere/img2.png"}  # the last by file name alone
    _edit_json(exported / "coco/annotations.json",
               lambda d: [d["images"][n].update(file_name=name) for n, name in names.items()])
    result = import_labels(project, exported / "coco", format="coco")
    assert result.unmatched == () and result.masks == 5
    assert project.labels.get(find(project, "line-a/img0.png").id).class_name == "scratch"


def test_images_the_project_lacks_are_reported_and_left_out(fresh) -> None:
    project, exported = fresh
    _edit_json(exported / "coco/annotations.json", lambda d: d["images"][0].update(file_name="line-c/other.png"))
    result = import_labels(project, exported / "coco", format="coco")
    assert result.unmatched == (("line-c/other.png", "the project has no such image"),)
    assert result.labels == 4 and project.labels.count() == 4


def test_a_folder_of_another_format_says_what_it_misses(fresh) -> None:
    project, exported = fresh
    for fmt, words in (("coco", "no COCO file"), ("yolo", "no data.yaml"), ("voc", "no class_names.txt"),
                       ("labelme", "not a labelme file")):
        with pytest.raises(InterchangeError, match=words):
            import_labels(project, exported / ("coco" if fmt != "coco" else "yolo"), format=fmt)
    _untouched(project)


_ODD_VALUES = (None, -1, 0, 1e308, float("nan"), "x", "", [], {}, [1], [[1, 2]], True, 10 ** 20, "../../x",
               "/etc/passwd", [1, 2, 3, 4, 5, 6], {"size": [30, 40], "counts": "abc"}, {"size": "x", "counts": [1]})


def _mutate(value: object, rng: random.Random) -> object:
    """``value`` with one entry somewhere inside replaced by an odd value, or removed."""
    if isinstance(value, dict | list) and value:
        key = rng.choice(list(value)) if isinstance(value, dict) else rng.randrange(len(value))
        roll = rng.random()
        if roll < 0.3:
            value[key] = copy.deepcopy(rng.choice(_ODD_VALUES))
        elif roll < 0.4:
            del value[key]
        else:
            value[key] = _mutate(value[key], rng)
        return value
    return copy.deepcopy(rng.choice(_ODD_VALUES))


def test_damaged_files_import_whole_or_are_refused_never_a_crash(fresh) -> None:
    """A hundred random damages to a COCO file and a labelme file: each imports, or is
    refused with a message naming the file, and a refusal leaves the project untouched."""
    project, exported = fresh
    rng = random.Random(0)
    coco_file, labelme_file = exported / "coco/annotations.json", exported / "labelme/line-a/img1.json"
    originals = {coco_file: json.loads(coco_file.read_text()), labelme_file: json.loads(labelme_file.read_text())}
    outcomes = {"imported": 0, "refused": 0}
    for n in range(100):
        file = coco_file if n % 2 else labelme_file
        damaged = copy.deepcopy(originals[file])
        for _ in range(rng.randint(1, 3)):
            damaged = _mutate(damaged, rng)
        file.write_text(json.dumps(damaged))
        fmt = "coco" if file is coco_file else "labelme"
        try:
            import_labels(project, exported / fmt, format=fmt)
        except InterchangeError as exc:
            assert str(exc).startswith(file.name if fmt == "coco" else "line-a/img1.json"), str(exc)
            _untouched(project)
            outcomes["refused"] += 1
        else:
            outcomes["imported"] += 1
            with project.transaction():  # back to a blank project for the next try
                for image in project.images.list():
                    project.labels.set(image.id, None, actor="t", source="test")
                    project.masks.save(image.id, None, actor="t", source="test")
                for cls in project.classes.list():
                    project.classes.remove(cls.id, actor="t", source="test")
        file.write_text(json.dumps(originals[file]))
    assert outcomes["imported"] > 5 and outcomes["refused"] > 50


def test_labels_without_the_image_copies_match_by_name(fresh) -> None:
    """YOLO and VOC folders often come without their images: the label files' names match."""
    project, exported = fresh
    shutil.rmtree(exported / "yolo/images")
    shutil.rmtree(exported / "voc/JPEGImages")
    for fmt in ("yolo", "voc"):
        result = import_labels(project, exported / fmt, format=fmt)
        assert result.unmatched == () and result.masks == 5 and result.labels == 5


def test_a_name_two_project_images_share_is_not_guessed(exports: tuple[Path, Path], tmp_path: Path) -> None:
    images, folder = exports
    shutil.copytree(images, tmp_path / "images")
    (tmp_path / "images/line-c").mkdir()
    PILImage.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "images/line-c/img0.png")
    with Project.create(tmp_path / "project") as project:
        assert import_folder(project, tmp_path / "images", ImportOptions(workers=1)).added == 7
        document = json.loads((folder / "coco/annotations.json").read_text())
        document["images"][0]["file_name"] = "img0.png"
        (tmp_path / "annotations.json").write_text(json.dumps(document))
        result = import_labels(project, tmp_path / "annotations.json", format="coco")
        assert result.unmatched == (("img0.png", "2 project images go by this name; give the path"),)
        assert result.labels == 4
