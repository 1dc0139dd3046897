"""Thumbnails read and decoded off the GUI thread, and the LRU of decoded pixmaps.

The grid hands :class:`ThumbnailLoader` the tiles it shows now (immutable
:class:`ThumbnailRequest` tuples, most wanted first). Each hand-over replaces what is
still pending, so tiles that scrolled out of view are never decoded. The loader thread
reads the JPEG from its own :class:`ThumbnailCache` connection, decodes it into a
``QImage`` (safe off the GUI thread) and sends batches back by :attr:`thumbnails_loaded`;
the GUI thread turns them into ``QPixmap`` s for :class:`PixmapCache`.
"""

from __future__ import annotations

import atexit
import io
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage
from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage, QPixmap

from core.store.thumbnails import ThumbnailCache

logger = logging.getLogger(__name__)

BATCH_SIZE = 16  # thumbnails per signal at most
BATCH_SECONDS = 0.012  # a batch is sent at least this often while the loader is busy
PIXMAP_CACHE_SIZE = 800  # decoded tiles kept (~80 MB at 160 px); a screen shows ~60
_running: weakref.WeakSet[ThumbnailLoader] = weakref.WeakSet()


@dataclass(frozen=True)
class ThumbnailRequest:
    """One tile that wants its thumbnail."""

    image_id: int
    hash: str


@dataclass(frozen=True)
class LoadedThumbnail:
    """A decoded thumbnail; ``image`` is null when the cache has none (or it is corrupt)."""

    image_id: int
    hash: str
    image: QImage


class ThumbnailLoader(QThread):
    """The loader thread. Call :meth:`set_cache_dir`, :meth:`request` and
    :meth:`shutdown` from the GUI thread; results arrive by :attr:`thumbnails_loaded`."""

    thumbnails_loaded = Signal(object)  # list[LoadedThumbnail]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thumbnail_loader")
        self._condition = threading.Condition()
        self._pending: list[ThumbnailRequest] = []
        self._cache_dir: Path | None = None
        self._generation = 0  # bumped with each new cache folder: late results are dropped
        self._stopping = False
        _running.add(self)

    # -- GUI thread ------------------------------------------------------------------------
    def set_cache_dir(self, cache_dir: Path | None) -> None:
        """Reads from the thumbnail cache in ``cache_dir`` from now on (None: none);
        drops what is pending."""
        with self._condition:
            self._cache_dir = cache_dir
            self._generation += 1
            self._pending = []
            self._condition.notify()

    def request(self, requests: Sequence[ThumbnailRequest]) -> None:
        """Replaces the pending requests by ``requests`` (first = loaded first)."""
        with self._condition:
            self._pending = list(reversed(requests))  # popped from the end
            self._condition.notify()

    def pending_count(self) -> int:
        with self._condition:
            return len(self._pending)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stops the thread and waits for it (the current thumbnail is finished first)."""
        with self._condition:
            self._stopping = True
            self._pending = []
            self._condition.notify()
        if self.isRunning() and not self.wait(timeout_ms):
            logger.warning("the thumbnail loader did not stop within %d ms", timeout_ms)

    # -- loader thread -----------------------------------------------------------------------
    def run(self) -> None:
        cache: ThumbnailCache | None = None
        opened: tuple[int, Path | None] = (-1, None)
        batch: list[LoadedThumbnail] = []
        sent = time.monotonic()
        try:
            while True:
                with self._condition:
                    if batch and (not self._pending or self._stopping):
                        self._send(batch, opened[0])
                        batch, sent = [], time.monotonic()
                    while not self._pending and not self._stopping:
                        self._condition.wait()
                    if self._stopping:
                        return
                    request = self._pending.pop()
                    wanted = (self._generation, self._cache_dir)
                if wanted != opened:
                    cache = _reopen(cache, wanted[1])
                    opened, batch = wanted, []
                batch.append(LoadedThumbnail(request.image_id, request.hash, _decode(cache, request)))
                # Qt decodes holding the GIL; without a pause this thread keeps it for whole
                # switch intervals (5 ms) and the GUI thread stutters while a page loads.
                time.sleep(0)
                if len(batch) >= BATCH_SIZE or time.monotonic() - sent > BATCH_SECONDS:
                    self._send(batch, opened[0])
                    batch, sent = [], time.monotonic()
        finally:
            if cache is not None:
                cache.close()

    def _send(self, batch: list[LoadedThumbnail], generation: int) -> None:
        if generation == self._generation:
            self.thumbnails_loaded.emit(batch)


@atexit.register
def _stop_all() -> None:
    """Stops loaders still running at exit (Qt aborts on a running QThread's destruction)."""
    for loader in list(_running):
        try:
            loader.shutdown()
        except RuntimeError:  # Qt deleted it already (its thread ended with it)
            _running.discard(loader)


def _reopen(cache: ThumbnailCache | None, cache_dir: Path | None) -> ThumbnailCache | None:
    if cache is not None:
        cache.close()
    if cache_dir is None:
        return None
    try:
        return ThumbnailCache(cache_dir)
    except Exception:  # noqa: BLE001  (an unreadable cache leaves placeholders, never a crash)
        logger.exception("cannot open the thumbnail cache in %s", cache_dir)
        return None


def _decode(cache: ThumbnailCache | None, request: ThumbnailRequest) -> QImage:
    if cache is None:
        return QImage()
    try:
        jpeg = cache.get(request.hash)
    except Exception:  # noqa: BLE001
        logger.exception("cannot read the thumbnail of image %d", request.image_id)
        return QImage()
    if jpeg is None:
        return QImage()
    try:
        return decode_jpeg(jpeg)
    except (OSError, ValueError):
        logger.warning("undecodable thumbnail for image %d", request.image_id)
        return QImage()


def decode_jpeg(jpeg: bytes) -> QImage:
    """A JPEG as an RGB32 QImage. Pillow decodes with the GIL released (Qt's decoder
    holds it, and the GUI thread would wait on every thumbnail); RGB32 is what the
    raster paint engine draws without converting."""
    with PILImage.open(io.BytesIO(jpeg)) as image:
        image.load()
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        data = image.tobytes()
        gray = image.mode == "L"
        width, height = image.size
    source = QImage(data, width, height, width * (1 if gray else 3),
                    QImage.Format.Format_Grayscale8 if gray else QImage.Format.Format_RGB888)
    return source.convertToFormat(QImage.Format.Format_RGB32)  # a copy that owns its pixels


class PixmapCache:
    """Decoded thumbnails by content hash, least recently used dropped first. GUI
    thread only. Also remembers the hashes the cache has no thumbnail for."""

    def __init__(self, capacity: int = PIXMAP_CACHE_SIZE) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, QPixmap] = OrderedDict()
        self._missing: set[str] = set()

    def get(self, key: str) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def wanted(self, key: str) -> bool:
        """Whether ``key`` should be requested: neither decoded nor known missing."""
        return key not in self._items and key not in self._missing

    def put(self, key: str, image: QImage) -> None:
        """Stores ``image`` as a pixmap; a null image marks ``key`` missing."""
        if image.isNull():
            self._missing.add(key)
            return
        self._items[key] = QPixmap.fromImage(image)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
        self._missing.clear()

    def forget_missing(self) -> None:
        """Asks again for the thumbnails that were missing (an import may have made them)."""
        self._missing.clear()

    def __len__(self) -> int:
        return len(self._items)
