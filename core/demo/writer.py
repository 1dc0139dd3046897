"""Writing demo data sets to disk (folder-per-class or flat layout with a truth table)."""

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

from core.demo.render import ALL_CLASSES, parse_size, plan_classes, render_sample
from core.files import write_bytes_atomic

logger = logging.getLogger(__name__)

LAYOUTS = ("folders", "flat")
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
    """One written sample: absolute image and mask paths, class and defect pixel count."""

    file: Path
    class_name: str
    mask_file: Path
    defect_pixels: int


@dataclass(frozen=True)
class DemoManifest:
    """Everything ``write_dataset`` wrote, entries sorted by index."""

    root: Path
    layout: str
    size: int | tuple[int, int]
    seed: int
    entries: tuple[DemoEntry, ...]

    def counts(self) -> dict[str, int]:
        """Return the number of images per class for every class in ``ALL_CLASSES``."""
        counts = dict.fromkeys(ALL_CLASSES, 0)
        for entry in self.entries:
            counts[entry.class_name] += 1
        return counts


def sample_paths(root: Path, layout: str, index: int, class_name: str) -> tuple[Path, Path]:
    """Return the ``(image, mask)`` paths of sample ``index`` for ``layout`` under ``root``."""
    if layout == "folders":
        name = f"{class_name}_{index:05d}.png"
        return root / "images" / class_name / name, root / "masks" / class_name / name
    if layout == "flat":
        name = f"img_{index:05d}.png"
        return root / "images" / name, root / TRUTH_DIR / "masks" / name
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def write_dataset(
    root: Path,
    *,
    n_images: int,
    seed: int = 0,
    size: int | tuple[int, int] = 200,
    layout: str = "folders",
    ok_fraction: float = 0.3,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoManifest:
    """Render and write a demo data set with per-image masks.

    Args:
        root: Output folder (created if needed); existing files with the same names are
            replaced.
        n_images: Number of images.
        seed: Data set seed; the same arguments always give byte-identical pixels.
        size: Square side in pixels or ``(height, width)``.
        layout: ``"folders"`` (``images/<class>/`` + ``masks/<class>/``) or ``"flat"``
            (``images/img_NNNNN.png`` + ``truth/labels.csv`` + ``truth/masks/``).
        ok_fraction: Fraction of defect-free images.
        workers: Worker processes; ``None`` uses ``os.cpu_count()``, 1 renders in-process.
        progress: Called as ``progress(done, total)`` in this process as chunks finish.

    Returns:
        The manifest of written files.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    parse_size(size)
    if seed < 0:
        raise ValueError("seed must be non-negative")
    workers = _resolve_workers(workers)
    root = Path(root).resolve()
    classes = plan_classes(n_images, seed=seed, ok_fraction=ok_fraction)
    _make_folders(root, layout, set(classes))
    items = list(enumerate(classes))
    step = max(1, min(CHUNK_SIZE, math.ceil(n_images / (4 * workers))))
    chunks = [items[i : i + step] for i in range(0, n_images, step)]
    results: list[_Result] = []
    for chunk_results in _run_chunks(root, layout, size, seed, chunks, workers):
        results.extend(chunk_results)
        if progress is not None:
            progress(len(results), n_images)
    results.sort()
    entries = tuple(_entry(root, layout, *result) for result in results)
    if layout == "flat":
        _write_labels(root, entries)
    logger.info("wrote %d demo images (%s layout) to %s", n_images, layout, root)
    return DemoManifest(root=root, layout=layout, size=size, seed=seed, entries=entries)


def _make_folders(root: Path, layout: str, classes: Iterable[str]) -> None:
    """Create the output folders of ``layout``."""
    if layout == "flat":
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / TRUTH_DIR / "masks").mkdir(parents=True, exist_ok=True)
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


def _run_chunks(
    root: Path,
    layout: str,
    size: int | tuple[int, int],
    seed: int,
    chunks: list[list[_Item]],
    workers: int,
) -> Iterator[list[_Result]]:
    """Yield the results of each chunk as it finishes, in-process or in a process pool."""
    workers = min(workers, max(1, len(chunks)))
    if workers == 1:
        for chunk in chunks:
            yield _write_chunk(str(root), layout, size, seed, chunk)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future[list[_Result]]] = {
            pool.submit(_write_chunk, str(root), layout, size, seed, chunk) for chunk in chunks
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


def _write_chunk(
    root: str, layout: str, size: int | tuple[int, int], seed: int, items: list[_Item]
) -> list[_Result]:
    """Render and write one chunk of samples; runs in a worker process or in-process."""
    results: list[_Result] = []
    for index, class_name in items:
        sample = render_sample(index, seed=seed, size=size, class_name=class_name)
        image_path, mask_path = sample_paths(Path(root), layout, index, class_name)
        save_png_atomic(sample.image, image_path)
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
    return DemoEntry(file=image_path, class_name=class_name, mask_file=mask_path, defect_pixels=defect_pixels)


def _write_labels(root: Path, entries: Iterable[DemoEntry]) -> None:
    """Write ``truth/labels.csv`` (paths relative to ``root`` with forward slashes)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(LABELS_HEADER)
    for entry in entries:
        image = entry.file.relative_to(root).as_posix()
        mask = entry.mask_file.relative_to(root).as_posix()
        writer.writerow((image, entry.class_name, mask, entry.defect_pixels))
    write_bytes_atomic(root / TRUTH_DIR / LABELS_FILE, text.getvalue().encode("utf-8"))


def read_truth(root: Path) -> dict[str, str]:
    """Return ``{relative file: class}`` of a demo data set.

    Reads ``truth/labels.csv`` (flat layout). Without it, falls back to the folder names of
    a ``folders`` layout (``images/<class>/<file>.png``).

    Raises:
        FileNotFoundError: If neither a truth table nor class folders exist.
    """
    root = Path(root)
    labels = root / TRUTH_DIR / LABELS_FILE
    if labels.is_file():
        with labels.open(newline="", encoding="utf-8") as handle:
            return {row["file"]: row["class"] for row in csv.DictReader(handle)}
    images = root / "images"
    found = {
        path.relative_to(root).as_posix(): path.parent.name
        for path in sorted(images.glob("*/*.png"))
        if path.parent.name in ALL_CLASSES
    }
    if not found:
        raise FileNotFoundError(f"no {TRUTH_DIR}/{LABELS_FILE} or class folders under {root}")
    return found
