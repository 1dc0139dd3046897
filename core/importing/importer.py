"""``import_folder``: add a folder of images to a project, with labels and masks.

The work per file (read, hash, full decode, thumbnail, mask) runs in worker
processes on every core; the calling thread writes the store in batches, each batch
one transaction, so an interrupted import keeps every batch it committed and can
simply be run again (known files are recognised by path and content hash).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.importing.scan import PROJECT_INTERNAL, Scan, ScannedFile, scan_folder
from core.importing.worker import FileResult, FileTask, process_chunk
from core.jobs.worker import exit_with_parent
from core.store import ClassKind, NewImage, Project, default_actor
from core.store.thumbnails import ThumbnailCache

CHUNK = 32
DEFAULT_MASK_CLASS = "defect"


@dataclass(frozen=True)
class ImportOptions:
    labels_from_folders: bool = False
    ok_class: str | None = None
    masks: str | Path | None = None  # "auto", a folder, or None
    actor: str = field(default_factory=default_actor)
    source: str = "import"
    workers: int | None = None  # None: every core; 1: no worker processes
    batch: int = 256  # files per transaction


@dataclass(frozen=True)
class ImportIssue:
    path: str
    reason: str


@dataclass(frozen=True)
class ImportProgress:
    phase: str  # "scan" or "read"
    done: int
    total: int
    added: int
    failed: int


@dataclass
class ImportReport:
    folder: str
    scanned: int = 0
    added: int = 0
    already_present: int = 0
    duplicates: list[ImportIssue] = field(default_factory=list)
    failed: list[ImportIssue] = field(default_factory=list)
    labels_set: int = 0
    unlabeled_in_root: int = 0
    label_conflicts: list[ImportIssue] = field(default_factory=list)
    masks_set: int = 0
    masks_nonempty: int = 0
    mask_issues: list[ImportIssue] = field(default_factory=list)
    missing_masks: int = 0
    folder_classes: list[str] = field(default_factory=list)
    classes_created: list[str] = field(default_factory=list)
    ignored_files: int = 0
    hidden_files: int = 0  # names starting with "." (files and folders), not imported
    mask_like_files: int = 0
    cancelled: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if not isinstance(v, list)}
        for key in ("duplicates", "failed", "label_conflicts", "mask_issues"):
            data[key] = [{"path": i.path, "reason": i.reason} for i in getattr(self, key)]
        data["classes_created"] = list(self.classes_created)
        data["folder_classes"] = list(self.folder_classes)
        return data


def import_folder(project: Project, folder: Path | str, options: ImportOptions | None = None,
                  **kwargs: object) -> ImportReport:
    """Imports ``folder`` into ``project`` and returns the report (see :func:`iter_import`)."""
    gen = iter_import(project, folder, options or ImportOptions(**kwargs))  # type: ignore[arg-type]
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def iter_import(project: Project, folder: Path | str, options: ImportOptions,
                cancel: threading.Event | None = None) -> Generator[ImportProgress, None, ImportReport]:
    """The import as a job: yields progress, returns the report.

    Unreadable, truncated, empty or oversized files are reported and skipped. Setting
    ``cancel`` stops after the batch in flight; what was committed stays.
    """
    started = time.perf_counter()
    folder = Path(os.path.abspath(folder))
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    labels_from_folders = options.labels_from_folders or options.ok_class is not None
    skip = frozenset(project.root / d for d in PROJECT_INTERNAL)
    yield ImportProgress(phase="scan", done=0, total=0, added=0, failed=0)
    scan = scan_folder(folder, labels_from_folders=labels_from_folders, masks=options.masks, skip=skip)
    report = ImportReport(folder=str(folder), scanned=len(scan.files), ignored_files=scan.ignored,
                          hidden_files=scan.hidden, mask_like_files=scan.mask_like,
                          missing_masks=len(scan.missing_masks), folder_classes=list(scan.folder_classes),
                          failed=[ImportIssue(path=path, reason=why) for path, why in scan.refused])
    report.unlabeled_in_root = sum(1 for f in scan.files if labels_from_folders and f.class_name is None)
    class_ids = _ensure_classes(project, scan, options, report)
    writer = _BatchWriter(project, options, report, class_ids)
    try:
        for results in _run_tasks(writer.tasks(scan.files), options.workers, writer.palette,
                                  chunk=min(CHUNK, options.batch)):
            writer.add(results)
            if writer.pending >= options.batch:
                writer.commit()
                yield writer.progress()
                if cancel is not None and cancel.is_set():
                    report.cancelled = True
                    break
        writer.commit()
        yield writer.progress()
    finally:
        writer.close()
    report.seconds = time.perf_counter() - started
    return report


def _ensure_classes(project: Project, scan: Scan, options: ImportOptions, report: ImportReport) -> dict:
    ok_name = options.ok_class
    names = list(scan.folder_classes)
    if ok_name is not None and ok_name not in names:
        report.label_conflicts.append(ImportIssue(path=ok_name, reason="no sub-folder with the OK class name"))
    if any(f.mask_path is not None and f.class_name is None for f in scan.files):
        names.append(DEFAULT_MASK_CLASS)
    ids = {}
    with project.transaction():
        for name in names:
            existing = project.classes.find(name)
            if existing is None:
                kind = ClassKind.OK if ok_name is not None and name == ok_name else ClassKind.DEFECT
                existing = project.classes.add(name, kind=kind, actor=options.actor, source=options.source)
                report.classes_created.append(existing.name)
            ids[name] = existing
    return ids


class _BatchWriter:
    """Turns worker results into store rows, one transaction per batch."""

    def __init__(self, project: Project, options: ImportOptions, report: ImportReport, classes: dict) -> None:
        self.project = project
        self.options = options
        self.report = report
        self.classes = classes
        self.palette = project.masks.palette()
        self.thumbs = ThumbnailCache(project.cache_dir)
        self.files: list[ScannedFile] = []
        self.known_by_path: dict[str, tuple[int, int, int, int]] = {}
        self.batch: list[FileResult] = []
        self.seen_hashes: dict[str, str] = {}
        self.done = 0
        self.total = 0

    @property
    def pending(self) -> int:
        return len(self.batch)

    def tasks(self, files: list[ScannedFile]) -> list[FileTask]:
        self.files = files
        self.total = len(files)
        known = self.project.images.table()
        sizes = zip(known.ids.tolist(), known.file_sizes.tolist(), known.widths.tolist(), known.heights.tolist(),
                    strict=True)
        self.known_by_path = dict(zip(known.paths, sizes, strict=True))
        # an image whose thumbnail is gone (the cache is safe to delete) is read again
        unthumbed = self.thumbs.missing(known.hashes)
        unthumbed_paths = {path for path, h in zip(known.paths, known.hashes, strict=True) if h in unthumbed}
        masked = set(self.project.masks.all())
        tasks = []
        for index, f in enumerate(files):
            stored = self.project.images.stored_path(f.path)
            known = self.known_by_path.get(stored)
            mask_class = self._mask_class_id(f)
            if known is not None and stored not in unthumbed_paths and _same_size(f.path, known[1]):
                mask_path = None if known[0] in masked else f.mask_path
                tasks.append(FileTask(index, f.path, mask_path, mask_class, known_size=(known[2], known[3])))
            else:
                tasks.append(FileTask(index, f.path, f.mask_path, mask_class))
        return tasks

    def _mask_class_id(self, f: ScannedFile) -> int:
        name = f.class_name if f.class_name is not None else DEFAULT_MASK_CLASS
        cls = self.classes.get(name)
        return cls.id if cls is not None else 0

    def add(self, results: list[FileResult]) -> None:
        self.batch.extend(results)
        self.done += len(results)

    def progress(self) -> ImportProgress:
        return ImportProgress(phase="read", done=self.done, total=self.total, added=self.report.added,
                              failed=len(self.report.failed))

    def commit(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        thumbs = []
        with self.project.transaction():
            for result in sorted(batch, key=lambda r: r.index):
                image_id = self._image_row(result)
                if image_id is None:
                    continue
                self._label_and_mask(image_id, result)
                if result.thumbnail:
                    thumbs.append((result.hash, result.thumb_size[0], result.thumb_size[1], result.thumbnail))
        if thumbs:
            self.thumbs.put_many(thumbs)

    def _image_row(self, r: FileResult) -> int | None:
        f = self.files[r.index]
        stored = self.project.images.stored_path(f.path)
        if r.error is not None:
            self.report.failed.append(ImportIssue(path=str(f.path), reason=r.error))
            return None
        if not r.hash:  # known path, unchanged size: nothing read but the mask
            self.report.already_present += 1
            return self.known_by_path[stored][0]
        earlier = self.seen_hashes.get(r.hash)
        existing = self.project.images.by_hashes([r.hash]).get(r.hash)
        if existing is not None:
            if existing.path == stored:
                self.report.already_present += 1
                return existing.id
            self.report.duplicates.append(ImportIssue(
                path=str(f.path), reason=f"same content as {earlier or existing.path}"))
            return None
        if stored in self.known_by_path:
            self.report.failed.append(ImportIssue(
                path=str(f.path), reason="file content changed since it was imported; kept the old record"))
            return None
        (image_id,) = self.project.images.add_many([NewImage(
            path=stored, hash=r.hash, width=r.width, height=r.height, channels=r.channels,
            bit_depth=r.bit_depth, mode=r.mode, gray=r.gray, file_size=r.file_size, mtime=r.mtime)])
        self.seen_hashes[r.hash] = str(f.path)
        self.report.added += 1
        return image_id

    def _label_and_mask(self, image_id: int, r: FileResult) -> None:
        f = self.files[r.index]
        actor, source = self.options.actor, self.options.source
        cls = self.classes.get(f.class_name) if f.class_name else None
        if cls is not None:
            current = self.project.labels.get(image_id)
            if current is None:
                self.report.labels_set += self.project.labels.apply([(image_id, cls)], actor=actor, source=source)
            elif current.class_id != cls.id:
                self.report.label_conflicts.append(ImportIssue(
                    path=str(f.path), reason=f"labeled {current.class_name!r} in the project, folder says"
                    f" {cls.name!r}; kept {current.class_name!r}"))
        if r.mask_error is not None:
            self.report.mask_issues.append(ImportIssue(path=str(f.path), reason=r.mask_error))
        elif r.mask_pixels >= 0:
            self._mask(image_id, r, cls, f)

    def _mask(self, image_id: int, r: FileResult, cls, f: ScannedFile) -> None:
        if cls is not None and cls.kind is ClassKind.OK and r.mask_pixels > 0:
            self.report.mask_issues.append(ImportIssue(
                path=str(f.path), reason=f"mask has {r.mask_pixels} defect pixels but the image is in the"
                f" OK folder {cls.name!r}; mask not imported"))
            return
        if self.project.masks.info(image_id) is not None:
            return
        ids = (self._mask_class_id(f),) if r.mask_pixels > 0 else ()
        self.project.masks.save_encoded(image_id, r.mask_png, r.mask_pixels, ids,
                                        actor=self.options.actor, source=self.options.source)
        self.report.masks_set += 1
        self.report.masks_nonempty += int(r.mask_pixels > 0)

    def close(self) -> None:
        self.thumbs.close()


def _same_size(path: Path, size: int) -> bool:
    try:
        return os.stat(path).st_size == size
    except OSError:
        return False


def _run_tasks(tasks: list[FileTask], workers: int | None, palette: dict, *,
               chunk: int = CHUNK) -> Iterator[list[FileResult]]:
    """Runs the tasks in chunks, on worker processes when there is enough work."""
    chunks = [tasks[i:i + chunk] for i in range(0, len(tasks), chunk)]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(tasks) < 2 * CHUNK:
        for part in chunks:
            yield process_chunk(part, palette)
        return
    context = multiprocessing.get_context("spawn")  # safe next to Qt and torch threads
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=exit_with_parent) as pool:
        window = 4 * workers  # bounded: results hold thumbnails and masks
        pending: set[cf.Future] = set()
        queue = iter(chunks)
        try:
            for part in queue:
                pending.add(pool.submit(process_chunk, part, palette))
                if len(pending) >= window:
                    done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            for future in cf.as_completed(pending):
                yield future.result()
        finally:
            for future in pending:
                future.cancel()
