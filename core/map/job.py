"""The map job (:mod:`core.jobs.base`): ``refine=False`` returns the PCA layout (and the
refined one when it is cached) in well under a second; ``refine=True`` computes the
refined layout, yielding progress several times a second and checking its cancel flag
between steps."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.jobs.base import JobCancelled, Progress
from core.map.cache import MapLayout, current_image_ids, load_layout, save_layout
from core.map.layout import LANDMARKS, pca_layout, refined_layout
from core.map.points import MapPoints, read_points
from core.store import Project, Run, RunKind

# why there is no map, in words for any interface; the one that shows it adds how to pretrain there
NO_ENCODER = ("No map yet: the map places every image by its embedding, which comes from an encoder "
              "pretrained on all images (a few minutes).")
IMAGES_CHANGED = ("New images arrived since the encoder was pretrained: the map follows the next retrain, which "
                  "embeds them with the current encoder.")


@dataclass(frozen=True)
class MapRequest:
    project_root: Path
    refine: bool = False  # False: the PCA layout only (plus the refined one if cached)
    landmarks: int = LANDMARKS
    seed: int = 0


@dataclass(frozen=True)
class MapResult:
    """What :func:`map_job` returns; ``message`` says why there is no layout."""

    run_id: int | None
    pca: MapLayout | None
    refined: MapLayout | None
    seconds: float
    cancelled: bool = False
    message: str = ""
    points: MapPoints | None = None
    needs: RunKind | None = None  # the training that would give a map, when ``message`` says there is none


def map_features(project: Project, run: Run, ids: np.ndarray) -> np.ndarray:
    """The features of the images ``ids`` (ascending) from ``run``, in that order."""
    from core.training.pretrain import load_features

    run_ids, features = load_features(project, run)
    position = np.argsort(run_ids, kind="stable")
    found = position[np.searchsorted(run_ids[position], ids)]
    if not np.array_equal(run_ids[found], ids):
        raise ValueError(f"pretraining run #{run.id} has no features for some images")
    return np.ascontiguousarray(features[found], dtype=np.float32)


def map_job(request: MapRequest, cancel: threading.Event | None = None) -> Generator[Progress, None, MapResult]:
    """Lays out the images of the latest pretraining run (opens its own connection: any thread).

    With ``refine=False`` it returns the cached layouts, computing the PCA one if it is
    missing; with ``refine=True`` it computes (and caches) the refined layout too. A
    project without an encoder covering its images gets a result without layouts, a
    ``message`` saying why and ``needs`` naming the training that would give one.
    """
    from core.training.classify import latest_pretrain_run

    started = time.perf_counter()
    with Project.open(request.project_root) as project:
        run = latest_pretrain_run(project)
        if run is None:
            message = IMAGES_CHANGED if any(r.kind is RunKind.PRETRAIN for r in project.runs.list()) \
                else NO_ENCODER
            return MapResult(run_id=None, pca=None, refined=None, seconds=0.0, message=message, needs=RunKind.PRETRAIN)
        ids = current_image_ids(project)
        pca = load_layout(project, run.id, "pca", ids)
        refined = load_layout(project, run.id, "tsne", ids)
        features = None
        if pca is None:
            yield Progress(phase="map", step=0, total=1000, message=f"Map: principal axes ({len(ids):,} images)")
            features = map_features(project, run, ids)
            pca = MapLayout(run_id=run.id, kind="pca", ids=ids, xy=pca_layout(features, seed=request.seed))
            save_layout(project, pca)
        if refined is None and request.refine:
            features = map_features(project, run, ids) if features is None else features
            try:
                xy = yield from refined_layout(features, landmarks=request.landmarks, seed=request.seed, cancel=cancel)
            except JobCancelled:
                return MapResult(run_id=run.id, pca=pca, refined=None, cancelled=True,
                                 seconds=time.perf_counter() - started)
            refined = MapLayout(run_id=run.id, kind="tsne", ids=ids, xy=xy)
            save_layout(project, refined)
        points = read_points(project, ids)
    from scipy.spatial import cKDTree  # noqa: F401 - imported here, off the GUI thread, for the map's hit-testing
    return MapResult(run_id=run.id, pca=pca, refined=refined, seconds=time.perf_counter() - started, points=points)
