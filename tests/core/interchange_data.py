"""A small generated project for the interchange tests: images in two sub-folders, three
classes (one OK), image labels, masks with several regions, a region with a hole, two
classes that touch, an empty mask, an image with a label only and one with nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from core.importing import ImportOptions, import_folder
from core.store import Project
from core.store.records import ClassKind

SIZES = {"line-a/img0.png": (40, 30), "line-a/img1.png": (32, 32), "line-a/img2.png": (48, 20),
         "line-b/img3.png": (36, 36), "line-b/img4.png": (30, 40), "line-b/img5.png": (24, 24)}
CLASSES = (("ok", ClassKind.OK, "#009E73"), ("scratch", ClassKind.DEFECT, "#E69F00"),
           ("pit", ClassKind.DEFECT, "#56B4E9"))


def write_images(folder: Path) -> Path:
    """Writes the generated gray images (deterministic) under ``folder/images``."""
    rng = np.random.default_rng(3)
    for name, (width, height) in SIZES.items():
        path = folder / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(rng.integers(0, 255, (height, width), dtype=np.uint8)).save(path)
    return folder / "images"


def blank_project(root: Path, images: Path) -> Project:
    """A new project at ``root`` holding the images of ``images``, no classes, no labels."""
    project = Project.create(root)
    report = import_folder(project, images, ImportOptions(workers=1))
    assert report.added == len(SIZES)
    return project


def masks_for(ids: dict[str, int]) -> dict[str, np.ndarray]:
    """The masks by image name (class ids as in :data:`CLASSES`: ok 1, scratch 2, pit 3)."""
    scratch, pit = ids["scratch"], ids["pit"]
    a = np.zeros((30, 40), np.uint8)
    a[3:9, 4:20] = scratch
    a[12:25, 25:37] = pit
    a[15:18, 2:6] = scratch  # a second region of the same class
    a[20:22, 8:10] = scratch
    a[22:24, 10:12] = scratch  # touches the region above at a corner only
    b = np.zeros((32, 32), np.uint8)
    b[4:28, 4:28] = pit
    b[10:20, 10:20] = 0  # a hole
    b[13:16, 13:16] = scratch  # an island inside the hole
    c = np.zeros((20, 48), np.uint8)
    c[5:15, 5:20] = scratch
    c[5:15, 20:30] = pit  # two classes side by side
    yy, xx = np.mgrid[:36, :36]
    d = np.where((yy - 18) ** 2 + (xx - 17) ** 2 < 81, pit, 0).astype(np.uint8)
    return {"line-a/img0.png": a, "line-a/img1.png": b, "line-a/img2.png": c, "line-b/img3.png": d,
            "line-b/img4.png": np.zeros((40, 30), np.uint8)}  # an empty mask


LABELS = {"line-a/img0.png": "scratch", "line-a/img1.png": "pit", "line-a/img2.png": "scratch",
          "line-b/img4.png": "ok", "line-b/img5.png": "ok"}  # img3: a mask, no label


def labeled_project(root: Path, images: Path) -> Project:
    """The source project: classes, labels and masks set through the store."""
    project = blank_project(root, images)
    for name, kind, color in CLASSES:
        project.classes.add(name, kind=kind, color=color, actor="t", source="test")
    ids = {c.name: c.id for c in project.classes.list()}
    project.labels.apply([(find(project, n).id, c) for n, c in LABELS.items()], actor="t", source="test")
    for name, mask in masks_for(ids).items():
        project.masks.save(find(project, name).id, mask, actor="t", source="test")
    return project


def find(project: Project, name: str):
    return project.images.find(name)


def state(project: Project) -> dict[str, tuple[str | None, np.ndarray | None]]:
    """name -> (label class name, mask as class names' positions) of every image, comparable
    across projects whose class ids differ."""
    position = {c.id: n for n, c in enumerate(project.classes.list(), start=1)}
    lookup = np.zeros(256, np.uint8)
    for class_id, n in position.items():
        lookup[class_id] = n
    labels = project.labels.all()
    found = {}
    for image in project.images.list():
        name = "/".join(Path(image.path).parts[-2:])
        mask = project.masks.load(image.id)
        label = labels.get(image.id)
        found[name] = (label.class_name if label else None, None if mask is None else lookup[mask])
    return found


def classes(project: Project) -> list[tuple[str, str, str]]:
    return [(c.name, c.kind.value, c.color) for c in project.classes.list()]
