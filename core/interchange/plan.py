"""From labels read out of a file to a project: match the images, check every path,
translate the classes, then write it all in one transaction.

An image in the file is matched to a project image by its relative path (the path the
project stores, or its path below the folder the project's images share, or the end of
an image's full path), then by file name when only one project image has that name.
Images the project does not have are reported and left out. A path with ``..`` or an
absolute path that leads outside the folder being imported, the project folder and the
folders of the project's images is refused, and the import with it.

Everything is checked before anything is written; the writes are one transaction, so
an import lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from core.interchange import geometry
from core.interchange.model import OK_KIND, InterchangeError, Parsed, ParsedImage, export_names
from core.store import Project
from core.store.errors import StoreError
from core.store.records import ClassKind, Image


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: ``labels`` and ``masks`` set (changed or not), ``classes_added``
    by name, and ``unmatched`` (reference, why) for images the project does not have."""

    format: str
    source: Path
    images: int
    labels: int
    masks: int
    classes_added: tuple[str, ...] = ()
    unmatched: tuple[tuple[str, str], ...] = ()


@dataclass
class Plan:
    labels: dict[int, str] = field(default_factory=dict)  # image id -> class name
    # image id -> the file's class ids, compressed (a large import's masks do not fit in memory together)
    masks: dict[int, tuple[tuple[int, int], bytes]] = field(default_factory=dict)
    class_ids: set[int] = field(default_factory=set)  # the file's class ids the masks use
    unmatched: list[tuple[str, str]] = field(default_factory=list)


class _Index:
    """The project's images by the names an imported file may use for them."""

    def __init__(self, project: Project) -> None:
        images = project.images.list()
        self.project_root = Path(os.path.abspath(project.root))
        self.by_key: dict[str, list[Image]] = defaultdict(list)  # stored path, export name
        self.by_tail: dict[str, list[Image]] = defaultdict(list)  # every ending of the full path: "b/c.png", "c.png"
        self.roots = {self.project_root}
        self._stems: dict[str, dict[str, list[Image]]] | None = None  # the tables without suffixes, when asked
        names = export_names(project, [image.path for image in images])
        for image in images:
            absolute = Path(os.path.abspath(project.images.resolve(image)))
            self.roots.add(absolute.parent)
            for key in {image.path, names[image.path]}:
                self.by_key[key].append(image)
            parts = absolute.parts
            for start in range(len(parts)):
                self.by_tail["/".join(parts[start:]).removeprefix("/")].append(image)

    def confined(self, path: Path, *, extra: Path) -> bool:
        """Whether ``path`` lies in the imported folder ``extra``, the project folder or a
        folder of the project's images."""
        roots = self.roots | {extra}
        return any(parent in roots for parent in (path, *path.parents))

    def match(self, key: str, *, stem_only: bool) -> tuple[Image | None, str]:
        """The one image ``key`` names (its stored path, its export name, the end of its
        path, its file name; ``stem_only``: without the suffix), or (None, why not)."""
        tables = {"by_key": self.by_key, "by_tail": self.by_tail}
        if stem_only:
            if self._stems is None:
                self._stems = {name: _by_stem(table) for name, table in tables.items()}
            tables = self._stems
        probe = _strip(key) if stem_only else key
        for found in (tables["by_key"].get(probe), tables["by_tail"].get(probe),
                      tables["by_tail"].get(PurePosixPath(probe).name)):
            unique = {image.id: image for image in found or ()}
            if len(unique) == 1:
                return next(iter(unique.values())), ""
            if unique:
                return None, f"{len(unique)} project images go by this name; give the path"
        return None, "the project has no such image"


def _by_stem(table: dict[str, list[Image]]) -> dict[str, list[Image]]:
    stems: dict[str, list[Image]] = defaultdict(list)
    for key, images in table.items():
        stems[_strip(key)].extend(images)
    return stems


def _strip(path: str) -> str:
    pure = PurePosixPath(path)
    return str(pure.with_suffix("")) if pure.suffix else path


def make_plan(project: Project, parsed: Parsed, source: Path) -> Plan:
    """Matches every image of ``parsed`` and builds its mask at the project image's size.

    Raises:
        InterchangeError: a refused path, a size that does not fit, an image named twice.
    """
    index = _Index(project)
    root = Path(os.path.abspath(source if source.is_dir() else source.parent))
    plan = Plan()
    seen: dict[int, str] = {}
    for entry in parsed.images:
        key = _key(entry, root, index)
        image, why = index.match(key, stem_only=entry.stem_only)
        if image is None:
            plan.unmatched.append((entry.ref, why))
            continue
        if image.id in seen:
            raise InterchangeError(f"{entry.where}: {entry.ref!r} and {seen[image.id]!r} are the same project image"
                                   f" ({image.path})")
        seen[image.id] = entry.ref
        if entry.label is not None:
            plan.labels[image.id] = entry.label
        mask = _mask(entry, image)
        if mask is not None:
            plan.masks[image.id] = (mask.shape, zlib.compress(mask.tobytes(), 1))
            plan.class_ids.update(int(v) for v in np.unique(mask) if v)
    return plan


def _key(entry: ParsedImage, root: Path, index: _Index) -> str:
    """The matching key of a reference: itself, or for a path with ``..`` or an absolute
    one, the file it leads to (refused outside the folders the import may name)."""
    text = entry.ref.replace("\\", "/")
    pure = PurePosixPath(text)
    if not pure.is_absolute() and ".." not in pure.parts and not _drive(text):
        return str(PurePosixPath(*[p for p in pure.parts if p != "."])) if pure.parts else text
    target = Path(os.path.normpath(text if pure.is_absolute() else entry.base / text))
    if _drive(text) or not index.confined(target, extra=root):
        raise InterchangeError(f"{entry.where}: refused the path {entry.ref!r}: it leads outside the imported folder,"
                               " the project and the folders of its images")
    with contextlib.suppress(ValueError):
        return target.relative_to(root).as_posix()
    return target.as_posix()


def _drive(text: str) -> bool:
    return len(text) > 1 and text[1] == ":"  # C:/... from another machine: never ours


def _mask(entry: ParsedImage, image: Image) -> np.ndarray | None:
    size = (image.height, image.width)
    if entry.width is not None and entry.height is not None and (entry.height, entry.width) != size:
        raise InterchangeError(f"{entry.where}: {entry.ref!r} is {entry.width}x{entry.height} in the file but"
                               f" {image.width}x{image.height} in the project ({image.path})")
    if entry.load_mask is not None:
        mask = entry.load_mask()
        if mask.shape != size:
            raise InterchangeError(f"{entry.where}: the mask of {entry.ref!r} is {mask.shape[1]}x"
                                   f"{mask.shape[0]}, the image {image.width}x{image.height}")
        return mask
    if entry.polygons is None:
        return None
    mask = np.zeros(size, dtype=np.uint8)
    scale = (image.width, image.height) if entry.normalized else (1, 1)
    for class_id, polygon in entry.polygons:
        points = [(x * scale[0], y * scale[1]) for x, y in polygon]
        try:
            mask[geometry.rasterize([points], *size)] = class_id
        except ValueError as exc:
            raise InterchangeError(f"{entry.where}: {exc}") from None
    return mask


def apply(project: Project, parsed: Parsed, plan: Plan, *, source: Path, actor: str) -> ImportResult:
    """Writes the plan in one transaction: missing classes, labels, masks. On any error
    nothing stays (mask files already written for it are removed)."""
    if not plan.labels and not plan.masks:  # no image matched: not even the classes are added
        return ImportResult(format=parsed.format, source=source, images=0, labels=0, masks=0,
                            unmatched=tuple(plan.unmatched))
    specs = {spec.name: spec for _, spec in sorted(parsed.classes.items())}
    wanted = list(specs) + sorted(set(plan.labels.values()) - set(specs))  # the file's order
    before = set(os.listdir(project.masks_dir))
    added: list[str] = []
    try:
        with project.transaction():
            for name in wanted:
                if project.classes.find(name) is None:
                    spec = specs.get(name)
                    kind = ClassKind.OK if spec is not None and spec.kind == OK_KIND else ClassKind.DEFECT
                    project.classes.add(name, kind=kind, color=spec.color if spec else None, actor=actor,
                                        source="import")
                    added.append(name)
            project.labels.apply(list(plan.labels.items()), actor=actor, source="import")
            lookup = np.zeros(256, dtype=np.uint8)
            for file_id in plan.class_ids:
                lookup[file_id] = project.classes.get(parsed.classes[file_id].name).id
            for image_id, (shape, data) in plan.masks.items():
                mask = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(shape)
                project.masks.save(image_id, lookup[mask], actor=actor, source="import")
    except StoreError as exc:
        _remove_new_files(project, before, plan.masks)
        raise InterchangeError(f"the project refused the import: {exc}; nothing was imported") from exc
    except BaseException:
        _remove_new_files(project, before, plan.masks)
        raise
    return ImportResult(format=parsed.format, source=source, images=len(plan.labels.keys() | plan.masks.keys()),
                        labels=len(plan.labels), masks=len(plan.masks), classes_added=tuple(added),
                        unmatched=tuple(plan.unmatched))


def _remove_new_files(project: Project, before: set[str], image_ids: Iterable[int]) -> None:
    """Removes the mask files this import wrote and no row names (only those of its own
    images: a file another writer has written and not yet committed is left alone)."""
    referenced = set(project.masks.files().values())
    prefixes = tuple(f"{image_id}-" for image_id in image_ids)
    for name in set(os.listdir(project.masks_dir)) - before - referenced:
        if name.startswith(prefixes) and name.endswith(".png"):
            with contextlib.suppress(OSError):
                (project.masks_dir / name).unlink()
