"""Label classes: name, colour, keyboard shortcut, and kind (OK or defect)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.store.database import Database
from core.store.errors import ClassNotFoundError, InvalidValueError
from core.store.events import Events
from core.store.records import ClassKind, ImageClass

# Distinct on a gray image and for the common colour-vision deficiencies (Okabe-Ito
# first, then Tableau); the OK class gets green.
DEFECT_COLORS = (
    "#E69F00", "#56B4E9", "#D55E00", "#CC79A7", "#0072B2", "#F0E442",
    "#9467BD", "#8C564B", "#17BECF", "#BCBD22", "#E377C2", "#7F7F7F",
)
OK_COLOR = "#009E73"
_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
_COLUMNS = "id, name, color, shortcut, kind, position"
ClassRef = int | str | ImageClass


class Classes:
    def __init__(self, db: Database, events: Events) -> None:
        self._db = db
        self._events = events

    def list(self) -> list[ImageClass]:
        """All classes in display order."""
        return [_row(r) for r in self._db.all(f"SELECT {_COLUMNS} FROM classes ORDER BY position, id")]

    def get(self, ref: ClassRef) -> ImageClass:
        """The class with this id, name (case-insensitive) or record."""
        if isinstance(ref, ImageClass):
            ref = ref.id
        if isinstance(ref, int):
            row = self._db.one(f"SELECT {_COLUMNS} FROM classes WHERE id = ?", (ref,))
        else:
            row = self._db.one(f"SELECT {_COLUMNS} FROM classes WHERE name = ?", (ref.strip(),))
        if row is None:
            names = ", ".join(c.name for c in self.list()) or "none yet"
            raise ClassNotFoundError(f"no class {ref!r} in this project (classes: {names})")
        return _row(row)

    def find(self, name: str) -> ImageClass | None:
        row = self._db.one(f"SELECT {_COLUMNS} FROM classes WHERE name = ?", (name.strip(),))
        return None if row is None else _row(row)

    def ok_class(self) -> ImageClass | None:
        """The first class of kind OK, if the project has one."""
        row = self._db.one(f"SELECT {_COLUMNS} FROM classes WHERE kind = 'ok' ORDER BY position, id")
        return None if row is None else _row(row)

    def add(
        self,
        name: str,
        *,
        kind: ClassKind | str = ClassKind.DEFECT,
        color: str | None = None,
        shortcut: str | None = None,
        actor: str,
        source: str,
    ) -> ImageClass:
        """Adds a class; colour and shortcut are chosen when not given."""
        name = _check_name(name)
        kind = ClassKind(kind)
        with self._db.transaction():
            if self.find(name) is not None:
                raise InvalidValueError(f"a class named {name!r} already exists")
            class_id = self._free_id()
            count = int(self._db.scalar("SELECT COUNT(*) FROM classes"))
            color = _check_color(color) if color else self._default_color(kind, count)
            shortcut = shortcut if shortcut is not None else self._free_shortcut(kind)
            self._db.execute(
                "INSERT INTO classes (id, name, color, shortcut, kind, position) VALUES (?,?,?,?,?,?)",
                (class_id, name, color, shortcut, kind.value, count),
            )
            self._events.append(kind="class", image_id=None, old=None,
                                new={"id": class_id, "name": name, "kind": kind.value},
                                actor=actor, source=source)
        return self.get(class_id)

    def ensure(self, name: str, *, kind: ClassKind | str, actor: str, source: str) -> ImageClass:
        """The class named ``name``, added if missing (an existing class keeps its kind)."""
        existing = self.find(name)
        return existing if existing is not None else self.add(name, kind=kind, actor=actor, source=source)

    def update(
        self,
        ref: ClassRef,
        *,
        name: str | None = None,
        color: str | None = None,
        shortcut: str | None = None,
        kind: ClassKind | str | None = None,
        actor: str,
        source: str,
    ) -> ImageClass:
        """Renames, recolours, re-keys or changes the kind of a class."""
        with self._db.transaction():
            before = self.get(ref)
            changes: dict[str, object] = {}
            if name is not None and name.strip() != before.name:
                other = self.find(name)
                if other is not None and other.id != before.id:
                    raise InvalidValueError(f"a class named {name!r} already exists")
                changes["name"] = _check_name(name)
            if color is not None:
                changes["color"] = _check_color(color)
            if shortcut is not None:
                changes["shortcut"] = shortcut or None
            if kind is not None:
                changes["kind"] = ClassKind(kind).value
            if changes:
                sets = ", ".join(f"{k} = ?" for k in changes)
                self._db.execute(f"UPDATE classes SET {sets} WHERE id = ?", (*changes.values(), before.id))
                self._events.append(kind="class", image_id=None,
                                    old={"id": before.id, **{k: _field(before, k) for k in changes}},
                                    new={"id": before.id, **changes}, actor=actor, source=source)
        return self.get(before.id)

    def usage(self) -> dict[int, tuple[int, int]]:
        """``class id -> (labeled images, masks with pixels of the class)`` for every class."""
        counts = {c.id: [0, 0] for c in self.list()}
        for class_id, n in self._db.all("SELECT class_id, COUNT(*) FROM labels GROUP BY class_id"):
            counts.setdefault(class_id, [0, 0])[0] = int(n)
        rows = self._db.all("SELECT j.value, COUNT(*) FROM masks, json_each(masks.class_ids) AS j GROUP BY j.value")
        for class_id, n in rows:
            if class_id in counts:
                counts[class_id][1] = int(n)
        return {k: (v[0], v[1]) for k, v in counts.items()}

    def remove(self, ref: ClassRef, *, actor: str, source: str) -> None:
        """Deletes a class that no label and no mask uses; predictions of it are cleared.

        Raises:
            InvalidValueError: the class is in use (merge it into another class instead).
        """
        with self._db.transaction():
            cls = self.get(ref)
            labels, masks = self.usage().get(cls.id, (0, 0))
            if labels or masks:
                raise InvalidValueError(
                    f"class {cls.name!r} is used by {labels} label(s) and {masks} mask(s);"
                    " merge it into another class instead"
                )
            self._db.execute("UPDATE predictions SET class_id = NULL WHERE class_id = ?", (cls.id,))
            self._db.execute("DELETE FROM classes WHERE id = ?", (cls.id,))
            self._events.append(kind="class", image_id=None, new=None, actor=actor, source=source,
                                old={"id": cls.id, "name": cls.name, "kind": cls.kind.value})

    def reorder(self, ids: Sequence[int], *, actor: str, source: str) -> list[ImageClass]:
        """Sets the display order: ``ids`` lists every class id once, first to last."""
        with self._db.transaction():
            before = [c.id for c in self.list()]
            if sorted(ids) != sorted(before) or len(set(ids)) != len(ids):
                raise InvalidValueError(f"a new order must list each class id once: got {list(ids)}, have {before}")
            for position, class_id in enumerate(ids):
                self._db.execute("UPDATE classes SET position = ? WHERE id = ?", (position, class_id))
            if list(ids) != before:
                self._events.append(kind="class", image_id=None, old={"order": before}, new={"order": list(ids)},
                                    actor=actor, source=source)
        return self.list()

    def _free_id(self) -> int:
        used = {r[0] for r in self._db.all("SELECT id FROM classes")}
        for candidate in range(1, 256):
            if candidate not in used:
                return candidate
        raise InvalidValueError("a project holds at most 255 classes (mask pixels are 8-bit)")

    def _free_shortcut(self, kind: ClassKind) -> str | None:
        used = {r[0] for r in self._db.all("SELECT shortcut FROM classes WHERE shortcut IS NOT NULL")}
        keys = ("0",) if kind is ClassKind.OK else tuple("123456789")
        return next((k for k in keys if k not in used), None)

    def _default_color(self, kind: ClassKind, count: int) -> str:
        if kind is ClassKind.OK:
            return OK_COLOR
        used = {r[0].upper() for r in self._db.all("SELECT color FROM classes")}
        free = [c for c in DEFECT_COLORS if c.upper() not in used]
        return free[0] if free else DEFECT_COLORS[count % len(DEFECT_COLORS)]


def _row(r: tuple) -> ImageClass:
    return ImageClass(id=r[0], name=r[1], color=r[2], shortcut=r[3], kind=ClassKind(r[4]), position=r[5])


def _field(c: ImageClass, key: str) -> object:
    value = getattr(c, key)
    return value.value if isinstance(value, ClassKind) else value


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80 or any(ch in name for ch in "\n\r\t"):
        raise InvalidValueError(f"invalid class name {name!r}: 1-80 characters on one line")
    return name


def _check_color(color: str) -> str:
    if not _COLOR_RE.match(color):
        raise InvalidValueError(f"invalid colour {color!r}: use #RRGGBB")
    return color.upper()


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
