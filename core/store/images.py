"""The images of a project: referenced where they lie, never copied."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.media.imaging import content_hash
from core.store.database import Database, now_iso
from core.store.errors import ImageNotFoundError, InvalidValueError
from core.store.records import Image, NewImage

_COLUMNS = "id, path, hash, width, height, channels, bit_depth, mode, gray, file_size, added_at"


@dataclass(frozen=True)
class ImageTable:
    """Columns of every image, by id (one read of the whole table)."""

    ids: np.ndarray  # (N,) int64, ascending
    paths: list[str]  # as stored
    hashes: list[str]
    widths: np.ndarray  # (N,) int32
    heights: np.ndarray  # (N,) int32
    file_sizes: np.ndarray  # (N,) int64
    mtimes: np.ndarray  # (N,) float64


class Images:
    def __init__(self, db: Database, root: Path) -> None:
        self._db = db
        self._root = root

    def stored_path(self, path: Path) -> str:
        """How a file path is stored: relative (POSIX) inside the project, else absolute."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(self._root).as_posix()
        except ValueError:
            return absolute.as_posix()

    def resolve(self, image: Image | str) -> Path:
        """The file of an image (or of a stored path) on this machine."""
        stored = image.path if isinstance(image, Image) else image
        path = Path(stored)
        return path if path.is_absolute() else self._root / path

    def add_many(self, images: Sequence[NewImage]) -> list[int]:
        """Inserts new images in one transaction; returns their ids in order."""
        added_at = now_iso()
        ids = []
        with self._db.transaction():
            for im in images:
                cur = self._db.execute(
                    "INSERT INTO images (path, hash, width, height, channels, bit_depth, mode, gray,"
                    " file_size, mtime, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (im.path, im.hash, im.width, im.height, im.channels, im.bit_depth, im.mode,
                     int(im.gray), im.file_size, im.mtime, added_at),
                )
                ids.append(int(cur.lastrowid))
        return ids

    def get(self, image_id: int) -> Image:
        row = self._db.one(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (image_id,))
        if row is None:
            raise ImageNotFoundError(f"no image with id {image_id}")
        return _row(row)

    def get_many(self, image_ids: Iterable[int]) -> dict[int, Image]:
        """The images of ``image_ids`` by id, in one query per 500 (ids the store does not
        know are left out)."""
        found: dict[int, Image] = {}
        batch = [int(i) for i in image_ids]
        for start in range(0, len(batch), 500):
            chunk = batch[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.all(f"SELECT {_COLUMNS} FROM images WHERE id IN ({marks})", chunk):
                image = _row(row)
                found[image.id] = image
        return found

    def find(self, ref: str | Path) -> Image:
        """An image by stored path, by a path to its file, or by file name when that
        name is unique in the project."""
        text = str(ref)
        candidates = [text, self.stored_path(Path(text))] if text else []
        for candidate in candidates:
            row = self._db.one(f"SELECT {_COLUMNS} FROM images WHERE path = ?", (candidate,))
            if row is not None:
                return _row(row)
        name = Path(text).name
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM images WHERE path = ? OR path LIKE ? ESCAPE '\\'",
            (name, "%/" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")),
        )
        if len(rows) == 1:
            return _row(rows[0])
        if len(rows) > 1:
            raise ImageNotFoundError(f"{len(rows)} images are named {name!r}; give the path")
        raise ImageNotFoundError(f"no image {text!r} in this project")

    def by_hashes(self, hashes: Iterable[str]) -> dict[str, Image]:
        """The images whose content hash is among ``hashes``."""
        found: dict[str, Image] = {}
        batch = list(hashes)
        for start in range(0, len(batch), 500):
            chunk = batch[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.all(f"SELECT {_COLUMNS} FROM images WHERE hash IN ({marks})", chunk):
                image = _row(row)
                found[image.hash] = image
        return found

    def list(self, *, limit: int | None = None, offset: int = 0) -> list[Image]:
        """Images by id (import order)."""
        sql = f"SELECT {_COLUMNS} FROM images ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_row(r) for r in self._db.all(sql)]

    def count(self) -> int:
        return int(self._db.scalar("SELECT COUNT(*) FROM images"))

    def ids(self) -> np.ndarray:
        """(N,) int64 ids of every image, ascending."""
        return np.array([r[0] for r in self._db.all("SELECT id FROM images ORDER BY id")], dtype=np.int64)

    def sizes(self) -> np.ndarray:
        """(N, 2) int64 (height, width) of every image, by id."""
        return np.array(self._db.all("SELECT height, width FROM images ORDER BY id"), dtype=np.int64).reshape(-1, 2)

    def paths_by_id(self) -> dict[int, str]:
        """image id -> stored path of every image, by id."""
        return dict(self._db.all("SELECT id, path FROM images ORDER BY id"))

    def hashes_by_id(self) -> dict[int, str]:
        """image id -> content hash of every image, by id."""
        return dict(self._db.all("SELECT id, hash FROM images ORDER BY id"))

    def table(self) -> ImageTable:
        """Ids, paths, hashes, sizes, file sizes and modification times of every image."""
        rows = self._db.all("SELECT id, path, hash, width, height, file_size, mtime FROM images ORDER BY id")
        columns = list(zip(*rows, strict=True)) if rows else [()] * 7
        return ImageTable(ids=np.array(columns[0], dtype=np.int64), paths=list(columns[1]), hashes=list(columns[2]),
                          widths=np.array(columns[3], dtype=np.int32), heights=np.array(columns[4], dtype=np.int32),
                          file_sizes=np.array(columns[5], dtype=np.int64),
                          mtimes=np.array(columns[6], dtype=np.float64))

    def missing(self, limit: int | None = None) -> list[Image]:
        """Images whose file does not exist on this machine, by id.

        Lists each folder once instead of testing every file, so a check of 100,000
        images takes a directory listing per folder.
        """
        listings: dict[Path, set[str] | None] = {}
        found: list[Image] = []
        for image in self.list():
            path = self.resolve(image)
            folder = path.parent
            if folder not in listings:
                listings[folder] = _listing(folder)
            names = listings[folder]
            present = names is not None and path.name in names
            if not present and (names is None or not path.exists()):  # a case-insensitive disk may still have it
                found.append(image)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def relink(self, image_id: int, new_path: Path | str) -> Image:
        """Points an image at a file in a new place after checking it holds the same image.

        Raises:
            InvalidValueError: the file cannot be read or its content differs.
        """
        image = self.get(image_id)
        path = Path(os.path.abspath(new_path))
        digest, mtime = _hash_file(path)
        if digest != image.hash:
            raise InvalidValueError(f"{path} is a different image from {image.path} (its content differs)")
        with self._db.transaction():
            self._db.execute("UPDATE images SET path = ?, mtime = ? WHERE id = ?",
                             (self.stored_path(path), mtime, image_id))
        return self.get(image_id)

    def relink_folder(self, folder: Path | str) -> int:
        """Relinks every missing image to a file under ``folder`` with the same name and
        content (files of another size are not read); returns how many were relinked."""
        by_name: dict[str, list[Image]] = {}
        for image in self.missing():
            by_name.setdefault(Path(image.path).name, []).append(image)
        moves: list[tuple[str, float, int]] = []
        for dirpath, _dirnames, filenames in os.walk(folder):
            for name in filenames:
                candidates = by_name.get(name)
                if not candidates:
                    continue
                path = Path(os.path.abspath(os.path.join(dirpath, name)))
                match = _matching(path, candidates)
                if match is not None:
                    candidates.remove(match[0])
                    moves.append((self.stored_path(path), match[1], match[0].id))
        with self._db.transaction():
            for stored, mtime, image_id in moves:
                self._db.execute("UPDATE images SET path = ?, mtime = ? WHERE id = ?", (stored, mtime, image_id))
        return len(moves)


def _row(r: tuple) -> Image:
    return Image(id=r[0], path=r[1], hash=r[2], width=r[3], height=r[4], channels=r[5],
                 bit_depth=r[6], mode=r[7], gray=bool(r[8]), file_size=r[9], added_at=r[10])


def _listing(folder: Path) -> set[str] | None:
    try:
        return set(os.listdir(folder))
    except OSError:
        return None


def _hash_file(path: Path) -> tuple[str, float]:
    try:
        return content_hash(path.read_bytes()), os.stat(path).st_mtime
    except OSError as exc:
        raise InvalidValueError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _matching(path: Path, candidates: list[Image]) -> tuple[Image, float] | None:
    """The candidate whose content ``path`` holds, with the file's mtime."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    if not any(c.file_size == size for c in candidates):
        return None
    try:
        digest, mtime = _hash_file(path)
    except InvalidValueError:
        return None
    return next(((c, mtime) for c in candidates if c.hash == digest), None)
