"""Labels in and out of a project in the formats other tools read: COCO, YOLO
segmentation, Pascal VOC segmentation and labelme (the CSV, class folders and mask PNGs
are in :mod:`core.export.labels`).

Each format's module says its layout, and where it keeps what the format has no field
for (image-level labels, class kinds and colours). An import reads and checks the whole
file first and writes in one transaction: a file with anything wrong imports nothing.
"""

from __future__ import annotations

from pathlib import Path

from core.interchange import coco, labelme, voc, yolo
from core.interchange.model import InterchangeError, Parsed, snapshot
from core.interchange.plan import ImportResult, apply, make_plan
from core.store import Project

EXPORT_FORMATS = ("coco", "yolo", "voc", "labelme")
IMPORT_FORMATS = EXPORT_FORMATS
_READERS = {"coco": coco.read, "yolo": yolo.read, "voc": voc.read, "labelme": labelme.read}

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ImportResult", "InterchangeError", "export_interchange",
           "import_labels", "read_labels"]


def export_interchange(project: Project, out: Path, *, format: str, polygons: bool = False) -> tuple[int, int]:
    """Writes the project's labels into the folder ``out`` in ``format``; returns
    (images written, images left out because their file is missing: their labels are
    written all the same, without a copy of the image). ``polygons``: COCO masks as
    polygons instead of RLE."""
    snap = snapshot(project)
    out.mkdir(parents=True, exist_ok=True)
    if format == "coco":
        return coco.write(snap, out, polygons=polygons)
    writers = {"yolo": yolo.write, "voc": voc.write, "labelme": labelme.write}
    if format not in writers:
        raise ValueError(f"unknown export format {format!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return writers[format](snap, out)


def read_labels(path: Path | str, *, format: str) -> Parsed:
    """The labels of ``path`` in ``format``, read and checked, not yet matched to a project.

    Raises:
        InterchangeError: the file cannot be read, or holds something wrong (the message
            names the file and what).
    """
    path = Path(path)
    if format not in _READERS:
        raise ValueError(f"unknown import format {format!r}; choose from {', '.join(IMPORT_FORMATS)}")
    if not path.exists():
        raise InterchangeError(f"{path} does not exist")
    try:
        return _READERS[format](path)
    except RecursionError:
        raise InterchangeError(f"{path} nests too deep to be read") from None


def import_labels(project: Project, path: Path | str, *, format: str, actor: str | None = None) -> ImportResult:
    """Reads ``path`` in ``format`` and writes its image labels and masks into the project
    (classes it names that the project lacks are added), all in one transaction.

    Raises:
        InterchangeError: nothing was imported; the message says why.
    """
    path = Path(path)
    parsed = read_labels(path, format=format)
    plan = make_plan(project, parsed, path)
    return apply(project, parsed, plan, source=path, actor=actor or f"import:{format}")
