"""The append-only history of every label, mask and class change."""

from __future__ import annotations

import getpass
import json
from typing import Any

from core.store.database import Database, now_iso
from core.store.records import Event


def default_actor() -> str:
    """Who is labeling: the operating-system user name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Events:
    """Reads and appends the event log; rows are never updated or deleted (the
    schema's triggers refuse it)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self,
        *,
        kind: str,
        image_id: int | None,
        old: Any,
        new: Any,
        actor: str,
        source: str,
        at: str | None = None,
    ) -> None:
        """Appends one event. Call inside the transaction that makes the change."""
        self._db.execute(
            "INSERT INTO events (at, actor, source, kind, image_id, old, new) VALUES (?,?,?,?,?,?,?)",
            (at or now_iso(), actor, source, kind, image_id, _dump(old), _dump(new)),
        )

    def list(
        self, *, image_id: int | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[Event]:
        """Events, oldest first; the last ``limit`` ones when a limit is given."""
        where, params = [], []
        if image_id is not None:
            where.append("image_id = ?")
            params.append(image_id)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        sql = "SELECT id, at, actor, source, kind, image_id, old, new FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._db.all(sql, params)
        return [
            Event(id=r[0], at=r[1], actor=r[2], source=r[3], kind=r[4], image_id=r[5],
                  old=_load(r[6]), new=_load(r[7]))
            for r in reversed(rows)
        ]

    def count(self) -> int:
        return int(self._db.scalar("SELECT COUNT(*) FROM events"))

    def changed_since(self, event_id: int) -> tuple[set[int], bool]:
        """What changed after event ``event_id``: the ids of the images with a later event,
        and whether a later event concerned no single image (a class added, edited,
        merged or removed)."""
        rows = self._db.all("SELECT DISTINCT image_id FROM events WHERE id > ?", (int(event_id),))
        ids = {int(r[0]) for r in rows if r[0] is not None}
        return ids, any(r[0] is None for r in rows)

    def last_id(self) -> int:
        """The id of the newest event, 0 when none: a change counter (an index lookup)."""
        return int(self._db.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
