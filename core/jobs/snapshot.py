"""The labels a run trains on, frozen when it starts (edits made later mark it stale)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.store import ClassKind, Project


@dataclass(frozen=True)
class LabelSnapshot:
    """Image-level labels and masks at one moment.

    Attributes:
        labels: (image id, class id) pairs, by image id.
        masks: image ids with a mask row (an empty mask counts: "no defect pixels").
        classes: (class id, name, kind) of every class.
        digest: a short hash of all of the above, to tell whether labels changed since.
    """

    labels: tuple[tuple[int, int], ...]
    masks: tuple[int, ...]
    classes: tuple[tuple[int, str, str], ...]
    digest: str

    def counts(self) -> dict[str, int]:
        names = {class_id: name for class_id, name, _kind in self.classes}
        counts = {name: 0 for _id, name, _kind in self.classes}
        for _image, class_id in self.labels:
            counts[names[class_id]] += 1
        return counts

    def ok_class_ids(self) -> set[int]:
        return {class_id for class_id, _name, kind in self.classes if kind == ClassKind.OK.value}

    def to_json(self) -> dict[str, Any]:
        """What a run records: counts and the digest (the pairs are in the run's folder)."""
        return {"digest": self.digest, "labeled": len(self.labels), "masks": len(self.masks),
                "classes": self.counts()}


def take_snapshot(project: Project) -> LabelSnapshot:
    """Reads the current labels, masks and classes in one read transaction."""
    db = project.db
    own = not db.conn.in_transaction  # a read transaction: one consistent view in WAL mode
    if own:
        db.execute("BEGIN")
    try:
        labels = tuple((int(i), int(c)) for i, c in db.all("SELECT image_id, class_id FROM labels ORDER BY image_id"))
        mask_files = db.all("SELECT image_id, COALESCE(file, '') FROM masks ORDER BY image_id")
        classes = tuple((c.id, c.name, c.kind.value) for c in project.classes.list())
    finally:
        if own:
            db.execute("COMMIT")
    masks = tuple(int(r[0]) for r in mask_files)
    payload = json.dumps([labels, mask_files, classes]).encode()
    digest = hashlib.blake2b(payload, digest_size=8).hexdigest()
    return LabelSnapshot(labels=labels, masks=masks, classes=classes, digest=digest)
