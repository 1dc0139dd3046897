"""The pixel cache: built once by a job, matches the images, rebuilt when they change."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.demo import DemoManifest
from core.importing import ImportOptions, import_folder
from core.jobs import JobCancelled, drain
from core.media.pixel_cache import build_pixel_cache, open_pixel_cache
from core.store import Project


@pytest.fixture()
def project(demo_folders: DemoManifest, project_dir: Path) -> Project:
    p = Project.create(project_dir)
    import_folder(p, demo_folders.root / "images", ImportOptions(workers=1))
    yield p
    p.close()


def test_cache_holds_every_image_resized(project: Project) -> None:
    assert open_pixel_cache(project, 32) is None
    steps = []
    cache = drain(build_pixel_cache(project, 32, workers=2), steps.append)
    assert steps[-1].step == steps[-1].total == project.images.count()
    assert cache.pixels.shape == (project.images.count(), 32, 32) and cache.failed == ()
    image = project.images.list()[5]
    expected = np.asarray(PILImage.open(project.images.resolve(image)).convert("L").resize(
        (32, 32), PILImage.Resampling.BILINEAR, reducing_gap=2.0))
    assert np.array_equal(cache.pixels[cache.index_of(np.array([image.id]))[0]], expected)
    again = open_pixel_cache(project, 32)
    assert again is not None and np.array_equal(again.pixels, cache.pixels)
    colour = drain(build_pixel_cache(project, 24, color=True, workers=1))
    assert colour.pixels.shape[1:] == (24, 24, 3)


def test_cache_is_stale_after_new_images_and_reports_unreadable(project: Project, tmp_path: Path) -> None:
    drain(build_pixel_cache(project, 16, workers=1))
    extra = tmp_path / "extra"
    extra.mkdir()
    PILImage.new("L", (20, 20), 200).save(extra / "new.png")
    import_folder(project, extra, ImportOptions(workers=1))
    assert open_pixel_cache(project, 16) is None
    project.images.resolve(project.images.find("new.png")).unlink()  # gone before the rebuild
    cache = drain(build_pixel_cache(project, 16, workers=1))
    assert cache.failed == (project.images.find("new.png").id,)
    assert cache.pixels[-1].max() == 0


def test_cancel_leaves_no_cache(project: Project) -> None:
    cancel = threading.Event()
    job = build_pixel_cache(project, 16, workers=1, cancel=cancel, chunk=8)
    next(job)
    cancel.set()
    with pytest.raises(JobCancelled):
        drain(job)
    assert open_pixel_cache(project, 16) is None
    assert not list(project.cache_dir.glob("pixels-*"))
