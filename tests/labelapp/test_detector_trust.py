"""Trust, shown honestly: an unvalidated defect detector raises no warning in the grid or
the editor, a validated one does, a disagreement with the classifier says which model to
believe, and the heat map comes with a legend and a colour scale visible at low values."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from core.jobs import RunRecorder, take_snapshot
from core.store import Project, RunKind
from labelapp.editor import ImageEditor
from labelapp.editor.heatmap import heatmap_color_table
from labelapp.grid import ImageGrid
from labelapp.grid.delegate import PAD, THUMB
from labelapp.training.panel import TrainingPanel


@pytest.fixture()
def project(segdec_project: Path, tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    project = Project.open(root)
    yield project
    project.close()


@pytest.fixture()
def editor(qtbot: QtBot, project: Project) -> Iterator[ImageEditor]:
    widget = ImageEditor()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.set_project(project)
    yield widget
    widget.shutdown()


def show(qtbot: QtBot, editor: ImageEditor, image_id: int) -> None:
    with qtbot.waitSignal(editor.image_shown, timeout=5000):
        editor.show_image(image_id)


def probabilities(project: Project) -> dict[int, float]:
    return project.predictions.defect_probabilities(project.runs.latest(RunKind.SEGDEC).id)


def plain(text: str) -> str:
    return re.sub("<[^>]+>", "", text).replace("&nbsp;", " ").replace("&#9888;", "⚠").replace("&#8800;", "≠")


def badge_color(grid: ImageGrid, qtbot: QtBot, row: int) -> QColor:
    """The colour where a tile's defect badge would be."""
    model, view = grid.model, grid.view
    index = model.index(row)
    view.scrollTo(index)
    qtbot.waitUntil(lambda: model.data(index, Qt.ItemDataRole.DecorationRole) is not None)
    rect = view.visualRect(index)
    left = rect.left() + (view.tile_delegate.cell.width() - THUMB) // 2
    return view.viewport().grab().toImage().pixelColor(
        QPoint(left + 5, rect.top() + PAD + 4 + view.tile_delegate.chip_height // 2))


def is_red(color: QColor) -> bool:
    return color.red() > 150 and color.green() < 90 and color.blue() < 90


def test_an_unvalidated_detector_puts_no_warning_on_tiles_and_says_why(
        qtbot: QtBot, open_grid, project: Project, unvalidate_detector) -> None:
    probability = probabilities(project)
    # the demo's first retrain: too few labels to hold any back, and a threshold every image reaches
    unvalidate_detector(project, threshold=min(probability.values()))
    grid: ImageGrid = open_grid(project)
    grid.set_sort("defect_first")  # the probabilities still order the grid
    model = grid.model
    assert [probability[i] for i in grid.ordered_ids()] == sorted(probability.values(), reverse=True)
    assert not any(model.tile(row).detected for row in range(model.rowCount()))
    assert not is_red(badge_color(grid, qtbot, 0))  # the likeliest image: no red badge
    tip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert f"defect probability {probability[model.image_id(0)]:.2f} (detector not validated yet" in tip
    assert "detected defective" not in tip
    combo = grid.filter_bar.filter_combo
    for kind in ("defective", "missed"):
        position = combo.findData(kind)
        assert position >= 0 and not combo.model().item(position).isEnabled()
        assert "not validated" in combo.itemText(position)
        assert "too few labels to hold any back" in combo.itemData(position, Qt.ItemDataRole.ToolTipRole)
    sorts = grid.filter_bar.sort_combo
    assert "not validated" in sorts.itemText(sorts.findData("defect_first"))
    grid.set_filter("defective")  # even when asked for directly, no image is called defective
    assert len(grid.ordered_ids()) == 0


def test_the_editor_says_not_validated_in_gray_and_validated_in_red(
        qtbot: QtBot, editor: ImageEditor, project: Project, unvalidate_detector, validate_detector) -> None:
    unvalidate_detector(project)
    editor.reload_heatmaps()
    probability = probabilities(project)
    top = max(probability, key=probability.get)
    show(qtbot, editor, top)
    line = editor.defect_info.text()
    assert f"defect {probability[top]:.2f} · detector not validated yet (label more OK and defective images)" in plain(
        line)
    assert "⚠" not in plain(line) and "#e0402a" not in line and "color:gray" in line
    assert "too few labels to hold any back" in editor.defect_info.toolTip()
    assert not editor.defect_reading().detected

    threshold = validate_detector(project)
    editor.reload_heatmaps()  # what the window does after a run or a threshold move
    probability = probabilities(project)
    top = max(probability, key=probability.get)
    show(qtbot, editor, top)
    line = editor.defect_info.text()
    assert f"⚠ defect {probability[top]:.2f} (threshold {threshold:.2f})" in plain(line) and "#e0402a" in line
    assert editor.defect_reading().detected and "alidated on 16 held-out images" in editor.defect_info.toolTip()


def add_classifier_run(project: Project, predicted: dict[int, int], confusion: list[list[int]],
                       classes: list[int]) -> int:
    """A finished classifier run predicting ``predicted`` (image id -> class id) with the
    out-of-fold ``confusion`` over ``classes`` as its validation."""
    ids = np.array(sorted(predicted), dtype=np.int64)
    class_ids = np.array([predicted[i] for i in ids], dtype=np.int64)
    names = [project.classes.get(c).name for c in classes]
    with RunRecorder(project, method="classifier", config={"classes": classes}, snapshot=take_snapshot(project),
                     seed=0) as recorder:
        project.predictions.save(recorder.run.id, ids, class_ids, np.full(len(ids), 0.85), np.full(len(ids), 0.1))
        run = recorder.finish(metrics={"validation": {"accuracy": 0.9, "macro_f1": 0.9, "n": int(np.sum(confusion)),
                                                      "classes": names, "confusion": confusion}})
    return run.id


@pytest.mark.parametrize("classifier_right", [49, 20])
def test_a_disagreement_says_which_model_to_believe(
        qtbot: QtBot, editor: ImageEditor, open_grid, project: Project, validate_detector,
        classifier_right: int) -> None:
    threshold = validate_detector(project)
    probability = probabilities(project)
    ok, crazing = project.classes.get("ok").id, project.classes.get("crazing").id
    flagged = max(probability, key=probability.get)  # the detector calls it defective
    predicted = {i: crazing for i in probability} | {flagged: ok}  # the classifier says OK
    # out of fold, OK vs defective: 49 of 50 right on both kinds, or 20 of 50
    confusion = [[classifier_right, 50 - classifier_right], [50 - classifier_right, classifier_right]]
    add_classifier_run(project, predicted, confusion, [ok, crazing])
    trusted = "classifier" if classifier_right == 49 else "detector"

    editor.reload_heatmaps()
    show(qtbot, editor, flagged)
    line = plain(editor.defect_info.text())
    assert f"defect {probability[flagged]:.2f} (threshold {threshold:.2f})" in line
    assert f"≠ classifier says OK, detector defective: trust the {trusted} (right on" in line
    assert ("⚠" in line) == (trusted == "detector")  # no red warning where the classifier is believed
    assert editor.verdict().trusted == trusted and trusted in editor.defect_info.toolTip()
    agreeing = next(i for i in probability if i != flagged and probability[i] >= threshold)
    show(qtbot, editor, agreeing)
    assert "≠" not in plain(editor.defect_info.text())

    grid: ImageGrid = open_grid(project)
    grid.set_sort("defect_first")
    tile = grid.model.tile(0)
    assert tile.image_id == flagged and tile.detected and tile.overruled == (trusted == "classifier")
    tip = grid.model.data(grid.model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert f"classifier says OK, detector defective: trust the {trusted}" in tip
    color = badge_color(grid, qtbot, 0)
    assert is_red(color) == (trusted == "detector")  # gray where the classifier overrules it
    assert color.red() > 80  # but a badge is there
    assert grid.model.tile(1).disagreement is None


def test_the_colour_scale_is_visible_at_low_values() -> None:
    table = [QColor.fromRgba(c) for c in heatmap_color_table(0.7)]
    alpha = [c.alphaF() for c in table]
    assert all(b >= a for a, b in zip(alpha, alpha[1:], strict=False))  # rises with the value
    assert 0.05 <= alpha[0] <= 0.12  # a faint tint where there is no defect: the surface shows
    assert alpha[40] >= 0.2 and alpha[90] >= 0.33  # 0.16 and 0.35, where weak maps peak, are seen
    assert alpha[255] == pytest.approx(0.7, abs=0.01)
    luminance = [0.3 * c.redF() + 0.59 * c.greenF() + 0.11 * c.blueF() for c in table]
    assert all(b >= a - 1e-3 for a, b in zip(luminance, luminance[1:], strict=False))  # dark to bright


def test_the_legend_shows_with_the_heat_map_and_marks_the_threshold(
        qtbot: QtBot, editor: ImageEditor, project: Project, validate_detector, unvalidate_detector) -> None:
    threshold = validate_detector(project)
    editor.reload_heatmaps()
    show(qtbot, editor, next(iter(probabilities(project))))
    legend = editor.legend
    assert not legend.isVisible()
    editor.toolbar.heatmap_action.trigger()
    assert editor.canvas.heatmap_shown() and legend.isVisible()
    assert legend.threshold() == pytest.approx(threshold)
    image = legend.grab().toImage()
    bar = legend.bar_rect()
    low, high = image.pixelColor(bar.left() + 1, bar.center().y()), image.pixelColor(bar.right() - 1, bar.center().y())
    assert low.lightness() < 40 and high.lightness() > 180 and high.red() > high.blue()  # inferno: dark to yellow
    mark = image.pixelColor(legend.threshold_x(), bar.center().y())
    assert mark == QColor("white")
    editor.toggle_heatmap()
    assert not legend.isVisible()

    unvalidate_detector(project)
    editor.reload_heatmaps()
    editor.toggle_heatmap()
    assert legend.isVisible() and legend.threshold() is None and legend.note() == "not validated"
    editor.show_image(None)  # no image, no heat map: no legend
    assert not legend.isVisible()


def test_the_training_panel_says_whether_the_detector_is_validated(
        qtbot: QtBot, project: Project, unvalidate_detector, validate_detector) -> None:
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_project(project)
    unvalidate_detector(project)
    panel.show_history(project.runs.list())
    text = plain(panel.detector_label.text())
    assert text.startswith("Defect detector #1 is not validated: too few labels to hold any back")
    assert "No image is called defective until it is: label more OK and defective images" in text
    assert "no validation (too few labels)" in panel.history.item(0).text()
    validate_detector(project)
    panel.show_history(project.runs.list())
    assert plain(panel.detector_label.text()).startswith("Defect detector #1: validated on 16 held-out images")
    dialog = panel.show_run_details(1)
    assert "validated on 16 held-out images" in plain(dialog.trust_label.text())
    dialog.close()


def test_status_on_the_command_line_says_whether_the_detector_is_validated(
        capsys: pytest.CaptureFixture, project: Project, unvalidate_detector, validate_detector) -> None:
    import json

    from labelapp.cli.parser import main

    unvalidate_detector(project)
    assert main(["status", str(project.root)]) == 0
    assert "detector  run 1: not validated: too few labels to hold any back" in capsys.readouterr().out
    threshold = validate_detector(project)
    assert main(["status", str(project.root), "--json"]) == 0
    detector = json.loads(capsys.readouterr().out)["detector"]
    assert detector["validated"] and detector["run"] == 1 and detector["threshold"] == pytest.approx(threshold)
