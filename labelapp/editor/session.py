"""The editor's non-visual half: which images are loaded, loading, dirty or saving.

Owns the document cache, the loader threads and the undo histories of one project;
masks are written through the project session (:class:`ProjectSession`, its saver
thread), which reports back which versions were committed. Reads of the store (an image's path, its mask row) happen
here on the GUI thread and are cheap indexed queries; everything slow runs on the
workers, which receive immutable requests. Each image is decoded once: an image being
prefetched that becomes the one shown is awaited (moved up the queue if no worker has
it yet), not requested again. Requests carry the view's size, so a JPEG is decoded at
the scale the fitted view shows; :meth:`EditorSession.load_full` decodes all its
pixels when the user zooms in past that.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from core.store import Project, StoreError, default_actor
from labelapp.editor.cache import DocumentCache
from labelapp.editor.document import ImageDocument
from labelapp.editor.history import Histories
from labelapp.editor.history_file import load_histories, save_histories
from labelapp.editor.loader import (
    PRIORITY_PREFETCH,
    PRIORITY_SHOW,
    ImageLoader,
    LoadedImage,
    LoadFailure,
    LoadRequest,
    LoadResult,
)
from labelapp.session.mask_saver import SaveRequest, SaveResult
from labelapp.session.project_session import ProjectSession

logger = logging.getLogger(__name__)
SAVE_SOURCE = "gui"
PREFETCH_HOLD_MS = 30  # the longest that prefetching waits for the paint of the image shown


class EditorSession(QObject):
    """Loading, caching and saving for the editor of one project."""

    document_loaded = Signal(object)  # ImageDocument, now in the cache
    levels_loaded = Signal(object)  # ImageDocument whose full resolution arrived (load_full)
    load_failed = Signal(object)  # LoadFailure of a requested image
    message = Signal(str)

    def __init__(self, labels: ProjectSession, parent: QObject | None = None, *,
                 budget_bytes: int | None = None) -> None:
        super().__init__(parent)
        self._labels = labels
        labels.masks_written.connect(self._on_labels_masks_written)
        self.cache = DocumentCache() if budget_bytes is None else DocumentCache(budget_bytes)
        self.histories = Histories()
        self._recovered: set[int] = set()  # images whose unsaved mask waits in a recovery file
        self._project: Project | None = None
        self._loader = ImageLoader(workers=2)
        self._loader.finished.connect(self._on_loader_finished)
        self._inflight: dict[int, LoadRequest] = {}  # image id -> the request under way
        self._full: dict[int, LoadRequest] = {}  # image id -> its full-resolution request under way
        self._tokens = 0
        self._keep: frozenset[int] = frozenset()
        self._held: list[int] = []  # prefetches waiting for the paint of the image shown
        self._hold = QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.setInterval(PREFETCH_HOLD_MS)
        self._hold.timeout.connect(self.release_prefetch)
        # the canvas's (width, height) when a request is made; None: decode every pixel
        self.view_size: Callable[[], tuple[int, int] | None] = lambda: None

    @property
    def project(self) -> Project | None:
        return self._project

    def set_project(self, project: Project | None) -> None:
        """Saves and forgets everything of the previous project."""
        self.flush()
        unsaved = [doc.image_id for doc in self.cache if doc.dirty]
        kept = [i for i in unsaved if i in self._recovered]
        if kept:
            self.message.emit(f"The masks of {len(kept)} image(s) could not be saved ({kept[:10]}); they are kept"
                              " in recovery files and offered back the next time this project is opened.")
        if len(kept) < len(unsaved):
            lost = [i for i in unsaved if i not in self._recovered]
            logger.error("masks of images %s could not be saved and are dropped", lost)
            self.message.emit(f"The masks of {len(lost)} image(s) could not be saved: {lost[:10]}")
        self._recovered.clear()
        if self._project is not None:  # undo and redo survive closing the project
            save_histories(self._project, self.histories, skip=set(unsaved))
        self.cache.clear()
        self.histories = Histories() if project is None else load_histories(project)
        self._inflight.clear()
        self._full.clear()
        self._held = []
        self._project = project

    # -- loading ------------------------------------------------------------------------------
    def set_wanted(self, current: int | None, prefetch: Iterable[int]) -> None:
        """Loads ``current`` first, then ``prefetch`` in order; drops other prefetches.

        When ``current`` is decoded already it is about to be painted: new prefetch
        requests wait for :meth:`release_prefetch` (the editor calls it after the paint;
        at the latest after ``PREFETCH_HOLD_MS``), so that decoding does not slow that paint.
        """
        prefetch = [i for i in prefetch if i != current]
        self._keep = frozenset([current] if current is not None else [])
        self._loader.set_wanted(frozenset(prefetch) | self._keep)
        if current is not None:
            self._request(current, PRIORITY_SHOW)
        self._held = prefetch
        if current is not None and current in self.cache and prefetch:
            self._hold.start()
        else:
            self.release_prefetch()

    @Slot()
    def release_prefetch(self) -> None:
        """Requests the prefetches that wait (see :meth:`set_wanted`)."""
        self._hold.stop()
        held, self._held = self._held, []
        for image_id in held:
            self._request(image_id, PRIORITY_PREFETCH)

    def document(self, image_id: int) -> ImageDocument | None:
        """The decoded image if it is in memory (no I/O)."""
        return self.cache.get(image_id)

    def loading(self, image_id: int) -> bool:
        return image_id in self._inflight

    def decode_counts(self) -> Counter[int]:
        """Image id -> times its file was decoded (full-resolution reloads included)."""
        return self._loader.decode_counts()

    def _request(self, image_id: int, priority: int) -> None:
        project = self._project
        if project is None or image_id in self.cache:
            return
        pending = self._inflight.get(image_id)
        if pending is not None:
            if priority == PRIORITY_SHOW and pending.priority != PRIORITY_SHOW:
                # Being prefetched: to the head of the queue, or awaited if a worker has it.
                self._inflight[image_id] = replace(pending, priority=PRIORITY_SHOW)
                self._loader.promote(pending.token)
            return
        request = self._new_request(image_id, priority=priority, view_size=self.view_size(), mask=True)
        if request is not None:
            self._inflight[image_id] = request
            self._loader.submit(request)

    def load_full(self, image_id: int) -> None:
        """Decodes every pixel of a cached image shown from a reduced decode (the view
        zoomed in past it); ``levels_loaded`` says when they are there."""
        doc = self.cache.peek(image_id)
        if self._project is None or doc is None or doc.base_level == 0 or image_id in self._full:
            return
        request = self._new_request(image_id, priority=PRIORITY_SHOW, view_size=None, mask=False)
        if request is not None:
            self._full[image_id] = request
            self._loader.submit(request)

    def _new_request(self, image_id: int, *, priority: int, view_size: tuple[int, int] | None,
                     mask: bool) -> LoadRequest | None:
        """A request for the image's file and (``mask``) its mask; None after reporting
        a store error."""
        project = self._project
        self._tokens += 1
        try:
            image = project.images.get(image_id)
            info = project.masks.info(image_id) if mask else None
        except StoreError as exc:
            self.load_failed.emit(LoadFailure(self._tokens, image_id, str(exc), missing=False))
            return None
        mask_path = project.masks_dir / info.file if info is not None and info.file else None
        return LoadRequest(token=self._tokens, image_id=image_id, path=project.images.resolve(image),
                           mask_path=mask_path, has_mask=info is not None, priority=priority, view_size=view_size)

    def forget(self, image_id: int) -> None:
        """Drops the decoded image (after saving its mask) so the next request re-reads it."""
        doc = self.cache.peek(image_id)
        if doc is not None and doc.pinned:
            self.flush()
        self.cache.pop(image_id)
        self._inflight.pop(image_id, None)
        self._full.pop(image_id, None)

    @Slot(object)
    def _on_loader_finished(self, result: LoadResult) -> None:
        full = self._full.get(result.image_id)
        if full is not None and full.token == result.token:
            self._take_full(result)
            return
        pending = self._inflight.get(result.image_id)
        if pending is None or pending.token != result.token:
            return  # a request of another project, or one superseded by a reload
        del self._inflight[result.image_id]
        if isinstance(result, LoadedImage):
            doc = ImageDocument(result)
            self.cache.put(doc, keep=self._keep)
            if result.mask_error:
                self.message.emit(f"Image {result.image_id}: {result.mask_error}")
            self.document_loaded.emit(doc)
        elif isinstance(result, LoadFailure):
            self.load_failed.emit(result)

    def _take_full(self, result: LoadResult) -> None:
        del self._full[result.image_id]
        doc = self.cache.peek(result.image_id)
        if isinstance(result, LoadFailure):
            self.message.emit(f"Image {result.image_id}: full resolution not loaded: {result.reason}")
        elif isinstance(result, LoadedImage) and doc is not None:
            try:
                doc.set_levels(result)
            except ValueError as exc:
                self.message.emit(str(exc))
                return
            self.cache.evict(keep=self._keep)
            self.levels_loaded.emit(doc)

    # -- saving -------------------------------------------------------------------------------
    def save(self, doc: ImageDocument) -> None:
        """Queues the document's mask for saving if it changed since its last save."""
        if self._project is None or not doc.dirty or doc.saving_version == doc.version:
            return
        history = self.histories.find(doc.image_id)
        remove = (history is not None and history.base_had_mask is False
                  and history.mask_edits_applied() == 0)
        source = SAVE_SOURCE if history is None else history.mask_source(SAVE_SOURCE)  # a proposal's run
        request = SaveRequest(image_id=doc.image_id, version=doc.version, mask=None if remove else doc.mask.copy(),
                              actor=default_actor(), source=source)
        if self._labels.save_mask(request):
            doc.saving_version = doc.version

    def save_all(self) -> None:
        for doc in self.cache:
            self.save(doc)

    def flush(self) -> None:
        """Saves every changed mask and waits until the store has committed them."""
        if self._project is None:
            return
        self.save_all()
        self._labels.flush_masks()

    @Slot(object)
    def _on_labels_masks_written(self, results: list[SaveResult]) -> None:
        for result in results:
            doc = self.cache.peek(result.image_id)
            if doc is not None and doc.saving_version == result.version:
                doc.saving_version = None
            if result.error is not None:
                kept = "" if result.recovery_file is None else (
                    f"; kept in {result.recovery_file} until it is saved (offered back when the project is reopened)")
                if result.recovery_file is not None:
                    self._recovered.add(result.image_id)
                self.message.emit(f"Mask of image {result.image_id} not saved (will retry): {result.error}{kept}")
                continue
            self._recovered.discard(result.image_id)
            if doc is not None:
                doc.saved_version = max(doc.saved_version, result.version)
                doc.had_mask = not result.removed
        self.cache.evict(keep=self._keep)

    def shutdown(self) -> None:
        """Saves what is pending and stops the threads."""
        self.set_project(None)
        self._loader.stop()
