"""The store's batch reads, run kinds and transactions that the jobs, the catalog and the map use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.store import ClassKind, ImageNotFoundError, NewImage, Project, RunKind, RunStatus

WHO = {"actor": "tester", "source": "test"}


@pytest.fixture()
def project(project_dir: Path) -> Project:
    """Five images (the third 4 x 9), three classes, labels on 1, 2, 4 and masks on 2, 4 (4 empty)."""
    p = Project.create(project_dir)
    ok = p.classes.add("ok", kind=ClassKind.OK, **WHO)
    scratch = p.classes.add("scratch", **WHO)
    p.classes.add("pit", **WHO)
    p.images.add_many([NewImage(path=f"images/{i}.png", hash=f"hash{i}", width=9 if i == 2 else 8,
                                height=4 if i == 2 else 6, channels=1, bit_depth=8, mode="L", gray=True,
                                file_size=100 + i, mtime=float(i)) for i in range(5)])
    p.labels.set_many([1, 4], ok, **WHO)
    p.labels.set(2, scratch, **WHO)
    mask = np.zeros((6, 8), np.uint8)
    mask[1:3, 1:4] = scratch.id
    p.masks.save(2, mask, **WHO)
    p.masks.save(4, np.zeros((6, 8), np.uint8), **WHO)
    yield p
    p.close()


def test_image_columns_come_in_id_order(project: Project) -> None:
    assert project.images.ids().tolist() == [1, 2, 3, 4, 5]
    assert project.images.sizes().tolist() == [[6, 8], [6, 8], [4, 9], [6, 8], [6, 8]]
    assert project.images.paths_by_id() == {i + 1: f"images/{i}.png" for i in range(5)}
    assert project.images.hashes_by_id() == {i + 1: f"hash{i}" for i in range(5)}
    table = project.images.table()
    assert table.ids.tolist() == [1, 2, 3, 4, 5] and table.hashes[2] == "hash2"
    assert table.widths.tolist() == [8, 8, 9, 8, 8] and table.heights.dtype == np.int32
    assert table.file_sizes.tolist() == [100, 101, 102, 103, 104] and table.mtimes.tolist() == [0, 1, 2, 3, 4]


def test_label_and_mask_reads(project: Project) -> None:
    ok, scratch = project.classes.get("ok").id, project.classes.get("scratch").id
    assert project.labels.class_by_image() == {1: ok, 2: scratch, 4: ok}
    assert project.labels.class_by_image([4, 3, 2]) == {2: scratch, 4: ok}
    assert project.labels.class_by_image(range(1, 1200)) == {1: ok, 2: scratch, 4: ok}  # more than one chunk
    assert project.labels.count() == 3
    assert project.masks.pixels_by_image() == {2: 6, 4: 0}
    assert project.masks.pixels_by_image([4]) == {4: 0}
    files = project.masks.files()
    assert list(files) == [2, 4] and files[4] is None and files[2].endswith(".png")


def test_runs_latest_and_finished_by_kind(project: Project) -> None:
    def run(method: str, status: RunStatus, checkpoint: str | None = None) -> int:
        started = project.runs.start(method=method, config={}, label_snapshot={}, seed=0)
        project.runs.finish(started.id, status=status, checkpoint=checkpoint)
        return started.id

    simclr = run(RunKind.PRETRAIN.method("simclr"), RunStatus.DONE)
    with_checkpoint = run(RunKind.CLASSIFIER.method(), RunStatus.DONE, "2/head.pt")
    without = run(RunKind.CLASSIFIER.method(), RunStatus.DONE)
    run(RunKind.CLASSIFIER.method(), RunStatus.FAILED, "4/head.pt")
    run("test", RunStatus.DONE)
    assert project.runs.get(simclr).kind is RunKind.PRETRAIN and project.runs.get(5).kind is None
    assert project.runs.latest(RunKind.PRETRAIN).id == simclr
    assert project.runs.latest(RunKind.CLASSIFIER).id == without
    assert project.runs.latest(RunKind.CLASSIFIER, with_checkpoint=True).id == with_checkpoint
    assert [r.id for r in project.runs.finished(RunKind.CLASSIFIER)] == [without, with_checkpoint]
    assert project.runs.latest(RunKind.SEGDEC) is None
    assert project.runs.last_id() == 5


def test_latest_run_with_predictions_counts_stored_predictions_whatever_the_method(project: Project) -> None:
    classifier = project.runs.start(method=RunKind.CLASSIFIER.method(), config={}, label_snapshot={}, seed=0)
    project.runs.finish(classifier.id, status=RunStatus.DONE)  # finished, but nothing stored
    other = project.runs.start(method="test", config={}, label_snapshot={}, seed=0)
    project.predictions.add(other.id, [1, 3], [1, 2], [0.9, 0.6], None)
    project.predictions.add(other.id, [2], [3], [0.7], [0.4])  # adds, keeps the others
    assert project.predictions.latest_run(RunKind.CLASSIFIER) is None  # still running
    project.runs.finish(other.id, status=RunStatus.DONE)
    assert project.predictions.latest_run(RunKind.CLASSIFIER) == other.id
    assert project.predictions.latest_run(RunKind.SEGDEC) is None
    columns = project.predictions.class_columns(other.id)
    assert columns.ids.tolist() == [1, 2, 3] and columns.class_ids.tolist() == [1, 3, 2]
    assert columns.confidence.tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert np.isnan(columns.uncertainty[0]) and columns.uncertainty[1] == pytest.approx(0.4)
    project.predictions.delete_run(other.id)
    assert project.predictions.count(other.id) == 0 and project.predictions.latest_run() is None


def test_event_counter_and_transactions(project: Project) -> None:
    last = project.events.last_id()
    assert last == len(project.events.list()) > 0
    with pytest.raises(ImageNotFoundError), project.transaction():
        project.labels.set(3, "pit", **WHO)
        project.labels.set(99, "pit", **WHO)  # no such image: the whole transaction goes
    assert project.labels.get(3) is None and project.events.last_id() == last
    with project.transaction():
        project.labels.set(3, "pit", **WHO)
        project.labels.set(5, "pit", **WHO)
    assert project.labels.count() == 5 and project.events.last_id() == last + 2
    assert project.integrity_check() == "ok"


def test_a_read_transaction_sees_one_moment(project: Project) -> None:
    with Project.open(project.root) as other, project.read_transaction():
        before = project.labels.class_by_image()
        other.labels.set(3, "pit", **WHO)  # another connection writes meanwhile
        assert project.labels.class_by_image() == before
    assert 3 in project.labels.class_by_image()
