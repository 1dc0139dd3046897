"""Images at the defect detector's working scale: a store for the labeled ones, a stream
for predicting all of them.

The detector trains on the labeled images over and over, so those are decoded once per
scale into ``cache/segdec/scale-<s>/`` (one raw uint8 file, images back to back, and an
index of offset, height, width and content hash per image id), growing as images get
labels. Predicting every image of a project reads each once: those are decoded on the
fly, a chunk ahead on a thread (Pillow's decoders release the GIL), never stored.
Every image is gray (16-bit and float images windowed to 8 bits as everywhere in the app)
and resized with Pillow's bilinear filter (reducing gap 2.0) to
:func:`core.training.segdec_geometry.working_size`; unreadable files are listed, not fatal.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import write_text_atomic
from core.jobs.base import Progress, check_cancel
from core.store import Project
from core.training.segdec_geometry import working_size

CHUNK = 16


@dataclass(frozen=True)
class WorkingImages:
    """Read-only view of the stored images of one scale; ``image(id)`` is (h, w) uint8."""

    scale: float
    entries: dict[int, tuple[int, int, int]]  # image id -> (offset, height, width)
    data: np.ndarray  # flat uint8 memmap
    failed: frozenset[int]

    def image(self, image_id: int) -> np.ndarray:
        offset, height, width = self.entries[image_id]
        return self.data[offset:offset + height * width].reshape(height, width)


def store_dir(project: Project, scale: float) -> Path:
    return project.cache_dir / "segdec" / f"scale-{scale:.4f}"


def decode_scaled(path: str, scale: float) -> np.ndarray:
    """One file as gray uint8 at ``scale`` (the working geometry)."""
    from PIL import Image as PILImage

    from core.media.imaging import decode

    decoded = decode(Path(path).read_bytes())
    image = PILImage.fromarray(decoded.pixels).convert("L")
    height, width = working_size(image.height, image.width, scale)
    if (height, width) != (image.height, image.width):
        image = image.resize((width, height), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image)


def _decode_many(task: tuple[list[str], float]) -> list[np.ndarray | None]:
    from core.media.imaging import UnreadableImageError

    paths, scale = task
    out: list[np.ndarray | None] = []
    for path in paths:
        try:
            out.append(decode_scaled(path, scale))
        except (OSError, UnreadableImageError):
            out.append(None)
    return out


def working_images(project: Project, image_ids: Sequence[int], scale: float, *, workers: int | None = None,
                   cancel: threading.Event | None = None) -> Generator[Progress, None, WorkingImages]:
    """The store of ``scale`` holding at least ``image_ids`` (missing ones decoded now)."""
    folder = store_dir(project, scale)
    for other in folder.parent.glob("scale-*") if folder.parent.exists() else ():
        if other != folder:  # the store of a scale no longer used: only one is kept
            shutil.rmtree(other, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    data_path, index_path = folder / "pixels.u8", folder / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"entries": {}, "failed": {}}
    hashes = project.images.hashes_by_id()
    rows = {i: (p, hashes[i]) for i, p in project.images.paths_by_id().items()}
    entries = {int(k): v for k, v in index["entries"].items() if int(k) in rows and v[3] == rows[int(k)][1]}
    failed = {int(k): v for k, v in index["failed"].items() if int(k) in rows and v == rows[int(k)][1]}
    end = max((o + h * w for o, h, w, _ in entries.values()), default=0)
    if data_path.exists() and data_path.stat().st_size < end:  # a lost tail: start over
        entries, failed, end = {}, {}, 0
    missing = [int(i) for i in image_ids if int(i) in rows and int(i) not in entries and int(i) not in failed]
    if missing:
        paths = [str(project.images.resolve(rows[i][0])) for i in missing]
        chunks = [list(range(s, min(s + CHUNK, len(missing)))) for s in range(0, len(missing), CHUNK)]
        done = 0
        with open(data_path, "r+b" if data_path.exists() else "w+b") as handle:
            handle.truncate(end)  # drop what an interrupted build appended after the index
            handle.seek(end)
            for part, arrays in _decode_chunks(chunks, paths, scale, workers):
                check_cancel(cancel)
                for k, array in zip(part, arrays, strict=True):
                    image_id = missing[k]
                    if array is None:
                        failed[image_id] = rows[image_id][1]
                        continue
                    handle.write(np.ascontiguousarray(array).tobytes())
                    entries[image_id] = [end, int(array.shape[0]), int(array.shape[1]), rows[image_id][1]]
                    end += array.size
                done += len(part)
                yield Progress(phase="decoding images at the detector's scale", step=done, total=len(missing),
                               unit="image")
            handle.flush()
            os.fsync(handle.fileno())
        write_text_atomic(index_path, json.dumps({"scale": scale, "entries": {str(k): v for k, v in entries.items()},
                                                  "failed": {str(k): v for k, v in failed.items()}}))
    data = np.memmap(data_path, dtype=np.uint8, mode="r") if end else np.zeros(0, np.uint8)
    return WorkingImages(scale=scale, entries={i: (v[0], v[1], v[2]) for i, v in entries.items()}, data=data,
                         failed=frozenset(failed))


def _decode_chunks(chunks: list[list[int]], paths: list[str], scale: float, workers: int | None):
    workers = workers or os.cpu_count() or 1
    tasks = [([paths[i] for i in chunk], scale) for chunk in chunks]
    if workers == 1 or len(chunks) < 2:
        for chunk, task in zip(chunks, tasks, strict=True):
            yield chunk, _decode_many(task)
        return
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from zip(chunks, pool.map(_decode_many, tasks), strict=True)


def stream_images(project: Project, image_ids: Sequence[int], scale: float, stored: WorkingImages | None = None,
                  ) -> Iterator[tuple[int, np.ndarray | None]]:
    """(image id, image at ``scale`` or None when unreadable) for every id, in order;
    images in ``stored`` are read from it, the others decoded a chunk ahead on a thread."""
    paths = project.images.paths_by_id()
    ids = [int(i) for i in image_ids]
    chunks = [ids[s:s + CHUNK] for s in range(0, len(ids), CHUNK)]

    def load(chunk: list[int]) -> list[np.ndarray | None]:
        todo = [i for i in chunk if stored is None or i not in stored.entries]
        decoded = dict(zip(todo, _decode_many(([str(project.images.resolve(paths[i])) for i in todo], scale)),
                           strict=True))
        return [decoded[i] if i in decoded else np.array(stored.image(i)) for i in chunk]

    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(load, chunks[0]) if chunks else None
        for k, chunk in enumerate(chunks):
            arrays = ahead.result()
            ahead = pool.submit(load, chunks[k + 1]) if k + 1 < len(chunks) else None
            yield from zip(chunk, arrays, strict=True)
