"""labelme: one JSON file per image, beside a copy of the image.

Written as ``OUT/<image's relative name>`` (the copy) and ``OUT/<same name>.json`` with
labelme's fields: ``imagePath`` (the image's file name, beside the JSON), ``imageData``
null, ``imageHeight``, ``imageWidth``, ``flags`` (every project class, true for the
image's label: labelme's image-level flags) and ``shapes``: a ``polygon`` per region,
``label`` the class name, points along the pixel edges. A hole in a region is a
polygon labeled ``_background_`` after it (labelme's name for the background class,
drawn in order, as labelme's own converters do). Beyond labelme's fields,
``has_mask`` tells an image with a mask and no defect pixel (no shape) from one
without a mask, and ``classes`` lists the project's classes in order with their kind
(ok or defect) and colour.

On import, ``polygon`` and ``rectangle`` shapes become mask regions, later shapes over
earlier ones; a file without ``has_mask`` gives a mask to every image with a shape.
Any other shape (a line, a point, a circle) cannot be a region and stops the import.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.files import write_text_atomic
from core.interchange import geometry
from core.interchange.model import ClassSpec, InterchangeError, Parsed, ParsedImage, Snapshot, copy_images

VERSION = "5.5.0"
BACKGROUND = "_background_"


def write(snap: Snapshot, out: Path) -> tuple[int, int]:
    """Writes the export; returns (images written, images whose file is missing)."""
    missing = list(copy_images(snap.images, out))
    names = snap.class_names()
    classes = [{"name": c.name, "kind": c.kind, "color": c.color} for c in snap.classes]
    for image in snap.images:
        shapes = []
        mask = image.mask()
        if mask is not None:
            for component in geometry.components(mask):
                outer, holes = component.outline()
                shapes += [_shape(names[component.class_id], p) for p in outer]
                shapes += [_shape(BACKGROUND, p) for p in holes]
        document = {"version": VERSION, "flags": {c.name: c.name == image.label for c in snap.classes},
                    "shapes": shapes, "imagePath": Path(image.name).name, "imageData": None,
                    "imageHeight": image.height, "imageWidth": image.width, "has_mask": image.masked,
                    "classes": classes}
        target = out / Path(image.name).with_suffix(".json")
        write_text_atomic(target, json.dumps(document, ensure_ascii=False) + "\n")
    return len(snap.images) - len(missing), len(missing)


def _shape(label: str, polygon: geometry.Polygon) -> dict:
    return {"label": label, "points": [[x, y] for x, y in polygon], "group_id": None, "description": "",
            "shape_type": "polygon", "flags": {}, "mask": None}


def read(path: Path) -> Parsed:
    """The labels of a folder of labelme JSON files (sub-folders too), or of one file."""
    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    if not files:
        raise InterchangeError(f"no labelme .json files in {path}")
    root = path.parent if path.is_file() else path
    parsed = Parsed(format="labelme")
    parsed.class_named(BACKGROUND)  # id 1, drawn as 0
    for file in files:
        parsed.images.append(_image(file, root, parsed))
    del parsed.classes[1]
    return parsed


def _image(file: Path, root: Path, parsed: Parsed) -> ParsedImage:
    where = file.relative_to(root).as_posix()
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InterchangeError(f"{where} is not a readable JSON file: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("shapes"), list) \
            or not isinstance(document.get("imagePath"), str) or not document["imagePath"]:
        raise InterchangeError(f"{where} is not a labelme file: it needs 'shapes' and 'imagePath'")
    width, height = document.get("imageWidth"), document.get("imageHeight")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
        raise InterchangeError(f"{where} needs a positive imageWidth and imageHeight")
    entry = ParsedImage(ref=document["imagePath"], base=file.parent, width=width, height=height, where=where)
    _classes(document.get("classes"), where, parsed)
    flags = document.get("flags") or {}
    if not isinstance(flags, dict):
        raise InterchangeError(f"{where}: 'flags' is not a map of flag to true or false")
    chosen = [name for name, value in flags.items() if value is True]
    if len(chosen) > 1:
        raise InterchangeError(f"{where} sets {len(chosen)} flags ({', '.join(chosen)}); an image has one class")
    if chosen:
        entry.label = parsed.class_named(chosen[0]).name
    polygons = []
    for n, shape in enumerate(document["shapes"]):
        polygons.append(_polygon(shape, f"{where} shape {n + 1}", parsed))
    if polygons or document.get("has_mask") is True:
        entry.polygons = polygons
    return entry


def _classes(listed: object, where: str, parsed: Parsed) -> None:
    """Takes in the class list a labelapp export adds (name, kind, colour, in order)."""
    if listed is None:
        return
    if not isinstance(listed, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str)
                                               and c["name"].strip() for c in listed):
        raise InterchangeError(f"{where}: 'classes' is not a list of classes with names")
    for item in listed:
        spec = parsed.class_named(item["name"].strip())
        kind = item.get("kind") if item.get("kind") in ("ok", "defect") else spec.kind
        color = item.get("color") if isinstance(item.get("color"), str) else spec.color
        parsed.classes[spec.id] = ClassSpec(id=spec.id, name=spec.name, kind=kind, color=color)


def _polygon(shape: object, where: str, parsed: Parsed) -> tuple[int, geometry.Polygon]:
    if not isinstance(shape, dict) or not isinstance(shape.get("label"), str) or not shape["label"].strip():
        raise InterchangeError(f"{where} needs a label")
    kind = shape.get("shape_type") or "polygon"
    points = shape.get("points")
    try:
        if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
            raise ValueError("its points are not a list of [x, y] pairs")
        flat = [v for point in points for v in point]
        if kind == "rectangle" and len(points) == 2:
            polygon = geometry.polygon_points(flat + [flat[2], flat[1]] + [flat[0], flat[3]])
            polygon = [polygon[0], polygon[2], polygon[1], polygon[3]]
        elif kind == "polygon":
            polygon = geometry.polygon_points(flat)
        else:
            raise ValueError(f"a {kind!r} shape is not a region (polygons and rectangles are)")
    except ValueError as exc:
        raise InterchangeError(f"{where} ({shape['label']}): {exc}") from None
    label = shape["label"].strip()
    class_id = 0 if label == BACKGROUND else parsed.class_named(label).id
    return class_id, polygon
