"""The decoded images kept in memory: least recently used first out, by megabytes."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator

from labelapp.editor.document import ImageDocument

logger = logging.getLogger(__name__)

DEFAULT_BUDGET = 512 * 1024 * 1024


class DocumentCache:
    """Documents by image id. Eviction never drops a pinned document (an unsaved or
    saving mask) or one of the ids in ``keep`` (the image shown)."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.budget_bytes = budget_bytes
        self._docs: OrderedDict[int, ImageDocument] = OrderedDict()

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[ImageDocument]:
        return iter(list(self._docs.values()))

    def get(self, image_id: int) -> ImageDocument | None:
        """The document, marked as most recently used."""
        doc = self._docs.get(image_id)
        if doc is not None:
            self._docs.move_to_end(image_id)
        return doc

    def peek(self, image_id: int) -> ImageDocument | None:
        return self._docs.get(image_id)

    def put(self, doc: ImageDocument, *, keep: frozenset[int] = frozenset()) -> None:
        self._docs[doc.image_id] = doc
        self._docs.move_to_end(doc.image_id)
        self.evict(keep=keep | {doc.image_id})

    def pop(self, image_id: int) -> ImageDocument | None:
        return self._docs.pop(image_id, None)

    def clear(self) -> None:
        self._docs.clear()

    @property
    def nbytes(self) -> int:
        return sum(doc.nbytes for doc in self._docs.values())

    def evict(self, *, keep: frozenset[int] = frozenset()) -> None:
        total = self.nbytes
        for image_id in list(self._docs):
            if total <= self.budget_bytes:
                return
            doc = self._docs[image_id]
            if doc.pinned or image_id in keep:
                continue
            total -= doc.nbytes
            del self._docs[image_id]
            logger.debug("evicted image %s from the editor cache", image_id)
