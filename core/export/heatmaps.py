"""Writes a defect-detector run's heat maps as PNGs the size of each image, with a CSV.

``<out>/<stem>-heatmap.png`` is gray (0 = no defect, 255 = sure), stretched to the image
as the model saw it; ``--overlay`` adds ``<stem>-overlay.png``, the image with the heat
map drawn over it in the editor's colour scale (:mod:`core.media.heat_colors`).
``defect_probabilities.csv`` (comma-separated, ``\\n`` line ends, a header row) lists
every written image, one row each, in the columns of :data:`CSV_COLUMNS`:

- ``image``: the image's path as the project stores it;
- ``heatmap``: the PNG's file name in the output folder;
- ``defect_probability``: 0..1, six decimals;
- ``threshold``: the run's decision threshold, the same in every row; empty when the run
  is not validated (:func:`core.training.trust.detector_trust`);
- ``defective``: 1 at or above the threshold, 0 below; empty when the run is not
  validated: an unvalidated run calls nothing defective (and ``only="defective"`` is
  refused).

The result counts the project's images that got no heat map, by reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import atomic_writer, unique_stem
from core.media.heat_colors import blend_heat
from core.store import NeedsTrainingError, PredictionState, Project, Run, RunKind, StoreError
from core.training.heatmaps import iter_heatmaps, upsample_heatmap
from core.training.trust import detector_trust

OVERLAY_OPACITY = 0.7  # the editor's default heat-map opacity
CSV_NAME = "defect_probabilities.csv"
CSV_COLUMNS = ("image", "heatmap", "defect_probability", "threshold", "defective")


@dataclass(frozen=True)
class HeatmapExport:
    """What an export wrote, and what it left out.

    Attributes:
        images: heat maps written.
        skipped: images whose overlay was not written (their file could not be read).
        imported_after: images added to the project after the run started: it has no
            heat map of them.
        not_predicted: other images without a heat map from the run (``not_predicted_why``
            says why).
        below_threshold: images left out by ``only="defective"``.
    """

    run_id: int
    out: Path
    images: int
    skipped: tuple[str, ...]
    csv: Path
    imported_after: int = 0
    not_predicted: int = 0
    not_predicted_why: str = ""
    below_threshold: int = 0
    threshold: float | None = None

    @property
    def without_heatmap(self) -> int:
        return self.imported_after + self.not_predicted


def export_heatmaps(project: Project, out: Path, *, run_id: int | None = None, only: str = "all",
                    overlay: bool = False) -> HeatmapExport:
    from PIL import Image as PILImage

    from core.media.imaging import UnreadableImageError, decode

    run = project.runs.latest(RunKind.SEGDEC) if run_id is None else project.runs.get(run_id)
    if run is None:
        raise NeedsTrainingError("no defect-detector run yet (it needs labeled OK and defective images)",
                                 needs=RunKind.SEGDEC)
    if run.kind is not RunKind.SEGDEC:
        raise StoreError(f"run {run_id} is not a defect-detector run")
    trust = detector_trust(run)
    if only == "defective" and not trust.validated:
        raise StoreError(f"run {run.id} calls no image defective, it is {trust.why}; export --only all")
    folder = project.runs_dir / str(run.id)
    threshold = trust.threshold
    probability = project.predictions.defect_probabilities(run.id)
    out.mkdir(parents=True, exist_ok=True)
    skipped, rows, used, seen, below = [], [], set(), set(), 0
    for image_id, heat in iter_heatmaps(folder):
        p = probability.get(image_id)
        if p is None:
            continue
        seen.add(image_id)
        if only == "defective" and not trust.calls_defective(p):
            below += 1
            continue
        image = project.images.get(image_id)
        stem = unique_stem(Path(image.path).stem, used)
        heat_image = (upsample_heatmap(heat, image.width, image.height) * 255 + 0.5).astype(np.uint8)
        _save_png(PILImage.fromarray(heat_image, mode="L"), out / f"{stem}-heatmap.png")
        if overlay:
            try:
                pixels = decode(project.images.resolve(image.path).read_bytes()).pixels
            except (OSError, UnreadableImageError):
                skipped.append(image.path)
            else:
                gray = np.asarray(PILImage.fromarray(pixels).convert("L"))
                blended = blend_heat(gray, heat_image.astype(np.float32) / 255.0, OVERLAY_OPACITY)
                _save_png(PILImage.fromarray(blended, mode="RGB"), out / f"{stem}-overlay.png")
        rows.append((image.path, f"{stem}-heatmap.png", f"{p:.6f}", "" if threshold is None else f"{threshold:.6f}",
                     int(trust.calls_defective(p)) if trust.validated else ""))
    table = out / CSV_NAME
    with atomic_writer(table, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    newer = sum(1 for image in project.images.list() if image.id not in seen and image.added_at > run.started_at)
    others = project.images.count() - len(seen) - newer
    return HeatmapExport(run_id=run.id, out=out, images=len(rows), skipped=tuple(skipped), csv=table,
                         imported_after=newer, not_predicted=others, not_predicted_why=_why_not_predicted(run),
                         below_threshold=below, threshold=threshold)


def _why_not_predicted(run: Run) -> str:
    """Why a run that saw an image has no heat map of it."""
    if run.prediction_state is PredictionState.STREAMING:
        return f"run {run.id} is still predicting"
    if run.prediction_state is PredictionState.PARTIAL:
        return f"run {run.id} stopped before predicting them"
    return f"their files could not be read when run {run.id} predicted"


def _save_png(image, path: Path) -> None:
    with atomic_writer(path, "wb", durable=False) as handle:  # thousands of files: no fsync each
        image.save(handle, format="PNG")
