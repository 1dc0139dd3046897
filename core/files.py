"""Files beside the database are written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb", *, durable: bool = True) -> Iterator[IO]:
    """Opens a temp file next to ``path``; on success moves it over ``path`` with
    ``os.replace``. On error the temp file is removed and ``path`` is left as it was.

    Args:
        durable: fsync before the move, so the file survives a power cut too (a
            killed process needs no fsync). Off for files that can be regenerated.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    with atomic_writer(path, "wb", durable=durable) as handle:
        handle.write(data)


def write_text_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    with atomic_writer(path, "w", durable=durable) as handle:
        handle.write(text)


def unique_stem(stem: str, used: set[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... whichever is not in ``used`` yet (added to it):
    one output file per input when inputs from several folders share a name."""
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name
