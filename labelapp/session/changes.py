"""What one label write changed, as listeners receive it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

UNDO_SOURCES = ("gui undo", "gui redo")


@dataclass(frozen=True)
class LabelsChanged:
    """One label write on one or more images.

    Attributes:
        image_ids: the images written, in the order given (also those whose class did
            not change: a key pressed again still counts as labeled now).
        old: each image's class id before the write (None: unlabeled).
        new: each image's class id after it.
        source: where it came from (``gui``, ``gui undo``, ``gui redo``).
        joined: it came with the mask edit just made (painting labeled the image), and
            one undo takes back both.
    """

    image_ids: tuple[int, ...]
    old: Mapping[int, int | None]
    new: Mapping[int, int | None]
    source: str = "gui"
    joined: bool = False

    @property
    def changed_ids(self) -> list[int]:
        """The images whose class really changed."""
        return [i for i in self.image_ids if self.old.get(i) != self.new.get(i)]

    @property
    def undoable(self) -> bool:
        """Whether the edit history records it (an undo or redo itself is not recorded)."""
        return self.source not in UNDO_SOURCES
