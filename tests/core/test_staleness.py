"""Stale runs: the digest of the labels a run trained on against the labels now."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.jobs import RunRecorder, take_snapshot
from core.jobs.staleness import StaleCheck, label_version, last_event_id
from core.store import ClassKind, NewImage, Project, Run

WHO = {"actor": "t", "source": "test"}


@pytest.fixture()
def project(project_dir: Path) -> Project:
    p = Project.create(project_dir)
    p.classes.add("ok", kind=ClassKind.OK, **WHO)
    p.classes.add("scratch", **WHO)
    p.images.add_many([NewImage(path=f"{i}.png", hash=f"h{i}", width=4, height=4, channels=1, bit_depth=8,
                                mode="L", gray=True, file_size=1, mtime=0.0) for i in range(4)])
    p.labels.apply([(1, "ok"), (2, "scratch")], **WHO)
    yield p
    p.close()


def run(project: Project, method: str = "classifier") -> Run:
    with RunRecorder(project, method=method, config={}, snapshot=take_snapshot(project), seed=0) as recorder:
        return recorder.finish(metrics={})


def test_label_version_is_the_snapshot_digest_with_the_newest_event(project: Project) -> None:
    version = label_version(project)
    assert version.digest == take_snapshot(project).digest
    assert version.event_id == last_event_id(project) == project.events.count()
    project.labels.set(3, "ok", **WHO)
    assert last_event_id(project) == version.event_id + 1


def test_runs_go_stale_when_labels_or_masks_change(project: Project) -> None:
    first, ssl = run(project), run(project, "pretrain-simclr")
    check = StaleCheck(project)
    assert check.stale_ids([first, ssl]) == set() and not check.labels_changed()
    project.labels.set(3, "scratch", **WHO)
    assert check.labels_changed()
    assert check.stale_ids([first, ssl]) == {first.id}  # pretraining does not use labels
    second = run(project)  # newer than the digest: the check reads the labels again
    assert check.stale_ids([first, ssl, second]) == {first.id}
    project.masks.save(4, None, **WHO)  # no mask to remove: nothing written
    assert check.stale_ids([second]) == set()
    project.masks.save(1, np.zeros((4, 4), np.uint8), **WHO)  # an empty mask is a label
    assert check.stale_ids([first, second]) == {first.id, second.id}


def test_changing_labels_back_is_stale_until_refresh(project: Project) -> None:
    first = run(project)
    check = StaleCheck(project)
    assert not check.is_stale(first)
    project.labels.set(1, "scratch", **WHO)
    project.labels.set(1, "ok", **WHO)
    assert check.is_stale(first)  # the counter errs on the safe side
    check.refresh()
    assert not check.is_stale(first)  # the digest is exact
    assert StaleCheck(project).stale_ids([first, run(project)]) == set()
