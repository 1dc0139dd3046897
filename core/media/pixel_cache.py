"""Every image of a project decoded once, resized to one square size, in one file.

Training on a CPU must not decode JPEGs every epoch: the pixel cache holds all images
as uint8 (N, S, S) gray (or (N, S, S, 3) colour) in ``cache/pixels-<S>-<mode>.u8``,
memory-mapped, with the image ids beside it. It is rebuilt when the project's images
change (a digest of ids and content hashes); building it is a job (progress, cancel)
that decodes on worker processes. The cache folder is safe to delete.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import write_text_atomic
from core.jobs.base import Progress, check_cancel
from core.store import Project

CHUNK = 64


@dataclass(frozen=True)
class PixelCache:
    """A read-only view of the cache. ``pixels[i]`` belongs to image ``ids[i]``;
    ``failed`` lists images that could not be read (their pixels are zeros)."""

    ids: np.ndarray
    pixels: np.ndarray
    failed: tuple[int, ...]
    size: int
    color: bool

    def index_of(self, image_ids: np.ndarray) -> np.ndarray:
        order = np.searchsorted(self.ids, image_ids)
        order = np.minimum(order, len(self.ids) - 1)
        return np.where(self.ids[order] == image_ids, order, -1)


def cache_paths(project: Project, size: int, color: bool) -> tuple[Path, Path]:
    stem = f"pixels-{size}-{'rgb' if color else 'gray'}"
    return project.cache_dir / f"{stem}.u8", project.cache_dir / f"{stem}.json"


def images_digest(rows: list[tuple[int, str]]) -> str:
    return hashlib.blake2b(json.dumps(rows).encode(), digest_size=8).hexdigest()


def open_pixel_cache(project: Project, size: int, *, color: bool = False) -> PixelCache | None:
    """The cache if it exists and matches the project's images, else None."""
    data_path, meta_path = cache_paths(project, size, color)
    if not (data_path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    rows = list(project.images.hashes_by_id().items())
    if meta.get("digest") != images_digest(rows) or meta.get("size") != size:
        return None
    shape = (len(rows), size, size, 3) if color else (len(rows), size, size)
    pixels = np.memmap(data_path, dtype=np.uint8, mode="r", shape=shape)
    return PixelCache(ids=np.array([r[0] for r in rows], dtype=np.int64), pixels=pixels,
                      failed=tuple(meta.get("failed", ())), size=size, color=color)


def build_pixel_cache(project: Project, size: int, *, color: bool = False, workers: int | None = None,
                      cancel: threading.Event | None = None, chunk: int = CHUNK,
                      ) -> Generator[Progress, None, PixelCache]:
    """The job that (re)builds the cache when it is missing or stale."""
    existing = open_pixel_cache(project, size, color=color)
    if existing is not None:
        return existing
    rows = list(project.images.hashes_by_id().items())
    paths = [str(project.images.resolve(p)) for p in project.images.paths_by_id().values()]
    data_path, meta_path = cache_paths(project, size, color)
    tmp = data_path.with_suffix(".u8.tmp")
    shape = (len(rows), size, size, 3) if color else (len(rows), size, size)
    if not rows:
        raise ValueError("the project has no images to cache")
    pixels = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)  # a raw file any reader can map
    failed: list[int] = []
    chunks = [list(range(s, min(s + chunk, len(paths)))) for s in range(0, len(paths), chunk)]
    done = 0
    try:
        for part, (arrays, bad) in _decode_chunks(chunks, paths, size, color, workers):
            check_cancel(cancel)
            for index, array in zip(part, arrays, strict=True):
                pixels[index] = array
            failed.extend(rows[part[i]][0] for i in bad)
            done += len(part)
            yield Progress(phase="decoding images", step=done, total=len(paths), unit="image")
        pixels.flush()
        del pixels
        os.replace(tmp, data_path)
    finally:
        tmp.unlink(missing_ok=True)
    write_text_atomic(meta_path, json.dumps({"digest": images_digest(rows), "size": size, "failed": failed}))
    result = open_pixel_cache(project, size, color=color)
    assert result is not None
    return result


def decode_images(project: Project, image_ids: np.ndarray, size: int, *, workers: int | None = None,
                  cancel: threading.Event | None = None, chunk: int = CHUNK) -> Generator[Progress, None, PixelCache]:
    """The pixels of ``image_ids`` only (ascending), decoded as :func:`build_pixel_cache`
    would cache them, held in memory and nothing written: the images a run lacks, without
    decoding every image of the project again. Ids not in the project are left out."""
    paths_by_id = project.images.paths_by_id()
    ids = np.array(sorted(int(i) for i in image_ids if int(i) in paths_by_id), dtype=np.int64)
    paths = [str(project.images.resolve(paths_by_id[int(i)])) for i in ids.tolist()]
    pixels = np.zeros((len(ids), size, size), np.uint8)
    failed: list[int] = []
    chunks = [list(range(s, min(s + chunk, len(paths)))) for s in range(0, len(paths), chunk)]
    done = 0
    for part, (arrays, bad) in _decode_chunks(chunks, paths, size, False, workers):
        check_cancel(cancel)
        for index, array in zip(part, arrays, strict=True):
            pixels[index] = array
        failed.extend(int(ids[part[i]]) for i in bad)
        done += len(part)
        yield Progress(phase="decoding images", step=done, total=len(paths), unit="image")
    return PixelCache(ids=ids, pixels=pixels, failed=tuple(failed), size=size, color=False)


def _decode_chunks(chunks: list[list[int]], paths: list[str], size: int, color: bool, workers: int | None):
    workers = workers or os.cpu_count() or 1
    tasks = [([paths[i] for i in chunk], size, color) for chunk in chunks]
    if workers == 1 or len(chunks) < 2:
        for chunk, task in zip(chunks, tasks, strict=True):
            yield chunk, decode_resized(*task)
        return
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for chunk, result in zip(chunks, pool.map(_decode_task, tasks), strict=True):
            yield chunk, result


def _decode_task(task: tuple[list[str], int, bool]) -> tuple[list[np.ndarray], list[int]]:
    return decode_resized(*task)


def decode_resized(paths: list[str], size: int, color: bool) -> tuple[list[np.ndarray], list[int]]:
    """Decodes and resizes files to ``size`` x ``size`` (the whole image, no crop: a
    defect at the border stays in); unreadable files give zeros and their positions."""
    from PIL import Image as PILImage

    from core.media.imaging import UnreadableImageError, decode

    arrays, bad = [], []
    for position, path in enumerate(paths):
        try:
            decoded = decode(Path(path).read_bytes())
            image = PILImage.fromarray(decoded.pixels)
            image = image.convert("RGB" if color else "L").resize((size, size), PILImage.Resampling.BILINEAR,
                                                                    reducing_gap=2.0)
            arrays.append(np.asarray(image))
        except (OSError, UnreadableImageError):
            arrays.append(np.zeros((size, size, 3) if color else (size, size), np.uint8))
            bad.append(position)
    return arrays, bad
