"""One SQLite connection with the store's transaction rules.

Every write goes through :meth:`Database.transaction` (``BEGIN IMMEDIATE``: the
write lock is taken at the start, so two writers wait on the busy timeout instead of
failing on a lock upgrade). The connection belongs to the thread that opened it; a
worker thread opens its own from the project path.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.store.errors import InvalidValueError, ProjectLockedError, StoreError

BUSY_TIMEOUT_S = 30.0
IN_CHUNK = 500  # ids per IN (...) query, below SQLite's variable limit
_savepoints = itertools.count()


def now_iso() -> str:
    """UTC time as ISO 8601 with milliseconds, the store's one timestamp format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def connect(path: Path) -> sqlite3.Connection:
    """Opens ``path`` in autocommit mode with WAL, foreign keys and a busy timeout."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Database:
    """The store's connection: reads, and writes inside one transaction each."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        self._utils: Any = None

    @property
    def utils(self) -> Any:
        """sqlite-utils on the same connection (table introspection, dict rows); imported
        on first use, it costs a quarter of a second of start-up."""
        if self._utils is None:
            import sqlite_utils

            self._utils = sqlite_utils.Database(self.conn)
        return self._utils

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls become savepoints of the outer one."""
        if self.conn.in_transaction:
            name = f"sp{next(_savepoints)}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            self.conn.execute(f"RELEASE {name}")
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _translate(exc) from exc
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.conn.execute("ROLLBACK")
            raise _translate(exc) from exc

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.ProgrammingError:
            raise  # a bug (closed connection, wrong thread), not a store condition
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def one(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def all(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[tuple]:
        return self.execute(sql, params).fetchall()


def select_by_image(db: Database, sql: str, ids: Iterable[int] | None = None) -> dict[int, Any]:
    """``{image id: value}`` of ``sql`` (``SELECT image_id, value FROM ...`` without WHERE), ordered
    by image id; one query for every row, or chunks of :data:`IN_CHUNK` for ``ids``."""
    if ids is None:
        return dict(db.all(sql + " ORDER BY image_id"))
    wanted = [int(i) for i in ids]
    found: dict[int, Any] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start:start + IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(db.all(f"{sql} WHERE image_id IN ({marks}) ORDER BY image_id", chunk))
    return found


def _translate(exc: sqlite3.Error) -> StoreError:
    if isinstance(exc, sqlite3.IntegrityError):
        return InvalidValueError(f"refused by the store: {exc}")
    if "locked" in str(exc) or "busy" in str(exc):
        return ProjectLockedError(
            f"the project database is busy (another labelapp process is writing): {exc}"
        )
    return StoreError(f"database error: {exc}")
