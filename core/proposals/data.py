"""The images a mask proposer learns from: OK and defective labels at the detector's
working scale, a fifth of each held out to calibrate the proposals."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from core.jobs.base import Progress
from core.jobs.snapshot import LabelSnapshot
from core.proposals.request import HOLD_OUT_FROM, ProposerRequest, labels_advice, too_few
from core.store import Project, StoreError
from core.training.segdec import defect_labels
from core.training.segdec_geometry import Geometry, choose_geometry, largest_defect
from core.training.segdec_pixels import WorkingImages, working_images


@dataclass(frozen=True)
class ProposerData:
    """Labeled images split for a proposer (image ids) and where their pixels are.

    Attributes:
        ok_train / defect_train: what the proposer learns from.
        ok_calib / defect_calib: held out to learn the floor and the score threshold;
            empty when there are too few labels (then the training images calibrate).
        advice: what to label for better proposals, or None.
    """

    geometry: Geometry
    store: WorkingImages
    ok_train: np.ndarray
    defect_train: np.ndarray
    ok_calib: np.ndarray
    defect_calib: np.ndarray
    advice: str | None

    @property
    def held_out(self) -> bool:
        return len(self.ok_calib) > 0 and len(self.defect_calib) > 0

    def calibration_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(OK ids, defective ids) that calibrate: the held-out ones, else the training ones."""
        if self.held_out:
            return self.ok_calib, self.defect_calib
        return self.ok_train, self.defect_train

    def counts(self) -> dict[str, int]:
        return {"ok_train": len(self.ok_train), "defective_train": len(self.defect_train),
                "ok_calibration": len(self.ok_calib), "defective_calibration": len(self.defect_calib)}


def prepare_data(project: Project, snapshot: LabelSnapshot, request: ProposerRequest,
                 cancel: threading.Event | None = None) -> Generator[Progress, None, ProposerData]:
    """Checks the labels, chooses the working scale, decodes the labeled images at it and
    splits them.

    Raises:
        StoreError: too few OK or defective labels to train anything.
    """
    known = defect_labels(project, snapshot)
    ok_count, defective_count = int(np.sum(known.labels == 0)), int(np.sum(known.labels == 1))
    reason = too_few(ok_count, defective_count)
    if reason is not None:
        raise StoreError(reason)
    masked = known.ids[known.has_mask & (known.labels == 1)]
    extents = [e for e in (largest_defect(m) for m in (project.masks.load(int(i)) for i in masked)
                           if m is not None) if e is not None]
    geometry = choose_geometry(project.images.sizes(), extents, defective=defective_count, scale=request.scale)
    store = yield from working_images(project, known.ids, geometry.scale, workers=request.workers, cancel=cancel)
    readable = np.array([int(i) in store.entries for i in known.ids], bool)
    ids, labels = known.ids[readable], known.labels[readable]
    ok, defective = ids[labels == 0], ids[labels == 1]
    reason = too_few(len(ok), len(defective))
    if reason is not None:
        raise StoreError(reason + " (some labeled images could not be read)")
    rng = np.random.default_rng(request.seed)
    ok_calib, defect_calib = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if min(len(ok), len(defective)) >= HOLD_OUT_FROM and request.calibration_fraction > 0:
        ok, ok_calib = _split(rng, ok, request.calibration_fraction)
        defective, defect_calib = _split(rng, defective, request.calibration_fraction)
    return ProposerData(geometry=geometry, store=store, ok_train=ok, defect_train=defective, ok_calib=ok_calib,
                        defect_calib=defect_calib, advice=labels_advice(ok_count, defective_count, request.method))


def _split(rng: np.random.Generator, ids: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out): at least 2 held out, at least 2 kept."""
    order = rng.permutation(ids)
    take = min(len(ids) - 2, max(2, int(round(len(ids) * fraction))))
    return np.sort(order[take:]), np.sort(order[:take])
