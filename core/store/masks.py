"""Pixel masks: one palette PNG per masked image (0 = background, k = class id k).

A mask file is named after its content (``masks/<image id>-<hash>.png``), written
atomically before the transaction that points the row at it. The row switch is the
commit: a crash leaves either the old mask or the new one, never half of either.
An empty mask (an image annotated as having no defect pixels) has a row and no file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from core.files import write_bytes_atomic
from core.store.classes import Classes, hex_to_rgb
from core.store.database import Database, now_iso, select_by_image
from core.store.errors import InvalidValueError
from core.store.events import Events
from core.store.images import Images
from core.store.records import MaskInfo

_SELECT = "SELECT image_id, file, pixels, class_ids, updated_at, source FROM masks"


def encode_mask_png(mask: np.ndarray, palette: dict[int, tuple[int, int, int]]) -> bytes:
    """A uint8 (H, W) class-id map as palette PNG bytes; unknown ids get gray."""
    image = PILImage.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="P")
    flat = [0, 0, 0] + [128, 128, 128] * 255
    for class_id, rgb in palette.items():
        flat[3 * class_id:3 * class_id + 3] = rgb
    image.putpalette(flat)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def decode_mask_png(data: bytes | Path) -> np.ndarray:
    """A palette PNG written by :func:`encode_mask_png` back to uint8 (H, W) class ids."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with PILImage.open(source) as image:
        if image.mode != "P":
            raise InvalidValueError(f"mask file is {image.mode}, expected a palette PNG")
        return np.asarray(image, dtype=np.uint8).copy()


LEFTOVER_AGE_S = 600.0  # a temporary or unreferenced mask file this old is a crash's leftover


class Masks:
    def __init__(self, db: Database, root: Path, images: Images, classes: Classes, events: Events) -> None:
        self._db = db
        self._dir = root / "masks"
        self._images = images
        self._classes = classes
        self._events = events

    def info(self, image_id: int) -> MaskInfo | None:
        row = self._db.one(_SELECT + " WHERE image_id = ?", (image_id,))
        return None if row is None else _row(row)

    def all(self) -> dict[int, MaskInfo]:
        return {r[0]: _row(r) for r in self._db.all(_SELECT)}

    def pixels_by_image(self, ids: Iterable[int] | None = None) -> dict[int, int]:
        """image id -> defect pixels of every mask, by image id (of ``ids`` only, when given)."""
        return select_by_image(self._db, "SELECT image_id, pixels FROM masks", ids)

    def files(self) -> dict[int, str | None]:
        """image id -> mask file (None: an empty mask) of every mask, by image id."""
        return select_by_image(self._db, "SELECT image_id, file FROM masks")

    def load(self, image_id: int) -> np.ndarray | None:
        """The mask as uint8 (H, W) class ids; None when the image has no mask."""
        info = self.info(image_id)
        if info is None:
            return None
        if info.file is None:
            image = self._images.get(image_id)
            return np.zeros((image.height, image.width), dtype=np.uint8)
        return decode_mask_png(self._dir / info.file)

    def save(self, image_id: int, mask: np.ndarray | None, *, actor: str, source: str) -> bool:
        """Saves (``None``: removes) the mask of one image; returns whether it changed.

        Args:
            mask: uint8 (H, W) with 0 for background and class ids elsewhere; H, W
                must be the image's height and width.
        """
        return self.save_encoded(image_id, *self._encode(image_id, mask), actor=actor, source=source)

    def _encode(self, image_id: int, mask: np.ndarray | None) -> tuple[bytes | None, int, tuple[int, ...]]:
        if mask is None:
            return None, -1, ()
        image = self._images.get(image_id)
        if mask.shape != (image.height, image.width):
            raise InvalidValueError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {image.width}x{image.height}"
            )
        if mask.dtype != np.uint8:
            if mask.dtype != bool and (mask.min() < 0 or mask.max() > 255):
                raise InvalidValueError("mask values must be class ids 0-255")
            mask = mask.astype(np.uint8)
        ids = tuple(int(v) for v in np.unique(mask) if v != 0)
        known = {c.id for c in self._classes.list()}
        unknown = [v for v in ids if v not in known]
        if unknown:
            raise InvalidValueError(f"mask uses class ids {unknown} that the project does not have")
        pixels = int(np.count_nonzero(mask))
        if pixels == 0:
            return None, 0, ()
        return encode_mask_png(mask, self.palette()), pixels, ids

    def palette(self) -> dict[int, tuple[int, int, int]]:
        return {c.id: hex_to_rgb(c.color) for c in self._classes.list()}

    def save_encoded(
        self, image_id: int, png: bytes | None, pixels: int, class_ids: tuple[int, ...], *, actor: str,
        source: str,
    ) -> bool:
        """Saves a mask already encoded as palette PNG bytes (``pixels`` = -1: remove).
        The import uses this to encode in worker processes."""
        file = None
        if png is not None:
            digest = hashlib.blake2b(png, digest_size=8).hexdigest()
            file = f"{image_id}-{digest}.png"
            if not (self._dir / file).exists():
                write_bytes_atomic(self._dir / file, png)
        with self._db.transaction():
            before = self.info(image_id)
            if pixels < 0:
                if before is None:
                    return False
                self._db.execute("DELETE FROM masks WHERE image_id = ?", (image_id,))
            else:
                if before is not None and before.file == file and before.pixels == pixels:
                    return False
                at = now_iso()
                self._db.execute(
                    "INSERT INTO masks (image_id, file, pixels, class_ids, actor, source, updated_at)"
                    " VALUES (?,?,?,?,?,?,?) ON CONFLICT(image_id) DO UPDATE SET file = excluded.file,"
                    " pixels = excluded.pixels, class_ids = excluded.class_ids, actor = excluded.actor,"
                    " source = excluded.source, updated_at = excluded.updated_at",
                    (image_id, file, pixels, json.dumps(list(class_ids)), actor, source, at),
                )
            self._events.append(
                kind="mask", image_id=image_id, actor=actor, source=source,
                old=None if before is None else {"file": before.file, "pixels": before.pixels},
                new=None if pixels < 0 else {"file": file, "pixels": pixels},
            )
        if before is not None and before.file and before.file != file:
            with contextlib.suppress(OSError):
                (self._dir / before.file).unlink()
        return True

    def collect_leftovers(self, *, min_age_s: float = LEFTOVER_AGE_S) -> list[str]:
        """Removes what a process killed mid-write left in the masks folder: temporary files
        of an interrupted atomic write, and mask PNGs no mask row names (written, then
        killed before the commit; or committed over, then killed before the old file was
        removed). Only files older than ``min_age_s``, so that a write in progress in
        another process is never touched. Returns the names removed."""
        referenced = {r[0] for r in self._db.all("SELECT file FROM masks WHERE file IS NOT NULL")}
        removed = []
        cutoff = time.time() - min_age_s
        for path in self._dir.iterdir():
            name = path.name
            leftover = (name.startswith(".") and name.endswith(".tmp")) or (name.endswith(".png")
                                                                             and name not in referenced)
            try:
                if leftover and path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(name)
            except OSError:
                continue  # gone already, or not ours to remove: the next open tries again
        return removed

    def count(self) -> tuple[int, int]:
        """(masks, masks with at least one defect pixel)."""
        row = self._db.one("SELECT COUNT(*), COALESCE(SUM(pixels > 0), 0) FROM masks")
        return int(row[0]), int(row[1])


def _row(r: tuple) -> MaskInfo:
    return MaskInfo(image_id=r[0], file=r[1], pixels=r[2], class_ids=tuple(json.loads(r[3])), updated_at=r[4],
                    source=r[5])
