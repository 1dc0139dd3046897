"""The training panel runs a real job on a worker thread: progress, curves, cancel, failure."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.jobs import Progress
from core.jobs.base import check_cancel
from labelapp.training_panel import TrainingPanel


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
    yield widget
    widget.shutdown()


def test_a_job_runs_to_the_end_with_curves(qtbot, panel: TrainingPanel) -> None:
    gate = threading.Event()  # holds the job at step 2 until the first points are drawn
    with qtbot.waitSignal(panel.run_finished, timeout=20000) as blocker:
        panel.start(least_squares_job(300, gate), title="fitting")
        assert not panel.retrain_button.isEnabled() and panel.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: panel.progress.value() >= 2)
        assert "left" in panel.eta_label.text()
        gate.set()
    assert blocker.args[0]["error"] < 0.05
    assert panel.curve_names() == ["fit: mse"]
    values = panel.curve_values("fit: mse")
    assert values[-1] < values[0]
    assert panel.retrain_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_cancel_and_failure_end_cleanly(qtbot, panel: TrainingPanel) -> None:
    gate = threading.Event()
    with qtbot.waitSignal(panel.run_failed, timeout=20000) as blocker:
        panel.start(least_squares_job(1000, gate), title="fitting")
        qtbot.waitUntil(lambda: panel.progress.value() >= 2)
        panel.cancel()
        gate.set()
    assert "cancelled" in str(blocker.args[0])
    assert panel.retrain_button.isEnabled()

    def broken(cancel):
        yield Progress(phase="x", step=0, total=1)
        raise ValueError("no labels yet")

    with qtbot.waitSignal(panel.run_failed, timeout=20000) as blocker:
        panel.start(broken, title="broken")
    assert "no labels yet" in panel.phase_label.text()
