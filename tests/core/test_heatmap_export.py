"""Exported heat maps speak of "defective" only for a validated detector, and their
overlays use the editor's colour scale."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.export.heatmaps import CSV_COLUMNS, OVERLAY_OPACITY, export_heatmaps
from core.media.heat_colors import ALPHA_FLOOR, blend_heat, heat_alpha, heat_colors
from core.store import Project, RunKind, StoreError
from core.training.segdec import upsample_heatmap


@pytest.fixture()
def project(segdec_project: Path, tmp_path: Path):
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    with Project.open(root) as project:
        yield project


def set_validation(project: Project, validation: dict | None, threshold: float) -> None:
    run = project.runs.latest(RunKind.SEGDEC)
    metrics = {k: v for k, v in run.metrics.items() if k != "validation"}
    project.runs.update_metrics(run.id, {**metrics, "threshold": threshold,
                                         **({"validation": validation} if validation else {})})


def rows(out: Path) -> tuple[list[str], list[dict]]:
    with open(out / "defect_probabilities.csv") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def test_an_unvalidated_run_calls_nothing_defective(project: Project, tmp_path: Path) -> None:
    set_validation(project, None, threshold=0.0)  # a threshold every image reaches, but no validation
    with pytest.raises(StoreError, match="calls no image defective, it is not validated"):
        export_heatmaps(project, tmp_path / "defective", only="defective")
    export_heatmaps(project, tmp_path / "all")
    header, table = rows(tmp_path / "all")
    assert tuple(header) == CSV_COLUMNS and len(table) == len(project.images.list())
    assert all(row["defective"] == "" and row["threshold"] == "" for row in table)


def test_a_validated_run_marks_the_images_at_its_threshold(project: Project, tmp_path: Path) -> None:
    probability = project.predictions.defect_probabilities(project.runs.latest(RunKind.SEGDEC).id)
    threshold = float(np.median(list(probability.values())))
    set_validation(project, {"n": 20, "defective": 10, "auroc": 0.95, "ap": 0.9, "fp": 1, "fn": 1,
                             "threshold": threshold}, threshold)
    result = export_heatmaps(project, tmp_path / "defective", only="defective")
    header, table = rows(tmp_path / "defective")
    assert tuple(header) == CSV_COLUMNS  # the same names whatever the threshold
    assert result.images == sum(p >= threshold for p in probability.values())
    assert result.below_threshold == len(probability) - result.images
    assert {row["defective"] for row in table} == {"1"}
    assert {row["threshold"] for row in table} == {f"{threshold:.6f}"}
    assert all(float(row["defect_probability"]) >= threshold for row in table)


def test_images_imported_after_the_run_are_counted_not_silently_skipped(project: Project, tmp_path: Path) -> None:
    from core.demo import write_dataset
    from core.importing import ImportOptions, iter_import
    from core.jobs import drain

    before = len(project.images.list())
    later = write_dataset(tmp_path / "later", n_images=5, seed=11, size=64, layout="flat", workers=1)
    drain(iter_import(project, later.root / "images", ImportOptions(workers=1)))
    result = export_heatmaps(project, tmp_path / "out")
    assert (result.images, result.imported_after, result.not_predicted) == (before, 5, 0)
    assert result.without_heatmap == len(project.images.list()) - result.images


def test_overlays_use_the_editor_colour_scale(project: Project, tmp_path: Path) -> None:
    result = export_heatmaps(project, tmp_path / "overlay", overlay=True)
    _header, table = rows(tmp_path / "overlay")
    first = table[0]
    stem = Path(first["image"]).stem
    with Image.open(tmp_path / "overlay" / first["heatmap"]) as heat, \
            Image.open(tmp_path / "overlay" / f"{stem}-overlay.png") as overlay, \
            Image.open(project.images.resolve(first["image"])) as image:
        heat_values = np.asarray(heat, dtype=np.float32) / 255.0
        drawn = np.asarray(overlay.convert("RGB"))
        gray = np.asarray(image.convert("L"))
    assert result.images == len(table)
    assert np.array_equal(drawn, blend_heat(gray, heat_values, OVERLAY_OPACITY))
    assert not np.array_equal(drawn[..., 0], drawn[..., 2])  # coloured, not gray


def test_the_scale_rises_from_a_visible_floor() -> None:
    colors = heat_colors()
    assert colors.shape == (256, 3) and tuple(colors[0]) == (0, 0, 4) and tuple(colors[255]) == (252, 255, 164)
    alpha = heat_alpha(np.linspace(0, 1, 256), 0.7)
    assert alpha[0] == pytest.approx(0.7 * ALPHA_FLOOR) and alpha[-1] == pytest.approx(0.7)
    assert np.all(np.diff(alpha) > 0) and alpha[40] > 0.2  # a weak map (0.16) already shows
    heat = upsample_heatmap(np.full((4, 4), 60, np.uint8), 8, 8)
    tinted = blend_heat(np.full((8, 8), 200, np.uint8), heat, 0.7)
    assert (tinted.astype(int).max(axis=-1) < 200).all()  # weak heat darkens the surface a little
