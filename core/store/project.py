"""A project: a folder with ``project.sqlite`` and the files beside it.

```
<project>/
  project.sqlite   the store (WAL), schema owned by core.store.migrations
  masks/           palette PNG per masked image
  cache/           thumbnails, embeddings, map coordinates; safe to delete
  runs/<run-id>/   checkpoints, metrics, curves
  exports/
```
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from core.store import migrations
from core.store.classes import Classes
from core.store.database import Database, now_iso
from core.store.errors import ProjectExistsError, ProjectNotFoundError, SchemaTooNewError, StoreError
from core.store.events import Events
from core.store.images import Images
from core.store.labels import Labels
from core.store.masks import Masks
from core.store.predictions import Predictions
from core.store.records import ProjectSummary
from core.store.reviews import RejectedProposals
from core.store.runs import Runs
from core.store.suggestions import Suggestions

logger = logging.getLogger(__name__)
DB_NAME = "project.sqlite"
SUBFOLDERS = ("masks", "cache", "runs", "exports")


class Project:
    """The store of one project. Not shareable across threads: each thread opens
    its own ``Project`` from the folder path."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self._db = db
        self.events = Events(db)
        self.images = Images(db, root)
        self.classes = Classes(db, self.events)
        self.labels = Labels(db, self.classes, self.events)
        self.masks = Masks(db, root, self.images, self.classes, self.events)
        self.runs = Runs(db)
        self.predictions = Predictions(db)
        self.suggestions = Suggestions(db)
        self.rejected_proposals = RejectedProposals(db)

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path | str) -> Project:
        """Creates a new project in ``root`` (created if missing)."""
        root = Path(os.path.abspath(root))
        if (root / DB_NAME).exists():
            raise ProjectExistsError(f"{root} already holds a project")
        root.mkdir(parents=True, exist_ok=True)
        return cls._open(root)

    @classmethod
    def open(cls, root: Path | str, *, create: bool = False) -> Project:
        """Opens the project in ``root``; migrates an older schema after a backup."""
        root = Path(os.path.abspath(root))
        if root.name == DB_NAME:
            root = root.parent
        if not (root / DB_NAME).exists():
            if create:
                return cls.create(root)
            raise ProjectNotFoundError(f"no labelapp project in {root} (missing {DB_NAME})")
        return cls._open(root)

    @classmethod
    def _open(cls, root: Path) -> Project:
        for sub in SUBFOLDERS:
            (root / sub).mkdir(exist_ok=True)
        path = root / DB_NAME
        try:
            db = Database(path)
            _prepare_schema(db, path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a readable labelapp database: {exc}") from exc
        project = cls(root, db)
        try:
            removed = project.masks.collect_leftovers()
        except (OSError, sqlite3.DatabaseError) as exc:  # housekeeping never stops an open
            logger.warning("could not look for leftover mask files in %s: %s", root, exc)
        else:
            if removed:
                logger.info("removed %d leftover mask files of an interrupted write: %s", len(removed),
                            ", ".join(removed[:5]))
        return project

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Groups writes of several sub-stores in one transaction (all or none)."""
        with self._db.transaction():
            yield

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[None]:
        """One consistent view for several reads (WAL: writers of other connections
        go on; their commits stay unseen until the end). Inside a transaction: that one."""
        own = not self._db.conn.in_transaction
        if own:
            self._db.execute("BEGIN")
        try:
            yield
        finally:
            if own:
                self._db.execute("COMMIT")

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.root.name

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def masks_dir(self) -> Path:
        return self.root / "masks"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def integrity_check(self) -> str:
        """SQLite's verdict on the file: "ok", or what is damaged."""
        return str(self._db.scalar("PRAGMA integrity_check"))

    # -- summary -----------------------------------------------------------------
    def summary(self) -> ProjectSummary:
        """Counts of images, labels per class, masks and runs (a few indexed queries)."""
        images = self.images.count()
        labeled, ok = self._db.one(
            "SELECT COUNT(*), COALESCE(SUM(c.kind = 'ok'), 0) FROM labels l JOIN classes c ON c.id = l.class_id"
        )
        masks, nonempty = self.masks.count()
        return ProjectSummary(images=images, labeled=int(labeled), ok=int(ok), masks=masks,
                              nonempty_masks=nonempty, runs=self.runs.count(), classes=self.labels.counts())


def _prepare_schema(db: Database, path: Path) -> None:
    version = migrations.schema_version(db.conn)
    if version > migrations.LATEST_VERSION:
        db.close()
        raise SchemaTooNewError(
            f"{path} has schema v{version}; this labelapp knows up to v{migrations.LATEST_VERSION}."
            " Update labelapp to open it."
        )
    if version == migrations.LATEST_VERSION:
        return
    if version > 0:
        backup = backup_database(db, path, version)
        logger.warning("project schema v%d is older than v%d: migrating; backup at %s",
                       version, migrations.LATEST_VERSION, backup)
    migrations.migrate(db.conn)
    if version == 0:
        with db.transaction():
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('created_at', ?)", (now_iso(),))


def backup_database(db: Database, path: Path, version: int) -> Path:
    """Copies the database (consistently, with SQLite's backup API) before a migration."""
    stamp = now_iso().replace(":", "").replace("-", "").split(".")[0]
    target = path.with_name(f"{path.stem}.v{version}-{stamp}.backup.sqlite")
    dest = sqlite3.connect(str(target))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()
    return target
