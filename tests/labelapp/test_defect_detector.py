"""The defect detector in the main window: a seg-dec run's details and threshold, the
worth-a-mask list and its key, and a retrain that trains the detector."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from core.jobs import RunRecorder, take_snapshot
from core.store import Project
from labelapp.shell.main_window import MainWindow
from labelapp.training.controller import TARGET_RECALL_KEY
from labelapp.training.detection_details import DetectionDetailsDialog
from labelapp.training.panel import run_summary

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def window(open_window, segdec_project: Path) -> MainWindow:
    return open_window(segdec_project, height=860)


def store(window: MainWindow) -> Project:
    """A second connection, as another process would see the project."""
    return Project.open(window.project.root)


def open_details(qtbot, window: MainWindow, run_id: int) -> DetectionDetailsDialog:
    history = window.training_panel.history
    row = next(r for r in range(history.count()) if history.item(r).data(Qt.ItemDataRole.UserRole) == run_id)
    rect = history.visualItemRect(history.item(row))
    window.training_dock.show()
    window.training_dock.raise_()
    qtbot.mouseClick(history.viewport(), LEFT, pos=rect.center())
    qtbot.mouseDClick(history.viewport(), LEFT, pos=rect.center())
    dialog = window.training_panel.details_dialog
    assert isinstance(dialog, DetectionDetailsDialog) and dialog.isVisible()
    return dialog


def test_details_of_a_detector_run_show_its_figures_and_mistakes(qtbot, window: MainWindow) -> None:
    with store(window) as project:
        run = project.runs.get(1)
    validation = run.metrics["validation"]
    line = window.training_panel.history.item(0).text()
    assert line.startswith(f"#1 · defect detector · 42 labels, 0 masks · AP {validation['ap']:.2f}, "
                           f"F1 {validation['f1']:.2f} · ")
    dialog = open_details(qtbot, window, 1)
    figures = dialog.figures_label.text()
    assert f"AP {validation['ap']:.3f}" in figures and f"F1 {validation['f1']:.3f}" in figures
    assert f"AUROC {validation['auroc']:.3f}" in figures and f"FP {validation['fp']}" in figures
    assert "best F1" in dialog.threshold_label.text() and dialog.best_f1_button.isChecked()
    assert dialog.gallery_ids(dialog.fp_gallery) == validation["fp_ids"]
    assert dialog.gallery_ids(dialog.fn_gallery) == validation["fn_ids"]
    assert dialog.operating_point() == pytest.approx((validation["recall"], validation["precision"]))
    assert validation["fp_ids"], "the fixture's run has a false positive to click"
    fp = dialog.fp_gallery
    qtbot.mouseClick(fp.viewport(), LEFT, pos=fp.visualItemRect(fp.item(0)).center())
    qtbot.waitUntil(lambda: window.editor.current_image_id() == validation["fp_ids"][0])
    assert dialog.isVisible()  # kept open to step through the mistakes


def test_a_target_recall_moves_the_threshold_and_is_kept_for_the_next_retrain(qtbot, window: MainWindow) -> None:
    settings = window._settings
    dialog = open_details(qtbot, window, 1)
    before = dialog.run.metrics["threshold"]
    dialog.recall_spin.setValue(0.5)  # no effect while Best F1 is chosen
    assert dialog.run.metrics["threshold"] == before
    with qtbot.waitSignal(window.training_panel.threshold_changed):
        qtbot.mouseClick(dialog.target_button, LEFT)
    with store(window) as project:
        stored = project.runs.get(1).metrics
    validation = stored["validation"]
    assert stored["threshold"] > before and validation["target_recall"] == 0.5
    assert validation["recall"] >= 0.5 and validation["fn_ids"]
    assert dialog.gallery_ids(dialog.fn_gallery) == validation["fn_ids"]
    assert dialog.gallery_ids(dialog.fp_gallery) == validation["fp_ids"]
    assert dialog.operating_point() == pytest.approx((validation["recall"], validation["precision"]))
    assert "50%" in dialog.threshold_label.text()
    assert settings.value(TARGET_RECALL_KEY, type=float) == 0.5
    assert window.training.target_recall() == 0.5
    assert window.grid.view.grid_model().catalog.defect_threshold == pytest.approx(stored["threshold"])
    assert f"F1 {validation['f1']:.2f}" in window.training_panel.history.item(0).text()
    qtbot.mouseClick(dialog.best_f1_button, LEFT)
    with store(window) as project:
        assert project.runs.get(1).metrics["threshold"] == pytest.approx(before)
    assert not settings.contains(TARGET_RECALL_KEY) and window.training.target_recall() is None


def canvas_point(window: MainWindow, x: float, y: float) -> QPoint:
    return window.editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint()


def test_w_opens_the_next_image_worth_a_mask_with_the_brush(qtbot, window: MainWindow) -> None:
    listed = window.worth_a_mask.image_ids()
    with store(window) as project:
        ok_image = next(i for i, label in project.labels.all().items() if label.kind.value == "ok")
        assert len(listed) == 29 and all(project.labels.get(i).kind.value == "defect" for i in listed)
    assert window.worth_a_mask_dock.isVisible()
    window.labeling.go_to(ok_image)  # not on the list: W starts at its top
    qtbot.waitUntil(lambda: window.editor.current_image_id() == ok_image)
    window.editor.set_tool("pan")
    QTest.keyClick(window, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: window.editor.current_image_id() == listed[0])
    assert window.editor.tool() == "brush"
    assert window.worth_a_mask.list.currentRow() == 0
    canvas = window.editor.canvas
    qtbot.waitUntil(lambda: canvas.document() is not None)
    qtbot.mousePress(canvas, LEFT, NONE, canvas_point(window, 10, 30))
    qtbot.mouseMove(canvas, canvas_point(window, 50, 30))
    qtbot.mouseRelease(canvas, LEFT, NONE, canvas_point(window, 50, 30))
    QTest.keySequence(window, "Ctrl+S")
    qtbot.waitUntil(lambda: listed[0] not in window.worth_a_mask.image_ids())
    with store(window) as project:
        assert project.masks.info(listed[0]).pixels > 0
    assert window.worth_a_mask.image_ids() == listed[1:]
    QTest.keyClick(window, Qt.Key.Key_W)  # the masked image left the list: W goes to the new top
    qtbot.waitUntil(lambda: window.editor.current_image_id() == listed[1])
    QTest.keyClick(window, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: window.editor.current_image_id() == listed[2])
    window.labeling.auto_advance = False
    QTest.keyClick(window, Qt.Key.Key_0)  # labeled OK after all: no longer worth a mask
    assert listed[2] not in window.worth_a_mask.image_ids()
    assert "27" in window.worth_a_mask.summary.text()


def test_double_click_in_the_list_opens_the_image_and_the_heat_map_key_follows_the_editor(
        qtbot, window: MainWindow) -> None:
    panel = window.worth_a_mask
    item = panel.list.item(3)
    rect = panel.list.visualItemRect(item)
    qtbot.mouseClick(panel.list.viewport(), LEFT, pos=rect.center())
    qtbot.mouseDClick(panel.list.viewport(), LEFT, pos=rect.center())
    qtbot.waitUntil(lambda: window.editor.current_image_id() == panel.image_ids()[3])
    assert window.editor.tool() == "brush"
    toggle = window.window_actions.actions["heatmap.toggle"]
    assert toggle.isEnabled() == hasattr(window.editor, "toggle_heatmap")
    assert [k.toString() for k in toggle.shortcuts()] == ["J"]


def test_run_summary_of_a_detector_run_without_validation(tmp_path: Path, segdec_project: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    with Project.open(root) as project, RunRecorder(project, method="segdec", config={},
                                                    snapshot=take_snapshot(project), seed=0) as recorder:
        run = recorder.finish(metrics={"labeled": 8, "masks": 2, "seconds": 4.2, "threshold": 0.5})
    assert run_summary(run) == "#2 · defect detector · 8 labels, 2 masks · no validation (too few labels) · 4 s"


def test_retrain_trains_the_detector_with_live_curves_unless_switched_off(qtbot, window: MainWindow) -> None:
    settings = window._settings
    for key, value in (("training/epochs", 1), ("training/size", 48), ("training/batch_size", 16),
                       ("training/segdec_max_epochs", 1),):
        settings.setValue(key, value)
    settings.setValue(TARGET_RECALL_KEY, 0.9)
    panel = window.training_panel
    assert panel.segdec_box.isChecked() and "a minute per few hundred labels" in panel.segdec_box.toolTip()
    ended: list[object] = []
    window.training.run_finished.connect(ended.append)
    window.training.run_failed.connect(ended.append)
    QTest.keySequence(window, "Ctrl+R")
    qtbot.waitUntil(lambda: bool(ended), timeout=180000)
    result = ended[0]
    assert result.segdec is not None and result.segdec.run is not None, result
    detector = result.segdec.run
    assert detector.id == 4 and detector.metrics["validation"]["target_recall"] == 0.9
    assert detector.config["max_epochs"] == 1 and detector.config["geometry"]["scale"] == 1.0
    names = panel.curve_names()
    for name in ("decision loss", "segmentation loss", "validation AP"):
        assert f"defect detector: {name}" in names
    assert "pretraining: contrastive loss" in names  # kept, but the plot shows the last phase only
    assert panel.shown_curve_names() and all(n.startswith("defect detector: ") for n in panel.shown_curve_names())
    legend = re.sub("<[^>]+>", "", panel.legend.text()).replace("&nbsp;", " ")  # plain words, paper's in the tip
    assert "● score on held-out images" in legend  # dots: once per epoch only
    assert "━ OK / defective error" in legend and "training loss" in legend and "contrastive" not in legend
    assert "validation AP (average precision)" in panel.legend.toolTip()
    assert panel.curves.axis_label().startswith("epochs")
    assert panel.curve_values("defect detector: validation AP") == [
        pytest.approx(ap) for ap in detector.metrics["validation_ap_by_epoch"]]
    assert panel.curves.xs("defect detector: validation AP") == [  # warm: the inherited weights' score at 0
        pytest.approx(epoch) for epoch in range(len(detector.metrics["validation_ap_by_epoch"]))]
    message = window.status.message_text()
    assert f"defect detector average precision {detector.metrics['validation']['ap']:.2f}" in message
    assert "#4" in panel.history.item(0).text() and "defect detector" in panel.history.item(0).text()
    assert "run #4" in window.worth_a_mask.summary.text()
    notes = panel.detector_label.toolTip()  # how it trained: its scale, what it continued, why it stopped
    assert "works at 100 % of the image size" in notes and "ran its maximum of 1 epoch;" in notes
    advice = detector.metrics["advice"]  # what to label next stays in sight
    assert not advice or advice[1:] in panel.detector_label.text()
    assert f"Continued from detector #{detector.metrics['warm_from']}" in notes and detector.metrics["warm_from"]
    with store(window) as project:  # Train ▸ Retrain with a new defect detector starts afresh
        assert window.training.segdec_request(project).warm_start is True
        assert window.training.segdec_request(project, from_scratch=True).warm_start is False
    train_menu = window.window_actions.menus["T&rain"].actions()
    assert window.window_actions.actions["train.detector_from_scratch"] in train_menu
    panel.segdec_box.setChecked(False)
    ended.clear()
    QTest.keySequence(window, "Ctrl+R")
    qtbot.waitUntil(lambda: bool(ended), timeout=180000)
    assert ended[0].segdec is None and ended[0].classify is not None
    assert settings.value("training/segdec", type=bool) is False
    with store(window) as project:
        assert [r.method for r in project.runs.list()][4:] == ["classifier"]
