"""Heat maps of a defect-detector run: written while it predicts, read by the editor,
the exports and "worth a mask".

Each image's map is uint8 (0 = no defect, 255 = sure), one cell per 8x8 block of the
working image, resampled (:func:`models.segdec.heat_on_image_grid`) so that its cells
tile the image exactly: stretched over the image with cell centres on block centres
(:func:`upsample_heatmap`), every value lands on the pixels it was computed from, at
any scale and aspect ratio. Maps differ in size, so a run keeps them back to back in
``heatmaps.u8`` with ``heatmap_index.npy`` ((n, 4) int64: image id, offset, height,
width; sorted by id). Runs written before the detector kept aspect ratios hold one
square map per image in ``heatmaps.npy`` + ``heatmap_ids.npy``; they are read too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.files import atomic_writer
from core.jobs.runs import STREAMING_SUFFIX
from core.store import Project, Run

HEATMAPS = "heatmaps.u8"
HEATMAP_INDEX = "heatmap_index.npy"
LEGACY_HEATMAPS = "heatmaps.npy"
LEGACY_IDS = "heatmap_ids.npy"


class HeatmapWriter:
    """Appends maps to a run folder; :meth:`close` writes the index (sorted by id), and
    :meth:`snapshot` an index of the maps written so far (of a run that streams).
    ``data`` / ``index`` name the two files (other per-image uint8 maps use the format too)."""

    def __init__(self, folder: Path, *, data: str = HEATMAPS, index: str = HEATMAP_INDEX) -> None:
        self._folder = folder
        self._index_name = index
        self._handle = open(folder / data, "wb")  # noqa: SIM115 - closed in close()
        self._rows: list[tuple[int, int, int, int]] = []
        self._offset = 0
        self._snapshot_at: float | None = None

    def add(self, image_id: int, heat: np.ndarray) -> None:
        """``heat`` (h, w) float 0..1 or uint8."""
        heat = np.asarray(heat)
        if heat.dtype != np.uint8:
            heat = (np.clip(heat, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        self._handle.write(np.ascontiguousarray(heat).tobytes())
        self._rows.append((int(image_id), self._offset, int(heat.shape[0]), int(heat.shape[1])))
        self._offset += heat.size

    def snapshot(self, *, every_s: float = 0.0) -> None:
        """Makes the maps written so far readable: their bytes flushed, then the index of
        them written whole (a temp file moved over the last one); not again within
        ``every_s`` seconds of the last snapshot (100,000 maps make a 3 MB index)."""
        now = time.perf_counter()
        if self._snapshot_at is not None and now - self._snapshot_at < every_s:
            return
        self._snapshot_at = now
        self._handle.flush()
        index = np.array(sorted(self._rows), dtype=np.int64).reshape(-1, 4)
        with atomic_writer(self._folder / self._index_name, "wb", durable=False) as handle:
            np.save(handle, index)

    def close(self) -> None:
        self._handle.close()
        index = np.array(sorted(self._rows), dtype=np.int64).reshape(-1, 4)
        np.save(self._folder / self._index_name, index)


def open_maps(folder: Path, *, data: str = HEATMAPS, index: str = HEATMAP_INDEX,
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """(index (n, 4), flat data) of maps a :class:`HeatmapWriter` wrote to ``folder``
    under these names; None without them."""
    if not (folder / index).exists():
        return None
    table = np.load(folder / index)
    size = (folder / data).stat().st_size
    flat = np.memmap(folder / data, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    return table, flat


def read_map(opened: tuple[np.ndarray, np.ndarray], image_id: int) -> np.ndarray | None:
    """One image's map from :func:`open_maps`' result; None when it has none."""
    index, data = opened
    k = int(np.searchsorted(index[:, 0], image_id))
    if k >= len(index) or index[k, 0] != image_id:
        return None
    _, offset, height, width = (int(v) for v in index[k])
    return np.array(data[offset:offset + height * width]).reshape(height, width)


def _open(folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(index (n, 4), flat data) of a run folder, legacy runs converted; None without maps."""
    if (folder / HEATMAP_INDEX).exists():
        return open_maps(folder)
    if (folder / LEGACY_IDS).exists():
        ids = np.load(folder / LEGACY_IDS)
        heat = np.load(folder / LEGACY_HEATMAPS, mmap_mode="r")
        n, h, w = heat.shape
        index = np.stack([ids, np.arange(n) * h * w, np.full(n, h), np.full(n, w)], axis=1).astype(np.int64)
        return index, heat.reshape(-1)
    return None


def load_heatmap(project: Project, run: Run, image_id: int) -> np.ndarray | None:
    """The heat map (h, w) uint8 of one image from a seg-dec run; None when the run has none
    for it (yet: a run that streams its predictions has the maps of those stored)."""
    opened = _open(project.runs_dir / str(run.id))
    if opened is None:
        try:  # streaming: the maps written so far, until they move into the run folder
            opened = _open(project.runs_dir / f"{run.id}{STREAMING_SUFFIX}")
        except (OSError, ValueError):  # moved or removed right now
            opened = None
    if opened is None:
        return None
    return read_map(opened, image_id)


def iter_heatmaps(folder: Path) -> Iterator[tuple[int, np.ndarray]]:
    """(image id, heat map) of every image of a run folder, by id."""
    opened = _open(folder)
    if opened is None:
        return
    index, data = opened
    for image_id, offset, height, width in index.tolist():
        yield image_id, np.asarray(data[offset:offset + height * width]).reshape(height, width)


def upsample_heatmap(heat: np.ndarray, width: int, height: int) -> np.ndarray:
    """A heat map stretched to the image, each cell covering a 1/h by 1/w block of it (cell
    centres on block centres, bilinear in between): float32 (height, width) in 0..1."""
    from PIL import Image as PILImage

    image = PILImage.fromarray(np.asarray(heat, dtype=np.uint8))
    return np.asarray(image.resize((width, height), PILImage.Resampling.BILINEAR), dtype=np.float32) / 255.0
