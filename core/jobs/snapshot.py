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

    def labeled_class_ids(self) -> set[int]:
        """The classes that label at least one image."""
        return {class_id for _image, class_id in self.labels}

    def labeled_kinds(self) -> set[ClassKind]:
        """The kinds of the classes that label at least one image."""
        labeled = self.labeled_class_ids()
        return {ClassKind(kind) for class_id, _name, kind in self.classes if class_id in labeled}

    def to_json(self) -> dict[str, Any]:
        """What a run records: counts and the digest (the pairs are in the run's folder)."""
        return {"digest": self.digest, "labeled": len(self.labels), "masks": len(self.masks),
                "classes": self.counts()}


def take_snapshot(project: Project) -> LabelSnapshot:
    """Reads the current labels, masks and classes in one read transaction."""
    with project.read_transaction():  # one consistent view in WAL mode
        labels = tuple((int(i), int(c)) for i, c in project.labels.class_by_image().items())
        mask_files = [(int(i), file or "") for i, file in project.masks.files().items()]
        classes = tuple((c.id, c.name, c.kind.value) for c in project.classes.list())
    masks = tuple(i for i, _file in mask_files)
    payload = json.dumps([labels, mask_files, classes]).encode()
    digest = hashlib.blake2b(payload, digest_size=8).hexdigest()
    return LabelSnapshot(labels=labels, masks=masks, classes=classes, digest=digest)
