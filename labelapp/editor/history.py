"""Undo / redo: one history per image for the whole session.

A mask edit keeps only its bounding box with the pixels before and after (large
patches are zlib-compressed: masks are mostly runs of one value). A label change keeps
the old and new class; undoing it is written back through the store by the editor.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from labelapp.editor.geometry import Box

COMPRESS_ABOVE = 64 * 1024  # bytes


@dataclass(frozen=True)
class Patch:
    """A uint8 array, kept compressed when it is large."""

    shape: tuple[int, int]
    data: bytes | np.ndarray

    @classmethod
    def of(cls, array: np.ndarray) -> Patch:
        array = np.ascontiguousarray(array, dtype=np.uint8)
        if array.nbytes > COMPRESS_ABOVE:
            return cls(shape=array.shape, data=zlib.compress(array.tobytes(), 1))
        return cls(shape=array.shape, data=array.copy())

    def array(self) -> np.ndarray:
        if isinstance(self.data, np.ndarray):
            return self.data
        return np.frombuffer(zlib.decompress(self.data), dtype=np.uint8).reshape(self.shape)

    @property
    def nbytes(self) -> int:
        return self.data.nbytes if isinstance(self.data, np.ndarray) else len(self.data)


@dataclass(frozen=True)
class MaskEdit:
    """One stroke, polygon or fill: ``box`` with its pixels before and after.

    ``origin``: the source a save records for a mask this edit brought from elsewhere (a
    mask proposal accepted: ``proposal:run-7``), ``edited_origin`` the one it records once
    the user's own edits followed; None for the user's own edits.
    """

    box: Box
    before: Patch
    after: Patch
    origin: str | None = None
    edited_origin: str | None = None

    def apply(self, mask: np.ndarray, *, undo: bool) -> Box:
        """Writes the before (``undo``) or after pixels into ``mask``; returns the box."""
        mask[self.box.slices] = (self.before if undo else self.after).array()
        return self.box


@dataclass(frozen=True)
class LabelChange:
    """An image-level label change made by the main window (class ids, None: no label).

    ``joined``: the change came with the mask edit below it on the stack (painting on an
    unlabeled or OK image labels it with the paint class); undo and redo take both at once.
    """

    image_id: int
    old_class_id: int | None
    new_class_id: int | None
    joined: bool = False


Command = MaskEdit | LabelChange


@dataclass
class History:
    """The undo and redo stacks of one image.

    ``base_had_mask`` records whether the store had a mask for the image before the
    first mask edit of the session, so that undoing every edit can remove the mask
    again instead of leaving an empty one (which would mean "no defect pixels").
    """

    undo_stack: list[Command] = field(default_factory=list)
    redo_stack: list[Command] = field(default_factory=list)
    base_had_mask: bool | None = None

    def push(self, command: Command) -> None:
        self.undo_stack.append(command)
        self.redo_stack.clear()

    def peek_undo(self) -> Command | None:
        return self.undo_stack[-1] if self.undo_stack else None

    def peek_redo(self) -> Command | None:
        return self.redo_stack[-1] if self.redo_stack else None

    def commit_undo(self) -> None:
        """Moves the top undo command to the redo stack (after it was undone)."""
        self.redo_stack.append(self.undo_stack.pop())

    def commit_redo(self) -> None:
        self.undo_stack.append(self.redo_stack.pop())

    def mask_edits_applied(self) -> int:
        return sum(isinstance(c, MaskEdit) for c in self.undo_stack)

    def mask_source(self, default: str) -> str:
        """The source a save of the mask records: the origin of the newest applied edit
        that has one (its edited origin when the user's edits came after it), else ``default``."""
        edits = [c for c in self.undo_stack if isinstance(c, MaskEdit)]
        for k in range(len(edits) - 1, -1, -1):
            if edits[k].origin:
                later = k < len(edits) - 1
                return (edits[k].edited_origin or edits[k].origin) if later else edits[k].origin
        return default

    def drop_mask_edits(self) -> None:
        """Forgets mask edits (after the mask was replaced from outside the editor)."""
        self.undo_stack = [c for c in self.undo_stack if not isinstance(c, MaskEdit)]
        self.redo_stack = [c for c in self.redo_stack if not isinstance(c, MaskEdit)]
        self.base_had_mask = None

    @property
    def nbytes(self) -> int:
        return sum(c.before.nbytes + c.after.nbytes for c in self.undo_stack + self.redo_stack
                   if isinstance(c, MaskEdit))


class Histories:
    """Histories by image id, created on first use, kept until the project changes."""

    def __init__(self) -> None:
        self._by_image: dict[int, History] = {}

    def get(self, image_id: int) -> History:
        history = self._by_image.get(image_id)
        if history is None:
            history = self._by_image[image_id] = History()
        return history

    def find(self, image_id: int) -> History | None:
        return self._by_image.get(image_id)

    def items(self) -> list[tuple[int, History]]:
        """(image id, history), in the order the images were first edited."""
        return list(self._by_image.items())

    def clear(self) -> None:
        self._by_image.clear()
