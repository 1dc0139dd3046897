"""Exporting the labels of a project: a CSV, class folders, mask PNGs, or the formats
of :mod:`core.interchange` (COCO, YOLO, VOC, labelme).

Every CSV is comma-separated with a header row and plain ``\\n`` line ends."""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.files import write_bytes_atomic, write_text_atomic
from core.interchange import EXPORT_FORMATS, export_interchange
from core.interchange.model import export_names
from core.store import Project
from core.store.masks import encode_mask_png

FORMATS = ("csv", "folders", "masks", *EXPORT_FORMATS)
CSV_COLUMNS = ("path", "class", "kind", "mask", "mask_pixels", "labeled_by", "labeled_at")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: ``images`` exported, ``left_out`` images the format has no
    place for (folders: unlabeled ones; masks: those without a mask), ``skipped_missing``
    labeled images whose file is gone (folders)."""

    format: str
    out: Path
    images: int
    skipped_missing: int
    left_out: int = 0


def export_labels(project: Project, out: Path | str, *, format: str = "csv", polygons: bool = False) -> ExportResult:
    """Writes the project's labels to ``out``.

    - ``csv``: one file (``out`` itself when it ends in ``.csv``, else ``out/labels.csv``),
      a row per image with the columns of :data:`CSV_COLUMNS`: path, class, kind (ok or
      defect), mask (the exported mask PNG, relative to the CSV: the masks are written
      beside it, into ``masks/`` or ``<name>-masks/`` for ``<name>.csv``; ``empty`` for a
      mask without defect pixels, blank for none), mask_pixels, labeled_by, labeled_at
      (unlabeled images with blank class and kind).
    - ``folders``: ``out/<class>/<file>``, a copy of each labeled image (the layout
      that ``labelapp import --labels-from-folders`` reads back).
    - ``masks``: a palette PNG for each masked image (0 background, k = class id k)
      under the image's own relative path, ``out/index.csv`` pairing images and mask
      files, and ``out/classes.csv`` naming the ids.
    - ``coco``, ``yolo``, ``voc``, ``labelme``: see :mod:`core.interchange`.
    """
    out = Path(out)
    if format in EXPORT_FORMATS:
        written, missing = export_interchange(project, out, format=format, polygons=polygons)
        return ExportResult(format=format, out=out, images=written, skipped_missing=missing)
    if format == "csv":
        return _export_csv(project, out)
    if format == "folders":
        return _export_folders(project, out)
    if format == "masks":
        return _export_masks(project, out)
    raise ValueError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}")


def _export_csv(project: Project, out: Path) -> ExportResult:
    labels = project.labels.all()
    masks = project.masks.all()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    images = project.images.list()
    target = out if out.suffix.lower() == ".csv" else out / "labels.csv"
    mask_dir = target.parent / ("masks" if target.name == "labels.csv" else f"{target.stem}-masks")
    names = _export_names(project, [image.path for image in images if image.id in masks])
    palette = project.masks.palette()
    for image in images:
        label = labels.get(image.id)
        mask = masks.get(image.id)
        mask_file = ""
        if mask is not None and mask.file:
            name = names[image.path].with_suffix(".png")
            write_bytes_atomic(mask_dir / name, encode_mask_png(project.masks.load(image.id), palette))
            mask_file = (Path(mask_dir.name) / name).as_posix()
        writer.writerow([
            image.path,
            label.class_name if label else "",
            label.kind.value if label else "",
            (mask_file or "empty") if mask else "",
            mask.pixels if mask else "",
            label.actor if label else "",
            label.updated_at if label else "",
        ])
    write_text_atomic(target, buffer.getvalue())
    return ExportResult(format="csv", out=target, images=len(images), skipped_missing=0)


def _export_names(project: Project, stored_paths: list[str]) -> dict[str, Path]:
    """Short relative names for exported files (see :func:`core.interchange.model.export_names`)."""
    return {path: Path(name) for path, name in export_names(project, stored_paths).items()}


def _export_folders(project: Project, out: Path) -> ExportResult:
    labels = project.labels.all()
    copied = missing = unlabeled = 0
    used: set[Path] = set()
    for image in project.images.list():
        label = labels.get(image.id)
        if label is None:
            unlabeled += 1
            continue
        source = project.images.resolve(image)
        target = out / label.class_name / Path(image.path).name
        if target in used:  # two images with one file name: keep both
            target = target.with_name(f"{target.stem}-{image.id}{target.suffix}")
        used.add(target)
        if not source.is_file():
            missing += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
        copied += 1
    return ExportResult(format="folders", out=out, images=copied, skipped_missing=missing, left_out=unlabeled)


def _export_masks(project: Project, out: Path) -> ExportResult:
    palette = project.masks.palette()
    masked = sorted(project.masks.all())
    images = [project.images.get(image_id) for image_id in masked]
    names = _export_names(project, [image.path for image in images])
    index = [("image", "mask", "pixels")]
    for image in images:
        mask = project.masks.load(image.id)
        assert mask is not None
        name = names[image.path].with_suffix(".png")
        write_bytes_atomic(out / name, encode_mask_png(mask, palette))
        index.append((image.path, name.as_posix(), int((mask != 0).sum())))
    write_text_atomic(out / "index.csv", _csv_text(index))
    classes = [("id", "name", "kind", "color")]
    classes += [(c.id, c.name, c.kind.value, c.color) for c in project.classes.list()]
    write_text_atomic(out / "classes.csv", _csv_text(classes))
    return ExportResult(format="masks", out=out, images=len(images), skipped_missing=0,
                        left_out=project.images.count() - len(images))


def _csv_text(rows: list[tuple]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
