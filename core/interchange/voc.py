"""Pascal VOC segmentation: a palette PNG of class indexes per image.

Written as ``OUT/SegmentationClass/<image's relative name>.png`` for every image with a
mask (0 background, k the k-th class of ``class_names.txt``, the palette holding the class
colours), copies of the images in ``OUT/JPEGImages/`` (keeping their own format and
suffix), ``OUT/ImageSets/Segmentation/trainval.txt`` listing the masked images (names
without suffix), ``OUT/class_names.txt`` (one name a line, ``background`` first) and
``OUT/classes.csv`` (index, name, kind, color). Image-level labels use VOC's own
classification lists: ``OUT/ImageSets/Main/<class>_trainval.txt`` has a line
``<image> 1`` for each image of the class and ``<image> -1`` for every other labeled image.

On import, index 255 (VOC's "void" border) is read as background.
"""

from __future__ import annotations

import csv
import functools
import glob
import io
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from core.files import write_bytes_atomic, write_text_atomic
from core.interchange.model import (
    DEFECT_KIND,
    ClassSpec,
    InterchangeError,
    Parsed,
    ParsedImage,
    Snapshot,
    copy_images,
)
from core.store.classes import hex_to_rgb
from core.store.masks import encode_mask_png

MASKS, IMAGES, SETS = "SegmentationClass", "JPEGImages", "ImageSets"
NAMES_FILE, CLASSES_CSV = "class_names.txt", "classes.csv"
VOID = 255


def write(snap: Snapshot, out: Path) -> tuple[int, int]:
    """Writes the export; returns (images written, images whose file is missing)."""
    missing = list(copy_images(snap.images, out / IMAGES))
    index = {c.id: n for n, c in enumerate(snap.classes, start=1)}
    lookup = np.zeros(256, dtype=np.uint8)
    for class_id, n in index.items():
        lookup[class_id] = n
    palette = {n: hex_to_rgb(c.color) for n, c in enumerate(snap.classes, start=1) if c.color}
    segmented, labeled = [], []
    for image in snap.images:
        stem = Path(image.name).with_suffix("").as_posix()
        if image.label is not None:
            labeled.append((stem, image.label))
        mask = image.mask()
        if mask is not None:
            write_bytes_atomic(out / MASKS / f"{stem}.png", encode_mask_png(lookup[mask], palette))
            segmented.append(stem)
    write_text_atomic(out / SETS / "Segmentation" / "trainval.txt", "".join(f"{s}\n" for s in segmented))
    for cls in snap.classes:
        lines = "".join(f"{stem} {1 if label == cls.name else -1}\n" for stem, label in labeled)
        write_text_atomic(out / SETS / "Main" / f"{_file_safe(cls.name)}_trainval.txt", lines)
    write_text_atomic(out / NAMES_FILE, "".join(f"{n}\n" for n in ["background", *(c.name for c in snap.classes)]))
    buffer = io.StringIO()
    rows = [("index", "name", "kind", "color")] + [(n, c.name, c.kind, c.color or "")
                                                   for n, c in enumerate(snap.classes, start=1)]
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    write_text_atomic(out / CLASSES_CSV, buffer.getvalue())
    return len(snap.images) - len(missing), len(missing)


def read(path: Path) -> Parsed:
    """The labels of a VOC folder (``SegmentationClass``, ``ImageSets/Main``, the class list)."""
    if not path.is_dir():
        raise InterchangeError(f"{path} is not a folder: a VOC import reads its folder")
    classes = _classes(path)
    parsed = Parsed(format="voc", classes=dict(classes))
    images: dict[str, ParsedImage] = {}
    mask_dir = path / MASKS
    for png in sorted(mask_dir.rglob("*.png")) if mask_dir.is_dir() else []:
        stem = png.relative_to(mask_dir).with_suffix("").as_posix()
        entry = images[stem] = _entry(path, stem, png.relative_to(path).as_posix())
        entry.width, entry.height = _size(png, path)
        entry.load_mask = functools.partial(_mask, png, path, len(classes))
    names = {_file_safe(spec.name): spec.name for spec in classes.values()}
    for list_file in sorted((path / SETS / "Main").glob("*_trainval.txt")):
        name = names.get(list_file.name[: -len("_trainval.txt")])
        if name is None:
            raise InterchangeError(f"{list_file.relative_to(path)} is for a class that {NAMES_FILE} does not name")
        for stem in _positives(list_file, path):
            entry = images.setdefault(stem, _entry(path, stem, list_file.relative_to(path).as_posix()))
            if entry.label is not None and entry.label != name:
                raise InterchangeError(f"{stem} is in the lists of both {entry.label!r} and {name!r}")
            entry.label = name
    if not images and not mask_dir.is_dir():
        raise InterchangeError(f"{path} has neither {MASKS}/ nor {SETS}/Main/: not a VOC folder")
    parsed.images = list(images.values())
    return parsed


def _entry(root: Path, stem: str, where: str) -> ParsedImage:
    folder = root / IMAGES
    matches = sorted(folder.glob(f"{glob.escape(stem)}.*")) if folder.is_dir() else []
    if len(matches) == 1:
        return ParsedImage(ref=matches[0].relative_to(folder).as_posix(), base=folder, where=where)
    return ParsedImage(ref=stem, base=folder, stem_only=True, where=where)


def _classes(root: Path) -> dict[int, ClassSpec]:
    table = root / CLASSES_CSV
    if table.is_file():
        try:
            rows = list(csv.DictReader(table.read_text(encoding="utf-8").splitlines()))
            found = {int(r["index"]): ClassSpec(id=int(r["index"]), name=r["name"].strip(),
                                                kind=r.get("kind") if r.get("kind") in ("ok", "defect")
                                                else DEFECT_KIND, color=r.get("color") or None) for r in rows}
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InterchangeError(f"{CLASSES_CSV} cannot be read (columns index, name, kind, color): {exc}") from None
    else:
        try:
            lines = [line.strip() for line in (root / NAMES_FILE).read_text(encoding="utf-8").splitlines()]
        except FileNotFoundError:
            raise InterchangeError(f"no {NAMES_FILE} (or {CLASSES_CSV}) in {root}: it names the classes") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InterchangeError(f"{NAMES_FILE} cannot be read: {exc}") from None
        found = {n: ClassSpec(id=n, name=name) for n, name in enumerate(lines) if name and n > 0}
    if not found or sorted(found) != list(range(1, len(found) + 1)) or any(not s.name for s in found.values()):
        raise InterchangeError(f"the class list of {root.name} must name classes 1 to N (0 is the background)")
    if len(found) >= VOID:
        raise InterchangeError(f"{len(found)} classes: a VOC mask holds at most {VOID - 1}")
    return found


def _size(png: Path, root: Path) -> tuple[int, int]:
    """(width, height) of a mask PNG, from its header."""
    try:
        with PILImage.open(png) as image:
            return image.size
    except Exception as exc:  # noqa: BLE001 - whatever a broken PNG raises, the answer is the same
        raise InterchangeError(f"{png.relative_to(root).as_posix()} cannot be read as an image: {exc}") from None


def _mask(png: Path, root: Path, classes: int) -> np.ndarray:
    where = png.relative_to(root).as_posix()
    try:
        with PILImage.open(png) as image:
            if image.mode not in ("P", "L"):
                raise InterchangeError(f"{where} is {image.mode}: a VOC mask is a palette (or gray) PNG of class"
                                       " indexes")
            mask = np.asarray(image, dtype=np.uint8).copy()
    except InterchangeError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a broken PNG raises, the answer is the same
        raise InterchangeError(f"{where} cannot be read as an image: {exc}") from None
    mask[mask == VOID] = 0
    if mask.max(initial=0) > classes:
        raise InterchangeError(f"{where} holds the class index {int(mask.max())}; the class list names 1 to"
                               f" {classes}")
    return mask


def _file_safe(name: str) -> str:
    """A class name as part of a file name (a slash would make a folder)."""
    return name.replace("/", "_").replace("\\", "_")


def _positives(list_file: Path, root: Path) -> list[str]:
    where = list_file.relative_to(root).as_posix()
    try:
        text = list_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InterchangeError(f"{where} cannot be read: {exc}") from None
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.rsplit(None, 1)  # a name may hold spaces; the flag is the last word
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("1", "-1", "0"):
            raise InterchangeError(f"{where} line {number}: expected '<image> 1', '<image> -1' or '<image> 0'")
        if fields[1] == "1":
            found.append(fields[0])
    return found
