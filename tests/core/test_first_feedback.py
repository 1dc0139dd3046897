"""First feedback fast: a run finishes before it predicts every image, then streams its
predictions into the store in priority order, announcing each committed batch."""

from __future__ import annotations

import itertools
import pickle
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog
from core.jobs import Progress, StoredPredictions, coalesce, drain
from core.store import PredictionState, Project, RunKind, RunStatus
from core.training import ClassifyRequest, SegDecRequest, classify_job, segdec_job
from core.training.heatmaps import iter_heatmaps, load_heatmap
from core.training.streaming import FIRST_BATCH, prediction_order, unsure_ids


@pytest.fixture()
def detector_project(segdec_project: Path, tmp_path: Path) -> Path:
    """42 labeled demo images with one finished detector run (run 1)."""
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    return root


@pytest.fixture()
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first batch of 4 priority images, then commits of 4, so that 42 images stream in several batches."""
    monkeypatch.setattr("core.training.streaming.MAX_BATCH", 4)
    monkeypatch.setattr("core.training.segdec_predict.FIRST_BATCH", 4)


def request(root: Path, **kwargs) -> SegDecRequest:
    return SegDecRequest(project_root=root, **{"max_epochs": 1, "workers": 1, **kwargs})


def stored(records: list[Progress]) -> list[StoredPredictions]:
    return [r.stored for r in records if r.stored is not None]


def test_coalesced_records_keep_every_stored_batch():
    first = StoredPredictions(run_id=3, kind="segdec", image_ids=(5, 6), stored=2, total=9)
    second = StoredPredictions(run_id=3, kind="segdec", image_ids=(1,), stored=3, total=9)
    plain = Progress(phase="predicting defects", step=3, total=9)
    assert coalesce(None, plain) == plain
    kept = coalesce(Progress(phase="p", step=2, total=9, stored=first), plain)
    assert kept.step == 3 and kept.stored == first
    both = coalesce(kept, Progress(phase="p", step=3, total=9, stored=second))
    assert both.stored.image_ids == (5, 6, 1) and both.stored.stored == 3
    with pytest.raises(ValueError):
        first.merged(StoredPredictions(run_id=4, kind="segdec", image_ids=(), stored=0, total=9))


def test_prediction_order_puts_the_priority_then_each_group_then_the_rest():
    ids = np.arange(1, 301)
    order = prediction_order(ids, [250, 7, 999], then=[[7, 3], [260]])
    assert order[:4].tolist() == [250, 7, 3, 260]  # 999 is no image; 7 comes once
    assert sorted(order.tolist()) == ids.tolist()
    assert order[4:].tolist() == [i for i in ids.tolist() if i not in (250, 7, 3, 260)]
    default = prediction_order(ids)  # no priority: the grid's default order, import order
    assert default.tolist() == ids.tolist() and FIRST_BATCH < len(ids)


def test_the_detector_stores_the_priority_images_first_and_announces_every_batch(detector_project: Path,
                                                                                 small_batches: None):
    with Project.open(detector_project) as project:
        all_ids = project.images.ids()
    priority = tuple(int(i) for i in all_ids[-6:][::-1])  # the grid scrolled to the end
    records: list[Progress] = []
    result = drain(segdec_job(request(detector_project, priority_ids=priority)), records.append)
    batches = stored(records)
    assert len(batches) > 2 and all(b.run_id == result.run.id and b.kind == "segdec" for b in batches)
    assert set(priority[:4]) <= set(batches[0].image_ids)  # the first commit holds the grid's first images
    assert batches[1].image_ids[:2] == priority[4:]  # the rest of them next
    held_out = set(result.metrics["validation"]["fp_ids"]) | set(result.metrics["validation"]["fn_ids"])
    assert held_out <= set(batches[0].image_ids)  # ... and the held-out ones the threshold needs
    assert [b.stored for b in batches] == np.cumsum([len(b.image_ids) for b in batches]).tolist()
    assert [b.complete for b in batches] == [False] * (len(batches) - 1) + [True]
    assert batches[-1].stored == batches[-1].total == len(all_ids)
    assert sorted(i for b in batches for i in b.image_ids) == sorted(all_ids.tolist())
    assert pickle.loads(pickle.dumps(records[-1])) == records[-1]  # crosses a process boundary
    assert result.run.prediction_state is PredictionState.COMPLETE and result.run.status is RunStatus.DONE
    with Project.open(detector_project) as project:
        assert project.predictions.count(result.run.id) == len(all_ids)
        assert len(dict(iter_heatmaps(project.runs_dir / str(result.run.id)))) == len(all_ids)
        assert not list(project.runs_dir.glob("*.predicting")) and not list(project.runs_dir.glob("*.partial"))


def test_the_grid_shows_a_run_from_its_first_stored_batch(detector_project: Path, small_batches: None):
    job = segdec_job(request(detector_project))
    for record in job:
        if record.stored is not None:
            break
    first = record.stored
    with Project.open(detector_project) as project:  # as the GUI reads it, mid-stream
        run = project.runs.get(first.run_id)
        assert run.status is RunStatus.DONE and run.predicting and "threshold" in run.metrics
        assert project.predictions.latest_run(RunKind.SEGDEC) == first.run_id
        assert project.predictions.count(first.run_id) == first.stored < first.total
        catalog = Catalog.load(project)
        assert catalog.defect_run == first.run_id and catalog.detector.status != "none"
        shown = ~np.isnan(catalog.pred_defect)
        assert shown.sum() == first.stored
        assert set(catalog.ids[shown].tolist()) == set(first.image_ids)
        heat = load_heatmap(project, run, first.image_ids[0])  # the editor reads the heat maps stored so far
        assert heat is not None and heat.shape == (8, 8)
        assert load_heatmap(project, run, int(catalog.ids[~shown][0])) is None
    result = drain(job)
    assert result.run.prediction_state is PredictionState.COMPLETE


def test_a_cancel_while_streaming_keeps_the_run_and_what_it_stored(detector_project: Path, small_batches: None):
    cancel = threading.Event()
    records: list[Progress] = []

    def on_progress(record: Progress) -> None:
        records.append(record)
        if record.stored is not None:
            cancel.set()  # stop right after the first batch

    result = drain(segdec_job(request(detector_project), cancel), on_progress)
    batches = stored(records)
    assert result.cancelled and result.run is not None
    assert result.run.status is RunStatus.DONE and result.run.prediction_state is PredictionState.PARTIAL
    assert not batches[-1].complete
    with Project.open(detector_project) as project:
        total = project.images.count()
        kept = project.predictions.count(result.run.id)
        assert kept == batches[-1].stored < total  # exactly the committed batches
        assert project.predictions.latest_run(RunKind.SEGDEC) == result.run.id  # marked partial, still shown
        heat = dict(iter_heatmaps(project.runs_dir / str(result.run.id)))  # the heat maps of those, whole
        assert sorted(heat) == sorted(i for b in batches for i in b.image_ids)
        assert not list(project.runs_dir.glob("*.predicting")) and not list(project.runs_dir.glob("*.partial"))
        # the next retrain trains and streams as usual
    again = drain(segdec_job(request(detector_project)))
    assert again.run.prediction_state is PredictionState.COMPLETE and again.run.metrics["warm_from"] == result.run.id


@pytest.fixture()
def classifier_project(small_classifier_project: Path, tmp_path: Path) -> Path:
    """42 demo images, 28 labeled, an encoder (run 1) and a classifier (run 2)."""
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    return root


def test_the_classifier_stores_the_priority_images_first_and_the_rest_after(classifier_project: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("core.training.classify.FIRST_BATCH", 3)
    monkeypatch.setattr("core.training.classify.PREDICT_CHUNK", 10)
    with Project.open(classifier_project) as project:
        all_ids = project.images.ids()
        labeled = set(project.labels.all())
        unsure = unsure_ids(project, RunKind.CLASSIFIER)
    priority = (int(all_ids[-1]), int(all_ids[-2]), int(all_ids[5]))
    records: list[Progress] = []
    result = drain(classify_job(ClassifyRequest(project_root=classifier_project, epochs=5, priority_ids=priority)),
                   records.append)
    both = stored(records)
    # two passes: the classes with the last run's temperature, then the calibrated confidences
    batches, calibrated = both[:len(both) // 2], both[len(both) // 2:]
    assert [b.image_ids for b in calibrated] == [b.image_ids for b in batches]
    assert [b.stored for b in both] == list(itertools.accumulate(len(b.image_ids) for b in both))
    assert batches[-1].complete and calibrated[-1].complete
    assert batches[0].image_ids == priority and all(b.kind == "classifier" for b in batches)
    after = [i for b in batches[1:] for i in b.image_ids]
    assert set(after[:len(labeled - set(priority))]) == labeled - set(priority)  # then the labeled images
    rest = [i for i in unsure if i not in labeled and i not in priority]  # those run 2 was unsure of
    rest += sorted(set(all_ids.tolist()) - labeled - set(priority) - set(unsure))  # the rest in import order
    assert after[len(labeled - set(priority)):] == rest and len(unsure) > 0
    assert [len(b.image_ids) for b in batches] == [3, 10, 10, 10, 9] and batches[-1].complete
    assert result.run.prediction_state is PredictionState.COMPLETE
    with Project.open(classifier_project) as project:
        assert project.predictions.count(result.run.id) == len(all_ids)
        assert project.predictions.latest_run(RunKind.CLASSIFIER) == result.run.id


def test_a_cancel_while_the_classifier_streams_keeps_what_it_stored(classifier_project: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("core.training.classify.FIRST_BATCH", 3)
    cancel = threading.Event()

    def on_progress(record: Progress) -> None:
        if record.stored is not None:
            cancel.set()

    result = drain(classify_job(ClassifyRequest(project_root=classifier_project, epochs=5), cancel), on_progress)
    assert result.cancelled and result.run.prediction_state is PredictionState.PARTIAL
    with Project.open(classifier_project) as project:
        assert project.predictions.count(result.run.id) == 3  # the first batch, committed before the cancel
        assert project.predictions.latest_run(RunKind.CLASSIFIER) == result.run.id


@pytest.mark.parametrize("forwarding", ["every", "thinned", "lossy"])
def test_the_catalog_takes_in_each_announced_batch(detector_project: Path, small_batches: None, forwarding: str):
    """Every record; every third, the skipped ones coalesced into it (as the worker
    process thins them); every third, the others lost (the catalog reads them all again)."""
    with Project.open(detector_project) as project:
        catalog = Catalog.load(project)
        old_run = catalog.defect_run
        skipped = None
        for k, record in enumerate(segdec_job(request(detector_project))):
            if forwarding != "every" and k % 3 and not (record.stored and record.stored.complete):
                skipped = coalesce(skipped, record) if forwarding == "thinned" else None
                continue
            record, skipped = coalesce(skipped, record), None
            if record.stored is None:
                continue
            catalog.add_stored(project, record.stored)
            assert catalog.defect_run == record.stored.run_id != old_run  # the new run from its first batch on
            assert int((~np.isnan(catalog.pred_defect)).sum()) == record.stored.stored
            assert catalog.view(sort="defect_first") is not None
        catalog.after_run(project)  # the window's refresh at the end of the retrain
        fresh = Catalog.load(project)
    np.testing.assert_array_equal(catalog.pred_defect, fresh.pred_defect)
    assert catalog.defect_threshold == fresh.defect_threshold
    assert catalog.verdict == fresh.verdict


def test_after_a_run_the_catalog_reads_only_what_it_was_not_told(detector_project: Path, small_batches: None):
    with Project.open(detector_project) as project:
        told, untold = Catalog.load(project), Catalog.load(project)
        for record in segdec_job(request(detector_project)):
            if record.stored is not None:
                told.add_stored(project, record.stored)
        marked = int(np.flatnonzero(~np.isnan(told.pred_defect))[0])
        told.pred_defect[marked] = -1.0  # a value no read would give
        told.after_run(project)
        assert told.pred_defect[marked] == -1.0  # all its batches were announced: nothing read again
        untold.after_run(project)  # announced nothing (a run that did not stream): read whole
        fresh = Catalog.load(project)
    assert untold.defect_run == fresh.defect_run != None  # noqa: E711
    np.testing.assert_array_equal(untold.pred_defect, fresh.pred_defect)


def test_the_classifier_stores_calibrated_confidences_in_the_end(classifier_project: Path):
    """The first pass uses the last run's temperature; the run ends with its own, fitted on
    held-out folds, in its metrics, its checkpoint and every stored confidence."""
    from core.jobs.runs import load_checkpoint
    from core.training.pretrain import load_features
    from models.fewshot.head import FittedHead

    with Project.open(classifier_project) as project:
        last = project.runs.get(project.predictions.latest_run(RunKind.CLASSIFIER))
    records: list[Progress] = []
    result = drain(classify_job(ClassifyRequest(project_root=classifier_project, epochs=5)), records.append)
    first = next(r for r in records if r.stored is not None)
    assert first.phase == "predicting classes" and records[-1].phase == "classifier"
    metrics = result.run.metrics
    assert metrics["validation"]["accuracy"] >= 0 and metrics["temperature"] != last.metrics.get("temperature")
    with Project.open(classifier_project) as project:
        state = load_checkpoint(project, result.run)["state_dict"]
        head = FittedHead.from_state_dict(state)
        assert head.temperature == pytest.approx(metrics["temperature"])
        predictions = project.predictions.class_columns(result.run.id)
        ids, confidence = predictions.ids, predictions.confidence
        feature_ids, features = load_features(project, project.runs.get(result.run.config["pretrain_run"]))
    row = {int(i): k for k, i in enumerate(feature_ids.tolist())}
    expected = head.predict(features[[row[int(i)] for i in ids]]).confidence
    assert np.allclose(confidence, expected, atol=1e-5)
