"""The training controller runs a real job on a worker thread and the training panel shows
it: progress, curves, cancel, failure; its run history opens a run's details."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from core.jobs import Progress, RunRecorder, take_snapshot
from core.jobs.base import check_cancel
from core.store import ClassKind, NewImage, Project, Run
from labelapp.session.project_session import ProjectSession
from labelapp.training.controller import TrainingController
from labelapp.training.panel import TrainingPanel
from labelapp.training.run_details import NO_VALIDATION


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
        assert "left" in panel.eta_label.text()
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


def recorded_run(project: Project, metrics: dict) -> Run:
    with RunRecorder(project, method="classifier", config={}, snapshot=take_snapshot(project), seed=0) as recorder:
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
