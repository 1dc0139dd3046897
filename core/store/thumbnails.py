"""The thumbnail cache: ``cache/thumbnails.sqlite``, JPEG bytes keyed by content hash.

One file instead of 100,000 small ones: fast to fill, fast to read by key from the
grid's loader thread (each thread opens its own cache), and safe to delete. It lives
with the store because it is SQLite too (no SQL outside ``core/store``); its errors are
:class:`StoreError` like the store's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from core.store.errors import StoreError

CACHE_NAME = "thumbnails.sqlite"


class ThumbnailCache:
    def __init__(self, cache_dir: Path) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / CACHE_NAME
        with self._errors():
            self._conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS thumbnails (hash TEXT PRIMARY KEY, width INTEGER NOT NULL,"
                " height INTEGER NOT NULL, jpeg BLOB NOT NULL)"
            )

    @contextmanager
    def _errors(self):
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"thumbnail cache {self.path}: {exc}") from exc

    def put_many(self, items: Iterable[tuple[str, int, int, bytes]]) -> None:
        """Stores ``(hash, width, height, jpeg)`` tuples in one transaction."""
        with self._errors(), self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO thumbnails (hash, width, height, jpeg) VALUES (?,?,?,?)", items
            )

    def get(self, content_hash: str) -> bytes | None:
        with self._errors():
            row = self._conn.execute("SELECT jpeg FROM thumbnails WHERE hash = ?", (content_hash,)).fetchone()
        return None if row is None else bytes(row[0])

    def missing(self, hashes: Iterable[str]) -> set[str]:
        """The hashes among ``hashes`` that have no thumbnail yet."""
        wanted = list(hashes)
        have: set[str] = set()
        with self._errors():
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                have.update(r[0] for r in self._conn.execute(
                    f"SELECT hash FROM thumbnails WHERE hash IN ({marks})", chunk))
        return set(wanted) - have

    def count(self) -> int:
        with self._errors():
            return int(self._conn.execute("SELECT COUNT(*) FROM thumbnails").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
