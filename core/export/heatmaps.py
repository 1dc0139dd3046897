"""Writes a defect-detector run's heat maps as PNGs the size of each image, with a CSV.

``<out>/<stem>-heatmap.png`` is gray (0 = no defect, 255 = sure), stretched to the image
as the model saw it; ``--overlay`` adds ``<stem>-overlay.png``, the image with the heat
map drawn over it in the editor's colour scale (:mod:`core.media.heat_colors`).
``defect_probabilities.csv`` lists every written image with its probability and, when
the run is validated (:func:`core.training.trust.detector_trust`), whether it is at or
above the run's threshold (column ``defective_at_<threshold>``); an unvalidated run calls
nothing defective: the column is ``defective_not_validated`` and left empty, and
``only="defective"`` is refused.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import atomic_writer, unique_stem
from core.media.heat_colors import blend_heat
from core.store import Project, RunKind, StoreError
from core.training.heatmaps import iter_heatmaps, upsample_heatmap
from core.training.trust import detector_trust

OVERLAY_OPACITY = 0.7  # the editor's default heat-map opacity


@dataclass(frozen=True)
class HeatmapExport:
    run_id: int
    out: Path
    images: int
    skipped: tuple[str, ...]
    csv: Path


def export_heatmaps(project: Project, out: Path, *, run_id: int | None = None, only: str = "all",
                    overlay: bool = False) -> HeatmapExport:
    from PIL import Image as PILImage

    from core.media.imaging import UnreadableImageError, decode

    run = project.runs.latest(RunKind.SEGDEC) if run_id is None else project.runs.get(run_id)
    if run is None or run.kind is not RunKind.SEGDEC:
        raise StoreError("no defect-detector run: train one first (labelapp train PROJECT --method segdec)"
                         if run_id is None else f"run {run_id} is not a defect-detector run")
    trust = detector_trust(run)
    if only == "defective" and not trust.validated:
        raise StoreError(f"run {run.id} calls no image defective, it is {trust.why}; export --only all")
    folder = project.runs_dir / str(run.id)
    threshold = trust.threshold
    probability = project.predictions.defect_probabilities(run.id)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped, rows, used = 0, [], [], set()
    for image_id, heat in iter_heatmaps(folder):
        p = probability.get(image_id)
        if p is None or (only == "defective" and not trust.calls_defective(p)):
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
        rows.append((image.path, f"{stem}-heatmap.png", f"{p:.6f}",
                     int(trust.calls_defective(p)) if trust.validated else ""))
        written += 1
    table = out / "defect_probabilities.csv"
    with atomic_writer(table, "w") as handle:
        writer = csv.writer(handle)
        verdict = f"defective_at_{threshold:.4f}" if threshold is not None else "defective_not_validated"
        writer.writerow(("image", "heatmap", "defect_probability", verdict))
        writer.writerows(rows)
    return HeatmapExport(run_id=run.id, out=out, images=written, skipped=tuple(skipped), csv=table)


def _save_png(image, path: Path) -> None:
    with atomic_writer(path, "wb", durable=False) as handle:  # thousands of files: no fsync each
        image.save(handle, format="PNG")
