"""COCO: one JSON file of images, categories and instance masks.

Written as ``OUT/annotations.json`` with copies of the images in ``OUT/images/``
(``file_name`` is relative to that folder). Every connected region of a mask is one
annotation (``iscrowd`` 0) with its ``area`` (pixels) and ``bbox`` ``[x, y, width,
height]``; its ``segmentation`` is compressed RLE, or with ``polygons`` a polygon along
the pixel edges (a region with holes stays RLE: a COCO polygon cannot leave a hole).

What COCO has no field for, written as extra fields that COCO readers ignore:

- ``categories[].kind``: ``ok`` or ``defect`` (also in ``supercategory``), and
  ``categories[].color``: the class colour, ``#RRGGBB``. Category ids are the project's
  class ids, so they equal the pixel values of the project's mask PNGs.
- ``image_labels``: a top-level list of ``{"image_id", "category_id"}``, the image-level
  class of each labeled image.
- ``images[].has_mask``: true for every image with a mask, also one with no defect
  pixel (which has no annotation); false for an image without a mask.

On import, a file without ``has_mask`` gives a mask to every image with an annotation.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

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

FILE_NAME = "annotations.json"
IMAGES = "images"


def write(snap: Snapshot, out: Path, *, polygons: bool = False) -> tuple[int, int]:
    """Writes the export; returns (images written, images whose file is missing)."""
    missing = list(copy_images(snap.images, out / IMAGES))
    name_to_id = {c.name: c.id for c in snap.classes}
    images, annotations, image_labels = [], [], []
    for image_id, image in enumerate(snap.images, start=1):
        images.append({"id": image_id, "file_name": image.name, "width": image.width, "height": image.height,
                       "has_mask": image.masked})
        if image.label is not None:
            image_labels.append({"image_id": image_id, "category_id": name_to_id[image.label]})
        mask = image.mask()
        if mask is None:
            continue
        for component in geometry.components(mask):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": component.class_id,
                                "segmentation": _segmentation(component, polygons), "area": component.area,
                                "bbox": list(component.bbox), "iscrowd": 0})
    document = {
        "info": {"description": "labels exported by labelapp", "version": "1.0",
                 "date_created": datetime.now(UTC).isoformat(timespec="seconds")},
        "licenses": [],
        "images": images,
        "categories": [{"id": c.id, "name": c.name, "supercategory": c.kind, "kind": c.kind, "color": c.color}
                       for c in snap.classes],
        "annotations": annotations,
        "image_labels": image_labels,
    }
    write_text_atomic(out / FILE_NAME, json.dumps(document, separators=(",", ":")) + "\n")
    return len(images) - len(missing), len(missing)


def _segmentation(component: geometry.Component, polygons: bool) -> Any:
    if polygons and not component.has_holes:
        outer, _ = component.outline()
        return [[v for point in polygon for v in point] for polygon in outer]
    return component.rle()


def find_file(path: Path) -> Path:
    """The COCO JSON: ``path`` itself, or the one JSON file in the folder
    (``annotations.json`` first)."""
    if path.is_file():
        return path
    if (path / FILE_NAME).is_file():
        return path / FILE_NAME
    found = sorted(path.glob("*.json")) + sorted(path.glob("annotations/*.json"))
    if len(found) == 1:
        return found[0]
    raise InterchangeError(f"no COCO file in {path}: expected {FILE_NAME} or a single .json file"
                           + (f" (found {len(found)})" if found else ""))


def read(path: Path) -> Parsed:
    """The labels of a COCO file. Raises :class:`InterchangeError` naming the file and what
    is wrong in it."""
    source = find_file(path)
    try:
        return _read(source)
    except InterchangeError as exc:
        if str(exc).startswith(source.name):
            raise
        raise InterchangeError(f"{source.name}: {exc}") from None


def _read(source: Path) -> Parsed:
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InterchangeError(f"{source.name} is not a readable JSON file: {exc}") from None
    if not isinstance(document, dict):
        raise InterchangeError(f"{source.name} is not a COCO file: its top level is not an object")
    parsed = Parsed(format="coco")
    categories = _categories(document, parsed)
    images = _images(document, (source.parent / IMAGES) if (source.parent / IMAGES).is_dir() else source.parent,
                     source.name)
    segments: dict[int, list[tuple[int, object, str]]] = {}
    for n, annotation in enumerate(_list(document, "annotations", required=False)):
        where = f"annotation {annotation.get('id', n + 1) if isinstance(annotation, dict) else n + 1}"
        image_id, category_id = _ref(annotation, "image_id", images, where), _ref(annotation, "category_id",
                                                                                 categories, where)
        segmentation = annotation.get("segmentation")
        if not isinstance(segmentation, dict) and not (isinstance(segmentation, list) and segmentation):
            raise InterchangeError(f"{source.name}: {where} has no segmentation (polygons or RLE); boxes alone are"
                                   " not a mask")
        segments.setdefault(image_id, []).append((categories[category_id].id, segmentation, where))
    flags = {i: bool(image_dict.get("has_mask", i in segments)) for i, image_dict in _image_dicts(document).items()}
    for n, entry in enumerate(_list(document, "image_labels", required=False)):
        where = f"image_labels[{n}]"
        image_id = _ref(entry, "image_id", images, where)
        images[image_id].label = categories[_ref(entry, "category_id", categories, where)].name
    for image_id, image in images.items():
        if flags[image_id]:
            image.load_mask = functools.partial(_draw, segments.get(image_id, []), image.height, image.width,
                                                source.name)
        parsed.images.append(image)
    return parsed


def _draw(segments: list[tuple[int, object, str]], height: int, width: int, file: str) -> np.ndarray:
    """The mask of one image: its annotations drawn in order (class ids of the file)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for class_id, segmentation, where in segments:
        try:
            pixels = _pixels(segmentation, height, width)
        except (ValueError, TypeError) as exc:
            raise InterchangeError(f"{file}: {where}: {exc}") from None
        mask[pixels] = class_id
    return mask


def _categories(document: dict, parsed: Parsed) -> dict[int, ClassSpec]:
    found: dict[int, ClassSpec] = {}
    for n, category in enumerate(_list(document, "categories")):
        if not isinstance(category, dict) or not isinstance(category.get("id"), int) \
                or not isinstance(category.get("name"), str) or not category["name"].strip():
            raise InterchangeError(f"categories[{n}] needs an integer id and a name")
        kind = category.get("kind", category.get("supercategory"))
        color = category.get("color")
        spec = ClassSpec(id=len(found) + 1, name=category["name"].strip(),
                         kind=kind if kind in ("ok", "defect") else DEFECT_KIND,
                         color=color if isinstance(color, str) else None)
        if category["id"] in found:
            raise InterchangeError(f"categories[{n}]: the id {category['id']} is used twice")
        found[category["id"]] = spec
        parsed.classes[spec.id] = spec
    if len(found) > 255:
        raise InterchangeError(f"{len(found)} categories: a project mask holds at most 255 classes")
    return found


def _image_dicts(document: dict) -> dict[int, dict]:
    return {image["id"]: image for image in _list(document, "images")}


def _images(document: dict, base: Path, where: str) -> dict[int, ParsedImage]:
    found: dict[int, ParsedImage] = {}
    for n, image in enumerate(_list(document, "images")):
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) \
                or not isinstance(image.get("file_name"), str) or not image["file_name"]:
            raise InterchangeError(f"images[{n}] needs an integer id and a file_name")
        width, height = image.get("width"), image.get("height")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
            raise InterchangeError(f"images[{n}] ({image['file_name']}) needs a positive width and height")
        if image["id"] in found:
            raise InterchangeError(f"images[{n}]: the id {image['id']} is used twice")
        found[image["id"]] = ParsedImage(ref=image["file_name"], base=base, width=width, height=height, where=where)
    return found


def _list(document: dict, key: str, *, required: bool = True) -> list:
    value = document.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InterchangeError(f"not a COCO file: {key!r} is {'missing' if value is None else 'not a list'}")
    return value


def _ref(entry: object, key: str, known: dict[int, Any], where: str) -> int:
    if not isinstance(entry, dict):
        raise InterchangeError(f"{where} is not an object")
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value not in known:
        raise InterchangeError(f"{where}: {key} {value!r} names no entry of the file")
    return value


def _pixels(segmentation: object, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, dict):
        return geometry.decode_rle(segmentation, height, width)
    if isinstance(segmentation, list) and segmentation:
        return geometry.rasterize([geometry.polygon_points(p) for p in segmentation], height, width)
    raise ValueError("it has no segmentation (polygons or RLE); boxes alone are not a mask")
