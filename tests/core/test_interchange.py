"""Labels out and back in: every format, exported, imported into a fresh project with the
same images, exported again, gives the same labels, masks, classes and files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from scipy import ndimage

from core.export.labels import export_labels
from core.interchange import geometry, import_labels
from core.store import Project
from core.store.masks import decode_mask_png
from tests.core.interchange_data import (
    LABELS,
    blank_project,
    classes,
    find,
    labeled_project,
    state,
    write_images,
)

FORMATS = ("coco", "coco-polygons", "yolo", "voc", "labelme")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the images folder, the labeled project's folder)."""
    root = tmp_path_factory.mktemp("interchange")
    images = write_images(root)
    labeled_project(root / "source", images).close()
    return images, root / "source"


def _export(project: Project, out: Path, fmt: str) -> None:
    export_labels(project, out, format=fmt.removesuffix("-polygons"), polygons=fmt.endswith("-polygons"))


def _files(folder: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "annotations.json":  # all but the export's date
                document = json.loads(data)
                del document["info"]["date_created"]
                data = json.dumps(document).encode()
            found[path.relative_to(folder).as_posix()] = data
    return found


def _filled(masks: dict[str, tuple]) -> dict[str, tuple]:
    """The masks with every region's holes filled, drawn in the order YOLO draws them."""
    found = {}
    for name, (label, mask) in masks.items():
        if mask is not None:
            drawn = np.zeros_like(mask)
            for component in geometry.components(mask):
                drawn[ndimage.binary_fill_holes(component.pixels, structure=np.ones((3, 3)))] = component.class_id
            mask = drawn
        found[name] = (label, mask)
    return found


def _assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name in want:
        assert got[name][0] == want[name][0], name
        if want[name][1] is None:
            assert got[name][1] is None, name
        else:
            assert got[name][1] is not None and np.array_equal(got[name][1], want[name][1]), name


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_gives_the_same_labels_masks_and_files(source: tuple[Path, Path], tmp_path: Path,
                                                          fmt: str) -> None:
    images, root = source
    with Project.open(root) as project:
        want, want_classes = state(project), classes(project)
        _export(project, tmp_path / "first", fmt)
    with blank_project(tmp_path / "fresh", images) as fresh:
        result = import_labels(fresh, tmp_path / "first", format=fmt.removesuffix("-polygons"))
        assert result.unmatched == () and result.labels == len(LABELS) and result.masks == 5
        assert result.classes_added == ("ok", "scratch", "pit")
        assert classes(fresh) == want_classes  # names, kinds and colours, in order
        # a polygon cannot leave a hole: YOLO fills them (the other polygon formats keep them)
        _assert_same(state(fresh), _filled(want) if fmt == "yolo" else want)
        assert state(fresh)["line-b/img4.png"][1].max() == 0  # an empty mask stays a mask
        assert state(fresh)["line-b/img5.png"][1] is None  # and no mask stays none
        _export(fresh, tmp_path / "second", fmt)
    assert _files(tmp_path / "second") == _files(tmp_path / "first")


@pytest.mark.parametrize("polygons", [False, True])
def test_pycocotools_reads_the_exported_masks(source: tuple[Path, Path], tmp_path: Path, polygons: bool) -> None:
    _, root = source
    with Project.open(root) as project:
        export_labels(project, tmp_path, format="coco", polygons=polygons)
        coco = COCO(str(tmp_path / "annotations.json"))
        assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {
            c.id: c.name for c in project.classes.list()}
        for entry in coco.loadImgs(coco.getImgIds()):
            image = find(project, entry["file_name"])
            assert (tmp_path / "images" / entry["file_name"]).read_bytes() == project.images.resolve(image).read_bytes()
            drawn = np.zeros((entry["height"], entry["width"]), np.uint8)
            for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[entry["id"]])):
                pixels = coco.annToMask(annotation).astype(bool)
                assert annotation["area"] == pixels.sum() > 0
                x, y, w, h = annotation["bbox"]
                rows, cols = np.nonzero(pixels)
                assert (x, y, w, h) == (cols.min(), rows.min(), cols.max() + 1 - x, rows.max() + 1 - y)
                assert not (drawn[pixels] != 0).any()  # one region per annotation, none overlap
                drawn[pixels] = annotation["category_id"]
            mask = project.masks.load(image.id)
            assert np.array_equal(drawn, mask if mask is not None else np.zeros_like(drawn))
        kinds = {c["name"]: (c["kind"], c["color"]) for c in coco.dataset["categories"]}
        assert kinds["ok"] == ("ok", "#009E73") and kinds["pit"] == ("defect", "#56B4E9")
        labels = {coco.imgs[e["image_id"]]["file_name"]: coco.cats[e["category_id"]]["name"]
                  for e in coco.dataset["image_labels"]}
        assert labels == LABELS


def test_regions_as_polygons_and_rle_give_back_their_pixels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        mask = (rng.random((rng.integers(3, 30), rng.integers(3, 30))) < 0.5).astype(np.uint8)
        for component in geometry.components(mask):
            outer, holes = geometry.trace(component.pixels)
            filled = ndimage.binary_fill_holes(component.pixels, structure=np.ones((3, 3)))
            assert np.array_equal(geometry.rasterize(outer, *mask.shape), filled)
            assert np.array_equal(filled & ~geometry.rasterize(holes, *mask.shape), component.pixels)
            assert all(float(v).is_integer() for polygon in outer for point in polygon for v in point)
            assert geometry.trace(component.pixels) == component.outline()  # within its box, moved back
            reference = coco_mask.encode(np.asfortranarray(component.pixels.astype(np.uint8)))
            assert component.rle()["counts"] == reference["counts"].decode()
            assert np.array_equal(geometry.decode_rle(component.rle(), *mask.shape), component.pixels)


def test_the_csv_names_the_mask_files_it_wrote_beside_it(source: tuple[Path, Path], tmp_path: Path) -> None:
    _, root = source
    with Project.open(root) as project:
        export_labels(project, tmp_path / "table.csv", format="csv")
        rows = list(csv.DictReader(open(tmp_path / "table.csv")))
        by_name = {"/".join(Path(r["path"]).parts[-2:]): r for r in rows}
        assert by_name["line-b/img4.png"]["mask"] == "empty" and by_name["line-b/img5.png"]["mask"] == ""
        for name in ("line-a/img0.png", "line-a/img1.png", "line-b/img3.png"):
            mask_file = by_name[name]["mask"]
            assert mask_file == f"table-masks/{name}"  # relative to the CSV, outside the project
            stored = project.masks.load(find(project, name).id)
            assert np.array_equal(decode_mask_png(tmp_path / mask_file), stored)
        export_labels(project, tmp_path / "folder", format="csv")
        rows = csv.DictReader(open(tmp_path / "folder" / "labels.csv"))
        row = next(r for r in rows if r["mask"] not in ("", "empty"))
        assert row["mask"].startswith("masks/") and (tmp_path / "folder" / row["mask"]).is_file()


def _within_a_pixel_of_the_edges(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether ``got`` differs from ``want`` only on pixels next to a region's edge."""
    band = np.zeros(want.shape, bool)
    for class_id in np.unique(np.concatenate([np.unique(got), np.unique(want)])):
        region = want == class_id
        band |= ndimage.binary_dilation(region, np.ones((3, 3))) & ~ndimage.binary_erosion(region, np.ones((3, 3)))
    return bool(((got != want) <= band).all())


def test_labelme_and_yolo_polygons_drawn_by_pil_match_within_a_pixel(source: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    """labelme draws its polygons with PIL (``labelme.utils.shape_to_mask``, pixel centres
    on integer coordinates); our polygons follow pixel corners: half a pixel apart."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    _, root = source
    with Project.open(root) as project:
        export_labels(project, tmp_path / "labelme", format="labelme")
        export_labels(project, tmp_path / "yolo", format="yolo")
        ids = {c.name: c.id for c in project.classes.list()} | {"_background_": 0}
        names = [c.id for c in project.classes.list()]
        for document_file in sorted((tmp_path / "labelme").rglob("*.json")):
            document = json.loads(document_file.read_text())
            image = find(project, document_file.relative_to(tmp_path / "labelme").with_suffix(".png").as_posix())
            want = project.masks.load(image.id)
            if want is None:
                continue
            drawn = PILImage.new("L", (image.width, image.height))
            for shape in document["shapes"]:
                ImageDraw.Draw(drawn).polygon([tuple(p) for p in shape["points"]], fill=ids[shape["label"]],
                                              outline=ids[shape["label"]])
            assert _within_a_pixel_of_the_edges(np.asarray(drawn), want), document_file.name
            lines = (tmp_path / "yolo/labels" / document_file.relative_to(tmp_path / "labelme")).with_suffix(".txt")
            drawn = PILImage.new("L", (image.width, image.height))
            for line in lines.read_text().splitlines():
                index, *values = line.split()
                pairs = zip(values[::2], values[1::2], strict=True)
                points = [(float(x) * image.width, float(y) * image.height) for x, y in pairs]
                ImageDraw.Draw(drawn).polygon(points, fill=names[int(index)], outline=names[int(index)])
            filled = _filled({"x": (None, want)})["x"][1]
            assert _within_a_pixel_of_the_edges(np.asarray(drawn), filled), lines.name


@pytest.mark.parametrize("fmt", FORMATS)
def test_awkward_names_go_round(tmp_path: Path, fmt: str) -> None:
    """Spaces and accents in folder and file names, a class name with a slash and a space."""
    from PIL import Image as PILImage

    from core.importing import ImportOptions, import_folder

    name = "line ä/roll 1 #2.png"
    (tmp_path / "images/line ä").mkdir(parents=True)
    PILImage.fromarray(np.full((12, 16), 90, np.uint8)).save(tmp_path / "images" / name)
    mask = np.zeros((12, 16), np.uint8)
    projects = []
    for folder in ("a", "b"):
        project = Project.create(tmp_path / folder)
        assert import_folder(project, tmp_path / "images", ImportOptions(workers=1)).added == 1
        projects.append(project)
    source, fresh = projects
    cls = source.classes.add("rolled-in scale/edge", actor="t", source="test")
    mask[2:7, 3:12] = cls.id
    image = source.images.list()[0]
    source.labels.set(image.id, cls.id, actor="t", source="test")
    source.masks.save(image.id, mask, actor="t", source="test")
    _export(source, tmp_path / "out", fmt)
    result = import_labels(fresh, tmp_path / "out", format=fmt.removesuffix("-polygons"))
    assert result.unmatched == () and result.labels == result.masks == 1
    _assert_same(state(fresh), state(source))
    assert state(fresh)[name][0] == "rolled-in scale/edge" and state(fresh)[name][1].sum() == 45
    for project in projects:
        project.close()
