"""The grid's catalog on a real demo project: loading, filters, search, sorts, refresh."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog, MaskState
from core.demo_project import create_demo_project
from core.store import ClassKind, Project, RunStatus

ACTOR, SOURCE = "test", "test"


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    """20 demo images: 8 labeled (2 ok, 6 defects), 3 masks (1 empty), distinct mtimes
    in an order unlike the names, and one finished run with predictions for 5 images."""
    create_demo_project(tmp_path / "p", n_images=20, size=40, workers=1)
    project = Project.open(tmp_path / "p")
    ids = [im.id for im in project.images.list()]
    for k, image_id in enumerate(ids):  # the store reads a file's mtime again when it is relinked
        path = project.images.resolve(project.images.get(image_id))
        os.utime(path, (1000.0 + (k * 7) % 20, 1000.0 + (k * 7) % 20))
        project.images.relink(image_id, path)
    classes = {c.name: c for c in project.classes.list()}
    project.labels.set_many(ids[0:2], classes["ok"], actor=ACTOR, source=SOURCE)
    project.labels.set_many(ids[2:5], classes["scratches"], actor=ACTOR, source=SOURCE)
    project.labels.set_many(ids[5:8], classes["crazing"], actor=ACTOR, source=SOURCE)
    mask = np.zeros((40, 40), dtype=np.uint8)
    project.masks.save(ids[3], mask, actor=ACTOR, source=SOURCE)  # empty
    mask[5:10, 5:20] = classes["scratches"].id
    project.masks.save(ids[4], mask, actor=ACTOR, source=SOURCE)
    project.masks.save(ids[12], mask, actor=ACTOR, source=SOURCE)  # masked, not labeled
    yield project
    project.close()


def _add_run(project: Project, predictions: dict[int, tuple[int, float]], *, status: RunStatus) -> int:
    run = project.runs.start(method="test", config={}, label_snapshot={}, seed=0)
    project.predictions.add(run.id, list(predictions), [c for c, _ in predictions.values()],
                            [p for _, p in predictions.values()], None)
    if status is not RunStatus.RUNNING:
        project.runs.finish(run.id, status=status)
    return run.id


def test_load_reads_every_image_with_its_label_and_mask(project: Project) -> None:
    catalog = Catalog.load(project)
    images = project.images.list()
    assert catalog.ids.tolist() == [im.id for im in images]
    assert catalog.names == [Path(im.path).name for im in images]
    assert catalog.hashes == [im.hash for im in images]
    assert catalog.widths.tolist() == [im.width for im in images]
    labels = project.labels.all()
    assert {int(i): int(c) for i, c in zip(catalog.ids, catalog.label, strict=True) if c} == {
        i: lab.class_id for i, lab in labels.items()}
    states = dict(zip(catalog.ids.tolist(), catalog.mask.tolist(), strict=True))
    assert states[images[3].id] == MaskState.EMPTY
    assert states[images[4].id] == states[images[12].id] == MaskState.PIXELS
    assert sum(s != MaskState.NONE for s in states.values()) == 3
    assert catalog.prediction_run is None and not catalog.pred_class.any()


def test_filters_select_the_images_the_store_says(project: Project) -> None:
    catalog = Catalog.load(project)
    labels = project.labels.all()
    every = {im.id for im in project.images.list()}
    scratches = project.classes.get("scratches")
    assert set(catalog.view("all").tolist()) == every
    assert set(catalog.view("labeled").tolist()) == set(labels)
    assert set(catalog.view("unlabeled").tolist()) == every - set(labels)
    assert set(catalog.view("class", class_id=scratches.id).tolist()) == {
        i for i, lab in labels.items() if lab.class_id == scratches.id}
    assert set(catalog.view("ok").tolist()) == {i for i, lab in labels.items() if lab.kind is ClassKind.OK}
    assert set(catalog.view("mask").tolist()) == set(project.masks.all())


def test_ok_filter_follows_the_class_kind_after_reload(project: Project) -> None:
    catalog = Catalog.load(project)
    crazing = project.classes.get("crazing")
    project.classes.update(crazing, kind=ClassKind.OK, actor=ACTOR, source=SOURCE)
    assert len(catalog.view("ok")) == 2
    catalog.reload_labels(project)
    assert len(catalog.view("ok")) == 5


def test_search_is_a_case_insensitive_substring_of_the_file_name(project: Project) -> None:
    catalog = Catalog.load(project)
    names = {im.id: Path(im.path).name for im in project.images.list()}
    found = catalog.view("all", search="IMG_0001")
    assert set(found.tolist()) == {i for i, n in names.items() if "img_0001" in n.lower()}
    assert len(found) == 10  # img_00010 .. img_00019
    assert catalog.view("all", search="images/").size == 0  # the folder is not part of the name
    assert set(catalog.view("labeled", search="0000").tolist()) == {i for i, n in names.items()
                                                                    if "0000" in n and i in project.labels.all()}


def test_sorts_are_stable_total_orders(project: Project) -> None:
    catalog = Catalog.load(project)
    images = project.images.list()
    names = {im.id: Path(im.path).name.lower() for im in images}
    table = project.images.table()
    mtimes = dict(zip(table.ids.tolist(), table.mtimes.tolist(), strict=True))
    by_name = sorted(names, key=names.get)
    assert catalog.view("all", sort="name").tolist() == by_name
    assert catalog.view("all", sort="name", descending=True).tolist() == by_name[::-1]
    assert catalog.view("all", sort="date").tolist() == sorted(names, key=lambda i: (mtimes[i], names[i]))
    assert catalog.view("all", sort="added").tolist() == [im.id for im in images]
    positions = {c.id: c.position for c in project.classes.list()}
    labels = project.labels.all()
    expected = sorted(names, key=lambda i: (positions[labels[i].class_id] if i in labels else 99, names[i]))
    assert catalog.view("all", sort="label").tolist() == expected
    assert catalog.view("unlabeled", sort="label").tolist() == [i for i in expected if i not in labels]


def test_refresh_rereads_only_the_given_images(project: Project) -> None:
    catalog = Catalog.load(project)
    images = project.images.list()
    inclusion = project.classes.get("inclusion")
    project.labels.set(images[10].id, inclusion, actor=ACTOR, source=SOURCE)
    project.labels.set(images[0].id, None, actor=ACTOR, source=SOURCE)
    project.masks.save(images[4].id, None, actor=ACTOR, source=SOURCE)
    project.labels.set(images[11].id, inclusion, actor=ACTOR, source=SOURCE)  # not refreshed
    catalog.refresh(project, [images[10].id, images[0].id, images[4].id])
    index = {int(i): k for k, i in enumerate(catalog.ids)}
    assert catalog.label[index[images[10].id]] == inclusion.id
    assert catalog.label[index[images[0].id]] == 0
    assert catalog.mask[index[images[4].id]] == MaskState.NONE
    assert catalog.label[index[images[11].id]] == 0
    assert images[10].id in catalog.view("class", class_id=inclusion.id).tolist()
    catalog.reload_labels(project)
    assert catalog.label[index[images[11].id]] == inclusion.id


def test_predictions_come_from_the_latest_finished_run(project: Project) -> None:
    ids = [im.id for im in project.images.list()]
    ok, crazing = project.classes.get("ok"), project.classes.get("crazing")
    _add_run(project, {ids[0]: (ok.id, 0.5)}, status=RunStatus.DONE)
    done = _add_run(project, {ids[1]: (crazing.id, 0.875), ids[2]: (ok.id, 0.25)}, status=RunStatus.DONE)
    _add_run(project, {ids[3]: (ok.id, 0.9)}, status=RunStatus.RUNNING)
    _add_run(project, {ids[4]: (ok.id, 0.9)}, status=RunStatus.FAILED)
    catalog = Catalog.load(project)
    assert catalog.prediction_run == done
    assert catalog.pred_class.tolist()[:5] == [0, crazing.id, ok.id, 0, 0]
    assert catalog.pred_conf[1] == pytest.approx(0.875)


def test_prediction_filters_and_confidence_sorts(project: Project) -> None:
    ids = [im.id for im in project.images.list()]
    names = {im.id: Path(im.path).name.lower() for im in project.images.list()}
    ok, scratches, crazing = (project.classes.get(n) for n in ("ok", "scratches", "crazing"))
    predictions = {ids[0]: (ok.id, 0.9), ids[2]: (crazing.id, 0.4), ids[3]: (scratches.id, 0.6),
                   ids[5]: (scratches.id, 0.2), ids[10]: (crazing.id, 0.7), ids[11]: (ok.id, 0.4)}
    catalog = Catalog.load(project)
    assert not catalog.has_predictions
    assert catalog.view("disagree").size == 0 and catalog.view("predicted", class_id=ok.id).size == 0
    _add_run(project, predictions, status=RunStatus.DONE)
    catalog.reload_labels(project)
    assert catalog.has_predictions
    assert catalog.view("predicted", class_id=crazing.id).tolist() == sorted([ids[2], ids[10]], key=names.get)
    assert set(catalog.view("disagree").tolist()) == {ids[2], ids[5]}  # labeled scratches/crazing, predicted other
    assert catalog.view("disagree", search=names[ids[5]]).tolist() == [ids[5]]
    confidence = {i: c for i, (_cls, c) in predictions.items()}
    unpredicted = sorted((i for i in ids if i not in predictions), key=names.get)
    least = sorted(predictions, key=lambda i: (confidence[i], names[i]))
    most = sorted(predictions, key=lambda i: (-confidence[i], names[i]))
    assert least[:3] == [ids[5], *sorted([ids[2], ids[11]], key=names.get)]  # a tie goes by name
    assert catalog.view("all", sort="least_sure").tolist() == least + unpredicted
    assert catalog.view("all", sort="most_sure").tolist() == most + unpredicted
    assert catalog.view("all", sort="least_sure", descending=True).tolist() == most + unpredicted
    assert catalog.view("labeled", sort="least_sure").tolist() == [i for i in least + unpredicted
                                                                  if i in project.labels.all()]
    project.labels.set(ids[2], crazing, actor=ACTOR, source=SOURCE)  # the label mistake is fixed
    project.labels.set(ids[10], ok, actor=ACTOR, source=SOURCE)  # a new label the model disagrees with
    catalog.refresh(project, [ids[2], ids[10]])
    assert set(catalog.view("disagree").tolist()) == {ids[5], ids[10]}
    with pytest.raises(ValueError, match="predicted"):
        catalog.view("predicted")


def test_invalid_queries_raise(project: Project) -> None:
    catalog = Catalog.load(project)
    with pytest.raises(ValueError, match="class_id"):
        catalog.view("class")
    with pytest.raises(ValueError, match="unknown filter"):
        catalog.view("starred")
    with pytest.raises(ValueError, match="unknown sort"):
        catalog.view("all", sort="size")


def test_empty_project(tmp_path: Path) -> None:
    with Project.create(tmp_path / "empty") as project:
        catalog = Catalog.load(project)
        assert len(catalog) == 0
        assert catalog.view("all", search="x", sort="label").size == 0
        assert catalog.index_of([1, 2]).tolist() == [-1, -1]


def test_suggested_filter_and_sort_follow_the_open_suggestions(project: Project) -> None:
    from core.store.suggestions import Suggestion

    ids = [im.id for im in project.images.list()]
    names = {im.id: Path(im.path).name.lower() for im in project.images.list()}
    catalog = Catalog.load(project)
    assert not catalog.has_suggestions and catalog.view("suggested").size == 0
    assert catalog.view("all", sort="suggested").tolist() == catalog.view("all", sort="name").tolist()
    # ranks 1..4 on unlabeled images, rank 5 on an image labeled before the refresh (never open)
    picked = {ids[15]: 1, ids[9]: 2, ids[12]: 3, ids[18]: 4, ids[0]: 5}
    project.suggestions.replace([Suggestion(image_id=i, rank=r, score=1.0 / r, strategy="typicality", reason="r")
                                 for i, r in picked.items()])
    catalog.reload_labels(project)
    assert catalog.has_suggestions
    assert catalog.view("suggested").tolist() == sorted([ids[15], ids[9], ids[12], ids[18]], key=names.get)
    rest = sorted((i for i in ids if i not in (ids[15], ids[9], ids[12], ids[18])), key=names.get)
    assert catalog.view("all", sort="suggested").tolist() == [ids[15], ids[9], ids[12], ids[18], *rest]
    assert catalog.view("all", sort="suggested", descending=True).tolist() == [
        ids[18], ids[12], ids[9], ids[15], *rest]  # last rank first, the others still after
    assert catalog.view("suggested", sort="suggested", search=names[ids[12]]).tolist() == [ids[12]]
    keys = catalog.sort_keys("suggested")
    assert len(np.unique(keys)) == len(ids)  # a total order, as every sort
    project.labels.set(ids[9], project.classes.get("crazing"), actor=ACTOR, source=SOURCE)
    catalog.refresh(project, [ids[9]])  # labeled: out of the filter and back among the others at once
    assert ids[9] not in catalog.view("suggested").tolist()
    after = catalog.view("all", sort="suggested").tolist()
    assert after[:3] == [ids[15], ids[12], ids[18]] and after[3:] == sorted(after[3:], key=names.get)
    project.suggestions.replace([])
    catalog.reload_labels(project)
    assert catalog.view("suggested").size == 0 and not catalog.suggestion_rank.any()
