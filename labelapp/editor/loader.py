"""Decoding images off the GUI thread: a few worker threads and a priority queue.

The GUI thread builds an immutable :class:`LoadRequest` (paths only, no store access
in the workers); :func:`load` reads the file, decodes it (Pillow and zlib release the
GIL), builds mip levels and reads the mask PNG; the result comes back through the
``finished`` signal, queued to the GUI thread. The image being shown goes first;
prefetch requests no longer wanted are skipped.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.media.imaging import UnreadableImageError, decode_raw, window_range
from core.store.masks import decode_mask_png
from labelapp.editor.mips import image_levels, mask_levels

logger = logging.getLogger(__name__)

PRIORITY_SHOW = 0
PRIORITY_PREFETCH = 1


@dataclass(frozen=True)
class LoadRequest:
    """What a worker needs to load one image and its mask, and nothing else."""

    token: int
    image_id: int
    path: Path
    mask_path: Path | None  # the mask PNG; None for no mask or an empty one
    has_mask: bool  # the store has a mask for the image (maybe empty)
    priority: int = PRIORITY_SHOW


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: ``levels[0]`` is the full image (uint8, or uint16 / float32
    for high bit depths), each next level half the size; ``mask`` is this result's own
    uint8 (H, W) array of class ids, ``mask_levels`` its max-pooled halvings."""

    token: int
    image_id: int
    levels: tuple[np.ndarray, ...]
    high_depth: bool
    auto_window: tuple[float, float]
    value_range: tuple[float, float]
    mask: np.ndarray
    has_mask: bool
    mask_levels: tuple[np.ndarray, ...] = ()  # the mask's halvings, one per image level past the first
    mask_error: str | None = None


@dataclass(frozen=True)
class LoadFailure:
    """An image that cannot be shown: ``missing`` file, or unreadable for ``reason``."""

    token: int
    image_id: int
    reason: str
    missing: bool


@dataclass(frozen=True)
class LoadSkipped:
    """A prefetch request dropped because the image was no longer wanted."""

    token: int
    image_id: int


LoadResult = LoadedImage | LoadFailure | LoadSkipped


def load(request: LoadRequest) -> LoadedImage | LoadFailure:
    """Reads and decodes one image and its mask (runs on a worker thread)."""
    try:
        data = request.path.read_bytes()
    except FileNotFoundError:
        return LoadFailure(request.token, request.image_id, f"file not found: {request.path}", missing=True)
    except OSError as exc:
        return LoadFailure(request.token, request.image_id, f"cannot read {request.path}: {exc}", missing=False)
    try:
        raw = decode_raw(data, name=request.path.name)
    except UnreadableImageError as exc:
        return LoadFailure(request.token, request.image_id, str(exc), missing=False)
    levels = image_levels(raw.pixels)
    if raw.high_depth:
        auto = window_range(raw.pixels)
        value_range = (float(raw.pixels.min()), float(raw.pixels.max()))
    else:
        auto = value_range = (0.0, 255.0)
    mask, mask_error = _load_mask(request, raw.height, raw.width)
    return LoadedImage(token=request.token, image_id=request.image_id, levels=levels, high_depth=raw.high_depth,
                       auto_window=auto, value_range=value_range, mask=mask, mask_levels=mask_levels(mask),
                       has_mask=request.has_mask, mask_error=mask_error)


def _load_mask(request: LoadRequest, height: int, width: int) -> tuple[np.ndarray, str | None]:
    if request.mask_path is None:
        return np.zeros((height, width), dtype=np.uint8), None
    try:
        mask = decode_mask_png(request.mask_path)
    except Exception as exc:  # a bad mask file must not hide the image
        logger.warning("unreadable mask %s: %s", request.mask_path, exc)
        return np.zeros((height, width), dtype=np.uint8), f"mask file unreadable ({exc}); starting empty"
    if mask.shape != (height, width):
        return (np.zeros((height, width), dtype=np.uint8),
                f"mask is {mask.shape[1]}x{mask.shape[0]}, image {width}x{height}; starting empty")
    return np.ascontiguousarray(mask), None


class ImageLoader(QObject):
    """Worker threads that run :func:`load`; results arrive on ``finished``."""

    finished = Signal(object)  # LoadResult, delivered on the GUI thread

    def __init__(self, workers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._wanted: frozenset[int] = frozenset()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"image-loader-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, request: LoadRequest) -> None:
        self._queue.put((request.priority, next(self._order), request))

    def set_wanted(self, image_ids: frozenset[int]) -> None:
        """Prefetch requests for other images are skipped when their turn comes."""
        with self._lock:
            self._wanted = image_ids

    def stop(self) -> None:
        """Stops the workers after the loads they are running (waits for them)."""
        for _ in self._threads:
            self._queue.put((-1, next(self._order), None))
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def _run(self) -> None:
        while True:
            _priority, _order, request = self._queue.get()
            if request is None:
                return
            with self._lock:
                skip = request.priority != PRIORITY_SHOW and request.image_id not in self._wanted
            if skip:
                self.finished.emit(LoadSkipped(request.token, request.image_id))
                continue
            try:
                result: LoadResult = load(request)
            except Exception as exc:  # the worker must survive anything one file does
                logger.exception("loading image %s failed", request.image_id)
                result = LoadFailure(request.token, request.image_id, f"{type(exc).__name__}: {exc}", missing=False)
            self.finished.emit(result)
