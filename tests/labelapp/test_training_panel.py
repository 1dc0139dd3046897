"""The training controller runs a real job on a worker thread and the training panel shows
it: progress, curves, cancel, failure; its run history opens a run's details. A real
retrain in the training process shows one progress for all its parts; a project opened
with runs shows its history and the last run's curves; run lines are whole."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QLabel

from core.jobs import Progress, RunRecorder, take_snapshot
from core.jobs.base import check_cancel
from core.store import ClassKind, NewImage, Project, Run
from labelapp.session.project_session import ProjectSession
from labelapp.training.controller import TrainingController
from labelapp.training.panel import BAR_STEPS, NO_RUNS, TrainingPanel
from labelapp.training.run_details import NO_VALIDATION, RunDetailsDialog, stopped_words
from labelapp.training.wording import duration, time_left, when


def least_squares_job(steps: int, gate: threading.Event | None = None):
    """A small real optimisation (gradient descent on a least-squares problem)."""

    def job(cancel: threading.Event):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 5))
        w_true = rng.normal(size=5)
        y = x @ w_true
        w = np.zeros(5)
        for step in range(steps):
            if gate is not None and step == 2:
                gate.wait(10)
            check_cancel(cancel)
            residual = x @ w - y
            w -= 0.05 * x.T @ residual / len(x)
            yield Progress(phase="fit", step=step + 1, total=steps, losses={"mse": float(np.mean(residual ** 2))},
                           eta_s=float(steps - step))
        return {"error": float(np.abs(w - w_true).max())}

    return job


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.fixture
def controller(qtbot, panel: TrainingPanel, tmp_path) -> TrainingController:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    runner = TrainingController(panel, ProjectSession(), settings)
    yield runner
    runner.shutdown()


def test_a_job_runs_to_the_end_with_curves(qtbot, panel: TrainingPanel, controller: TrainingController) -> None:
    gate = threading.Event()  # holds the job at step 2 until the first points are drawn
    with qtbot.waitSignal(controller.run_finished, timeout=20000) as blocker:
        controller.start(least_squares_job(300, gate), title="fitting")
        assert not panel.retrain_button.isEnabled() and panel.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: panel.progress.value() >= 2)
        assert "left" in panel.phase_label.text()
        gate.set()
    assert blocker.args[0]["error"] < 0.05
    assert panel.curve_names() == ["fit: mse"]
    values = panel.curve_values("fit: mse")
    assert values[-1] < values[0]
    assert panel.retrain_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_cancel_and_failure_end_cleanly(qtbot, panel: TrainingPanel, controller: TrainingController) -> None:
    gate = threading.Event()
    with qtbot.waitSignal(controller.run_failed, timeout=20000) as blocker:
        controller.start(least_squares_job(1000, gate), title="fitting")
        qtbot.waitUntil(lambda: panel.progress.value() >= 2)
        panel.cancel_button.click()
        gate.set()
    assert "cancelled" in str(blocker.args[0])
    assert panel.retrain_button.isEnabled()

    def broken(cancel):
        yield Progress(phase="x", step=0, total=1)
        raise ValueError("no labels yet")

    with qtbot.waitSignal(controller.run_failed, timeout=20000) as blocker:
        controller.start(broken, title="broken")
    assert "no labels yet" in panel.phase_label.text()


VALIDATION = {"accuracy": 0.8, "macro_f1": 0.7625, "n": 10, "classes": ["ok", "scratch", "dent"],
              "confusion": [[3, 1, 0], [0, 4, 0], [1, 0, 1]]}


@pytest.fixture
def project(tmp_path) -> Project:
    who = {"actor": "t", "source": "test"}
    p = Project.create(tmp_path / "project")
    p.classes.add("ok", kind=ClassKind.OK, **who)
    p.classes.add("scratch", **who)
    p.images.add_many([NewImage(path=f"{i}.png", hash=f"h{i}", width=4, height=4, channels=1, bit_depth=8,
                                mode="L", gray=True, file_size=1, mtime=0.0) for i in range(4)])
    p.labels.apply([(1, "ok"), (2, "scratch")], **who)
    yield p
    p.close()


def recorded_run(project: Project, metrics: dict, method: str = "classifier") -> Run:
    with RunRecorder(project, method=method, config={}, snapshot=take_snapshot(project), seed=0) as recorder:
        return recorder.finish(metrics=metrics)


def test_double_clicking_a_run_shows_its_metrics_and_confusion_matrix(qtbot, panel: TrainingPanel,
                                                                       project: Project) -> None:
    with_validation = recorded_run(project, {"cv_accuracy": 0.75, "labeled": 12, "validation": VALIDATION})
    without = recorded_run(project, {"labeled": 2})
    panel.show_history(project.runs.list(), stale={without.id})
    assert "stale" in panel.history.item(0).text() and "stale" not in panel.history.item(1).text()
    assert f"#{with_validation.id} · classifier · 12 labels · validation 80%" in panel.history.item(1).text()
    item = panel.history.item(1)  # newest first
    assert item.data(Qt.ItemDataRole.UserRole) == with_validation.id
    rect = panel.history.visualItemRect(item)
    qtbot.mouseClick(panel.history.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # as a real
    qtbot.mouseDClick(panel.history.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # double-click
    dialog = panel.details_dialog
    assert dialog is not None and dialog.isVisible() and dialog.run.id == with_validation.id
    assert dialog.cell_counts() == VALIDATION["confusion"]
    table = dialog.confusion
    assert [table.verticalHeaderItem(r).text() for r in range(3)] == ["ok", "scratch", "dent"]
    assert "80.0%" in dialog.validation_label.text() and "0.762" in dialog.validation_label.text()
    full, partial = table.item(1, 1).background().color(), table.item(0, 0).background().color()
    assert full == QColor("#0072B2") and partial.lightness() > full.lightness()  # 4/4 vs 3/4 of the row
    assert table.item(2, 1).background().color() == QColor("white")
    metrics = {dialog.metrics_table.item(r, 0).text(): dialog.metrics_table.item(r, 1).text()
               for r in range(dialog.metrics_table.rowCount())}
    assert metrics == {"cv accuracy": "0.75", "labeled": "12"}
    panel.history.setCurrentRow(0)
    qtbot.mouseClick(panel.details_button, Qt.MouseButton.LeftButton)
    dialog = panel.details_dialog
    assert dialog.run.id == without.id and dialog.confusion is None
    assert dialog.validation_label.text() == NO_VALIDATION
    assert "stale" in dialog.findChild(QLabel, "run_header").text()


def test_the_details_dialog_is_wide_enough_for_the_whole_confusion_matrix(qtbot, project: Project) -> None:
    names = ["ok", "crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]
    confusion = (np.eye(len(names), dtype=int) * 5 + 1).tolist()
    validation = {"accuracy": 0.7, "macro_f1": 0.6, "n": 90, "classes": names, "confusion": confusion}
    dialog = RunDetailsDialog(recorded_run(project, {"labeled": 90, "validation": validation}))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.confusion
    assert table.horizontalHeader().length() <= table.viewport().width()  # every column in sight
    assert not table.horizontalScrollBar().isVisible()


def test_a_detector_run_line_says_in_words_why_it_stopped() -> None:
    assert stopped_words("max_epochs", 4) == "4 epochs"
    assert stopped_words("converged", 12) == "stopped improving after 12 epochs"
    assert stopped_words("time_budget", 1) == "time limit reached after 1 epoch"
    assert stopped_words("time_budget", None) == "time limit reached"  # a run that did not record its epochs


# -- the panel as a user sees it: history on open, one progress for a retrain, whole lines ------


@pytest.fixture
def opened(qtbot, panel: TrainingPanel, tmp_path: Path, small_classifier_project: Path):
    """``opened()``: a session on a copy of the small classifier project (an encoder run and a
    classifier run, trained in another process) with the training controller on ``panel``,
    once the history read off the GUI thread is shown."""
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    for key, value in (("training/epochs", 1), ("training/size", 48), ("training/batch_size", 16),
                       ("training/segdec_max_epochs", 1)):
        settings.setValue(key, value)
    session = ProjectSession()
    controller = TrainingController(panel, session, settings)

    def open_() -> tuple[ProjectSession, TrainingController]:
        with qtbot.waitSignal(controller.history_shown, timeout=20000):
            session.open(root)
        return session, controller

    yield open_
    controller.shutdown()
    session.close()


def test_opening_a_project_with_runs_brings_back_its_history_and_the_last_curves(
        qtbot, panel: TrainingPanel, opened) -> None:
    session, _controller = opened()
    assert panel.history.count() == 2 and panel.history.item(0).text().startswith("#2 · classifier")
    assert panel.phase_label.text().startswith("2 runs; the last one, #2, finished today ")
    assert panel.curve_names() == panel.shown_curve_names() == ["classifier: validation accuracy"]
    assert panel.curves.axis_label() == "minutes" and "run #2" in panel.curves.title()
    panel.history.setCurrentRow(1)  # newest first: the encoder run's curves, against epochs
    assert panel.curves.phase() == "pretraining" and panel.curves.axis_label().startswith("epochs")
    assert panel.curve_names() == ["pretraining: contrastive accuracy", "pretraining: contrastive loss"]
    assert panel.curves.xs("pretraining: contrastive loss")[-1] == pytest.approx(1.0)  # one epoch
    legend = re.sub("<[^>]+>", "", panel.legend.text()).replace("&nbsp;", " ")
    assert "training loss" in legend and "views matched" in legend and "contrastive" not in legend
    assert "contrastive accuracy (paper 004)" in panel.legend.toolTip()  # the paper's term in the tooltip
    session.close()
    assert panel.history.count() == 0 and panel.phase_label.text() == NO_RUNS and not panel.curve_names()
    opened()  # and again: the same comes back
    assert panel.history.count() == 2 and panel.curve_names() == ["classifier: validation accuracy"]


def test_a_retrain_shows_one_progress_for_all_its_parts(qtbot, panel: TrainingPanel, opened) -> None:
    _session, controller = opened()
    shown: list[tuple[int, str, Progress]] = []
    panel.progress_shown.connect(lambda record: shown.append((panel.progress.value(), panel.phase_label.text(),
                                                              record)))
    messages: list[str] = []
    controller.message.connect(messages.append)
    listed_while_running: list[int] = []  # the newest run listed, each time the history shows during the retrain
    controller.history_shown.connect(lambda: listed_while_running.append(
        int(panel.history.item(0).data(Qt.ItemDataRole.UserRole))) if panel.is_running() and panel.history.count()
        else None)
    with qtbot.waitSignal(controller.run_finished, timeout=240000) as blocker:
        controller.retrain()  # the encoder covers the images: classifier, defect detector, suggestions
    result = blocker.args[0]
    assert result.classify.run.id in listed_while_running  # listed as the detector began, not at the end
    assert result.classify.run is not None and result.segdec.run is not None, result
    values = [value for value, _text, _record in shown]
    assert values == sorted(values) and values[-1] == BAR_STEPS  # one bar, never back, 100 % at the end
    assert 0.0 <= shown[0][2].overall < 0.5
    parts = ["Classifier", "Defect detector", "Suggestions"]
    seen = list(dict.fromkeys(record.stage for _v, _t, record in shown))
    assert seen == parts and all(record.stages == tuple(parts) for _v, _t, record in shown)
    for _value, text, record in shown[:-1]:  # the part named beside the time left, never negative
        assert text.startswith(f"{record.stage} ({parts.index(record.stage) + 1} of 3) — ")
        assert text.endswith(" left") and "-" not in text.split(" — ")[1] and record.eta_s >= 0.0
    assert panel.progress.value() == panel.progress.maximum() and panel.phase_label.text().startswith("Finished in")
    details = panel.detail_label.text()  # the results in the panel, a short line in the status bar
    assert "Classifier: validation accuracy" in details and "Defect detector" not in details  # once, above the runs
    assert f"Defect detector #{result.segdec.run.id}" in panel.detector_label.text()
    assert len(messages[-1]) < 170 and "Details in the Training panel" in messages[-1]  # "in 2 min 9 s" under load
    assert panel.curves.phase() == "defect detector" and panel.curves.axis_label().startswith("epochs")
    qtbot.waitUntil(lambda: not controller.history_pending(), timeout=10000)
    assert [int(panel.history.item(r).data(Qt.ItemDataRole.UserRole)) for r in range(4)] == [4, 3, 2, 1]
    panel.resize(340, 620)  # a dock's size, every result line shown: its parts scroll, none on another
    qtbot.waitUntil(lambda: not stacked_over(panel))


def stacked_over(panel: TrainingPanel) -> list[str]:
    """The shown parts of the panel that overlap the one above them (none: each one whole)."""
    parts = [panel.phase_label, panel.progress, panel.detail_label, panel.curves._plot, panel.legend,
             panel.detector_label, panel.history]
    shown = [w for w in parts if w is not None and w.isVisible()]
    tops = [(w.mapTo(panel.window(), w.rect().topLeft()).y(), w.height(), w.objectName()) for w in shown]
    return [name for (top, height, _), (next_top, _h, name) in zip(tops, tops[1:], strict=False)
            if next_top < top + height]


def test_run_lines_are_whole_in_a_narrow_panel_and_times_are_for_people(qtbot, panel: TrainingPanel,
                                                                         project: Project) -> None:
    validation = {"ap": 0.8412, "f1": 0.8023, "n": 24, "threshold": 0.6, "auroc": 0.9}
    for _ in range(3):
        recorded_run(project, {"labeled": 412, "masks": 17, "validation": validation, "seconds": 95.2,
                               "stopped": "time_budget", "warm_from": 12}, method="segdec")
    panel.resize(300, 700)
    panel.show_history(project.runs.list())
    metrics = QFontMetrics(panel.history.font())
    width = panel.history.viewport().width()
    for row in range(panel.history.count()):
        item = panel.history.item(row)
        assert "1 min 35 s" in item.text() and " · today " in item.text()
        needed = metrics.boundingRect(QRect(0, 0, width - 8, 10_000), Qt.TextFlag.TextWordWrap, item.text()).height()
        assert panel.history.visualItemRect(item).height() >= needed > metrics.height()  # wrapped, not cut
    dialog = panel.show_run_details(project.runs.list()[0].id)
    header = dialog.findChild(QLabel, "run_header").text()
    assert "started today " in header and "T" not in header.split("started ")[1][:12]  # no raw ISO time


def test_times_left_and_dates_read_as_words() -> None:
    assert [time_left(s) for s in (-4.0, 3.0, 42.0, 70.0, 299.0, 3 * 3600 + 600)] == [
        "a few seconds left", "a few seconds left", "about 40 s left", "about a minute left", "about 5 min left",
        "about 3 h 10 min left"]
    assert time_left(None) == "" and duration(95.2) == "1 min 35 s" and duration(4.2) == "4 s"
    now = dt.datetime(2026, 12, 7, 21, 0).astimezone()
    local = dt.datetime(2026, 12, 4, 18, 9, 53).astimezone()
    assert when(local.isoformat(), now=now) == "4 Dec 18:09"
    assert when(local.replace(day=7).isoformat(), now=now) == "today 18:09"
    assert when(local.replace(day=6).isoformat(), now=now) == "yesterday 18:09"
    assert when(local.replace(year=2025).isoformat(), now=now) == "4 Dec 2025 18:09"
    assert when("not a time", now=now) == "not a time" and when(None) == ""
