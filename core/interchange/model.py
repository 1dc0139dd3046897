"""What every interchange format writes and reads, apart from its layout.

An export starts from a :class:`Snapshot` of the project (classes, and per image its
label, its mask and a short file name for the copy); each writer lays it out its own way.
An import reader gives back :class:`Parsed` (classes by the file's own ids, per image a
reference, a label, a mask), which :mod:`core.interchange.plan` matches to the project.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.interchange.geometry import Polygon
from core.store import Project

OK_KIND, DEFECT_KIND = "ok", "defect"


class InterchangeError(ValueError):
    """A file to import cannot be read, or refers to what it must not; nothing was imported."""


@dataclass(frozen=True)
class ClassSpec:
    """A class as a file describes it: ``id`` is its number in that file (the mask value in
    a labelapp export), ``kind`` ok or defect, ``color`` ``#RRGGBB`` or None."""

    id: int
    name: str
    kind: str = DEFECT_KIND
    color: str | None = None


@dataclass(frozen=True)
class ExportedImage:
    """One image of a snapshot. ``name`` is its relative name in the export (POSIX);
    ``masked`` whether it has a mask, which :meth:`mask` reads (one at a time: a large
    project's masks do not fit in memory together)."""

    path: str
    source: Path
    name: str
    width: int
    height: int
    label: str | None
    masked: bool
    loader: Callable[[], np.ndarray | None] = field(default=lambda: None, repr=False, compare=False)

    def mask(self) -> np.ndarray | None:
        """uint8 class ids, or None for an image without a mask."""
        return self.loader() if self.masked else None


@dataclass(frozen=True)
class Snapshot:
    classes: list[ClassSpec]
    images: list[ExportedImage]

    def class_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.classes}


@dataclass
class ParsedImage:
    """One image of a file being imported.

    Attributes:
        ref: How the file names the image (a path, relative to ``base`` unless absolute).
        base: The folder ``ref`` is relative to.
        width, height: The size the file gives (None: the project image's size is taken).
        label: The image-level class name, or None.
        load_mask: Reads the file's mask of the image (class ids, 0 background), when the
            file has one; called once the image is matched and its size checked.
        polygons: ``(class id, polygon)`` pairs drawn in order at the project image's size
            (when the file has no size of its own); None when the file gives no mask.
        normalized: The polygons' coordinates are fractions of the width and height.
        stem_only: ``ref`` has no file suffix (match any image of that name).
        where: The file the image came from, for messages.
    """

    ref: str
    base: Path
    width: int | None = None
    height: int | None = None
    label: str | None = None
    load_mask: Callable[[], np.ndarray] | None = None
    polygons: list[tuple[int, Polygon]] | None = None
    normalized: bool = False
    stem_only: bool = False
    where: str = ""


@dataclass
class Parsed:
    format: str
    classes: dict[int, ClassSpec] = field(default_factory=dict)
    images: list[ParsedImage] = field(default_factory=list)

    def class_named(self, name: str) -> ClassSpec:
        for spec in self.classes.values():
            if spec.name == name:
                return spec
        spec = ClassSpec(id=max(self.classes, default=0) + 1, name=name)
        self.classes[spec.id] = spec
        return spec


def snapshot(project: Project) -> Snapshot:
    """The project's classes, and every image with its label, its mask and its name
    in an export: its path below the folder that all images share."""
    classes = [ClassSpec(c.id, c.name, c.kind.value, c.color) for c in project.classes.list()]
    labels = project.labels.all()
    masked = project.masks.all()
    images = project.images.list()
    names = export_names(project, [image.path for image in images])
    result = []
    for image in images:
        label = labels.get(image.id)
        result.append(ExportedImage(path=image.path, source=project.images.resolve(image), name=names[image.path],
                                    width=image.width, height=image.height,
                                    label=label.class_name if label else None, masked=image.id in masked,
                                    loader=functools.partial(project.masks.load, image.id)))
    return Snapshot(classes=classes, images=result)


def export_names(project: Project, stored_paths: list[str]) -> dict[str, str]:
    """Short relative names for exported files: each image's path below the folder
    that all the images share (POSIX)."""
    absolute = {p: Path(os.path.abspath(project.images.resolve(p))) for p in stored_paths}
    if not absolute:
        return {}
    common = Path(os.path.commonpath([str(a.parent) for a in absolute.values()]))
    return {p: a.relative_to(common).as_posix() for p, a in absolute.items()}


def copy_images(images: list[ExportedImage], folder: Path) -> Iterator[ExportedImage]:
    """Copies each image to ``folder/<name>``; yields those whose file is missing."""
    for image in images:
        if not image.source.is_file():
            yield image
            continue
        target = folder / image.name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copy2(image.source, tmp)
        os.replace(tmp, target)
