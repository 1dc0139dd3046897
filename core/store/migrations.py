"""The schema of ``project.sqlite`` as numbered migrations.

``PRAGMA user_version`` holds the number of the last migration applied. A migration
is never edited once released: a change to the schema is a new entry at the end.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        # executescript would COMMIT the surrounding transaction; run statements one
        # by one so that a migration stays inside the caller's transaction.
        pending = ""
        for piece in sql.split(";"):
            pending += piece + ";"
            if sqlite3.complete_statement(pending):
                if pending.strip(" \n;"):
                    conn.execute(pending)
                pending = ""

    return apply


_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    bit_depth INTEGER NOT NULL,
    mode TEXT NOT NULL,
    gray INTEGER NOT NULL,
    file_size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    color TEXT NOT NULL,
    shortcut TEXT UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('ok', 'defect')),
    position INTEGER NOT NULL
);
CREATE TABLE labels (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX labels_by_class ON labels(class_id);
CREATE TABLE masks (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    file TEXT,
    pixels INTEGER NOT NULL,
    class_ids TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    image_id INTEGER,
    old TEXT,
    new TEXT
);
CREATE INDEX events_by_image ON events(image_id, id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END
"""

_V2 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    method TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
    config TEXT NOT NULL,
    label_snapshot TEXT NOT NULL,
    seed INTEGER,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    metrics TEXT NOT NULL DEFAULT '{}',
    checkpoint TEXT
);
CREATE TABLE predictions (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER REFERENCES classes(id),
    confidence REAL,
    uncertainty REAL,
    defect_probability REAL,
    probabilities BLOB,
    PRIMARY KEY (run_id, image_id)
);
CREATE INDEX predictions_by_image ON predictions(image_id);
CREATE TABLE embeddings (
    encoder_key TEXT NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    PRIMARY KEY (encoder_key, image_id)
);
CREATE TABLE suggestions (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    strategy TEXT NOT NULL,
    rank INTEGER NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX suggestions_by_rank ON suggestions(rank)
"""

_V3 = """
CREATE INDEX suggestions_by_image ON suggestions(image_id)
"""

_V4 = """
DROP TABLE embeddings;
DELETE FROM suggestions WHERE strategy = 'mask';
DELETE FROM meta WHERE key = 'suggestions_mask_at'
"""

_V5 = """
ALTER TABLE runs ADD COLUMN prediction_state TEXT
    CHECK (prediction_state IS NULL OR prediction_state IN ('streaming', 'complete', 'partial'))
"""

_V6 = """
CREATE TABLE rejected_proposals (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, image_id)
)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "images, classes, labels, masks, event log", _script(_V1)),
    Migration(2, "runs, predictions, embeddings, suggestions", _script(_V2)),
    Migration(3, "suggestions indexed by image", _script(_V3)),
    Migration(4, "no embeddings table (they live in the run folders), no stored mask suggestions", _script(_V4)),
    Migration(5, "runs say how far their predictions are stored (streamed after the run finished)", _script(_V5)),
    Migration(6, "mask proposals the reviewer rejected, per proposer run", _script(_V6)),
)
LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, target: int = LATEST_VERSION) -> list[int]:
    """Applies the migrations after the current version up to ``target``, each in
    its own transaction. Returns the versions applied.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= schema_version(conn) or migration.version > target:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration.apply(conn)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        logger.info("migrated project schema to v%d: %s", migration.version, migration.description)
        applied.append(migration.version)
    return applied
