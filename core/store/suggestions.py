"""Suggestions: the images worth labeling next, ranked, each with the reason in words.

One set is current at a time: a refresh (after each retrain, or on request) replaces
it in one transaction. Rows whose image got a label since drop out of the reads at
once, without rewriting the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.store.database import Database, now_iso

_OPEN = "NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_id = s.image_id)"  # still lacks a label
_CREATED_AT = "suggestions_label_at"  # meta key: when the current set was computed


@dataclass(frozen=True)
class Suggestion:
    image_id: int
    rank: int  # 1 = label first
    score: float
    strategy: str  # the strategy that picked it ("typicality", "margin", ...)
    reason: str
    run_id: int | None = None  # the classifier / detector run it was computed from
    created_at: str = ""


class Suggestions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, suggestions: Iterable[Suggestion]) -> int:
        """Replaces the current suggestions in one transaction; returns how many were stored."""
        stamp = now_iso()
        rows = [(s.run_id, int(s.image_id), s.strategy, int(s.rank), float(s.score), s.reason, stamp)
                for s in suggestions]
        with self._db.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_CREATED_AT, stamp))
            self._db.execute("DELETE FROM suggestions")
            self._db.conn.executemany(
                "INSERT INTO suggestions (run_id, image_id, strategy, rank, score, reason, created_at)"
                " VALUES (?,?,?,?,?,?,?)", rows)
        return len(rows)

    def list(self, limit: int | None = None) -> list[Suggestion]:
        """The open suggestions, best first."""
        sql = (f"SELECT s.image_id, s.rank, s.score, s.strategy, s.reason, s.run_id, s.created_at"
               f" FROM suggestions s WHERE {_OPEN} ORDER BY s.rank")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Suggestion(*row) for row in self._db.all(sql)]

    def get(self, image_id: int) -> Suggestion | None:
        """The open suggestion for one image, or None."""
        row = self._db.one(
            f"SELECT s.image_id, s.rank, s.score, s.strategy, s.reason, s.run_id, s.created_at"
            f" FROM suggestions s WHERE {_OPEN} AND s.image_id = ? ORDER BY s.rank LIMIT 1", (image_id,))
        return None if row is None else Suggestion(*row)

    def ranks(self) -> dict[int, int]:
        """image id -> rank of every open suggestion (for sorting the grid)."""
        return {int(i): int(r) for i, r in self._db.all(f"SELECT s.image_id, s.rank FROM suggestions s WHERE {_OPEN}")}

    def count(self) -> int:
        return int(self._db.scalar(f"SELECT COUNT(*) FROM suggestions s WHERE {_OPEN}"))

    def created_at(self) -> str | None:
        """When the current set was computed (None: never), even when it was empty."""
        return self._db.scalar("SELECT value FROM meta WHERE key = ?", (_CREATED_AT,))
