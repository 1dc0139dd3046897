"""Masks that could not be saved, kept until they can be (disk full, a read-only folder).

When the store cannot write a mask (``OSError``: no space left, a read-only or vanished
masks folder; or a database that refuses the write) the pixels are not thrown away:
:meth:`MaskRecovery.keep` writes them to a recovery file, one per image, in the user's
cache folder (``$LABELAPP_RECOVERY_DIR``, else ``$XDG_CACHE_HOME/labelapp/recovery``, else
``~/.cache/labelapp/recovery``; one sub-folder per project), which usually lies on
another disk than the project, and in the project's own ``recovery/`` folder when that
one cannot be written. A later successful save of the image removes its recovery file;
whatever is left is offered back the next time the project is opened
(:meth:`MaskRecovery.pending`). Recovery files never touch what the store holds: a
failed save leaves the image's previous mask as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import write_bytes_atomic
from core.store.database import now_iso

logger = logging.getLogger(__name__)
RECOVERY_ENV = "LABELAPP_RECOVERY_DIR"
PROJECT_FOLDER = "recovery"


def user_recovery_root() -> Path:
    """The folder of recovery files outside every project."""
    explicit = os.environ.get(RECOVERY_ENV)
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "labelapp" / "recovery"


@dataclass(frozen=True)
class RecoveredMask:
    """A mask kept because its save failed; ``mask`` None: the save was a removal."""

    image_id: int
    image_hash: str
    mask: np.ndarray | None
    source: str
    actor: str
    at: str
    reason: str
    file: Path


class MaskRecovery:
    """The recovery files of the project in ``root``."""

    def __init__(self, root: Path) -> None:
        root = Path(os.path.abspath(root))
        key = hashlib.blake2b(str(root).encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()
        self._root = root
        self.folders = (user_recovery_root() / f"{root.name}-{key}", root / PROJECT_FOLDER)

    def keep(self, image_id: int, image_hash: str, mask: np.ndarray | None, *, source: str, actor: str,
             reason: str) -> Path | None:
        """Writes the mask to a recovery file (replacing an older one of the image); the
        file, or None when no recovery folder could be written either."""
        meta = {"image_id": int(image_id), "image_hash": image_hash, "source": source, "actor": actor,
                "at": now_iso(), "reason": reason, "project": str(self._root), "removal": mask is None}
        buffer = io.BytesIO()
        arrays = {} if mask is None else {"mask": np.ascontiguousarray(mask, dtype=np.uint8)}
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), **arrays)
        for folder in self.folders:
            target = folder / f"{int(image_id)}.npz"
            try:
                write_bytes_atomic(target, buffer.getvalue())
            except OSError as exc:
                logger.warning("cannot keep the unsaved mask of image %s in %s: %s", image_id, folder, exc)
                continue
            for other in self.folders:  # one recovery file per image: the newest
                if other != folder:
                    with contextlib.suppress(OSError):
                        (other / target.name).unlink()
            return target
        return None

    def discard(self, image_id: int) -> None:
        """Removes the image's recovery file (its mask was saved, or the user declined it)."""
        for folder in self.folders:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                (folder / f"{int(image_id)}.npz").unlink()

    def pending(self) -> list[RecoveredMask]:
        """The masks kept and not saved since, by image id (unreadable files are skipped
        with a warning and left in place)."""
        found: dict[int, RecoveredMask] = {}
        for folder in self.folders:
            try:
                files = sorted(folder.glob("*.npz"))
            except OSError:
                continue
            for file in files:
                item = _read(file)
                if item is not None and (item.image_id not in found or item.at > found[item.image_id].at):
                    found[item.image_id] = item
        return [found[i] for i in sorted(found)]


def _read(file: Path) -> RecoveredMask | None:
    try:
        with np.load(file, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            mask = None if meta.get("removal") else np.array(data["mask"], dtype=np.uint8)
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("unreadable recovery file %s: %s", file, exc)
        return None
    return RecoveredMask(image_id=int(meta["image_id"]), image_hash=str(meta["image_hash"]), mask=mask,
                         source=str(meta["source"]), actor=str(meta["actor"]), at=str(meta["at"]),
                         reason=str(meta["reason"]), file=file)
