"""The editor's non-visual half: which images are loaded, loading, dirty or saving.

Owns the document cache, the loader threads and the undo histories of one project;
masks are written through the project session (:class:`ProjectSession`, its saver
thread), which reports back which versions were committed. Reads of the store (an image's path, its mask row) happen
here on the GUI thread and are cheap indexed queries; everything slow runs on the
workers, which receive immutable requests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal, Slot

from core.store import Project, StoreError, default_actor
from labelapp.editor.cache import DocumentCache
from labelapp.editor.document import ImageDocument
from labelapp.editor.history import Histories
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


class EditorSession(QObject):
    """Loading, caching and saving for the editor of one project."""

    document_loaded = Signal(object)  # ImageDocument, now in the cache
    load_failed = Signal(object)  # LoadFailure of a requested image
    message = Signal(str)

    def __init__(self, labels: ProjectSession, parent: QObject | None = None, *,
                 budget_bytes: int | None = None) -> None:
        super().__init__(parent)
        self._labels = labels
        labels.masks_written.connect(self._on_labels_masks_written)
        self.cache = DocumentCache() if budget_bytes is None else DocumentCache(budget_bytes)
        self.histories = Histories()
        self._project: Project | None = None
        self._loader = ImageLoader(workers=2)
        self._loader.finished.connect(self._on_loader_finished)
        self._inflight: dict[int, LoadRequest] = {}  # image id -> the request under way
        self._tokens = 0
        self._keep: frozenset[int] = frozenset()

    @property
    def project(self) -> Project | None:
        return self._project

    def set_project(self, project: Project | None) -> None:
        """Saves and forgets everything of the previous project."""
        self.flush()
        unsaved = [doc.image_id for doc in self.cache if doc.dirty]
        if unsaved:
            logger.error("masks of images %s could not be saved and are dropped", unsaved)
            self.message.emit(f"The masks of {len(unsaved)} image(s) could not be saved: {unsaved[:10]}")
        self.cache.clear()
        self.histories.clear()
        self._inflight.clear()
        self._project = project

    # -- loading ------------------------------------------------------------------------------
    def set_wanted(self, current: int | None, prefetch: Iterable[int]) -> None:
        """Loads ``current`` first, then ``prefetch`` in order; drops other prefetches."""
        prefetch = [i for i in prefetch if i != current]
        self._keep = frozenset([current] if current is not None else [])
        self._loader.set_wanted(frozenset(prefetch) | self._keep)
        if current is not None:
            self._request(current, PRIORITY_SHOW)
        for image_id in prefetch:
            self._request(image_id, PRIORITY_PREFETCH)

    def document(self, image_id: int) -> ImageDocument | None:
        """The decoded image if it is in memory (no I/O)."""
        return self.cache.get(image_id)

    def loading(self, image_id: int) -> bool:
        return image_id in self._inflight

    def _request(self, image_id: int, priority: int) -> None:
        project = self._project
        if project is None or image_id in self.cache:
            return
        pending = self._inflight.get(image_id)
        if pending is not None:
            if priority == PRIORITY_SHOW and pending.priority != PRIORITY_SHOW:
                # Prefetched but still queued: ask again at the head of the queue.
                self._inflight[image_id] = promoted = replace(pending, priority=PRIORITY_SHOW)
                self._loader.submit(promoted)
            return
        self._tokens += 1
        try:
            image = project.images.get(image_id)
            info = project.masks.info(image_id)
        except StoreError as exc:
            self.load_failed.emit(LoadFailure(self._tokens, image_id, str(exc), missing=False))
            return
        mask_path = project.masks_dir / info.file if info is not None and info.file else None
        request = LoadRequest(token=self._tokens, image_id=image_id, path=project.images.resolve(image),
                              mask_path=mask_path, has_mask=info is not None, priority=priority)
        self._inflight[image_id] = request
        self._loader.submit(request)

    def forget(self, image_id: int) -> None:
        """Drops the decoded image (after saving its mask) so the next request re-reads it."""
        doc = self.cache.peek(image_id)
        if doc is not None and doc.pinned:
            self.flush()
        self.cache.pop(image_id)
        self._inflight.pop(image_id, None)

    @Slot(object)
    def _on_loader_finished(self, result: LoadResult) -> None:
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
                self.message.emit(f"Mask of image {result.image_id} not saved (will retry): {result.error}")
                continue
            if doc is not None:
                doc.saved_version = max(doc.saved_version, result.version)
                doc.had_mask = not result.removed
        self.cache.evict(keep=self._keep)

    def shutdown(self) -> None:
        """Saves what is pending and stops the threads."""
        self.set_project(None)
        self._loader.stop()
