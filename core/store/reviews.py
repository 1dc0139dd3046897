"""Rejected mask proposals: the images whose proposal of a proposer run the reviewer
turned down, so that the review never offers that run's proposal for them again.

Accepted proposals need no table: they become ordinary masks whose ``source`` names the
run (see :mod:`core.proposals.accept`). A rejection is kept per run: a newer proposer
run may propose something better for the same image and offers it again.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.store.database import IN_CHUNK, Database, now_iso


class RejectedProposals:
    """Reads and writes ``rejected_proposals`` (one row per run and image)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def reject(self, run_id: int, image_ids: Iterable[int], *, actor: str, source: str) -> int:
        """Marks the proposals of ``run_id`` for ``image_ids`` rejected (one transaction);
        returns how many were not rejected before."""
        at = now_iso()
        rows = [(int(run_id), int(i), actor, source, at) for i in dict.fromkeys(int(i) for i in image_ids)]
        with self._db.transaction():
            before = self.count(run_id)
            for row in rows:
                self._db.execute("INSERT OR IGNORE INTO rejected_proposals (run_id, image_id, actor, source, at)"
                                 " VALUES (?,?,?,?,?)", row)
            return self.count(run_id) - before

    def restore(self, run_id: int, image_ids: Iterable[int] | None = None) -> int:
        """Offers rejected proposals of ``run_id`` again (``image_ids`` None: all of them);
        returns how many were rejected."""
        with self._db.transaction():
            if image_ids is None:
                return self._db.execute("DELETE FROM rejected_proposals WHERE run_id = ?", (int(run_id),)).rowcount
            wanted = [int(i) for i in image_ids]
            removed = 0
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start:start + IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                removed += self._db.execute(
                    f"DELETE FROM rejected_proposals WHERE run_id = ? AND image_id IN ({marks})",
                    (int(run_id), *chunk)).rowcount
            return removed

    def image_ids(self, run_id: int) -> frozenset[int]:
        """The images whose proposal of ``run_id`` was rejected."""
        rows = self._db.all("SELECT image_id FROM rejected_proposals WHERE run_id = ?", (int(run_id),))
        return frozenset(int(r[0]) for r in rows)

    def count(self, run_id: int) -> int:
        return int(self._db.scalar("SELECT COUNT(*) FROM rejected_proposals WHERE run_id = ?", (int(run_id),)))
