"""Decoding images off the GUI thread: a few worker threads and a priority queue.

The GUI thread builds an immutable :class:`LoadRequest` (paths only, no store access
in the workers); :func:`load` reads the file, decodes it (Pillow and zlib release the
GIL), builds mip levels and reads the mask PNG; the result comes back through the
``finished`` signal, queued to the GUI thread. The image being shown goes first;
prefetch requests no longer wanted are skipped, and a prefetch that becomes the image
shown is moved up (:meth:`ImageLoader.promote`), never decoded a second time.

A request with a ``view_size`` lets a JPEG be decoded at the scale the fitted view
draws (1/2, 1/4 or 1/8: libjpeg's DCT scaling); the levels under it stay None until
a full-resolution request (no ``view_size``) replaces them when the user zooms in.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from core.media.imaging import UnreadableImageError, decode_raw, window_range
from core.store.masks import decode_mask_png
from labelapp.editor.mips import fitted_level, fitted_reduction, image_levels, level_count, mask_levels

logger = logging.getLogger(__name__)

PRIORITY_SHOW = 0
PRIORITY_PREFETCH = 1
FAST_DRAW_PIXELS = 2048 * 2048
"""8-bit levels up to this size are drawn from a 32-bit copy: Qt scales it smoothly
several times faster than 8-bit gray (about 0.8 against 2-4 ms for a 1024 x 1024 level
seen whole). The worker makes the copy of the level the fitted view draws, so that
the first paint of an image does not allocate and convert megabytes."""


@dataclass(frozen=True)
class LoadRequest:
    """What a worker needs to load one image and its mask, and nothing else."""

    token: int
    image_id: int
    path: Path
    mask_path: Path | None  # the mask PNG; None for no mask or an empty one
    has_mask: bool  # the store has a mask for the image (maybe empty)
    priority: int = PRIORITY_SHOW
    view_size: tuple[int, int] | None = None  # the canvas (width, height): a JPEG may decode at fit scale


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image of ``width`` x ``height`` pixels: ``levels[0]`` is the full image
    (uint8, or uint16 / float32 for high bit depths), each next level half the size;
    levels under ``base_level`` are None (a JPEG decoded at the fitted view's scale).
    ``mask`` is this result's own uint8 (height, width) array of class ids, at full
    resolution whatever the levels, ``mask_levels`` its max-pooled halvings."""

    token: int
    image_id: int
    width: int
    height: int
    levels: tuple[np.ndarray | None, ...]
    high_depth: bool
    auto_window: tuple[float, float]
    value_range: tuple[float, float]
    mask: np.ndarray
    has_mask: bool
    mask_levels: tuple[np.ndarray, ...] = ()  # the mask's halvings, one per image level past the first
    mask_error: str | None = None
    drawable: tuple[QImage | None, ...] = ()  # per level, a copy ready to draw (see fast_draw_image)

    @property
    def base_level(self) -> int:
        """The finest level decoded (0: full resolution)."""
        return next(i for i, level in enumerate(self.levels) if level is not None)


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
    view = request.view_size
    reduce = None if view is None else (lambda width, height: fitted_reduction(width, height, *view))
    try:
        raw = decode_raw(data, name=request.path.name, reduce=reduce)
    except UnreadableImageError as exc:
        return LoadFailure(request.token, request.image_id, str(exc), missing=False)
    first = raw.reduced.bit_length() - 1
    levels = image_levels(raw.pixels, first=first, count=max(first + 1, level_count(raw.height, raw.width)))
    if raw.high_depth:
        auto = window_range(raw.pixels)
        value_range = (float(raw.pixels.min()), float(raw.pixels.max()))
    else:
        auto = value_range = (0.0, 255.0)
    drawable: list[QImage | None] = [None] * len(levels)
    if view is not None and not raw.high_depth:
        level = max(first, min(len(levels) - 1, fitted_level(raw.width, raw.height, *view)))
        drawable[level] = fast_draw_image(levels[level])
    mask, mask_error = _load_mask(request, raw.height, raw.width)
    # no mask file: zeros from calloc cost nothing until painted, and need no scan
    empty = request.mask_path is None or mask_error is not None
    return LoadedImage(token=request.token, image_id=request.image_id, width=raw.width, height=raw.height,
                       levels=levels, high_depth=raw.high_depth, auto_window=auto, value_range=value_range,
                       mask=mask, mask_levels=mask_levels(mask, empty=empty), has_mask=request.has_mask,
                       mask_error=mask_error, drawable=tuple(drawable))


def wrap_image(array: np.ndarray) -> QImage:
    """A QImage over a contiguous gray (H, W) or RGB (H, W, 3) uint8 array's memory."""
    height, width = array.shape[:2]
    if array.ndim == 2:
        return QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8)
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888)


def fast_draw_image(pixels: np.ndarray) -> QImage | None:
    """A 32-bit copy of an 8-bit level no larger than :data:`FAST_DRAW_PIXELS` (None:
    larger; it is drawn from its own memory)."""
    if pixels.shape[0] * pixels.shape[1] > FAST_DRAW_PIXELS:
        return None
    pixels = np.ascontiguousarray(pixels)
    return wrap_image(pixels).convertToFormat(QImage.Format.Format_RGB32)  # owns its pixels


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
    """Worker threads that run :func:`load`; results arrive on ``finished``.

    :meth:`decode_counts` tells how many times each image was decoded (for tests and
    benchmarks: a prefetched image shown must not be decoded again).
    """

    finished = Signal(object)  # LoadResult, delivered on the GUI thread

    def __init__(self, workers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._heap: list[tuple[int, int, int]] = []  # (priority, order, token); stale entries skipped
        self._waiting: dict[int, LoadRequest] = {}  # token -> request no worker has taken yet
        self._order = itertools.count()
        self._wanted: frozenset[int] = frozenset()
        self._stopping = False
        self._lock = threading.Condition()
        self._decodes: Counter[int] = Counter()
        self._threads = [threading.Thread(target=self._run, name=f"image-loader-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, request: LoadRequest) -> None:
        with self._lock:
            self._waiting[request.token] = request
            heapq.heappush(self._heap, (request.priority, next(self._order), request.token))
            self._lock.notify()

    def promote(self, token: int) -> bool:
        """Moves request ``token`` to the head of the queue as the image shown. False
        when a worker has taken it already: its result is on the way, nothing is redone."""
        with self._lock:
            request = self._waiting.get(token)
            if request is None:
                return False
            self._waiting[token] = replace(request, priority=PRIORITY_SHOW)
            heapq.heappush(self._heap, (PRIORITY_SHOW, next(self._order), token))
            self._lock.notify()
            return True

    def decode_counts(self) -> Counter[int]:
        """Image id -> files decoded for it (a copy)."""
        with self._lock:
            return Counter(self._decodes)

    def set_wanted(self, image_ids: frozenset[int]) -> None:
        """Prefetch requests for other images are skipped when their turn comes."""
        with self._lock:
            self._wanted = image_ids

    def stop(self) -> None:
        """Stops the workers after the loads they are running (waits for them)."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def _next(self) -> tuple[LoadRequest, bool] | None:
        """The next request and whether to skip it (a prefetch no longer wanted); None: stop."""
        with self._lock:
            while not self._stopping:
                while self._heap:
                    _priority, _order, token = heapq.heappop(self._heap)
                    request = self._waiting.pop(token, None)
                    if request is None:
                        continue  # the other entry of a promoted request: taken already
                    skip = request.priority != PRIORITY_SHOW and request.image_id not in self._wanted
                    if not skip:
                        self._decodes[request.image_id] += 1
                    return request, skip
                self._lock.wait()
            return None

    def _run(self) -> None:
        while (task := self._next()) is not None:
            request, skip = task
            if skip:
                self.finished.emit(LoadSkipped(request.token, request.image_id))
                continue
            try:
                result: LoadResult = load(request)
            except Exception as exc:  # the worker must survive anything one file does
                logger.exception("loading image %s failed", request.image_id)
                result = LoadFailure(request.token, request.image_id, f"{type(exc).__name__}: {exc}", missing=False)
            self.finished.emit(result)
