"""Merging one class into another: labels, mask pixels and predictions move, the class goes.

Lives beside the repositories rather than in :class:`~core.store.classes.Classes`
because it rewrites mask files, which the classes repository does not own. The new
mask files are written before the transaction and the replaced ones are deleted only
after it commits, so a failed merge leaves every mask as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.files import write_bytes_atomic
from core.store.classes import ClassRef
from core.store.database import now_iso
from core.store.errors import InvalidValueError, StoreError
from core.store.masks import encode_mask_png
from core.store.records import ImageClass, MaskInfo

if TYPE_CHECKING:
    from core.store.project import Project


@dataclass(frozen=True)
class ClassMerge:
    """What a merge changed. ``target`` keeps its name, colour, key and kind."""

    merged: ImageClass
    target: ImageClass
    labels_moved: int
    masks_rewritten: int


def merge_classes(project: Project, merged: ClassRef, target: ClassRef, *, actor: str, source: str) -> ClassMerge:
    """Moves every label and mask pixel of ``merged`` to ``target`` and deletes ``merged``.

    One transaction: one label event per relabeled image, one mask event per rewritten
    mask, one class event for the merge.

    Raises:
        InvalidValueError: ``merged`` and ``target`` are the same class.
        ClassNotFoundError: either class does not exist.
    """
    old = project.classes.get(merged)
    new = project.classes.get(target)
    if old.id == new.id:
        raise InvalidValueError(f"cannot merge class {old.name!r} into itself")
    infos = [i for i in project.masks.all().values() if old.id in i.class_ids]
    written = [_rewritten(project, info, old.id, new.id) for info in infos]
    try:
        with project._db.transaction():
            image_ids = [r[0] for r in project._db.all("SELECT image_id FROM labels WHERE class_id = ?", (old.id,))]
            moved = project.labels.apply([(i, new) for i in image_ids], actor=actor, source=source)
            for info, (file, class_ids) in zip(infos, written, strict=True):
                if project.masks.info(info.image_id) != info:
                    raise StoreError(f"the mask of image {info.image_id} changed during the merge; merge again")
                _point_mask(project, info, file, class_ids, actor=actor, source=source)
            project._db.execute("UPDATE predictions SET class_id = ? WHERE class_id = ?", (new.id, old.id))
            project._db.execute("DELETE FROM classes WHERE id = ?", (old.id,))
            project.events.append(kind="class", image_id=None, actor=actor, source=source,
                                  old={"id": old.id, "name": old.name, "kind": old.kind.value},
                                  new={"merged_into": new.id, "name": new.name, "labels": moved, "masks": len(infos)})
    except BaseException:
        _unlink(project, [f for (f, _), info in zip(written, infos, strict=True) if f != info.file])
        raise
    _unlink(project, [info.file for info, (f, _) in zip(infos, written, strict=True) if info.file and info.file != f])
    return ClassMerge(merged=old, target=project.classes.get(new.id), labels_moved=moved, masks_rewritten=len(infos))


def _rewritten(project: Project, info: MaskInfo, old_id: int, new_id: int) -> tuple[str, tuple[int, ...]]:
    """Writes the mask of ``info`` with ``old_id`` pixels as ``new_id``; returns (file, class ids)."""
    mask = project.masks.load(info.image_id)
    assert mask is not None  # class_ids lists old_id, so the mask has pixels
    mask[mask == old_id] = new_id
    palette = {k: v for k, v in project.masks.palette().items() if k != old_id}
    png = encode_mask_png(mask, palette)
    file = f"{info.image_id}-{hashlib.blake2b(png, digest_size=8).hexdigest()}.png"
    if not (project.masks_dir / file).exists():
        write_bytes_atomic(project.masks_dir / file, png)
    return file, tuple(int(v) for v in np.unique(mask) if v != 0)


def _point_mask(project: Project, info: MaskInfo, file: str, class_ids: tuple[int, ...], *, actor: str,
                source: str) -> None:
    project._db.execute(
        "UPDATE masks SET file = ?, class_ids = ?, actor = ?, source = ?, updated_at = ? WHERE image_id = ?",
        (file, json.dumps(list(class_ids)), actor, source, now_iso(), info.image_id),
    )
    project.events.append(kind="mask", image_id=info.image_id, actor=actor, source=source,
                          old={"file": info.file, "pixels": info.pixels}, new={"file": file, "pixels": info.pixels})


def _unlink(project: Project, files: list[str | None]) -> None:
    for file in files:
        if file:
            with contextlib.suppress(OSError):
                (project.masks_dir / file).unlink()
