"""Writing demo data sets to disk: folder-per-class, flat with a truth table, or masks beside."""

from __future__ import annotations

import csv
import io
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.demo.kinds import KINDS, OK_CLASS, STEEL, demo_kind
from core.demo.render import parse_size, plan_classes, render_sample
from core.files import write_bytes_atomic

logger = logging.getLogger(__name__)

LAYOUTS = ("folders", "flat", "beside")
MASK_SUFFIX = "_mask"
"""Stem suffix of a mask file in the ``beside`` layout (what ``import --masks auto`` finds)."""
TRUTH_DIR = "truth"
LABELS_FILE = "labels.csv"
LABELS_HEADER = ("file", "class", "mask", "defect_pixels")
CHUNK_SIZE = 64
PNG_COMPRESS_LEVEL = 1
"""zlib level for written PNGs: fast encoding matters more than a few percent of size."""

_Item = tuple[int, str]
_Result = tuple[int, str, int]


@dataclass(frozen=True)
class DemoEntry:
    """One written sample: absolute image and mask paths, class and defect pixel count.

    ``mask_file`` is None where no mask was written (OK images of the ``beside`` layout).
    """

    file: Path
    class_name: str
    mask_file: Path | None
    defect_pixels: int


@dataclass(frozen=True)
class DemoManifest:
    """Everything ``write_dataset`` wrote, entries sorted by index."""

    root: Path
    layout: str
    size: int | tuple[int, int]
    seed: int
    entries: tuple[DemoEntry, ...]
    kind: str = STEEL.name

    def counts(self) -> dict[str, int]:
        """Return the number of images per class for every class of the kind."""
        counts = dict.fromkeys(demo_kind(self.kind).classes, 0)
        for entry in self.entries:
            counts[entry.class_name] += 1
        return counts


def sample_paths(root: Path, layout: str, index: int, class_name: str) -> tuple[Path, Path]:
    """Return the ``(image, mask)`` paths of sample ``index`` for ``layout`` under ``root``.

    The ``beside`` layout writes no mask for OK images; its mask path is where one would go.
    """
    if layout == "folders":
        name = f"{class_name}_{index:05d}.png"
        return root / "images" / class_name / name, root / "masks" / class_name / name
    if layout == "flat":
        name = f"img_{index:05d}.png"
        return root / "images" / name, root / TRUTH_DIR / "masks" / name
    if layout == "beside":
        stem = f"img_{index:05d}"
        return root / class_name / f"{stem}.png", root / class_name / f"{stem}{MASK_SUFFIX}.png"
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def write_dataset(
    root: Path,
    *,
    n_images: int,
    seed: int = 0,
    size: int | tuple[int, int] | None = None,
    layout: str = "folders",
    ok_fraction: float | None = None,
    kind: str = STEEL.name,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoManifest:
    """Render and write a demo data set with per-image masks.

    Args:
        root: Output folder (created if needed); existing files with the same names are
            replaced.
        n_images: Number of images.
        seed: Data set seed; the same arguments always give byte-identical pixels.
        size: Square side in pixels or ``(height, width)``; None takes the kind's default
            (for ``cracks`` the nominal size: heights vary a little between images).
        layout: ``"folders"`` (``images/<class>/`` + ``masks/<class>/``), ``"flat"``
            (``images/img_NNNNN.png`` + ``truth/labels.csv`` + ``truth/masks/``) or
            ``"beside"`` (``<class>/img_NNNNN.png`` with ``img_NNNNN_mask.png`` beside
            each defective image, none for OK images: ``import --masks auto`` reads them).
        ok_fraction: Fraction of defect-free images; None takes the kind's default.
        kind: Kind of part, one of ``KINDS``.
        workers: Worker processes; ``None`` uses ``os.cpu_count()``, 1 renders in-process.
        progress: Called as ``progress(done, total)`` in this process as chunks finish.

    Returns:
        The manifest of written files.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    size = demo_kind(kind).default_size if size is None else size
    parse_size(size)
    if seed < 0:
        raise ValueError("seed must be non-negative")
    workers = _resolve_workers(workers)
    root = Path(root).resolve()
    classes = plan_classes(n_images, seed=seed, ok_fraction=ok_fraction, kind=kind)
    _make_folders(root, layout, set(classes))
    items = list(enumerate(classes))
    step = max(1, min(CHUNK_SIZE, math.ceil(n_images / (4 * workers))))
    chunks = [items[i : i + step] for i in range(0, n_images, step)]
    results: list[_Result] = []
    job = _Job(root=str(root), layout=layout, size=size, seed=seed, kind=kind)
    for chunk_results in _run_chunks(job, chunks, workers):
        results.extend(chunk_results)
        if progress is not None:
            progress(len(results), n_images)
    results.sort()
    entries = tuple(_entry(root, layout, *result) for result in results)
    if layout == "flat":
        _write_labels(root, entries)
    logger.info("wrote %d %s demo images (%s layout) to %s", n_images, kind, layout, root)
    return DemoManifest(root=root, layout=layout, size=size, seed=seed, entries=entries, kind=kind)


@dataclass(frozen=True)
class _Job:
    """What every chunk of one ``write_dataset`` call shares (picklable for workers)."""

    root: str
    layout: str
    size: int | tuple[int, int]
    seed: int
    kind: str


def _make_folders(root: Path, layout: str, classes: Iterable[str]) -> None:
    """Create the output folders of ``layout``."""
    if layout == "flat":
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / TRUTH_DIR / "masks").mkdir(parents=True, exist_ok=True)
        return
    if layout == "beside":
        for name in classes:
            (root / name).mkdir(parents=True, exist_ok=True)
        return
    for name in classes:
        (root / "images" / name).mkdir(parents=True, exist_ok=True)
        (root / "masks" / name).mkdir(parents=True, exist_ok=True)


def _resolve_workers(workers: int | None) -> int:
    """Return the worker count: ``os.cpu_count()`` for ``None``, else ``workers`` (>= 1)."""
    if workers is None:
        return os.cpu_count() or 1
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return workers


def _run_chunks(job: _Job, chunks: list[list[_Item]], workers: int) -> Iterator[list[_Result]]:
    """Yield the results of each chunk as it finishes, in-process or in a process pool."""
    workers = min(workers, max(1, len(chunks)))
    if workers == 1:
        for chunk in chunks:
            yield _write_chunk(job, chunk)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future[list[_Result]]] = {
            pool.submit(_write_chunk, job, chunk) for chunk in chunks
        }
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            # Stop queued chunks early when the consumer fails or gives up (e.g. a cancelling
            # progress callback); running chunks finish before the pool shuts down.
            for future in pending:
                future.cancel()


def _write_chunk(job: _Job, items: list[_Item]) -> list[_Result]:
    """Render and write one chunk of samples; runs in a worker process or in-process."""
    results: list[_Result] = []
    for index, class_name in items:
        sample = render_sample(index, seed=job.seed, size=job.size, class_name=class_name, kind=job.kind)
        image_path, mask_path = sample_paths(Path(job.root), job.layout, index, class_name)
        save_png_atomic(sample.image, image_path)
        if _has_mask_file(job.layout, class_name):
            save_png_atomic(sample.mask.astype(np.uint8) * np.uint8(255), mask_path)
        results.append((index, class_name, int(sample.mask.sum())))
    return results


def save_png_atomic(array: np.ndarray, path: Path) -> None:
    """Write a uint8 ``(H, W)`` array as an 8-bit grey PNG via a temp file and ``os.replace``."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL
    )
    write_bytes_atomic(path, buffer.getvalue(), durable=False)  # regenerable from the seed


def _entry(root: Path, layout: str, index: int, class_name: str, defect_pixels: int) -> DemoEntry:
    """Build the manifest entry of one written sample."""
    image_path, mask_path = sample_paths(root, layout, index, class_name)
    mask_file = mask_path if _has_mask_file(layout, class_name) else None
    return DemoEntry(file=image_path, class_name=class_name, mask_file=mask_file, defect_pixels=defect_pixels)


def _has_mask_file(layout: str, class_name: str) -> bool:
    """Return whether ``layout`` writes a mask file for an image of ``class_name``."""
    return layout != "beside" or class_name != OK_CLASS


def _write_labels(root: Path, entries: Iterable[DemoEntry]) -> None:
    """Write ``truth/labels.csv`` (paths relative to ``root`` with forward slashes)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(LABELS_HEADER)
    for entry in entries:
        image = entry.file.relative_to(root).as_posix()
        mask = entry.mask_file.relative_to(root).as_posix() if entry.mask_file is not None else ""
        writer.writerow((image, entry.class_name, mask, entry.defect_pixels))
    write_bytes_atomic(root / TRUTH_DIR / LABELS_FILE, text.getvalue().encode("utf-8"))


def read_truth(root: Path) -> dict[str, str]:
    """Return ``{relative file: class}`` of a demo data set.

    Reads ``truth/labels.csv`` (flat layout). Without it, falls back to the class folders
    of a ``folders`` layout (``images/<class>/<file>.png``) or, failing that, of a
    ``beside`` layout (``<class>/<file>.png``, mask files left out). Folders count as
    classes when they carry the name of a class of any kind.

    Raises:
        FileNotFoundError: If neither a truth table nor class folders exist.
    """
    root = Path(root)
    labels = root / TRUTH_DIR / LABELS_FILE
    if labels.is_file():
        with labels.open(newline="", encoding="utf-8") as handle:
            return {row["file"]: row["class"] for row in csv.DictReader(handle)}
    known = {name for kind in KINDS for name in demo_kind(kind).classes}
    found: dict[str, str] = {}
    for pattern in ("images/*/*.png", "*/*.png"):
        found = {
            path.relative_to(root).as_posix(): path.parent.name
            for path in sorted(root.glob(pattern))
            if path.parent.name in known and not path.stem.endswith(MASK_SUFFIX)
        }
        if found:
            return found
    raise FileNotFoundError(f"no {TRUTH_DIR}/{LABELS_FILE} or class folders under {root}")
