"""The project store: schema, migrations, transactions, labels, masks, the event log."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from core.store import (
    ClassKind,
    ClassNotFoundError,
    ImageNotFoundError,
    InvalidValueError,
    NewImage,
    Project,
    ProjectExistsError,
    ProjectNotFoundError,
    SchemaTooNewError,
    StoreError,
    migrations,
)
from core.store.project import DB_NAME

WHO = {"actor": "tester", "source": "test"}


def new_image(i: int, w: int = 8, h: int = 6) -> NewImage:
    return NewImage(path=f"images/{i}.png", hash=f"hash{i}", width=w, height=h, channels=1, bit_depth=8,
                    mode="L", gray=True, file_size=100, mtime=0.0)


@pytest.fixture()
def project(project_dir: Path) -> Project:
    p = Project.create(project_dir)
    p.classes.add("ok", kind=ClassKind.OK, **WHO)
    p.classes.add("scratch", **WHO)
    p.classes.add("pit", **WHO)
    p.images.add_many([new_image(i) for i in range(5)])
    yield p
    p.close()


def test_create_lays_out_the_folder_in_wal_mode(project: Project) -> None:
    for sub in ("masks", "cache", "runs", "exports"):
        assert (project.root / sub).is_dir()
    assert project._db.scalar("PRAGMA journal_mode") == "wal"
    assert migrations.schema_version(project._db.conn) == migrations.LATEST_VERSION
    tables = set(project._db.utils.table_names())
    assert {"images", "classes", "labels", "masks", "events", "runs", "predictions", "suggestions"} <= tables
    assert "embeddings" not in tables  # dropped by migration 4: embeddings live in the run folders


def test_create_refuses_an_existing_project_and_open_needs_one(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ProjectExistsError):
        Project.create(project.root)
    with pytest.raises(ProjectNotFoundError):
        Project.open(tmp_path / "nothing-here")


def test_reopen_keeps_everything(project: Project) -> None:
    project.labels.set(1, "scratch", **WHO)
    project.close()
    with Project.open(project.root) as again:
        assert again.images.count() == 5
        assert again.labels.get(1).class_name == "scratch"
        assert [c.name for c in again.classes.list()] == ["ok", "scratch", "pit"]


def test_classes_get_colours_shortcuts_and_unique_names(project: Project) -> None:
    ok, scratch, pit = project.classes.list()
    assert ok.kind is ClassKind.OK and ok.shortcut == "0"
    assert (scratch.shortcut, pit.shortcut) == ("1", "2")
    assert len({ok.color, scratch.color, pit.color}) == 3
    with pytest.raises(InvalidValueError):
        project.classes.add("SCRATCH", **WHO)  # names are case-insensitive
    renamed = project.classes.update("pit", name="pitting", color="#112233", **WHO)
    assert (renamed.name, renamed.color) == ("pitting", "#112233")
    with pytest.raises(InvalidValueError):
        project.classes.update("pitting", color="red", **WHO)
    with pytest.raises(ClassNotFoundError):
        project.classes.get("pit")


def test_labels_and_the_event_log(project: Project) -> None:
    assert project.labels.set(1, "scratch", **WHO) is True
    assert project.labels.set(1, "scratch", **WHO) is False  # unchanged: no write, no event
    assert project.labels.set(1, "pit", actor="alice", source="gui") is True
    assert project.labels.set(1, None, **WHO) is True
    assert project.labels.set_many([2, 3, 4], "ok", **WHO) == 3
    history = project.events.list(image_id=1)
    assert [(e.old, e.new) for e in history] == [
        (None, {"class": "scratch", "class_id": 2}),
        ({"class": "scratch", "class_id": 2}, {"class": "pit", "class_id": 3}),
        ({"class": "pit", "class_id": 3}, None),
    ]
    assert history[1].actor == "alice" and history[1].source == "gui"
    assert project.labels.get(1) is None
    summary = project.summary()
    assert (summary.images, summary.labeled, summary.ok) == (5, 3, 3)
    assert summary.classes == {"ok": 3, "scratch": 0, "pit": 0}


def test_event_log_is_append_only(project: Project) -> None:
    project.labels.set(1, "scratch", **WHO)
    with pytest.raises(StoreError):
        project._db.execute("UPDATE events SET actor = 'mallory'")
    with pytest.raises(StoreError):
        project._db.execute("DELETE FROM events")
    assert project.events.list(kind="label")[0].actor == "tester"


def test_a_failing_transaction_writes_nothing(project: Project) -> None:
    with pytest.raises(ImageNotFoundError):
        project.labels.apply([(1, "scratch"), (2, "pit"), (999, "pit")], **WHO)
    assert project.labels.all() == {}
    assert project.events.list(kind="label") == []


def test_masks_round_trip_and_replace_atomically(project: Project) -> None:
    scratch = project.classes.get("scratch")
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 1:5] = scratch.id
    assert project.masks.save(1, mask, **WHO)
    first = project.masks.info(1)
    assert first.pixels == 8 and first.class_ids == (scratch.id,)
    assert np.array_equal(project.masks.load(1), mask)
    mask[0, 0] = project.classes.get("pit").id
    assert project.masks.save(1, mask, **WHO)
    second = project.masks.info(1)
    assert second.file != first.file
    assert not (project.masks_dir / first.file).exists()  # the replaced file is gone
    assert sorted(p.name for p in project.masks_dir.iterdir()) == [second.file]
    assert project.masks.save(1, np.zeros((6, 8), np.uint8), **WHO)  # empty mask: a row, no file
    assert project.masks.info(1).file is None and project.masks.load(1).sum() == 0
    assert project.masks.save(1, None, **WHO) and project.masks.load(1) is None
    assert [e.new and e.new["pixels"] for e in project.events.list(kind="mask")] == [8, 9, 0, None]


def test_masks_are_checked(project: Project) -> None:
    with pytest.raises(InvalidValueError, match="mask is 3x3 but the image is 8x6"):
        project.masks.save(1, np.zeros((3, 3), np.uint8), **WHO)
    with pytest.raises(InvalidValueError, match="class ids"):
        project.masks.save(1, np.full((6, 8), 77, np.uint8), **WHO)


def test_find_images_by_path_and_name(project: Project) -> None:
    assert project.images.find("images/3.png").id == 4
    assert project.images.find(project.root / "images" / "3.png").id == 4
    assert project.images.find("3.png").id == 4
    with pytest.raises(ImageNotFoundError):
        project.images.find("nope.png")


def test_worker_thread_writes_through_its_own_connection(project: Project) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Project.open(project.root) as own:
                for image_id in range(1, 6):
                    own.labels.set(image_id, "pit", actor="worker", source="thread")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    for image_id in range(1, 6):  # concurrent writes on the main connection wait, never fail
        project.masks.save(image_id, np.zeros((6, 8), np.uint8), **WHO)
    thread.join()
    assert errors == []
    assert {label.class_name for label in project.labels.all().values()} == {"pit"}
    assert project.summary().masks == 5
    with pytest.raises(sqlite3.ProgrammingError):  # a connection stays on its own thread
        threading_result: list[BaseException] = []
        t = threading.Thread(target=lambda: _use(project, threading_result))
        t.start()
        t.join()
        raise threading_result[0]


def _use(project: Project, out: list[BaseException]) -> None:
    try:
        project.images.count()
    except BaseException as exc:
        out.append(exc)


def test_old_schema_is_migrated_after_a_backup(project_dir: Path) -> None:
    project_dir.mkdir()
    conn = sqlite3.connect(str(project_dir / DB_NAME), isolation_level=None)
    migrations.migrate(conn, target=1)
    conn.execute("INSERT INTO classes (id, name, color, shortcut, kind, position)"
                 " VALUES (1, 'scratch', '#FF0000', '1', 'defect', 0)")
    conn.execute("INSERT INTO images (path, hash, width, height, channels, bit_depth, mode, gray, file_size,"
                 " mtime, added_at) VALUES ('a.png', 'h', 4, 4, 1, 8, 'L', 1, 1, 0, 'then')")
    conn.execute("INSERT INTO labels VALUES (1, 1, 'old', 'v1', 'then')")
    conn.close()

    with Project.open(project_dir) as project:
        assert migrations.schema_version(project._db.conn) == migrations.LATEST_VERSION
        assert project.labels.get(1).class_name == "scratch"
        project.runs.start(method="test", config={}, label_snapshot={}, seed=0)  # a v2 table works
    backups = list(project_dir.glob("project.v1-*.backup.sqlite"))
    assert len(backups) == 1
    old = sqlite3.connect(str(backups[0]))
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1
    old.close()


def test_migration_4_drops_embeddings_and_stored_mask_suggestions(project_dir: Path) -> None:
    project_dir.mkdir()
    conn = sqlite3.connect(str(project_dir / DB_NAME), isolation_level=None)
    migrations.migrate(conn, target=3)
    conn.execute("INSERT INTO images (path, hash, width, height, channels, bit_depth, mode, gray, file_size,"
                 " mtime, added_at) VALUES ('a.png', 'h', 4, 4, 1, 8, 'L', 1, 1, 0, 'then')")
    for strategy in ("margin", "mask"):
        conn.execute("INSERT INTO suggestions (image_id, strategy, rank, score, reason, created_at)"
                     " VALUES (1, ?, 1, 0.5, 'why', 'then')", (strategy,))
    conn.execute("INSERT INTO meta (key, value) VALUES ('suggestions_mask_at', 'then')")
    conn.close()

    with Project.open(project_dir) as project:
        assert migrations.schema_version(project._db.conn) == migrations.LATEST_VERSION
        assert "embeddings" not in set(project._db.utils.table_names())
        assert [s.strategy for s in project.suggestions.list()] == ["margin"]
        assert project._db.scalar("SELECT COUNT(*) FROM meta WHERE key = 'suggestions_mask_at'") == 0


def test_a_newer_schema_is_refused(project: Project) -> None:
    project._db.execute("PRAGMA user_version = 99")
    project.close()
    with pytest.raises(SchemaTooNewError, match="v99"):
        Project.open(project.root)


def test_a_file_that_is_not_a_database_is_a_store_error(project_dir: Path) -> None:
    project_dir.mkdir()
    (project_dir / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable labelapp database"):
        Project.open(project_dir)
