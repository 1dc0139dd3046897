"""Image-level labels: one current class per image, every change in the event log."""

from __future__ import annotations

from collections.abc import Iterable

from core.store.classes import Classes, ClassRef
from core.store.database import Database, now_iso, select_by_image
from core.store.errors import ImageNotFoundError
from core.store.events import Events
from core.store.records import ClassKind, Label

_SELECT = (
    "SELECT l.image_id, l.class_id, c.name, c.kind, l.actor, l.source, l.updated_at"
    " FROM labels l JOIN classes c ON c.id = l.class_id"
)


class Labels:
    def __init__(self, db: Database, classes: Classes, events: Events) -> None:
        self._db = db
        self._classes = classes
        self._events = events

    def get(self, image_id: int) -> Label | None:
        row = self._db.one(_SELECT + " WHERE l.image_id = ?", (image_id,))
        return None if row is None else _row(row)

    def all(self) -> dict[int, Label]:
        """Every current label by image id."""
        return {r[0]: _row(r) for r in self._db.all(_SELECT)}

    def class_by_image(self, ids: Iterable[int] | None = None) -> dict[int, int]:
        """image id -> class id of every label, by image id (of ``ids`` only, when given)."""
        return select_by_image(self._db, "SELECT image_id, class_id FROM labels", ids)

    def count(self) -> int:
        """How many images have a label."""
        return int(self._db.scalar("SELECT COUNT(*) FROM labels"))

    def set(self, image_id: int, cls: ClassRef | None, *, actor: str, source: str) -> bool:
        """Sets (or with ``None`` clears) the label of one image. Returns whether it
        changed; an unchanged label writes nothing."""
        return self.set_many([image_id], cls, actor=actor, source=source) == 1

    def set_many(self, image_ids: Iterable[int], cls: ClassRef | None, *, actor: str, source: str) -> int:
        """Gives many images the same label in one transaction; returns how many changed."""
        return self.apply([(i, cls) for i in image_ids], actor=actor, source=source)

    def apply(self, changes: Iterable[tuple[int, ClassRef | None]], *, actor: str, source: str) -> int:
        """Applies ``(image_id, class or None)`` pairs in one transaction."""
        changed = 0
        at = now_iso()
        with self._db.transaction():
            cache: dict[object, object] = {}
            for image_id, ref in changes:
                target = None
                if ref is not None:
                    key = ref.id if hasattr(ref, "id") else ref
                    if key not in cache:
                        cache[key] = self._classes.get(ref)
                    target = cache[key]
                changed += self._apply_one(image_id, target, actor=actor, source=source, at=at)
        return changed

    def _apply_one(self, image_id: int, target, *, actor: str, source: str, at: str) -> int:
        current = self.get(image_id)
        if target is None and current is None:
            return 0
        if target is not None and current is not None and current.class_id == target.id:
            return 0
        if self._db.one("SELECT 1 FROM images WHERE id = ?", (image_id,)) is None:
            raise ImageNotFoundError(f"no image with id {image_id}")
        if target is None:
            self._db.execute("DELETE FROM labels WHERE image_id = ?", (image_id,))
        else:
            self._db.execute(
                "INSERT INTO labels (image_id, class_id, actor, source, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(image_id) DO UPDATE SET class_id = excluded.class_id,"
                " actor = excluded.actor, source = excluded.source, updated_at = excluded.updated_at",
                (image_id, target.id, actor, source, at),
            )
        self._events.append(
            kind="label", image_id=image_id, actor=actor, source=source, at=at,
            old=None if current is None else {"class_id": current.class_id, "class": current.class_name},
            new=None if target is None else {"class_id": target.id, "class": target.name},
        )
        return 1

    def counts(self) -> dict[str, int]:
        """Labeled images per class name, every class listed (0 when none)."""
        rows = self._db.all(
            "SELECT c.name, COUNT(l.image_id) FROM classes c LEFT JOIN labels l ON l.class_id = c.id"
            " GROUP BY c.id ORDER BY c.position, c.id"
        )
        return {name: int(n) for name, n in rows}


def _row(r: tuple) -> Label:
    return Label(image_id=r[0], class_id=r[1], class_name=r[2], kind=ClassKind(r[3]),
                 actor=r[4], source=r[5], updated_at=r[6])
