"""Module-level jobs for the worker-process tests (a spawned worker imports them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from core.jobs import Progress, RunRecorder, take_snapshot
from core.jobs.base import check_cancel
from core.store import Project, RunKind


def least_squares(steps: int, *, cancel):
    """A small real optimisation; returns the error and the process it ran in."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    w_true = rng.normal(size=5)
    y = x @ w_true
    w = np.zeros(5)
    for step in range(steps):
        check_cancel(cancel)
        residual = x @ w - y
        w -= 0.05 * x.T @ residual / len(x)
        yield Progress(phase="fit", step=step + 1, total=steps, losses={"mse": float(np.mean(residual ** 2))})
        time.sleep(0.002)
    return {"error": float(np.abs(w - w_true).max()), "pid": os.getpid(), "niceness": os.nice(0)}


def stubborn(*, cancel):
    """Never checks its cancel flag."""
    for step in range(10_000):
        yield Progress(phase="stubborn", step=step, total=10_000, message=f"pid {os.getpid()}")
        time.sleep(0.05)
    return None


def recorded_run(root: Path, *, cancel):
    """Starts a run in the project and waits (for a kill) without ending it."""
    with Project.open(root) as project, RunRecorder(project, method=RunKind.CLASSIFIER.method(), config={},
                                                    snapshot=take_snapshot(project), seed=0) as recorder:
        (recorder.partial_dir / "weights.part").write_bytes(b"half")
        for step in range(10_000):
            check_cancel(cancel)
            yield Progress(phase="recorded", step=step, total=10_000,
                           message=f"run {recorder.run.id} pid {os.getpid()}")
            time.sleep(0.05)
        return recorder.finish(metrics={})


def burst(*, cancel):
    """Records faster than the worker forwards them: a loss each step, a metric every 20th."""
    for step in range(200):
        yield Progress(phase="burst", step=step, total=200, losses={"loss": 1.0 / (step + 1)},
                       metrics={"metric": float(step)} if step % 20 == 19 else {})
    return "done"
