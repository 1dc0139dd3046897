"""The map's layouts cached in ``cache/map-<run>-<kind>.npz`` (image ids and coordinates,
written whole or not at all); :func:`load_layout` returns a cached layout only while its
ids are the project's images. The cache folder is safe to delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import atomic_writer
from core.store import Project

logger = logging.getLogger(__name__)

KINDS = ("pca", "tsne")
FORMAT = 1  # bump when the layouts change meaning: older cache files are then recomputed


@dataclass(frozen=True)
class MapLayout:
    """2-D coordinates of the images, from one pretraining run.

    Attributes:
        run_id: the pretraining run whose features were laid out.
        kind: "pca" or "tsne".
        ids: (N,) int64 image ids, ascending.
        xy: (N, 2) float32 coordinates, centred, about -1..1.
    """

    run_id: int
    kind: str
    ids: np.ndarray
    xy: np.ndarray


def layout_path(project: Project, run_id: int, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown map layout {kind!r}; expected one of {', '.join(KINDS)}")
    return project.cache_dir / f"map-{int(run_id)}-{kind}.npz"


def current_image_ids(project: Project) -> np.ndarray:
    """(N,) int64 ids of the project's images, ascending."""
    return project.images.ids()


def save_layout(project: Project, layout: MapLayout) -> Path:
    """Writes ``layout`` to the cache whole (temp file, then ``os.replace``)."""
    path = layout_path(project, layout.run_id, layout.kind)
    with atomic_writer(path, durable=False) as handle:  # a cache: recomputed if lost
        np.savez(handle, ids=layout.ids.astype(np.int64), xy=layout.xy.astype(np.float32), format=FORMAT)
    return path


def load_layout(project: Project, run_id: int, kind: str, ids: np.ndarray | None = None) -> MapLayout | None:
    """The cached ``kind`` layout of run ``run_id``, or None when there is none, it is
    unreadable or of an older format, or its image ids are not ``ids`` (default: the
    project's current images)."""
    path = layout_path(project, run_id, kind)
    if not path.exists():
        return None
    expected = current_image_ids(project) if ids is None else np.asarray(ids, dtype=np.int64)
    try:
        with np.load(path) as stored:
            if int(stored["format"]) != FORMAT or not np.array_equal(stored["ids"], expected):
                return None
            xy = stored["xy"].astype(np.float32)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        logger.warning("ignoring unreadable map cache %s: %s", path, exc)
        return None
    if xy.shape != (len(expected), 2) or not np.isfinite(xy).all():
        return None
    return MapLayout(run_id=int(run_id), kind=kind, ids=expected, xy=xy)
