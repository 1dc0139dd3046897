"""YOLO segmentation: a polygon per region in a text file per image, and ``data.yaml``.

Written as ``OUT/data.yaml``, copies of the images in ``OUT/images/`` and a label file
``OUT/labels/<image's relative name without suffix>.txt`` for every image with a mask:
one line per region, ``<class index> x1 y1 x2 y2 ...`` with the coordinates as
fractions of the image's width and height (0 left / top, 1 right / bottom edge). An
empty label file is an image with a mask and no defect pixel; an image without a mask
has none. A polygon cannot leave a hole: a region with holes comes back filled.

``data.yaml`` has ``train`` and ``val`` (both ``images``), ``nc``, ``names`` (class index
to name, every project class in order) and, beyond what YOLO reads, ``kinds`` (index to
ok or defect) and ``colors`` (index to ``#RRGGBB``). Image-level labels are in
``OUT/image_labels.csv``: columns ``image`` (relative to ``images/``) and ``class``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from core.files import write_text_atomic
from core.interchange import geometry
from core.interchange.model import (
    DEFECT_KIND,
    ClassSpec,
    InterchangeError,
    Parsed,
    ParsedImage,
    Snapshot,
    copy_images,
)

DATA_FILE = "data.yaml"
LABELS_CSV = "image_labels.csv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def write(snap: Snapshot, out: Path) -> tuple[int, int]:
    """Writes the export; returns (images written, images whose file is missing)."""
    missing = list(copy_images(snap.images, out / "images"))
    index = {c.id: n for n, c in enumerate(snap.classes)}
    rows = [("image", "class")]
    for image in snap.images:
        if image.label is not None:
            rows.append((image.name, image.label))
        mask = image.mask()
        if mask is None:
            continue
        lines = []
        for component in geometry.components(mask):
            outer, _ = component.outline()
            for polygon in outer:
                coords = " ".join(f"{x / image.width:.6f} {y / image.height:.6f}" for x, y in polygon)
                lines.append(f"{index[component.class_id]} {coords}")
        label_file = (out / "labels" / image.name).with_suffix(".txt")
        write_text_atomic(label_file, "".join(line + "\n" for line in lines))
    data = {"train": "images", "val": "images", "nc": len(snap.classes),
            "names": {n: c.name for n, c in enumerate(snap.classes)},
            "kinds": {n: c.kind for n, c in enumerate(snap.classes)},
            "colors": {n: c.color for n, c in enumerate(snap.classes)}}
    write_text_atomic(out / DATA_FILE, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    write_text_atomic(out / LABELS_CSV, buffer.getvalue())
    return len(snap.images) - len(missing), len(missing)


def read(path: Path) -> Parsed:
    """The labels of a YOLO segmentation folder (or its ``data.yaml``)."""
    root = path.parent if path.is_file() else path
    classes = _classes(root / DATA_FILE if path.is_dir() else path)
    parsed = Parsed(format="yolo", classes={n + 1: spec for n, spec in classes.items()})
    images: dict[str, ParsedImage] = {}
    label_dir = root / "labels"
    if label_dir.is_dir():
        for text_file in sorted(label_dir.rglob("*.txt")):
            relative = text_file.relative_to(label_dir).with_suffix("")
            entry = _entry(root, relative, text_file.name)
            entry.polygons = _polygons(text_file, root, len(classes))
            entry.normalized = True
            images[relative.as_posix()] = entry
    csv_file = root / LABELS_CSV
    if csv_file.is_file():
        for image, name in _label_rows(csv_file):
            if name not in {spec.name for spec in classes.values()}:
                parsed.class_named(name)
            key = Path(image).with_suffix("").as_posix()
            entry = images.setdefault(key, _entry(root, Path(image).with_suffix(""), LABELS_CSV))
            entry.label = name
    parsed.images = list(images.values())
    return parsed


def _entry(root: Path, relative: Path, where: str) -> ParsedImage:
    """The image of a label file: its file under ``images/`` when there, else by name alone."""
    for suffix in IMAGE_SUFFIXES:
        candidate = root / "images" / relative.parent / (relative.name + suffix)
        if candidate.is_file():
            return ParsedImage(ref=candidate.relative_to(root / "images").as_posix(), base=root / "images",
                               where=where)
    return ParsedImage(ref=relative.as_posix(), base=root / "images", stem_only=True, where=where)


def _classes(data_file: Path) -> dict[int, ClassSpec]:
    try:
        data = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InterchangeError(f"no {DATA_FILE} in {data_file.parent}: it names the classes") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InterchangeError(f"{data_file.name} cannot be read: {exc}") from None
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names or not all(isinstance(k, int) and isinstance(v, str) and v.strip()
                                                           for k, v in names.items()):
        raise InterchangeError(f"{data_file.name} has no 'names': a list or a map of class index to name")
    if sorted(names) != list(range(len(names))):
        raise InterchangeError(f"{data_file.name}: the class indexes must be 0 to {len(names) - 1}")
    if len(names) > 255:
        raise InterchangeError(f"{data_file.name} names {len(names)} classes: a project mask holds at most 255")
    kinds = data.get("kinds") if isinstance(data.get("kinds"), dict) else {}
    colors = data.get("colors") if isinstance(data.get("colors"), dict) else {}
    return {n: ClassSpec(id=n + 1, name=names[n].strip(),
                         kind=kinds.get(n) if kinds.get(n) in ("ok", "defect") else DEFECT_KIND,
                         color=colors.get(n) if isinstance(colors.get(n), str) else None) for n in names}


def _polygons(text_file: Path, root: Path, classes: int) -> list[tuple[int, geometry.Polygon]]:
    where = text_file.relative_to(root).as_posix()
    try:
        text = text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InterchangeError(f"{where} cannot be read: {exc}") from None
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            index = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise InterchangeError(f"{where} line {number}: expected a class index and numbers") from None
        if not 0 <= index < classes:
            raise InterchangeError(f"{where} line {number}: class index {index} is not in data.yaml (0 to"
                                   f" {classes - 1})")
        if len(values) < 6 or len(values) % 2:
            raise InterchangeError(f"{where} line {number}: a polygon needs at least 3 x y pairs"
                                   + (" (this looks like a box: detection labels are not masks)"
                                      if len(values) == 4 else ""))
        if not all(-0.01 <= v <= 1.01 for v in values):
            raise InterchangeError(f"{where} line {number}: coordinates must be fractions of the image size (0 to 1)")
        found.append((index + 1, geometry.polygon_points(values)))
    return found


def _label_rows(csv_file: Path) -> list[tuple[str, str]]:
    try:
        with csv_file.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InterchangeError(f"{csv_file.name} cannot be read: {exc}") from None
    if not rows or [c.strip() for c in rows[0]] != ["image", "class"]:
        raise InterchangeError(f"{csv_file.name} must start with the header 'image,class'")
    found = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise InterchangeError(f"{csv_file.name} line {number}: expected an image and a class")
        found.append((row[0].strip(), row[1].strip()))
    return found
