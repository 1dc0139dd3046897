"""Finding the images of a folder, their classes (first-level sub-folder) and masks."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from core.media.imaging import IMAGE_SUFFIXES

MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")
MASK_MARKERS = ("_mask", "_label", "_gt")
PROJECT_INTERNAL = frozenset({"masks", "cache", "runs", "exports"})


@dataclass(frozen=True)
class ScannedFile:
    path: Path
    class_name: str | None
    mask_path: Path | None


@dataclass
class Scan:
    files: list[ScannedFile] = field(default_factory=list)
    ignored: int = 0  # files that are not images
    hidden: int = 0  # files and folders whose name starts with "." (not imported)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path as text, why): never read
    mask_like: int = 0  # image files that look like masks, imported as images (no --masks)
    missing_masks: list[Path] = field(default_factory=list)  # images with no mask found
    folder_classes: list[str] = field(default_factory=list)


def scan_folder(folder: Path, *, labels_from_folders: bool, masks: str | Path | None,
                skip: frozenset[Path] = frozenset()) -> Scan:
    """Lists the images under ``folder`` (recursively, in a stable order).

    Args:
        labels_from_folders: the first-level sub-folder names each image's class.
        masks: ``"auto"`` matches ``<stem>_mask.png`` (or ``<stem>.png`` beside a
            non-PNG image) in the same folder; a folder path reads masks from a tree
            that mirrors ``folder``; None reads no masks.
        skip: folders not to descend into (the project's own folders).
    """
    scan = Scan()
    mask_root = None if masks in (None, "auto") else Path(masks)
    classes: set[str] = set()

    def unlistable(error: OSError) -> None:
        scan.refused.append((printable(error.filename or folder), f"folder cannot be listed: {error.strerror}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unlistable):
        here = Path(dirpath)
        scan.hidden += sum(1 for n in dirnames if n.startswith(".")) + sum(1 for n in filenames if n.startswith("."))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d) not in skip
                             and _listable_name(here / d, scan))
        names = sorted(f for f in filenames if not f.startswith(".") and _importable(here / f, scan))
        by_lower = {n.lower(): n for n in names}
        mask_names = _auto_mask_names(names, by_lower) if masks == "auto" else {}
        for name in names:
            suffix = os.path.splitext(name)[1].lower()
            if suffix not in IMAGE_SUFFIXES:
                scan.ignored += 1
                continue
            if name in mask_names.values():
                continue
            if masks is None and _looks_like_mask(name, by_lower):
                scan.mask_like += 1
            path = here / name
            rel = path.relative_to(folder)
            class_name = rel.parts[0] if labels_from_folders and len(rel.parts) > 1 else None
            if class_name:
                classes.add(class_name)
            mask_path = None
            if masks == "auto":
                found = mask_names.get(name)
                mask_path = here / found if found else None
            elif mask_root is not None:
                mask_path = _mirrored_mask(mask_root / rel)
            if masks is not None and mask_path is None:
                scan.missing_masks.append(path)
            scan.files.append(ScannedFile(path=path, class_name=class_name, mask_path=mask_path))
    scan.folder_classes = sorted(classes, key=str.lower)
    return scan


def printable(path: os.PathLike | str) -> str:
    """A path as text that can be printed and stored, whatever bytes its name holds
    (bytes that are not UTF-8 show as ``\\xff``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _listable_name(path: Path, scan: Scan) -> bool:
    """False (and the folder reported) when its name is not valid UTF-8."""
    if _utf8(path):
        return True
    scan.refused.append((printable(path), "folder name is not valid UTF-8: rename it to import what it holds"))
    return False


def _importable(path: Path, scan: Scan) -> bool:
    """False (and the file reported) for a name that is not valid UTF-8 and for anything
    that is not a regular file once links are followed (a named pipe would block the
    import, a device such as /dev/zero never ends); files without an image suffix are
    counted as ignored by the caller."""
    if os.path.splitext(path.name)[1].lower() not in IMAGE_SUFFIXES:
        return True
    if not _utf8(path):
        scan.refused.append((printable(path), "file name is not valid UTF-8: rename the file to import it"))
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        why = "a link to nothing (broken or looping)" if path.is_symlink() else f"cannot be read: {exc.strerror}"
        scan.refused.append((printable(path), why))
        return False
    if not stat.S_ISREG(mode):
        scan.refused.append((printable(path), f"not a regular file ({_kind(mode)})"))
        return False
    return True


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a folder" if stat.S_ISDIR(mode) else "not a file"


def _auto_mask_names(names: list[str], by_lower: dict[str, str]) -> dict[str, str]:
    """Image file name -> its mask's file name, for the files of one folder."""
    pairs: dict[str, str] = {}
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() not in IMAGE_SUFFIXES or _has_marker(stem):
            continue
        for marker in MASK_MARKERS:
            for mask_suffix in MASK_SUFFIXES:
                candidate = by_lower.get(f"{stem}{marker}{mask_suffix}".lower())
                if candidate:
                    pairs[name] = candidate
                    break
            if name in pairs:
                break
        if name not in pairs and suffix.lower() not in (".png",):
            candidate = by_lower.get(f"{stem}.png".lower())
            if candidate:
                pairs[name] = candidate
    return pairs


def _has_marker(stem: str) -> bool:
    return any(stem.lower().endswith(m) for m in MASK_MARKERS)


def _looks_like_mask(name: str, by_lower: dict[str, str]) -> bool:
    stem, suffix = os.path.splitext(name)
    if _has_marker(stem):
        return True
    return suffix.lower() == ".png" and any(f"{stem}{s}".lower() in by_lower for s in (".jpg", ".jpeg", ".bmp"))


def _mirrored_mask(mirror: Path) -> Path | None:
    stem = mirror.stem
    for candidate in (mirror, *(mirror.with_name(f"{stem}{m}.png") for m in ("",) + MASK_MARKERS),
                      *(mirror.with_suffix(s) for s in MASK_SUFFIXES)):
        if candidate.is_file():
            return candidate
    return None
