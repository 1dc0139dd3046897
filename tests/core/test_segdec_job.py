"""The defect-detector job on a generated project: 0, a few and all masks; what a run
stores (predictions, heat maps, validation, "worth a mask"), the threshold, the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.active.worth_a_mask import load_worth_a_mask
from core.catalog import Catalog
from core.jobs import drain
from core.store import Project, RunKind
from core.training import SegDecRequest, segdec_job
from core.training.heatmaps import iter_heatmaps
from core.training.segdec import (
    doing_text,
    load_heatmap,
    load_validation_scores,
    set_threshold,
    upsample_heatmap,
)
from models.segdec.train import StepStats

N_IMAGES = 42


def mask_from_truth(root: Path, count: int | None) -> list[int]:
    """Gives ``count`` (None: all) labeled defective images their true mask; returns their ids."""
    with Project.open(root) as project, open(root / "truth" / "labels.csv") as handle:
        names = {c.name: c.id for c in project.classes.list()}
        done = []
        for row in csv.DictReader(handle):
            if row["class"] == "ok" or (count is not None and len(done) >= count):
                continue
            image = project.images.find(row["file"])
            if project.labels.get(image.id) is None:
                continue
            mask = (np.asarray(Image.open(root / row["mask"])) > 127).astype(np.uint8) * names[row["class"]]
            project.masks.save(image.id, mask, actor="t", source="test")
            done.append(image.id)
    return done


@pytest.fixture(scope="module")
def labeled_demo(tmp_path_factory, label_from_truth) -> Path:
    from core.demo_project import create_demo_project

    root = tmp_path_factory.mktemp("segdec") / "demo"
    create_demo_project(root, n_images=N_IMAGES, size=64, workers=1)
    label_from_truth(root, N_IMAGES)
    return root


@pytest.fixture()
def demo(labeled_demo: Path, tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(labeled_demo, root)
    return root


def request(root: Path, **kwargs) -> SegDecRequest:
    return SegDecRequest(project_root=root, **{"max_epochs": 2, "workers": 1, **kwargs})


@pytest.mark.parametrize("masks", [0, 3, None])
def test_trains_with_no_few_or_all_masks(demo: Path, masks: int | None):
    masked = mask_from_truth(demo, masks)
    records = []
    result = drain(segdec_job(request(demo)), records.append)
    run = result.run
    assert run is not None and run.method == "segdec"
    assert run.metrics["masks"] == len(masked)
    # the app's joint mode whatever the masks; the geometry is the native size of 64 px images
    assert run.metrics["mode"] == "joint" and run.metrics["stop_gradient"] is False
    assert run.metrics["geometry"]["scale"] == 1.0 and "64x64 px" in run.metrics["geometry"]["description"]
    assert run.metrics["stopped"] in ("converged", "max_epochs", "time_budget") and run.metrics["stopped_because"]
    assert {"defect detector", "predicting defects"} <= {r.phase for r in records}
    assert any("decision loss" in r.losses for r in records)
    with Project.open(demo) as project:
        n = project.images.count()
        rows = [project.predictions.get(image.id, run.id) for image in project.images.list()]
        assert project.predictions.count(run.id) == n
        assert all(r is not None and r.class_id is None and 0.0 <= r.defect_probability <= 1.0 for r in rows)
        heat = dict(iter_heatmaps(project.runs_dir / str(run.id)))
        assert len(heat) == n and all(h.shape == (8, 8) and h.dtype == np.uint8 for h in heat.values())
        worth = load_worth_a_mask(project, run)
        labeled_defective = {i for i, label in project.labels.all().items() if label.kind == "defect"}
    entries = {e["image_id"] for e in worth}
    assert entries <= labeled_defective - set(masked)  # only defective images without a mask
    if masks is None:
        assert entries == set()
    else:
        assert entries == labeled_defective - set(masked)
        assert all(e["reason"] for e in worth)
        scores = [e["score"] for e in worth]
        assert scores == sorted(scores, reverse=True)


def test_validation_threshold_and_target_recall(demo: Path):
    result = drain(segdec_job(request(demo)))
    validation = result.metrics["validation"]
    assert validation["n"] >= 4 and 0.0 <= validation["ap"] <= 1.0
    assert set(validation["fp_ids"]).isdisjoint(validation["fn_ids"])
    assert len(validation["fp_ids"]) == validation["fp"] and len(validation["fn_ids"]) == validation["fn"]
    with Project.open(demo) as project:
        run = set_threshold(project, result.run, target_recall=1.0)
        scores = load_validation_scores(project, run)
        assert project.runs.get(run.id).metrics["threshold"] == run.metrics["threshold"]
    truth = np.array(scores["truth"])
    probability = np.array(scores["probability"])
    threshold = run.metrics["threshold"]
    assert np.all(probability[truth == 1] >= threshold)  # recall 1 on the validation images
    assert run.metrics["validation"]["recall"] == 1.0 and run.metrics["validation"]["fn"] == 0
    with Project.open(demo) as project, pytest.raises(ValueError, match="recall"):
        set_threshold(project, run, target_recall=1.5)


def test_heat_map_lines_up_with_the_image():
    heat = np.zeros((8, 8), np.uint8)
    heat[2, 5] = 255  # row 2, column 5 of the squashed square
    up = upsample_heatmap(heat, width=160, height=80)  # a wide image: cells are 20 x 10 pixels
    assert up.shape == (80, 160)
    row, col = np.unravel_index(np.argmax(up), up.shape)
    assert 20 <= row < 30 and 100 <= col < 120  # inside cell (2, 5) of the image
    assert up[25, 110] > 0.9 and up[5, 10] == 0.0


def test_stored_heat_map_matches_the_images_and_the_project(demo: Path):
    result = drain(segdec_job(request(demo, max_epochs=1)))
    with Project.open(demo) as project:
        run = project.runs.latest(RunKind.SEGDEC)
        assert run.id == result.run.id
        image = project.images.get(int(project.images.ids().min()))
        heat = load_heatmap(project, run, image.id)
        assert heat.shape == (8, 8)
        assert upsample_heatmap(heat, image.width, image.height).shape == (image.height, image.width)
        assert load_heatmap(project, run, 10_000) is None


def test_catalog_sorts_and_filters_by_defect_probability(demo: Path):
    drain(segdec_job(request(demo, max_epochs=1)))
    with Project.open(demo) as project:
        catalog = Catalog.load(project)
        # the classifier's predictions stay apart: no class predictions from a detector run
        assert catalog.has_defect_predictions and not catalog.has_predictions
        assert project.predictions.get(1) is None and project.predictions.get(1, kind=RunKind.SEGDEC) is not None
    order = catalog.view(sort="defect_first")
    p = catalog.pred_defect[catalog.index_of(order)]
    assert np.all(np.diff(p) <= 0)
    detected = catalog.view(filter="defective")
    assert np.all(catalog.pred_defect[catalog.index_of(detected)] >= catalog.defect_threshold)
    missed = set(catalog.view(filter="missed").tolist())
    ok_ids = {c.id for c in catalog.classes if c.is_ok}
    for image_id in missed:
        k = catalog.index_of([image_id])[0]
        assert (catalog.pred_defect[k] >= catalog.defect_threshold) == (catalog.label[k] in ok_ids)


def test_needs_ok_and_defect_labels(tmp_path: Path, label_from_truth):
    from core.demo_project import create_demo_project
    from core.store import StoreError

    root = tmp_path / "demo"
    create_demo_project(root, n_images=12, size=64, workers=1)
    with Project.open(root) as project:
        defect = next(c for c in project.classes.list() if not c.is_ok)
        project.labels.apply([(1, defect.name), (2, defect.name)], actor="t", source="test")
    with pytest.raises(StoreError, match="OK images and defective images"):
        drain(segdec_job(request(root)))


def test_cancel_leaves_no_run(demo: Path):
    cancel = threading.Event()
    job = segdec_job(request(demo, max_epochs=3), cancel)
    for progress in job:
        if progress.phase == "defect detector":
            cancel.set()
    with Project.open(demo) as project:
        assert project.runs.latest(RunKind.SEGDEC) is None
        assert project.predictions.latest_run(RunKind.SEGDEC) is None
        assert not any(p.name.endswith(".partial") for p in project.runs_dir.iterdir())


def test_retrain_includes_the_detector_and_the_cli_exports_heat_maps(demo: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    mask_from_truth(demo, 2)
    result = subprocess.run(
        [sys.executable, "-m", "labelapp", "train", str(demo), "--epochs", "1", "--size", "48", "--batch-size", "16",
         "--segdec-epochs", "1", "--json"],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["method"] == "classifier" and data["segdec"]["metrics"]["masks"] == 2
    with Project.open(demo) as project:
        assert [r.method for r in project.runs.list()] == ["pretrain-simclr", "classifier", "segdec"]
        sizes = {Path(i.path).stem: (i.width, i.height) for i in project.images.list()}
    out = tmp_path / "heat"
    result = subprocess.run([sys.executable, "-m", "labelapp", "export-heatmaps", str(demo), "--out", str(out),
                             "--overlay"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(open(out / "defect_probabilities.csv")))
    assert len(rows) == len(sizes)
    stem = Path(rows[0]["image"]).stem
    with Image.open(out / rows[0]["heatmap"]) as heat, Image.open(out / f"{stem}-overlay.png") as overlay:
        assert heat.size == overlay.size == sizes[stem]


def test_heat_maps_line_up_with_a_non_square_image_at_half_scale():
    """A hot cell of the raw 1/8 map of a 250 x 100 image seen at scale 0.5 (125 x 50,
    padded to 128 x 56): stored and stretched over the image as the editor and the export
    do, the heat lands on the original pixels that cell was computed from."""
    from core.training.segdec_geometry import working_size
    from models.segdec import heat_on_image_grid

    height, width, scale = 250, 100, 0.5
    wh, ww = working_size(height, width, scale)
    assert (wh, ww) == (125, 50)
    raw = np.zeros((16, 7), np.float32)  # ceil(125 / 8) x ceil(50 / 8)
    raw[9, 3] = 1.0  # working pixels 72-80 x 24-32, i.e. original 144-160 x 48-64
    stored = (heat_on_image_grid(raw, wh, ww) * 255).astype(np.uint8)
    up = upsample_heatmap(stored, width, height)
    row, col = np.unravel_index(np.argmax(up), up.shape)
    assert 144 - 8 <= row < 160 + 8 and 48 - 8 <= col < 64 + 8
    # the original block under the hot cell is hotter than anywhere a cell away
    assert up[150, 56] > 0.3 and up[150, 56] > 3 * up[150, 90] and up[150, 56] > 3 * up[200, 56]


def test_a_run_at_another_scale_keeps_the_aspect_ratio(demo: Path):
    result = drain(segdec_job(request(demo, max_epochs=1, scale=0.75)))
    run = result.run
    assert run.metrics["geometry"]["scale"] == 0.75 and run.metrics["geometry"]["chosen_by"] == "user"
    with Project.open(demo) as project:
        for image in project.images.list()[:3]:
            heat = load_heatmap(project, run, image.id)
            assert heat.shape == (-(-round(image.height * 0.75) // 8), -(-round(image.width * 0.75) // 8))


def test_a_retrain_continues_from_the_last_detector_unless_asked_not_to(demo: Path):
    first = drain(segdec_job(request(demo, max_epochs=2))).run
    second = drain(segdec_job(request(demo, max_epochs=1))).run
    assert first.metrics["warm_from"] is None and second.metrics["warm_from"] == first.id
    assert second.metrics["warm"] is True
    # the previous weights were loaded: scored first on the same held-out images, they
    # score what the first run's best state scored
    history = second.metrics["validation_ap_by_epoch"]
    assert history[0] == pytest.approx(first.metrics["validation"]["ap"])
    scratch = drain(segdec_job(request(demo, max_epochs=1, warm_start=False))).run
    assert scratch.metrics["warm_from"] is None and scratch.metrics["warm"] is False
    other_scale = drain(segdec_job(request(demo, max_epochs=1, scale=0.5))).run
    assert other_scale.metrics["warm_from"] is None  # weights of another scale are not reused


def test_the_progress_line_shows_a_speed_only_for_training_steps():
    step = StepStats(epoch=0, step=3, steps_per_epoch=9, losses={"loss": 1.0}, theta=None, images_per_s=41.6,
                     elapsed_s=2.0)
    scoring = StepStats(epoch=0, step=9, steps_per_epoch=9, losses={}, theta=None, images_per_s=0.0, elapsed_s=3.0,
                        validation_ap=0.8)
    assert doing_text(step) == "42 images/s"
    assert doing_text(scoring) == "scoring the held-out images"  # not "0 images/s"
