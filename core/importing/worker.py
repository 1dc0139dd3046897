"""The per-file work of an import, run in worker processes (Pillow and numpy only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

import numpy as np

from core.media.imaging import UnreadableImageError, content_hash, decode, is_gray, read_binary_mask, thumbnail_jpeg
from core.store.masks import encode_mask_png


@dataclass(frozen=True)
class FileTask:
    index: int
    path: Path
    mask_path: Path | None
    mask_class_id: int  # pixel value of the mask's foreground
    known_size: tuple[int, int] | None = None  # (w, h) when the image is already in the project


@dataclass(frozen=True)
class FileResult:
    index: int
    error: str | None = None
    hash: str = ""
    width: int = 0
    height: int = 0
    channels: int = 0
    bit_depth: int = 0
    mode: str = ""
    gray: bool = True
    file_size: int = 0
    mtime: float = 0.0
    thumbnail: bytes = b""
    thumb_size: tuple[int, int] = (0, 0)
    mask_png: bytes | None = None
    mask_pixels: int = -1  # -1: no mask read; 0: empty mask
    mask_error: str | None = None


def process_chunk(tasks: list[FileTask], palette: dict[int, tuple[int, int, int]]) -> list[FileResult]:
    return [process_file(task, palette) for task in tasks]


def process_file(task: FileTask, palette: dict[int, tuple[int, int, int]]) -> FileResult:
    """Reads, hashes, fully decodes and thumbnails one image, and reads its mask."""
    if task.known_size is not None:
        width, height = task.known_size
        return FileResult(index=task.index, width=width, height=height,
                          **_mask_fields(task, width, height, palette))
    try:
        data, stat = _read_file(Path(task.path))
    except OSError as exc:
        return FileResult(index=task.index, error=f"cannot read file: {exc.strerror or exc}")
    except _Refused as exc:
        return FileResult(index=task.index, error=str(exc))
    try:
        decoded = decode(data, name=task.path.name)
    except UnreadableImageError as exc:
        return FileResult(index=task.index, error=str(exc))
    gray = is_gray(decoded.pixels)
    thumb, tw, th = thumbnail_jpeg(decoded.pixels, gray=gray)
    return FileResult(
        index=task.index, hash=content_hash(data), width=decoded.width, height=decoded.height,
        channels=decoded.channels, bit_depth=decoded.bit_depth, mode=decoded.mode, gray=gray,
        file_size=len(data), mtime=stat.st_mtime, thumbnail=thumb, thumb_size=(tw, th),
        **_mask_fields(task, decoded.width, decoded.height, palette),
    )


MAX_FILE_BYTES = 2 << 30  # 2 GiB: larger than any image the decoder would accept


class _Refused(Exception):
    """A file the import does not read (its message says why)."""


def _read_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES` (checked before
    reading, and the read is bounded: a file that grows is not read without end)."""
    stat = os.stat(path)  # before opening: opening a named pipe waits for a writer
    if not S_ISREG(stat.st_mode):
        raise _Refused("not a regular file")
    if stat.st_size > MAX_FILE_BYTES:
        raise _Refused(f"file too large ({stat.st_size / 2**30:.1f} GiB; limit {MAX_FILE_BYTES >> 30} GiB)")
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Refused("file grew past the size limit while it was read")
    return data, stat


def _mask_fields(task: FileTask, width: int, height: int, palette: dict[int, tuple[int, int, int]]) -> dict:
    if task.mask_path is None:
        return {}
    try:
        binary = read_binary_mask(task.mask_path, width=width, height=height)
    except UnreadableImageError as exc:
        return {"mask_error": str(exc)}
    pixels = int(np.count_nonzero(binary))
    if pixels == 0:
        return {"mask_pixels": 0}
    values = binary.astype(np.uint8) * np.uint8(task.mask_class_id)
    return {"mask_png": encode_mask_png(values, palette), "mask_pixels": pixels}
