"""The embedding map's layouts, their cache, and the map job on a real pretraining run."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from core.catalog import Catalog
from core.jobs import JobCancelled, drain
from core.map.cache import MapLayout, layout_path, load_layout, save_layout
from core.map.job import IMAGES_CHANGED, NO_ENCODER, MapRequest, map_job
from core.map.layout import choose_landmarks, pca_layout, refined_layout
from core.map.points import read_points
from core.store import NewImage, Project, RunKind


def clusters(n: int, k: int, dims: int = 64, seed: int = 0, sizes: list[int] | None = None,
             ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in ``k`` well-separated Gaussian clusters: (features, cluster of each)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dims)).astype(np.float32) * 3.0
    group = np.repeat(np.arange(k), sizes) if sizes is not None else rng.integers(0, k, n)
    features = centres[group] + rng.normal(size=(len(group), dims)).astype(np.float32) * 0.5
    return features.astype(np.float32), group


def neighbour_agreement(xy: np.ndarray, group: np.ndarray, k: int = 10) -> float:
    """The share of each point's ``k`` nearest 2-D neighbours in its own cluster."""
    _, nearest = cKDTree(xy).query(xy, k=k + 1)
    return float((group[nearest[:, 1:]] == group[:, None]).mean())


# -- layouts ------------------------------------------------------------------------------------
def test_pca_layout_is_finite_and_scaled() -> None:
    features, _ = clusters(800, 4)
    xy = pca_layout(features)
    assert xy.shape == (800, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    assert 0.9 < np.percentile(np.abs(xy), 98) < 1.1  # the common -1..1 frame
    assert pca_layout(features[:1]).shape == (1, 2) and pca_layout(features[:2, :1]).shape == (2, 2)


def test_refinement_keeps_clusters_apart_and_reports() -> None:
    features, group = clusters(1500, 5)
    records = []
    xy = drain(refined_layout(features, landmarks=300), records.append)  # 300 landmarks: the rest are placed
    assert xy.shape == (1500, 2) and np.isfinite(xy).all()
    assert neighbour_agreement(xy, group) > 0.97
    steps = [r.step for r in records]
    assert records and steps == sorted(steps) and all(r.phase == "map" and r.total == 1000 for r in records)
    assert any("placing" in r.message for r in records)


def test_landmarks_cover_a_rare_group() -> None:
    features, group = clusters(0, 4, sizes=[3000, 3000, 3000, 30])
    chosen = choose_landmarks(features, 200)
    assert len(chosen) == 200 and len(np.unique(chosen)) == 200 and np.all(np.diff(chosen) > 0)
    assert (group[chosen] == 3).sum() >= 10  # a uniform draw would give it 0-2 of 200


def test_refinement_stops_when_cancelled() -> None:
    features, _ = clusters(600, 3)
    cancel = threading.Event()
    job = refined_layout(features, landmarks=100, cancel=cancel)
    next(job)
    cancel.set()
    with pytest.raises(JobCancelled):
        drain(job)


# -- cache and job on a project -------------------------------------------------------------------
@pytest.fixture
def project_root(tmp_path: Path, small_classifier_project: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    return root


def test_map_job_computes_caches_and_reuses_layouts(project_root: Path) -> None:
    quick = drain(map_job(MapRequest(project_root)))
    assert quick.message == "" and quick.run_id == 1 and quick.refined is None
    assert quick.pca.ids.tolist() == list(range(1, 43)) and quick.pca.xy.shape == (42, 2)
    refined = drain(map_job(MapRequest(project_root, refine=True)))
    assert refined.refined is not None and np.isfinite(refined.refined.xy).all()
    assert np.array_equal(refined.pca.xy, quick.pca.xy)  # read back from the cache, not recomputed
    with Project.open(project_root) as project:
        for kind in ("pca", "tsne"):
            assert layout_path(project, 1, kind).exists()
        marked = MapLayout(run_id=1, kind="tsne", ids=refined.refined.ids, xy=np.full((42, 2), 0.5, np.float32))
        save_layout(project, marked)
        assert not list(project.cache_dir.glob("*.tmp"))
    again = drain(map_job(MapRequest(project_root)))
    assert np.all(again.refined.xy == 0.5)  # the cached layout, no new t-SNE


def test_cached_layout_is_dropped_when_the_images_change(project_root: Path) -> None:
    drain(map_job(MapRequest(project_root)))
    with Project.open(project_root) as project:
        ids = np.arange(1, 43)
        assert load_layout(project, 1, "pca") is not None
        assert load_layout(project, 1, "pca", ids[:-1]) is None  # other images: not this layout
        assert load_layout(project, 1, "tsne") is None  # never computed
        project.images.add_many([NewImage(path="new.png", hash="f" * 64, width=64, height=64, channels=1,
                                          bit_depth=8, mode="L", gray=True, file_size=1, mtime=0.0)])
        assert load_layout(project, 1, "pca") is None
    result = drain(map_job(MapRequest(project_root)))
    assert result.pca is None and result.message == IMAGES_CHANGED and result.needs is RunKind.PRETRAIN


def test_damaged_cache_file_is_recomputed(project_root: Path) -> None:
    first = drain(map_job(MapRequest(project_root)))
    with Project.open(project_root) as project:
        layout_path(project, 1, "pca").write_bytes(b"not a numpy file")
        assert load_layout(project, 1, "pca") is None
    again = drain(map_job(MapRequest(project_root)))
    assert np.allclose(again.pca.xy, first.pca.xy)


def test_map_job_without_encoder_says_what_to_do(tmp_path: Path) -> None:
    from core.demo_project import create_demo_project

    root = tmp_path / "fresh"
    create_demo_project(root, n_images=6, size=32, workers=1)
    result = drain(map_job(MapRequest(root)))
    assert result.pca is None and result.refined is None and result.message == NO_ENCODER
    assert result.needs is RunKind.PRETRAIN and "Retrain" not in result.message  # each interface adds its action


def test_points_carry_labels_predictions_and_suggestions(project_root: Path) -> None:
    with Project.open(project_root) as project:
        ids = np.arange(1, 43, dtype=np.int64)
        points = read_points(project, ids)
        labels = {i: lab.class_id for i, lab in project.labels.all().items()}
        assert points.label.tolist() == [labels.get(int(i), 0) for i in ids]
        prediction = project.predictions.get(5)
        assert points.prediction_run == 2 and points.predicted[4] == prediction.class_id
        assert points.uncertainty[4] == pytest.approx(prediction.uncertainty)
        ranks = project.suggestions.ranks()
        assert {int(i): int(r) for i, r in zip(ids, points.rank, strict=True) if r} == ranks
        assert not (points.suggested() & (points.label != 0)).any()


def test_catalog_map_filter_shows_the_map_selection(project_root: Path) -> None:
    with Project.open(project_root) as project:
        catalog = Catalog.load(project)
    assert catalog.view("map").tolist() == []
    catalog.map_selection = np.array([3, 7, 40], np.int64)
    assert sorted(catalog.view("map").tolist()) == [3, 7, 40]
